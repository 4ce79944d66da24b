"""Exact and permutation tests on per-seed observations, each returning a
:class:`lowent.stats.Result`.

* :func:`trend` -- Page's L test for a monotone trend across ordered sizes, seeds as blocks
  (within-seed permutation null, exact with ties).
* :func:`jitter_coincidence` -- exact interval-jitter test that events A of a run fall near
  its events B more often than A's times within coarse bins would by chance (S2).
* :func:`coincidence` -- permutation test that two kinds of events of a run coincide more
  than those of two different runs (seeds paired at random, seeds pooled): S2's null until
  the statistics' second pass, kept to show why it was replaced (tests/test_nulls.py).
* :func:`rate_below` -- exact Poisson test that an event rate is below a bound ("none").
* :func:`more_often` -- exact binomial test that runs show an event more (or less) often
  than a rate.
"""
from __future__ import annotations

import functools
import itertools
import math
from typing import Sequence

import numpy as np
from scipy import stats as sps
from scipy.optimize import linear_sum_assignment

from lowent.stats import ALPHA, Result, _clean


TREND_PERMUTATIONS = 9_999  # within-seed permutations of Page's test (seed TREND_SEED)
TREND_SEED = 0


def page_l(ranks: np.ndarray) -> np.ndarray:
    """Page's L of within-block ranks [..., blocks, groups]: sum_j j * (ranks of group j),
    groups numbered 1..k in the hypothesised increasing order."""
    return (ranks.sum(axis=-2) * np.arange(1, ranks.shape[-1] + 1)).sum(axis=-1)


@functools.lru_cache(maxsize=16)
def _trend_weights(n_perm: int, blocks: int, groups: int, seed: int) -> np.ndarray:
    """Page's weights of the within-block permutations [n_perm, blocks * groups]: entry
    (p, i * groups + g) is the position (1..groups) to which permutation p moves group g of
    block i. The permutations depend only on the shape and the seed, so they are drawn once:
    Page's L of permutation p is then this row dotted with the ranks (exact: a sum of
    mid-ranks, halves, is exact in float64 in any order), what permuting the ranks and
    summing computes (tests/test_stats.py checks it against that loop)."""
    rng = np.random.default_rng(seed)
    order = np.argsort(rng.random((n_perm, blocks, groups)), axis=-1)
    weights = (np.argsort(order, axis=-1) + 1).astype(np.float64).reshape(n_perm, blocks * groups)
    weights.flags.writeable = False
    return weights


def _reaching(null: np.ndarray, value: float) -> int:
    """How many null statistics reach `value` (a float sum of mid-ranks: within 1e-9)."""
    return int(np.count_nonzero(null >= value - 1e-9 * max(1.0, abs(value))))


def trend(groups: Sequence, direction: str, alpha: float = ALPHA,
          n_perm: int = TREND_PERMUTATIONS, seed: int = TREND_SEED) -> Result:
    """Page's L test for a monotone trend across ordered groups (e.g. model sizes), judged
    by a within-block permutation test.

    Args:
        groups: per-seed observations of each group, in increasing size; seed i of every
            group forms block i (groups are truncated to the smallest).
        direction: "increasing" or "decreasing" with size.
        n_perm: random within-block permutations (each block's mid-ranks shuffled across
            the groups; ties stay as they are, so the null is exact with ties).
    Returns:
        Result with statistic = Page's L on within-block mid-ranks, p = (1 + #null L >=
        observed) / (1 + n_perm), its opposite (a trend the other way) likewise, and
        effect = Spearman rho between size rank and value (pooled) with its (1 - 2 alpha)
        Fisher-z interval.
    """
    if direction not in ("increasing", "decreasing"):
        raise ValueError(f"direction must be increasing or decreasing, got {direction!r}")
    m = min(len(g) for g in groups)
    data = np.stack([_clean(g)[:m] for g in groups], axis=1)  # [blocks, groups]
    if data.shape[1] < 3:
        raise ValueError("Page's test needs at least 3 ordered groups")
    ordered = data if direction == "increasing" else data[:, ::-1]
    ranks = sps.rankdata(ordered, axis=1)  # mid-ranks within each block
    observed = float(page_l(ranks))
    if isinstance(seed, (int, np.integer)):
        weights = _trend_weights(int(n_perm), *ranks.shape, int(seed))
    else:  # None or a Generator: fresh permutations each call, as they ask
        weights = _trend_weights.__wrapped__(n_perm, *ranks.shape, seed)
    null = weights @ ranks.ravel()
    tol = 1e-9 * max(1.0, abs(observed))
    p = (1 + _reaching(null, observed)) / (1 + n_perm)
    p_opp = (1 + np.count_nonzero(null <= observed + tol)) / (1 + n_perm)
    # The smallest p these observations allow: each seed's ranks in the claimed order (a seed
    # tied at every size has one arrangement and adds nothing), under the same null.
    best = float(page_l(np.sort(ranks, axis=1)))
    min_p = (1 + _reaching(null, best)) / (1 + n_perm)
    rank = np.broadcast_to(np.arange(data.shape[1]), data.shape)
    r = float(sps.spearmanr(rank.ravel(), data.ravel()).statistic) if np.ptp(data) > 0 else 0.0
    r = 0.0 if not np.isfinite(r) else r
    # Fisher-z interval for Spearman's rho with Fieller's standard error 1.06 / sqrt(n - 3).
    z, se = math.atanh(max(min(r, 1 - 1e-15), -1 + 1e-15)), 1.06 / math.sqrt(data.size - 3)
    q = sps.norm.ppf(1 - alpha)
    ci = (math.tanh(z - q * se), math.tanh(z + q * se))
    return Result(procedure=f"Page's L trend test ({direction}; within-seed permutations, "
                            f"{n_perm} resamples)", statistic=observed,
                  pvalue=float(p), n=int(data.size), effect=r,
                  effect_name="Spearman rho (size rank, value)", ci=ci,
                  data={f"group{i}": data[:, i] for i in range(data.shape[1])},
                  pvalue_opposite=float(p_opp), min_pvalue=float(min_p),
                  call={"fn": "trend", "kw": {"direction": direction}, "groups": True})


