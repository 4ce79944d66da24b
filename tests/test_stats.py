"""Statistical procedures: false-positive rate on simulated null data at most alpha (plus
Monte Carlo error), power on simulated effects, verdicts, and their records."""
import math

import numpy as np
from scipy import stats as sps
import pytest

from lowent import exact, stats, verdict
from lowent.records import describe_result, reason, result_record, verdict_record
from lowent.stats import ALPHA
from tests.helpers import rejection_rate, rejects

N_SIM = 2000  # simulated experiments per procedure
SEEDS = 10  # observations per group, as in the paper profile
MC_BOUND = ALPHA + 3 * math.sqrt(ALPHA * (1 - ALPHA) / N_SIM)  # alpha + 3 Monte Carlo SE

NULLS = {  # zero-mean noise with unit scale
    "normal": lambda rng, n: rng.normal(size=n),
    "heavy_tailed_t5": lambda rng, n: rng.standard_t(5, size=n),
}


@pytest.mark.parametrize("noise", list(NULLS))
@pytest.mark.parametrize("alternative", ["less", "greater"])
def test_one_sample_false_positive_rate(noise, alternative):
    f = NULLS[noise]
    rate = rejection_rate(lambda rng: stats.one_sample(3.61 + f(rng, SEEDS), 3.61, alternative),
                          N_SIM, seed=1)
    assert rate <= MC_BOUND


@pytest.mark.parametrize("noise", list(NULLS))
def test_two_sample_false_positive_rate_with_unequal_variances(noise):
    f = NULLS[noise]
    rate = rejection_rate(lambda rng: stats.two_sample(f(rng, SEEDS), 3 * f(rng, SEEDS), "less"),
                          N_SIM, seed=2)
    assert rate <= MC_BOUND


@pytest.mark.parametrize("noise", list(NULLS))
def test_trend_false_positive_rate(noise):
    f = NULLS[noise]
    rate = rejection_rate(
        lambda rng: exact.trend([f(rng, SEEDS) for _ in range(4)], "decreasing"), N_SIM, seed=3)
    assert rate <= MC_BOUND


@pytest.mark.parametrize("noise", list(NULLS))
@pytest.mark.parametrize("edge", [-1, 1])
def test_equivalence_false_positive_rate_at_the_margin(noise, edge):
    """The hardest null for TOST: the true mean sits exactly on a margin."""
    f = NULLS[noise]
    rate = rejection_rate(
        lambda rng: stats.equivalence(3.61 + edge * 0.05 + 0.05 * f(rng, SEEDS), 3.61, 0.05),
        N_SIM, seed=4)
    assert rate <= MC_BOUND


@pytest.mark.parametrize("noise", list(NULLS))
@pytest.mark.parametrize("edge", [-1, 1])
def test_two_sample_equivalence_false_positive_rate_at_the_margin(noise, edge):
    f = NULLS[noise]
    margin = 0.5
    rate = rejection_rate(lambda rng: stats.equivalence_two(
        edge * margin + f(rng, SEEDS), 2 * f(rng, SEEDS), margin), N_SIM, seed=7)
    assert rate <= MC_BOUND


def test_two_sample_equivalence_power_and_degenerate_groups():
    power = rejection_rate(lambda rng: stats.equivalence_two(
        rng.normal(size=SEEDS), rng.normal(size=SEEDS), 1.5), 500, seed=8)
    assert power > 0.8
    assert rejects(stats.equivalence_two(np.zeros(5), np.ones(5), 2))  # no spread: exact
    assert not rejects(stats.equivalence_two(np.zeros(5), np.full(5, 3.0), 2))


def test_pearson_false_positive_rate():
    rate = rejection_rate(lambda rng: stats.pearson(rng.normal(size=12), rng.normal(size=12)),
                          N_SIM, seed=5)
    assert rate <= MC_BOUND


