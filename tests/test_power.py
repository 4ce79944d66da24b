"""lowent.power: bootstrap of a report's seeds through the claims' exact procedures."""
import json
from pathlib import Path

import numpy as np
import pytest

from lowent import exact, power, stats, verdict
from lowent.records import result_from_record, verdict_record
from lowent.cli import main
from lowent.stability import rerun


def _results(verdicts, seeds=5):
    return {"environment": {"seeds": f"{seeds} per configuration (0-{seeds - 1})"},
            "claims": [{"nodeid": f"t::{i}", "claim": v.claim, "outcome": v.outcome,
                        "verdict": verdict_record(v)} for i, v in enumerate(verdicts)]}


def _verdict(shift, rng, x=None):
    x = rng.normal(shift, 1.0, 5) if x is None else x
    return verdict.conjunction(
        {"above": stats.one_sample(x, 0.0, "greater"),
         "rising": exact.trend([x, x + 0.5, x + 1.0], "increasing"),
         "near": stats.equivalence(x - shift, 0.0, 3.0),
         "rate": exact.rate_below(np.zeros(5), 12.8, 0.05),
         "line": stats.pearson(np.arange(12.0), np.arange(12.0) ** 1.1, null=0.8)},
        claim="X", statement="fake")


def test_rerunning_a_part_on_its_own_seeds_gives_its_result():
    """Every procedure's `call` reproduces the stored result on the identity resample."""
    v = verdict_record(_verdict(2.0, np.random.default_rng(0)))
    for part in v["parts"]:
        if part["call"] is None:
            continue
        again = rerun(result_from_record(part), np.arange(5))
        assert again.pvalue == part["p_value"] and again.statistic == part["statistic"]


def test_a_strong_effect_holds_in_every_resample_and_a_null_rarely():
    rng = np.random.default_rng(1)
    strong = _verdict(3.0, rng)
    null = _verdict(0.0, rng, x=np.array([-1.0, -0.5, 0.0, 0.5, 1.0]))  # mean exactly 0
    rates, fixed = power.simulate(verdict_record(strong), 5, 10, sims=100)
    assert rates == {"holds": 1.0}
    assert fixed == ["line"]  # 12 configurations, not 5 seeds: kept at its measured result
    null_rates, _ = power.simulate(verdict_record(null), 5, 5, sims=100)
    assert null_rates.get("holds", 0.0) < 0.2


def test_table_and_command_line(tmp_path, capsys):
    rng = np.random.default_rng(2)
    path = tmp_path / "results.json"
    path.write_text(json.dumps(_results([_verdict(3.0, rng), _verdict(0.0, rng)])))
    rows = power.power_table(json.loads(path.read_text()), (5,), sims=50)
    assert [r.seeds for r in rows] == [5, 5] and rows[0].flip == 0.0
    assert main(["power", str(path), "--seeds", "5", "--sims", "20"]) == 0
    out = capsys.readouterr().out
    assert "| X | holds | 5 | 1.00 |" in out and "line" in out
    with pytest.raises(ValueError, match="seeds"):
        power.seeds_of({"environment": {}})


def test_replication_plan_inverts_the_recorded_t_tests_and_its_power_matches_noncentral_t():
    """The plan's seed SDs reproduce the recorded p-values, and its exact t-test power
    agrees with a simulation of the project's one-sample test."""
    import numpy as np
    from scipy import stats

    from lowent import replication as r
    from lowent.stats import one_sample

    for key, (diff, p) in r.RECORDED.items():
        t = diff / (r.SD[key] / np.sqrt(10))
        side = stats.t.sf(abs(t), 9)
        assert abs(side / p - 1) < 1e-6, key
    rng = np.random.default_rng(1)
    sims = [one_sample(r.H_TGT + rng.normal(-0.01, 0.0073, 7), r.H_TGT, "less").pvalue < 0.05
            for _ in range(2000)]
    exact = r.t_power(-0.01, 0.0073, 7)
    assert abs(np.mean(sims) - exact) < 3 * np.sqrt(exact * (1 - exact) / 2000)
    # the family's power is at most its weakest part's
    assert r.family_power(r.L1_SCENARIO, 7, sims=200) <= r.t_power(-0.01, r.SD["L1 d = 64"], 7) + 0.05


