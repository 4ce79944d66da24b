"""Each claim's family (lowent.claims) on planted data: with the claimed effect planted it
holds, with no effect it does not. 10 seeds per group, as in the paper profile."""
import numpy as np
import pytest

from lowent.claims.common import VARIANTS
from lowent.claims.engine_agreement import e1_family
from lowent.claims.ffn_bias import f1_family
from lowent.claims.ffn_sparsity import s1_family, s1_figures_family
from lowent.claims.kl_loss import DEPTHS, f2_family
from lowent.claims.loss_spikes import s2_family, s4_family
from lowent.claims.low_entropy import KINDS, SMALL, l1_family, l2_family, l3_family, l4_family
from lowent.claims.optimizers import s3_family
from lowent.claims.residual_paths import r1_family, r1_figures_family
from lowent.records import describe_verdict, verdict_record
from lowent.verdict import Verdict

SEEDS = 10
SIZES = (8, 16, 32, 64)
H_TGT = 3.6078


def seeds(mean: float, sd: float = 0.005, seed: int = 0) -> np.ndarray:
    """[SEEDS] normal draws around `mean`."""
    return np.random.default_rng(seed).normal(mean, sd, SEEDS)


def by_d(means, sd: float = 0.005) -> dict[int, np.ndarray]:
    """{d: [SEEDS]} with the given means per size."""
    return {d: seeds(m, sd, seed=i) for i, (d, m) in enumerate(zip(SIZES, means))}


def check(planted: Verdict, none: Verdict):
    """`claim`'s family on planted data holds, on data without the effect it does not; the
    family names no claim (the test that records it does)."""
    assert planted.claim == none.claim == ""
    assert planted.passed and planted.outcome == "holds", describe_verdict(planted)
    assert not none.passed and none.outcome != "holds", describe_verdict(none)
    assert planted.min_pvalue < planted.alpha


def test_l1():
    check(l1_family(by_d([3.70, 3.65, 3.58, 3.55]), H_TGT),
          l1_family(by_d([H_TGT] * 4), H_TGT))


def test_l2():
    def family(transformer_h, transformer_kl):
        H = {(k, d): seeds(transformer_h if k == "transformer" else H_TGT, seed=i)
             for i, (k, d) in enumerate((k, d) for k in KINDS for d in (32, 64))}
        KL = {k: seeds(transformer_kl if k == "transformer" else 0.01, 0.002, seed=7)
              for k in KINDS}
        return l2_family(H, KL, H_TGT)

    check(family(H_TGT - 0.03, 0.03), family(H_TGT, 0.01))


def test_l3():
    def family(fall):
        mass = by_d([0.03 - fall * 0.008 * i for i in range(4)], 0.001)
        nonsparse = {"transformer": by_d([3.6 - fall * 0.05 * i for i in range(4)]),
                     **{k: by_d([H_TGT + 0.2 - fall * 0.06 * i for i in range(4)])
                        for k in ("gru", "lstm")}}
        return l3_family(mass, nonsparse, H_TGT)

    check(family(1.0), family(0.0))


def test_l4():
    def family(transformer_h):
        H = {(k, d): seeds(transformer_h if k == "transformer" else H_TGT + 0.03, seed=i)
             for i, (k, d) in enumerate((k, d) for k in KINDS for d in SMALL)}
        return l4_family(H, H_TGT)

    check(family(H_TGT + 0.02), family(H_TGT - 0.08))


def test_f1():
    planted = {"attention_only": H_TGT + 0.05, "attention_main": H_TGT, "ffn_main": H_TGT - 0.03,
               "full": H_TGT - 0.03}
    check(f1_family({v: seeds(m, seed=i) for i, (v, m) in enumerate(planted.items())}, H_TGT),
          f1_family({v: seeds(H_TGT, seed=i) for i, v in enumerate(VARIANTS)}, H_TGT))


def test_f2():
    rng = np.random.default_rng(3)

    def points(slope, gap):
        made = {}  # one point per trained model: at L = 1 attention_main, ffn_main are full
        for v in VARIANTS:
            for d in SIZES:
                for L in DEPTHS:
                    trained = "full" if L == 1 and v in ("attention_main", "ffn_main") else v
                    loss = rng.uniform(1.0, 1.5)
                    kl = gap * VARIANTS.index(trained) + slope * loss + rng.normal(0, 0.002)
                    made.setdefault((trained, d, L), (loss, kl, trained))
        return {(v, d, L): made["full" if L == 1 and v in ("attention_main", "ffn_main") else v,
                                d, L] for v in VARIANTS for d in SIZES for L in DEPTHS}

    check(f2_family(points(0.5, 0.02)), f2_family(points(0.0, 0.0)))


def test_r1():
    check(r1_family(by_d([0.05, 0.1, 0.2, 0.4], 0.01), by_d([0.0, 0.01, 0.02, 0.05], 0.005)),
          r1_family(by_d([0.1] * 4, 0.01), by_d([0.02] * 4, 0.005)))
    check(r1_figures_family(seeds(0.6, 0.02), seeds(0.3, 0.01)),
          r1_figures_family(seeds(0.39, 0.02), seeds(0.05, 0.01)))