def _samples(rng):
    """Pairs of seed arrays as the claims meet them: entropies near 3.6 nats with SDs from
    1e-6 to 1, counts, sizes 2 to 20 (the second of another size), a few with ties, and a
    tenth whose second array has no spread (Welch's test still has one)."""
    for k in range(400):
        n, m = rng.integers(2, 21, 2)
        loc, sd = rng.choice([0.0, 3.6078, 1e3]), 10.0 ** rng.uniform(-6, 0)
        x, y = rng.normal(loc, sd, n), rng.normal(loc + sd * rng.normal(), sd * rng.uniform(0.2, 5), m)
        if k % 10 == 0:
            x, y = np.round(x), np.round(y) + 1.0  # counts, with ties
        if k % 10 == 5:
            y = np.full(m, y[0])
        if np.ptp(x) > 0:
            yield x, y, loc


def _interval(effect, se, df, alpha):
    """The (1 - 2 alpha) t-interval the straightforward way, by scipy's t.ppf."""
    q = sps.t.ppf(1 - alpha, df)
    return (effect - q * se, effect + q * se)


# scipy, the reference, warns of precision loss on nearly identical seeds (SD 1e-6 at 1e3),
# and both warn of the overflow in the last case
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_t_tests_give_scipys_bits():
    """one_sample, two_sample, equivalence and equivalence_two compute scipy's ttest_1samp and
    ttest_ind (Welch) arithmetic themselves (scipy's call costs about 1 ms): the same
    statistics and p-values, bit for bit, and t.ppf's intervals at two levels."""
    rng = np.random.default_rng(7)
    checked = 0
    for x, y, loc in _samples(rng):
        alpha = (0.05, 0.1)[checked % 2]
        vx, vy = x.var(ddof=1) / x.size, y.var(ddof=1) / y.size
        se1, se2 = x.std(ddof=1) / math.sqrt(x.size), math.sqrt(vx + vy)
        welch_df = (vx + vy) ** 2 / (vx**2 / (x.size - 1) + vy**2 / (y.size - 1))
        for alt, opp in (("less", "greater"), ("greater", "less")):
            r = stats.one_sample(x, loc, alt, alpha=alpha)
            ref = sps.ttest_1samp(x, loc, alternative=alt)
            assert (r.statistic, r.pvalue) == (float(ref.statistic), float(ref.pvalue))
            assert r.pvalue_opposite == float(sps.ttest_1samp(x, loc, alternative=opp).pvalue)
            assert r.ci == _interval(r.effect, se1, x.size - 1, alpha)
            r = stats.two_sample(x, y, alt, alpha=alpha)
            ref = sps.ttest_ind(x, y, equal_var=False, alternative=alt)
            assert (r.statistic, r.pvalue) == (float(ref.statistic), float(ref.pvalue))
            assert r.pvalue_opposite == float(
                sps.ttest_ind(x, y, equal_var=False, alternative=opp).pvalue)
            assert r.ci == _interval(r.effect, se2, welch_df, alpha)
        margin = float(np.std(x)) + 1e-3
        lo = sps.ttest_1samp(x, loc - margin, alternative="greater")
        hi = sps.ttest_1samp(x, loc + margin, alternative="less")
        r = stats.equivalence(x, loc, margin, alpha=alpha)
        assert (r.statistic, r.pvalue) == (float(min(lo.statistic, -hi.statistic)),
                                           float(max(lo.pvalue, hi.pvalue)))
        assert r.ci == _interval(r.effect, se1, x.size - 1, alpha)
        lo = sps.ttest_ind(x + margin, y, equal_var=False, alternative="greater")
        hi = sps.ttest_ind(x - margin, y, equal_var=False, alternative="less")
        r = stats.equivalence_two(x, y, margin, alpha=alpha)
        assert (r.statistic, r.pvalue) == (float(min(lo.statistic, -hi.statistic)),
                                           float(max(lo.pvalue, hi.pvalue)))
        assert r.ci == _interval(r.effect, se2, welch_df, alpha)
        checked += 1
    assert checked > 300
    # a variance whose square overflows: inf, as scipy gives, not an OverflowError
    huge = stats.two_sample(np.array([0.0, 4e77]), np.array([0.0, 1.0]), "less")
    assert huge.pvalue == float(sps.ttest_ind([0.0, 4e77], [0.0, 1.0], equal_var=False,
                                              alternative="less").pvalue)


def test_holm_keeps_the_family_wise_error_rate():
    def family(rng):
        ps = [stats.one_sample(rng.normal(size=SEEDS), 0.0, "less").pvalue for _ in range(4)]
        return min(verdict.holm_adjust(ps)) < ALPHA  # any test of the family passes

    rng = np.random.default_rng(6)
    assert np.mean([family(rng) for _ in range(N_SIM)]) <= MC_BOUND


