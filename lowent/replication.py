"""The confirmatory replication of L1 and F1: its smallest effect of interest, the parametric
power of each claim's family there, and the number of fresh seeds it implies.

``python -m lowent replication`` prints the plan; ``--judge results.json`` (a claims report
of the fresh seeds) prints the replication's verdict and, per directional part, whether its
effect is shown smaller than the smallest effect of interest (reported, not judged).

The power is computed from a stated scenario, not from the effects a run measured: each
configuration's per-seed final entropy is drawn as normal with the scenario's mean and a
seed SD, and the claim's own family (``l1_family``, ``f1_family``) judges each simulated
run; the power is the share that holds. The seed SDs are nuisance parameters, recovered from
the paper profile's recorded 10-seed figures (claims/CALIBRATION.md) by inverting their
one-sample t-tests: SD = |mean - H(p_tgt)| * sqrt(n) / t_{n-1}(1 - p). The plan, its numbers and
its reasons are written down in claims/README.md ("Confirmatory replication of L1 and F1"),
committed before any fresh seed was trained.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from lowent.claims.ffn_bias import f1_family
from lowent.claims.low_entropy import l1_family
from lowent.seedtext import format_seeds, read_seeds_entry

SESOI = 0.01  # nats: the smallest effect of interest (claims/README.md)
H_TGT = 3.6078  # H(p_tgt) of the base target's sample, nats
TARGET_POWER = 0.9
FRESH_FROM = 10  # fresh seeds start after the paper profile's 0-9
PLAN_SEED = 20261205
SIMULATIONS = 2000


def sd_from_t(diff: float, p: float, n: int = 10) -> float:
    """The seed SD that makes a one-sided one-sample t-test of n seeds whose mean is `diff`
    from its reference give p."""
    return abs(diff) * np.sqrt(n) / stats.t.ppf(1 - p, n - 1)


# Recorded paper-profile figures (10 faithful seeds): (mean - H(p_tgt), one-sided p).
RECORDED = {
    "L1 d = 32": (-0.0066, 0.0045), "L1 d = 64": (-0.0042, 0.051),
    "F1 attention_only": (+0.0222, 1.3e-4), "F1 ffn_main": (-0.0040, 0.069),
    "F1 full": (-0.0005, 0.36),
}
SD = {k: sd_from_t(*v) for k, v in RECORDED.items()}
# attention_main: its recorded TOST p (3.5e-9 at +0.0027) gives the SD through the lower test.
SD["F1 attention_main"] = (0.05 - 0.0027) * np.sqrt(10) / stats.t.ppf(1 - 3.5e-9, 9)
# L1's d = 8 and 16 have no recorded test: the larger of d = 32's and d = 64's SDs.
SD["L1 d = 8"] = SD["L1 d = 16"] = max(SD["L1 d = 32"], SD["L1 d = 64"])


@dataclass(frozen=True)
class Scenario:
    claim: str
    means: dict  # configuration -> mean - H(p_tgt), nats
    sds: dict  # configuration -> seed SD, nats


# The smallest configuration in which each claim is true by the smallest effect of interest.
# L1: d = 32 and 64 each SESOI below the target; the fall with d one SESOI per doubling up to
# d = 32 and none after (so the trend part rests on the smaller sizes, as measured).
L1_SCENARIO = Scenario("L1", {8: SESOI, 16: 0.0, 32: -SESOI, 64: -SESOI},
                       {d: SD[f"L1 d = {d}"] for d in (8, 16, 32, 64)})
# F1: attention_only SESOI above, attention_main on the target, ffn_main and full SESOI below.
F1_SCENARIO = Scenario("F1", {"attention_only": SESOI, "attention_main": 0.0,
                              "ffn_main": -SESOI, "full": -SESOI},
                       {v: SD[f"F1 {v}"] for v in ("attention_only", "attention_main",
                                                     "ffn_main", "full")})
FAMILIES = {"L1": l1_family, "F1": f1_family}
# The fresh seeds the plan chose (claims/README.md): the smallest n whose family holds in at
# least TARGET_POWER of the simulated runs, from FRESH_FROM on.
PLANNED = {"L1": tuple(range(FRESH_FROM, FRESH_FROM + 7)),
           "F1": tuple(range(FRESH_FROM, FRESH_FROM + 14))}


def family_power(sc: Scenario, n: int, sims: int = SIMULATIONS, seed: int = PLAN_SEED) -> float:
    """Share of `sims` simulated n-seed runs of the scenario whose family holds."""
    rng = np.random.default_rng(seed)
    family = FAMILIES[sc.claim]
    held = 0
    for _ in range(sims):
        H = {k: H_TGT + rng.normal(sc.means[k], sc.sds[k], n) for k in sc.means}
        held += family(H, H_TGT).outcome == "holds"
    return held / sims


def t_power(effect: float, sd: float, n: int, alpha: float = 0.05) -> float:
    """Exact power of the one-sided one-sample t-test (noncentral t)."""
    nc = abs(effect) / sd * np.sqrt(n)
    return float(stats.nct.sf(stats.t.ppf(1 - alpha, n - 1), n - 1, nc))


def smaller_than_sesoi(part: dict) -> float | None:
    """p of the one-sided t-test that a directional one-sample part's effect is smaller than
    SESOI (its mean within SESOI of the reference on the claimed side); None for another
    kind of part."""
    from lowent.stats import one_sample

    call = part.get("call") or {}
    if call.get("fn") != "one_sample" or "x" not in (part.get("data") or {}):
        return None
    ref, claimed = call["kw"]["value"], call["kw"]["alternative"]
    if claimed == "less":  # claim: mean < ref; shown small: mean > ref - SESOI
        return one_sample(part["data"]["x"], ref - SESOI, "greater").pvalue
    return one_sample(part["data"]["x"], ref + SESOI, "less").pvalue


def seeds_judged(data: dict) -> tuple[int, ...] | None:
    """The seeds a claims report judged, read from its environment's "seeds" entry
    (lowent.seedtext.seeds_entry: "14 per configuration (10-23)"); None where it does not
    list them."""
    try:
        return read_seeds_entry(data.get("environment", {}).get("seeds"))[1]
    except ValueError:
        return None


def which_analysis(claim: str, seeds: tuple[int, ...] | None, paper: bool) -> str:
    """What a report of `claim` on `seeds` is to the replication: its verdict only on the
    paper profile and the planned fresh seeds; the pooled analysis where those come with the
    paper profile's seeds 0-9; anything else is not the replication."""
    planned, own = PLANNED[claim], tuple(range(FRESH_FROM))
    names = f"planned fresh seeds {format_seeds(planned)}"
    if not paper:
        return f"not the paper profile: not the replication (its {names})"
    if seeds is None:
        return "the report does not list its seeds: not judged as the replication"
    if seeds == planned:
        return f"the {names}: this is the replication's verdict"
    if seeds == own + planned:
        return (f"seeds 0-{FRESH_FROM - 1} and the {names}: the pooled analysis, reported "
                "beside the replication, not its verdict")
    if min(seeds) >= FRESH_FROM:
        return (f"fresh seeds {format_seeds(seeds)}, not the {names}: an unfinished or other "
                "set, not judged as the replication")
    return (f"seeds {format_seeds(seeds)}: neither the {names} nor the pooled set "
            f"0-{planned[-1]}: not the replication")