PERMUTATIONS = 9_999  # random pairings of a permutation test with more than EXHAUSTIVE seeds
PERMUTATION_SEED = 0
EXHAUSTIVE = 7  # up to this many seeds, every pairing (7! = 5040) is enumerated


def coincidence(events_a: Sequence, events_b: Sequence, before: int, after: int,
                alpha: float = ALPHA, n_perm: int = PERMUTATIONS,
                seed: int = PERMUTATION_SEED) -> Result:
    """Permutation test: events A of a run (e.g. dead-neuron jumps) fall near the events B
    of the same run (loss spikes) more often than near those of another run.

    Args:
        events_a, events_b: per seed, the event steps of each kind (same number of seeds).
        before, after: an A event at step a matches a B event at b when
            b - before <= a <= b + after.
        n_perm: random pairings when there are more than EXHAUSTIVE seeds; with fewer, all
            n! pairings of A's seeds with B's seeds are counted.
    Returns:
        Result with statistic = A events matched to their own run's B events (seeds pooled);
        its null pairs seed i's A events with seed pi(i)'s B events over permutations pi, so
        events that cluster in the same phase of every run are not mistaken for coinciding.
        effect = matched fraction minus its null mean; p = share of pairings matching at
        least as many (exhaustive), or (1 + #null >= observed) / (1 + n_perm).
    """
    a = [np.asarray(x, dtype=np.int64).ravel() for x in events_a]
    b = [np.asarray(x, dtype=np.int64).ravel() for x in events_b]
    if len(a) != len(b):
        raise ValueError(f"{len(a)} seeds of A events but {len(b)} of B events")
    n = len(a)
    if n < 2:
        raise ValueError("a pairing test needs at least 2 seeds")

    def matched(x, y):  # A events of x near some event of y
        if x.size == 0 or y.size == 0:
            return 0
        lag = x[:, None] - y[None, :]
        return int(((lag >= -before) & (lag <= after)).any(axis=1).sum())

    M = np.array([[matched(x, y) for y in b] for x in a], dtype=np.float64)  # [A seed, B seed]
    observed = float(np.trace(M))
    # The most events any pairing of seeds matches: the best these observations allow.
    rows, cols = linear_sum_assignment(M, maximize=True)
    best = max(float(M[rows, cols].sum()), observed)
    if n <= EXHAUSTIVE:
        perms = np.array(list(itertools.permutations(range(n))))
        null = M[np.arange(n), perms].sum(axis=1)
        p = np.count_nonzero(null >= observed) / len(null)
        p_opp = np.count_nonzero(null <= observed) / len(null)
        min_p, how = np.count_nonzero(null >= best) / len(null), f"all {len(null)} pairings of seeds"
    else:
        rng = np.random.default_rng(seed)
        perms = np.argsort(rng.random((n_perm, n)), axis=1)
        null = M[np.arange(n), perms].sum(axis=1)
        p = (1 + np.count_nonzero(null >= observed)) / (1 + n_perm)
        p_opp = (1 + np.count_nonzero(null <= observed)) / (1 + n_perm)
        min_p = (1 + np.count_nonzero(null >= best)) / (1 + n_perm)
        how = f"{n_perm} random pairings of seeds"
    n_a = sum(x.size for x in a)
    if n_a == 0:
        p = p_opp = min_p = 1.0
    frac, null_frac = (observed / n_a, null / n_a) if n_a else (0.0, np.zeros(1))
    ci = tuple(float(frac - q) for q in np.quantile(null_frac, [1 - alpha, alpha]))
    return Result(procedure=f"permutation test of coincidence ({how})",
                  statistic=observed, pvalue=float(p), n=n, effect=float(frac - null_frac.mean()),
                  effect_name="matched fraction - null mean", ci=ci,
                  data={"matched": observed, "events_a": n_a,
                        "events_b": sum(y.size for y in b), "null_mean": float(null.mean())},
                  pvalue_opposite=float(p_opp), min_pvalue=float(min_p))