def test_holm_adjusts_step_down():
    vs = [stats.one_sample(np.array([0.1, 0.2, 0.15, 0.12]) - s, 0.0, "less") for s in (0, 1, 2)]
    adj = verdict.holm_adjust([v.pvalue for v in vs])
    p = sorted(v.pvalue for v in vs)
    expected = sorted([min(1, 3 * p[0]), min(1, max(3 * p[0], 2 * p[1])),
                       min(1, max(3 * p[0], 2 * p[1], p[2]))])
    np.testing.assert_allclose(sorted(adj), expected)


# Power on simulated effects (Cohen's d = effect / seed SD). A procedure that never rejects
# fails these. Bounds: the noncentral-t power (0.898, 0.997, 0.580) less about 4 Monte
# Carlo SEs of 1000 simulations; the figures guide the seed count of each claim.
@pytest.mark.parametrize("d, n, at_least", [(1.0, 10, 0.86), (1.5, 10, 0.99), (1.0, 5, 0.53)])
def test_one_sample_power(d, n, at_least):
    power = rejection_rate(lambda rng: stats.one_sample(rng.normal(-d, 1, n), 0.0, "less"),
                           1000, seed=7)
    assert power >= at_least


def test_trend_power_for_a_steady_decrease():
    power = rejection_rate(lambda rng: exact.trend(
        [rng.normal(-0.5 * i, 1, SEEDS) for i in range(4)], "decreasing"), 1000, seed=8)
    assert power >= 0.9


def test_equivalence_power_when_truly_equal():
    power = rejection_rate(lambda rng: stats.equivalence(rng.normal(0, 0.02, SEEDS), 0.0, 0.05),
                           1000, seed=9)
    assert power >= 0.95


def test_result_record_and_degenerate_inputs():
    v = stats.one_sample([3.5, 3.52, 3.49, 3.51], 3.61, "less")
    assert rejects(v) and v.n == 4 and v.effect == pytest.approx(-0.105)
    assert v.ci[0] < v.effect < v.ci[1] < 0
    assert not hasattr(v, "passed") and not hasattr(v, "alpha")  # statistics only
    d = result_record(v, ALPHA)
    assert d["test"] == v.procedure and d["passed"] and d["data"]["x"] == [3.5, 3.52, 3.49, 3.51]
    assert d["p_value"] == v.pvalue and d["alpha"] == ALPHA
    assert describe_result(v, ALPHA).startswith("passes (one-sided one-sample t-test")
    # zero variance: no p for a difference (no certainty from no spread); none supported
    # nor against when there is no difference
    for x in ([1.0, 1.0, 1.0], [3.0, 3.0, 3.0]):
        r = stats.one_sample(x, 2.0, "less")
        assert np.isnan(r.pvalue) and np.isnan(r.pvalue_opposite)
    same = stats.one_sample([2.0, 2.0, 2.0], 2.0, "less")
    assert same.pvalue == same.pvalue_opposite == 1.0
    assert np.isnan(stats.two_sample([1.0, 1.0], [2.0, 2.0], "less").pvalue)
    assert stats.two_sample([2.0, 2.0], [2.0, 2.0], "less").pvalue == 1.0
    with pytest.raises(ValueError, match="finite"):
        stats.one_sample([1.0, float("nan")], 0.0, "less")
    with pytest.raises(ValueError, match="3 ordered groups"):
        exact.trend([[1, 2], [3, 4]], "increasing")