def test_replication_judge_tests_each_part_against_the_smallest_effect_of_interest():
    """An effect shown smaller than SESOI: the t-test of mean > ref - SESOI (claim "less"),
    or mean < ref + SESOI (claim "greater"), on the part's own per-seed data."""
    from lowent import replication as r
    from lowent.records import result_record

    x = [3.600, 3.602, 3.598, 3.601, 3.599]
    below = result_record(stats.one_sample(x, 3.6078, "less"), 0.05)
    assert r.smaller_than_sesoi(below) == pytest.approx(
        stats.one_sample(x, 3.6078 - r.SESOI, "greater").pvalue)
    above = result_record(stats.one_sample(x, 3.59, "greater"), 0.05)
    assert r.smaller_than_sesoi(above) == pytest.approx(
        stats.one_sample(x, 3.59 + r.SESOI, "less").pvalue)
    tost = result_record(stats.equivalence(x, 3.6, 0.05), 0.05)
    assert r.smaller_than_sesoi(tost) is None


ROOT = Path(__file__).resolve().parents[1]
# the F1 replication's record (per-seed figures of seeds 10-23; claims/CALIBRATION.md)
F1_RECORD = ROOT / "baselines" / "replication-F1-paper-seeds10-23.json"
# L1's (seeds 10-16), retrained on 2026-12-07 by training code 0.1.0+4581a4f7bc2e
L1_RECORD = ROOT / "baselines" / "replication-L1-paper-seeds10-16.json"


def test_replication_judge_says_per_claim_whether_a_report_is_the_replication(tmp_path):
    """The replication's verdict is the claim's test on the paper profile and the planned
    fresh seeds (L1 10-16, F1 10-23) alone; those with seeds 0-9 are the pooled analysis;
    any other set (unfinished, seeds 0-9 alone, the quick profile) is not the replication.
    --judge says which, per claim; the seeds are read back from the report's entry as the
    plugin writes it (lowent.seedtext.seeds_entry)."""
    from lowent import replication as r
    from lowent.seedtext import seeds_entry

    plan = (ROOT / "claims" / "README.md").read_text()
    assert "L1 on seeds 10-16" in plan and "F1 on seeds 10-23" in plan  # the committed plan
    assert r.PLANNED == {"L1": tuple(range(10, 17)), "F1": tuple(range(10, 24))}
    cases = [("L1", range(10, 17), "paper", "this is the replication's verdict"),
             ("F1", range(10, 24), "paper", "this is the replication's verdict"),
             ("L1", range(0, 17), "paper", "the pooled analysis"),
             ("F1", range(0, 24), "paper", "the pooled analysis"),
             ("F1", range(10, 17), "paper", "unfinished or other set"),
             ("L1", range(10, 24), "paper", "unfinished or other set"),
             ("F1", range(0, 10), "paper", "not the replication"),
             ("L1", range(0, 16), "paper", "not the replication"),
             ("L1", range(10, 17), "quick", "not the paper profile")]
    record = json.loads(F1_RECORD.read_text())
    (f1,) = record["claims"]
    for claim, seeds, profile, said in cases:
        seeds = tuple(seeds)
        env = {"profile": f"{profile} (seeds {seeds[0]}-{seeds[-1]})",
               "seeds": seeds_entry(seeds)}
        assert r.seeds_judged({"environment": env}) == seeds
        rec = dict(f1, claim=claim)
        f = tmp_path / "results.json"
        f.write_text(json.dumps({"environment": env, "claims": [rec]}))
        lines = r.judge(str(f))
        assert lines[1].startswith(f"{claim} ") and said in lines[2], (claim, seeds, lines[2])
        assert all(said not in line for line in lines[3:])
    for env in ({}, {"seeds": "5"}, {"seeds": "3 per configuration (4-2)"},
                {"seeds": "5 per configuration (0-3)"}):
        assert r.seeds_judged({"environment": env}) is None
    # the claim on another target (D1) or setting (X) is not the replication, whatever seeds
    env = {"profile": "paper (seeds 10-23)", "seeds": seeds_entry(range(10, 24))}
    for case in ("low", "dropout0"):
        rec = dict(f1, nodeid=f1["nodeid"].replace("[base]", f"[{case}]"))
        f.write_text(json.dumps({"environment": env, "claims": [rec]}))
        assert r.judge(str(f))[2] == f"  {case}: another target or setting, not the replication"