def judge(results: str) -> list[str]:
    """The replication's lines for the L1 and F1 claims of a results.json."""
    from lowent.compare import load

    data = load(results)
    lines = [f"replication on {data['environment'].get('profile', '?')}, "
             f"{data['environment'].get('seeds', '?')} (training code "
             f"{data['environment'].get('training code', '?')})"]
    seeds = seeds_judged(data)
    paper = str(data["environment"].get("profile", "")).startswith("paper")
    found = False
    for c in data["claims"]:
        if c.get("claim") not in FAMILIES or not c.get("verdict"):
            continue
        found = True
        v = c["verdict"]
        case = c["nodeid"].rsplit("[", 1)[-1].rstrip("]") if "[" in c["nodeid"] else "base"
        lines.append(f"{c['claim']} ({case}): "
                     f"{v['outcome']}, p = {v['p_value']:.3g} (the claim's test, unchanged)")
        lines.append("  " + (which_analysis(c["claim"], seeds, paper) if case == "base" else
                             f"{case}: another target or setting, not the replication"))
        for part in v.get("parts", []):
            small = smaller_than_sesoi(part)
            extra = ("" if small is None else
                     f"; effect smaller than {SESOI} nats: p = {small:.3g}")
            lines.append(f"  {part['statement']}: effect {part['effect']:+.4f}, "
                         f"p = {part['p_value']:.3g}{extra}")
    if not found:
        lines.append("no L1 or F1 verdict in this results.json")
    return lines


def main(args) -> int:
    if getattr(args, "judge", None):
        for line in judge(args.judge):
            print(line)
        return 0
    print(f"smallest effect of interest {SESOI} nats; seed SDs from the recorded 10-seed "
          "figures:")
    for k, s in SD.items():
        print(f"  {k}: SD {s:.4f}")
    for sc in (L1_SCENARIO, F1_SCENARIO):
        print(f"{sc.claim}: scenario (mean - H(p_tgt)) {sc.means}")
        for n in args.seeds:
            parts = ", ".join(f"{k}: {t_power(sc.means[k], sc.sds[k], n):.4f}"
                              for k in sc.means if sc.means[k] and k not in (8, 16))
            print(f"  n = {n:2d}: family holds {family_power(sc, n, args.sims):.3f}"
                  f"  (one-sided t parts: {parts})")
    return 0