def test_conjunction_is_an_intersection_union_test_with_four_outcomes():
    strong = stats.one_sample([3.40, 3.42, 3.41, 3.43, 3.39], 3.61, "less")
    weak = stats.one_sample([3.60, 3.615, 3.605, 3.62, 3.598], 3.61, "less")
    opposite = stats.one_sample([3.70, 3.72, 3.71, 3.73, 3.69], 3.61, "less")
    both = verdict.conjunction({"a": strong, "b": strong}, claim="X", statement="s")
    assert both.passed and len(both.parts) == 2 and both.claim == "X"
    assert both.outcome == "holds" and both.pvalue == strong.pvalue  # no correction
    mixed = verdict.conjunction({"a": strong, "b": weak}, claim="X", statement="s", paper="p",
                              ours="o")
    assert not mixed.passed and mixed.outcome == "inconclusive"
    assert "not shown: b" in reason(mixed)
    assert list(mixed.parts) == ["a", "b"]  # labels and order kept
    assert mixed.weakest.pvalue == mixed.pvalue == max(v.pvalue for v in mixed.parts.values())
    assert mixed.parts["a"].pvalue == strong.pvalue  # each part at alpha, unadjusted
    against = verdict.conjunction({"a": strong, "b": opposite}, claim="X", statement="s")
    assert against.outcome == "contradicted" and against.part_outcomes() == {
        "a": "supported", "b": "against"}
    assert "against: b" in reason(against)
    # "against" is Holm-corrected over the parts: an opposite p of 0.03 is not enough
    # beside a second part with an opposite.
    borderline = weak.replace(pvalue_opposite=0.03)
    assert verdict.conjunction({"b": borderline}, claim="X", statement="s").outcome == "contradicted"
    assert verdict.conjunction({"b": borderline, "c": weak}, claim="X",
                             statement="s").outcome == "inconclusive"
    outside = stats.equivalence([3.70, 3.72, 3.71, 3.73, 3.69], 3.61, 0.05)
    straddle = stats.equivalence([3.55, 3.70, 3.60, 3.68, 3.62], 3.61, 0.05)
    for part, where in ((outside, "outside the margin"), (straddle, "straddles the margin")):
        v = verdict.conjunction({"a": weak, "e": part}, claim="X", statement="s")
        assert v.outcome == "not equivalent" and where in reason(v), reason(v)
    d = verdict_record(mixed)
    assert d["paper"] == "p" and d["passed"] is False and d["p_value"] == mixed.weakest.pvalue
    assert d["outcome"] == "inconclusive" and d["reason"] == reason(mixed) and d["min_p"] == 0.0
    assert [p["statement"] for p in d["parts"]] == ["a", "b"] and d["parts"][0]["data"]["x"]
    assert [p["outcome"] for p in d["parts"]] == ["supported", "inconclusive"]
    import json

    json.dumps(d)  # the report stores it as JSON
    with pytest.raises(ValueError, match="empty"):
        verdict.conjunction({}, claim="X", statement="s")


def test_intersection_union_keeps_the_error_of_every_part_holding():
    """Two parts each at its null boundary (mean exactly at the reference): the claim
    'both hold' is declared at most alpha of the time."""
    def experiment(rng):
        v = verdict.conjunction({"a": stats.one_sample(rng.normal(0, 1, SEEDS), 0.0, "less"),
                               "b": stats.one_sample(rng.normal(-3, 1, SEEDS), 0.0, "less")},
                              claim="X", statement="s")
        return stats.Result(procedure="", statistic=0, pvalue=v.pvalue, n=0, effect=0,
                            effect_name="", ci=(0, 0))

    rate = rejection_rate(experiment, 2000, seed=11)
    assert rate <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / 2000), rate


def test_page_statistic_equals_scipys_and_its_permutation_p_is_close_without_ties():
    rng = np.random.default_rng(5)
    data = [rng.normal(0.3 * i, 1, 8) for i in range(4)]
    ours = exact.trend(data, "increasing")
    ref = sps.page_trend_test(np.stack(data, axis=1), method="exact")
    assert ours.statistic == pytest.approx(ref.statistic)
    assert abs(ours.pvalue - ref.pvalue) < 0.01
    down = exact.trend([-x for x in data], "decreasing")
    assert down.statistic == ours.statistic and abs(down.pvalue - ours.pvalue) < 0.015