def test_s1():
    planted = (by_d([0.45, 0.35, 0.25, 0.15], 0.01), by_d([0.1, 0.15, 0.2, 0.3], 0.01),
               by_d([0.0, 0.02, 0.05, 0.1], 0.005))
    none = (by_d([0.2] * 4, 0.01), by_d([0.2] * 4, 0.01), by_d([0.05] * 4, 0.005))
    check(s1_family(*planted), s1_family(*none))
    check(s1_figures_family(*planted), s1_figures_family(*none))


def test_s2():
    rng = np.random.default_rng(4)
    length = 12_800
    spikes = [np.sort(rng.choice(length - 200, 4, replace=False)) for _ in range(SEEDS)]
    probes = np.arange(8, length, 8)  # a jump is seen at a probe step
    near = [(s + 10) // 8 * 8 for s in spikes]
    far = [np.sort(rng.choice(probes, 4, replace=False)) for _ in range(SEEDS)]
    check(s2_family(seeds(0.8, 0.05), near, spikes, probes),
          s2_family(seeds(0.2, 0.05), far, spikes, probes))


def test_s3():
    def counts(mean, seed):
        return np.random.default_rng(seed).poisson(mean, SEEDS).astype(float)

    def family(calm_sgd, second_order):
        wobble = np.tile([-1.0, 0.0, 1.0, 0.0, 0.0], 2)  # [SEEDS], mean 0
        spikes = {"adam": 4 + wobble, "sgd_momentum": counts(0 if calm_sgd else 4, 1),
                  "rmsprop": counts(4 + second_order, 2), "adam_2nd": counts(4 + second_order, 3),
                  "adamw": 4 + wobble[::-1]}
        jumps = {o: counts(0 if o == "sgd_momentum" and calm_sgd else 20, 5 + i)
                 for i, o in enumerate(spikes)}
        dead = {o: seeds(0.07 + (0.05 * second_order / 8 if o in ("rmsprop", "adam_2nd") else 0),
                         0.005, seed=10 + i) for i, o in enumerate(spikes)}
        return s3_family(spikes, jumps, dead, 12.8)

    check(family(True, 8), family(False, 0))


def test_s4():
    def counts(mean, seed):
        return np.random.default_rng(seed).poisson(mean, SEEDS).astype(float)

    planted = s4_family({d: counts(m, i) for i, (d, m) in enumerate(zip(SIZES, (0, 1, 3, 6)))},
                        {"gru": counts(0, 5), "lstm": counts(0, 6)}, counts(5, 7))
    none = s4_family({d: counts(1, i) for i, d in enumerate(SIZES)},
                     {"gru": counts(1, 5), "lstm": counts(1, 6)}, counts(0, 7))
    check(planted, none)


@pytest.mark.parametrize("fast", ["trie", "faithful"])
def test_e1(fast):
    check(e1_family({fast: seeds(3.7, 0.002, 0), "per_sample": seeds(3.7, 0.002, 1)},
                    {fast: seeds(0.08, 0.002, 2), "per_sample": seeds(0.08, 0.002, 3)}, fast),
          e1_family({fast: seeds(3.72, 0.02, 0), "per_sample": seeds(3.67, 0.015, 1)},
                    {fast: seeds(0.09, 0.01, 2), "per_sample": seeds(0.057, 0.01, 3)}, fast))


@pytest.mark.parametrize("family", [l1_family, f1_family])
def test_families_are_pure(family):
    """The same per-seed data gives the same verdict, to the bit."""
    H = by_d([3.70, 3.65, 3.58, 3.55]) if family is l1_family else {
        v: seeds(H_TGT, seed=i) for i, v in enumerate(VARIANTS)}
    assert verdict_record(family(H, H_TGT)) == verdict_record(family(H, H_TGT))


def test_aa_rate_holds_alpha_on_exchangeable_seeds_and_finds_a_planted_split():
    """A1: seeds drawn alike are declared different about alpha of the time; a configuration
    whose seeds come from two populations is declared different far more often."""
    from lowent.claims.calibration import aa_rate

    rng = np.random.default_rng(0)
    alike = aa_rate({i: rng.normal(3.6, 0.01, 10) for i in range(12)})
    assert alike.comparisons == 12 * 252 and alike.calibrated
    assert abs(alike.rate - 0.05) < 0.03
    planted = aa_rate({i: np.r_[rng.normal(3.5, 0.001, 5), rng.normal(3.7, 0.001, 5)]
                       for i in range(12)})
    assert not planted.calibrated
    five = aa_rate({i: rng.normal(0, 1, 5) for i in range(3)})
    assert five.comparisons == 3 * 20
    with pytest.raises(ValueError, match="at least 4 seeds"):
        aa_rate({"x": [1.0, 2.0, 3.0]})