JITTER_WIDTH = 512  # steps per bin of the interval-jitter null (claims/README.md)


def _convolve_pmfs(pmfs: list[np.ndarray]) -> np.ndarray:
    """The pmf of a sum of independent counts, each given by its pmf over 0, 1, ..."""
    out = np.ones(1)
    for pmf in pmfs:
        out = np.convolve(out, pmf)
    return out


def jitter_coincidence(events_a: Sequence, events_b: Sequence, positions, before: int,
                       after: int, width: int = JITTER_WIDTH, alpha: float = ALPHA) -> Result:
    """Exact interval-jitter test: events A of a run (dead-neuron jumps) fall near its events
    B (loss spikes) more often than chance placement of A within coarse bins would give.

    Args:
        events_a, events_b: per seed, the event steps of each kind (same number of seeds).
        positions: the steps at which an A event can be seen (the probe steps), the same
            for every seed; every A event must be one of them.
        before, after: an A event at step a matches a B event at b when
            b - before <= a <= b + after.
        width: the bins' width in steps; bin i holds steps [i * width, (i + 1) * width).
    Returns:
        Result with statistic = A events matched to a B event of their own run, seeds pooled.
        Null: given each run's B events and the number of its A events in each bin, the A
        events of a bin sit at a uniformly random subset of the bin's positions. A bin then
        contributes a hypergeometric count (its positions that match a B event are the
        successes, its A events the draws); bins and seeds are independent, so the null
        distribution of the total is their convolution and p = P(total >= observed)
        exactly. Reachable p: every bin at its largest count min(draws, successes).
        effect = matched fraction minus its null mean.
    """
    a = [np.asarray(x, dtype=np.int64).ravel() for x in events_a]
    b = [np.asarray(x, dtype=np.int64).ravel() for x in events_b]
    pos = np.unique(np.asarray(positions, dtype=np.int64).ravel())
    if len(a) != len(b):
        raise ValueError(f"{len(a)} seeds of A events but {len(b)} of B events")
    if width < 1:
        raise ValueError(f"the bins' width must be at least 1 step, got {width}")
    bins = pos // width
    pmfs, observed, best, mean = [], 0, 0, 0.0
    for x, y in zip(a, b):
        if x.size and not np.isin(x, pos).all():
            raise ValueError(f"A events at steps {x[~np.isin(x, pos)][:3].tolist()} are not "
                             "among the positions")
        hit = np.zeros(pos.size, dtype=bool)  # positions near a B event of this run
        if y.size:
            lag = pos[:, None] - y[None, :]
            hit = ((lag >= -before) & (lag <= after)).any(axis=1)
        observed += int(hit[np.searchsorted(pos, x)].sum())
        for k_bin, k in zip(*np.unique(x // width, return_counts=True)):
            in_bin = bins == k_bin
            total, good = int(in_bin.sum()), int(hit[in_bin].sum())
            top = min(int(k), good)
            # unfrozen: the same pmf, without building a distribution object (about 1 ms)
            pmfs.append(sps.hypergeom.pmf(np.arange(top + 1), total, good, int(k)))
            best += top
            mean += k * good / total
    null = _convolve_pmfs(pmfs)
    null = null / null.sum()
    n_a = sum(x.size for x in a)
    if n_a == 0:
        p = p_opp = min_p = 1.0
        frac, ci = 0.0, (0.0, 0.0)
    else:
        tail = np.cumsum(null[::-1])[::-1]  # tail[k] = P(total >= k)
        p, p_opp = float(tail[observed]), float(np.sum(null[:observed + 1]))
        min_p = float(tail[best])
        cdf = np.cumsum(null)
        lo, hi = (int(np.searchsorted(cdf, q - 1e-12)) for q in (alpha, 1 - alpha))
        frac = observed / n_a
        ci = (frac - hi / n_a, frac - lo / n_a)
    return Result(procedure=f"exact interval-jitter test of coincidence ({width}-step bins)",
                  statistic=float(observed), pvalue=float(min(p, 1.0)), n=len(a),
                  effect=float(frac - mean / n_a) if n_a else 0.0,
                  effect_name="matched fraction - null mean", ci=ci,
                  data={"matched": float(observed), "events_a": n_a,
                        "events_b": sum(y.size for y in b), "null_mean": mean},
                  pvalue_opposite=float(min(p_opp, 1.0)), min_pvalue=float(min(min_p, 1.0)))


@functools.lru_cache(maxsize=4096)
def _poisson(total: float, expo: float, bound: float,
             alpha: float) -> tuple[float, float, float, float]:
    """rate_below's figures for `total` events over `expo` units (kept, as _binomial's):
    P(X <= total), the rate's exact upper (1 - alpha) bound, P(X >= total), P(X = 0)."""
    return (float(sps.poisson.cdf(total, bound * expo)),
            float(sps.chi2.ppf(1 - alpha, 2 * (total + 1)) / 2 / expo),
            float(sps.poisson.sf(total - 1, bound * expo)),
            float(sps.poisson.pmf(0, bound * expo)))


def rate_below(counts, exposure: float, bound: float, alpha: float = ALPHA) -> Result:
    """Exact Poisson test that an event rate is below `bound` (claim: "no events").

    Args:
        counts: per-seed event counts.
        exposure: units of exposure per seed (e.g. thousands of steps).
        bound: the rate (events per unit) the claim must stay below.
    Returns:
        Result with p = P(X <= observed | rate = bound), effect = observed rate and its
        exact one-sided upper (1 - alpha) bound as the CI's upper end.
    """
    c = np.asarray(counts, dtype=np.float64).ravel()
    total, expo = float(c.sum()), exposure * c.size
    p, upper, p_opp, floor = _poisson(total, expo, float(bound), alpha)
    return Result(procedure=f"exact Poisson test (rate below {bound:g} per unit)",
                  statistic=total, pvalue=p, n=c.size,
                  effect=total / expo, effect_name="events per unit", ci=(0.0, upper),
                  data={"x": c}, pvalue_opposite=p_opp, min_pvalue=floor,
                  call={"fn": "rate_below", "kw": {"exposure": exposure, "bound": bound}})


@functools.lru_cache(maxsize=4096)
def _binomial(k: int, n: int, rate: float, alternative: str,
              alpha: float) -> tuple[float, float, float, float]:
    """scipy's binomtest of k of n at `rate`: p, the two-sided (1 - 2 alpha) Clopper-Pearson
    interval (as the t-tests': each bound is the one-sided 1 - alpha bound that the one-sided
    test at alpha inverts, so the interval excludes `rate` on the claimed side exactly when
    p < alpha), and the opposite p. A function of whole numbers, so kept: the stability rule
    and the power simulations ask for the same few counts thousands of times."""
    opposite = "less" if alternative == "greater" else "greater"
    res = sps.binomtest(k, n, rate, alternative=alternative)
    ci = sps.binomtest(k, n, rate).proportion_ci(confidence_level=1 - 2 * alpha)
    return (float(res.pvalue), float(ci.low), float(ci.high),
            float(sps.binomtest(k, n, rate, alternative=opposite).pvalue))


def more_often(hits, rate: float, alpha: float = ALPHA, alternative: str = "greater") -> Result:
    """Exact one-sided binomial test: the fraction of runs (seeds) with an event exceeds
    `rate` (e.g. the detector's false-alarm rate per run), or with alternative="less" lies
    below it (runs as the unit: valid whatever each run's own event rate)."""
    if alternative not in ("greater", "less"):
        raise ValueError(f"alternative must be greater or less, got {alternative!r}")
    h = np.asarray(hits, dtype=bool).ravel()
    p, low, high, p_opp = _binomial(int(h.sum()), h.size, float(rate), alternative, alpha)
    side = "above" if alternative == "greater" else "below"
    floor = rate**h.size if alternative == "greater" else (1 - rate)**h.size
    return Result(procedure=f"exact binomial test (fraction of runs {side} {rate:g})",
                  statistic=float(h.sum()), pvalue=p, n=h.size, effect=float(h.mean()),
                  effect_name="fraction of runs with the event", ci=(low, high),
                  data={"x": h.astype(float)}, pvalue_opposite=p_opp,
                  min_pvalue=float(floor),
                  call={"fn": "more_often", "kw": {"rate": rate, "alternative": alternative}})