def _trend_by_the_loop(groups, direction, n_perm, seed):
    """Page's null the straightforward way: permute each block's ranks, sum by position."""
    m = min(len(g) for g in groups)
    data = np.stack([np.asarray(g, dtype=float)[:m] for g in groups], axis=1)
    ranks = sps.rankdata(data if direction == "increasing" else data[:, ::-1], axis=1)
    order = np.argsort(np.random.default_rng(seed).random((n_perm,) + ranks.shape), axis=-1)
    permuted = np.take_along_axis(np.broadcast_to(ranks, order.shape), order, axis=-1)
    null = (permuted.sum(axis=-2) * np.arange(1, ranks.shape[1] + 1)).sum(axis=-1)
    observed = float((ranks.sum(axis=0) * np.arange(1, ranks.shape[1] + 1)).sum())
    tol = 1e-9 * max(1.0, abs(observed))
    best = float((np.sort(ranks, axis=1).sum(axis=0) * np.arange(1, ranks.shape[1] + 1)).sum())
    return ((1 + np.count_nonzero(null >= observed - tol)) / (1 + n_perm),
            (1 + np.count_nonzero(null <= observed + tol)) / (1 + n_perm),
            (1 + np.count_nonzero(null >= best - 1e-9 * max(1.0, best))) / (1 + n_perm))


@pytest.mark.parametrize("n_perm", [99, exact.TREND_PERMUTATIONS])
def test_page_null_from_drawn_weights_equals_permuting_the_ranks(n_perm):
    """The trend test draws its permutations once per shape and seed and takes Page's L of
    each as a dot product: the same p-values as permuting every block's ranks, with and
    without ties, for 3 to 6 groups and 2 to 20 seeds, twice in a row (the second from the
    drawn weights)."""
    rng = np.random.default_rng(11)
    for k in range(40):
        # groups of unequal length (the test uses the seeds all of them have), a third tied
        groups = [rng.normal(0.2 * i, 1, int(rng.integers(2, 21))) for i in range(3 + k % 4)]
        groups = [g if k % 3 else np.round(g) for g in groups]
        direction, seed = ("increasing", "decreasing")[k % 2], k % 5
        for _ in range(2):
            r = exact.trend(groups, direction, n_perm=n_perm, seed=seed)
            assert (r.pvalue, r.pvalue_opposite, r.min_pvalue) == _trend_by_the_loop(
                groups, direction, n_perm, seed)
    # no seed asks for fresh permutations each call: not the kept ones
    groups = [rng.normal(0, 1, 6) for _ in range(4)]
    assert len({exact.trend(groups, "increasing", n_perm=99, seed=None).pvalue
                for _ in range(8)}) > 1


def test_the_binomial_interval_excludes_the_rate_on_the_claimed_side_iff_the_test_passes():
    """Its bounds are the one-sided 1 - alpha bounds the one-sided exact test inverts (S3 with
    10 seeds and 2 runs with a spike: p = 0.077, and the interval reaches above pi0 = 0.473)."""
    for n in range(1, 13):
        for k in range(n + 1):
            for rate in (0.05, 0.4727):
                for alt in ("greater", "less"):
                    r = exact.more_often(np.arange(n) < k, rate, alternative=alt)
                    excluded = r.ci[0] > rate if alt == "greater" else r.ci[1] < rate
                    assert excluded == (r.pvalue < 0.05), (n, k, rate, alt, r.pvalue, r.ci)


def test_kept_binomial_and_poisson_figures_are_scipys():
    """more_often and rate_below keep their figures per count (the stability rule asks for
    the same few thousands of times): asked twice, each gives what scipy computes afresh."""
    # every input in turn differs between two asks that agree on the others
    for rate, alpha, exposure in ((0.05, 0.05, 12.8), (0.2, 0.05, 12.8), (0.05, 0.1, 12.8),
                                  (0.05, 0.05, 3.0)):
        for n in range(1, 13):
            for k in range(n + 1):
                for alt, opp in (("greater", "less"), ("less", "greater")):
                    ref = sps.binomtest(k, n, rate, alternative=alt)
                    ci = sps.binomtest(k, n, rate).proportion_ci(confidence_level=1 - 2 * alpha)
                    p_opp = sps.binomtest(k, n, rate, alternative=opp).pvalue
                    for _ in range(2):
                        r = exact.more_often(np.arange(n) < k, rate, alpha, alt)
                        assert (r.pvalue, r.ci, r.pvalue_opposite) == (
                            ref.pvalue, (ci.low, ci.high), p_opp)
                counts = np.zeros(n)
                counts[:k] = 1.0
                counts[0] += k  # some seeds with several events
                total, expo = counts.sum(), exposure * n
                for _ in range(2):
                    r = exact.rate_below(counts, exposure, rate, alpha)
                    assert (r.pvalue, r.ci[1], r.pvalue_opposite, r.min_pvalue) == (
                        sps.poisson.cdf(total, rate * expo),
                        sps.chi2.ppf(1 - alpha, 2 * (total + 1)) / 2 / expo,
                        sps.poisson.sf(total - 1, rate * expo), sps.poisson.pmf(0, rate * expo))