def test_the_recorded_f1_replication_follows_from_its_seeds_under_todays_family():
    """baselines/replication-F1-paper-seeds10-23.json keeps the replication's per-seed final
    entropies (14 fresh seeds per variant, trained faithfully; claims/CALIBRATION.md). F1's
    family as it is now, run on those seeds, gives the recorded outcome and p-values: a
    change to the statistics that would move the replication's verdict fails here."""
    from lowent import replication as r
    from lowent.claims.ffn_bias import f1_family

    path = F1_RECORD
    rec = json.loads(path.read_text())
    assert r.seeds_judged(rec) == tuple(range(10, 24))
    (claim,) = [c for c in rec["claims"] if c["claim"] == "F1"]
    parts = claim["verdict"]["parts"]
    H = {p["statement"].split(":")[0]: np.array(p["data"]["x"]) for p in parts}
    h_tgt = parts[0]["call"]["kw"]["value"]
    v = f1_family(H, h_tgt)
    assert all(len(x) == 14 for x in H.values())
    assert v.outcome == claim["verdict"]["outcome"] == "inconclusive"
    for p in parts:
        assert v.parts[p["statement"]].pvalue == pytest.approx(p["p_value"], rel=1e-12)
    assert r.judge(str(path))[2] == ("  the planned fresh seeds 10-23: this is the "
                                     "replication's verdict")


def test_the_recorded_l1_replication_follows_from_its_seeds_under_todays_family():
    """baselines/replication-L1-paper-seeds10-16.json keeps the per-seed final entropies of
    the Transformer at d = 8, 16, 32, 64 of L1's second draw of the fresh seeds 10-16
    (trained faithfully on another CPU and PyTorch; the first draw, which gave the
    replication's verdict, kept no entries: claims/CALIBRATION.md). L1's family as it is
    now, run on those seeds, gives the recorded outcome and p-values."""
    from lowent import replication as r
    from lowent.claims.low_entropy import l1_family

    rec = json.loads(L1_RECORD.read_text())
    assert r.seeds_judged(rec) == tuple(range(10, 17))
    (claim,) = [c for c in rec["claims"] if c["claim"] == "L1"]
    parts = {p["statement"]: p for p in claim["verdict"]["parts"]}
    groups = parts["H decreases with d"]["data"]
    H = {d: np.array(groups[f"group{i}"]) for i, d in enumerate((8, 16, 32, 64))}
    for d in (32, 64):  # the one-sample parts judge the same seeds as the trend
        assert parts[f"d = {d}: H < H(p_tgt)"]["data"]["x"] == H[d].tolist()
    h_tgt = parts["d = 64: H < H(p_tgt)"]["call"]["kw"]["value"]
    v = l1_family(H, h_tgt)
    assert all(len(x) == 7 for x in H.values())
    assert v.outcome == claim["verdict"]["outcome"]
    for statement, p in parts.items():
        assert v.parts[statement].pvalue == pytest.approx(p["p_value"], rel=1e-12)
    assert r.judge(str(L1_RECORD))[2] == ("  the planned fresh seeds 10-16: this is the "
                                          "replication's verdict")


def test_parametric_power_matches_noncentral_t_at_the_measured_effect():
    """--method parametric draws normal seeds at the measured mean and SD: a one-part claim's
    share that holds is the noncentral-t power at the measured effect (observed power)."""
    from scipy import stats as sps

    x = np.array([0.3, -0.4, 0.9, 0.1, -0.2])  # d about 0.3: power about 0.2 with 10
    v = verdict.conjunction({"above": stats.one_sample(x, 0.0, "greater")}, claim="X",
                            statement="fake")
    rates, _ = power.simulate(verdict_record(v), 5, 10, sims=2000, method="parametric")
    nc = x.mean() / x.std(ddof=1) * np.sqrt(10)
    expected = sps.nct.sf(sps.t.ppf(0.95, 9), 9, nc)
    assert rates.get("holds", 0.0) == pytest.approx(expected, abs=4 * np.sqrt(0.25 / 2000))
    counts = verdict.conjunction({"none": exact.rate_below(np.zeros(5), 12.8, 0.05)},
                                 claim="Y", statement="fake")
    assert power.simulate(verdict_record(counts), 5, 5, sims=50,
                          method="parametric")[0] == {"holds": 1.0}  # Poisson at rate 0