def test_page_with_ties_is_exact_not_conservative():
    """Many seeds tie at 0 (as dead fractions do at small d): under the null the
    within-seed permutation test still rejects about alpha of the time, not far less."""
    def experiment(rng):
        groups = [np.where(rng.random(SEEDS) < 0.5, 0.0, rng.integers(1, 3, SEEDS))
                  for _ in range(4)]
        return exact.trend(groups, "increasing", n_perm=499, seed=int(rng.integers(1 << 30)))

    rate = rejection_rate(experiment, 1000, seed=12)
    se = np.sqrt(0.05 * 0.95 / 1000)
    assert 0.05 - 4 * se <= rate <= 0.05 + 3 * se, rate
    tied = exact.trend([np.zeros(5)] * 4, "increasing")
    assert tied.pvalue == 1.0 and tied.pvalue_opposite == 1.0  # all tied: no evidence either way


def test_each_procedure_states_its_smallest_reachable_p():
    x = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    assert stats.one_sample(x, 0, "greater").min_pvalue == 0.0
    # 6**5 = 7776 within-seed arrangements: the resampled floor is (1 + #null at the best) /
    # 10,000, about 1 / 7776 + 1e-4
    floor = exact.trend([x, x + 1, x + 2], "increasing").min_pvalue
    assert 1e-4 < floor < 1e-4 + 3 / 7776
    assert exact.trend([x, x + 1, x + 2, x + 3], "increasing").min_pvalue == pytest.approx(1e-4)
    assert exact.rate_below(np.zeros(5), 12.8, 0.05).min_pvalue == pytest.approx(np.exp(-3.2))
    assert exact.more_often(np.ones(5, bool), 0.05).min_pvalue == pytest.approx(0.05**5)
    ev = [np.array([1000 * i]) for i in range(5)]
    assert exact.coincidence(ev, ev, 64, 64).min_pvalue == pytest.approx(1 / 120)
    v = verdict.conjunction({"a": exact.rate_below(np.zeros(5), 12.8, 0.05),
                           "b": stats.one_sample(x, 0, "greater")}, claim="X", statement="s")
    assert v.min_pvalue == pytest.approx(np.exp(-3.2)) and v.min_pvalue < v.alpha


def test_the_reachable_p_counts_ties_and_seeds_without_events():
    """Issue 30, item 2: the floor comes from the observations. Jumps in 2 of 5 seeds, each
    at its own spike: every pairing that keeps those 2 seeds matches as much (3! of 5!), so
    no data of this shape can pass; Page's L with 3 of 5 seeds tied at every size has only
    the other 2 seeds' arrangements (3!**2 = 36)."""
    spikes = [np.array([1000 * (i + 1)]) for i in range(5)]
    jumps = [spikes[0], spikes[1], np.array([], int), np.array([], int), np.array([], int)]
    r = exact.coincidence(jumps, spikes, 64, 64)
    assert r.pvalue == r.min_pvalue == pytest.approx(6 / 120)
    v = verdict.conjunction({"coincide": r}, statement="s")
    assert v.min_pvalue >= v.alpha  # record_verdict makes this a DesignError
    same = [np.array([100])] * 5  # every seed's events at one step: no pairing is better
    assert exact.coincidence(same, same, 64, 64).min_pvalue == 1.0
    assert exact.coincidence([np.array([], int)] * 5, spikes, 64, 64).min_pvalue == 1.0
    x = np.array([1.0, 2.0, 5.0, 5.0, 5.0])
    tied = exact.trend([x, x + [1, 1, 0, 0, 0], x + [2, 2, 0, 0, 0]], "increasing")
    assert tied.min_pvalue == pytest.approx(1 / 36, abs=0.006)
    assert tied.pvalue >= tied.min_pvalue


def test_result_and_verdict_dicts_have_only_plain_python_types():
    v = exact.trend([np.arange(3.0) + i for i in range(3)], "increasing")
    d = result_record(v, ALPHA)
    d2 = verdict_record(verdict.conjunction({"t": v}, claim="X", statement="s"))

    def plain(x):
        if isinstance(x, dict):
            return all(isinstance(k, str) and plain(y) for k, y in x.items())
        if isinstance(x, list):
            return all(plain(y) for y in x)
        return x is None or type(x) in (str, int, float, bool)

    assert plain(d) and plain(d2)


def _correlated(rng, n, rho):
    x = rng.normal(size=n)
    return x, rho * x + math.sqrt(1 - rho**2) * rng.normal(size=n)


@pytest.mark.parametrize("n", [8, 12, 40])
def test_pearson_against_a_strong_null_holds_alpha_at_the_boundary(n):
    """F2's "strong" correlation: rho > 0.8 (Fisher z with its small-sample bias term)."""
    rate = rejection_rate(lambda rng: stats.pearson(*_correlated(rng, n, 0.8), null=0.8),
                          N_SIM, seed=8)
    assert rate <= MC_BOUND
    # and "less" at the same boundary
    rate = rejection_rate(lambda rng: stats.pearson(*_correlated(rng, n, 0.8), "less",
                                                    null=0.8), N_SIM, seed=9)
    assert rate <= MC_BOUND


def test_pearson_power_for_a_near_linear_relation():
    """12 configurations whose KL is linear in loss up to noise (rho = 0.97): power reported,
    and a test that cannot detect it would fail here."""
    power = rejection_rate(lambda rng: stats.pearson(*_correlated(rng, 12, 0.97), null=0.8),
                           500, seed=10)
    print(f"power of rho > 0.8 at rho = 0.97, n = 12: {power:.2f}")
    assert power >= 0.7
    v = stats.pearson([1, 2, 3, 4, 5], [2, 4, 6, 8, 10.5], null=0.8)
    assert rejects(v) and v.effect > 0.99
    with pytest.raises(ValueError, match="differ in length"):
        stats.pearson([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="null"):
        stats.pearson([1, 2, 3, 4], [1, 2, 3, 4], null=1.0)


def _lines(rng, gaps, n=10, slope=1.5, sd=0.1):
    """Groups of n points on lines y = gap + slope x plus noise, x spread over [0, 1]."""
    xs, ys, gs = [], [], []
    for g, gap in enumerate(gaps):
        x = rng.uniform(0, 1, n)
        xs.append(x)
        ys.append(gap + slope * x + sd * rng.normal(size=n))
        gs += [g] * n
    return np.concatenate(xs), np.concatenate(ys), gs


@pytest.mark.parametrize("noise", ["normal", "t5"])
def test_lines_differ_false_positive_rate_on_one_common_line(noise):
    def experiment(rng):
        x, y, g = _lines(rng, [0, 0, 0, 0], sd=0)
        e = rng.normal(size=x.size) if noise == "normal" else rng.standard_t(5, x.size)
        return stats.lines_differ(x, y + 0.1 * e, g)
    assert rejection_rate(experiment, N_SIM, seed=11) <= MC_BOUND


def test_lines_differ_power_and_effect():
    """Four groups of 10 whose intercepts differ by one or two noise SDs: power reported; the
    effect is the gap between fitted lines at the median x."""
    power = {k: rejection_rate(lambda rng: stats.lines_differ(*_lines(rng, [0, k / 10, 0, k / 10])),
                               500, seed=12) for k in (1, 2)}
    print(f"power of the F-test, 4 x 10 points, intercepts 1 / 2 SD apart: {power[1]:.2f} / "
          f"{power[2]:.2f}")
    assert power[2] >= 0.9
    x = np.tile(np.linspace(0, 1, 5), 2)
    v = stats.lines_differ(x, 2 * x + np.repeat([0.0, 0.3], 5), ["a"] * 5 + ["b"] * 5)
    assert rejects(v) and v.effect == pytest.approx(0.3)
    same = stats.lines_differ(x, 2 * x, ["a"] * 5 + ["b"] * 5)
    assert not rejects(same)
    with pytest.raises(ValueError, match="2 groups"):
        stats.lines_differ(x, x, ["a"] * 10)
    with pytest.raises(ValueError, match="differ in length"):
        stats.lines_differ(x, x, ["a"] * 9)
