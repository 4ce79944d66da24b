"""Where runs were trained: the machine record, the cache's copy of it, mixed caches, compare's
bit-for-bit rule and the scheduled PyTorch-version workflow."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

from lowent import compare, machine, stats, verdict
from lowent.records import verdict_record
from lowent.cache import Cache, machines_of
from tests.test_cache import SPEC, CountingTrain, entry

ROOT = Path(__file__).resolve().parents[1]


def test_the_machine_record_names_what_decides_the_bits():
    m = machine.machine()
    assert set(m) == {"CPU", "CPU flags", "ATen CPU capability", "BLAS", "kernel settings",
                      "device", "threads"}
    assert m["device"] == "cpu" and m["threads"] >= 1 and m["CPU"]
    assert machine.fingerprint(m).startswith(m["CPU"])
    assert machine.fingerprint(None) == "not recorded"
    assert machine.differences(m, {**m, "threads": 99}) == {"threads": (m["threads"], 99)}


def test_kernel_settings_are_recorded_and_aten_reports_its_capability():
    """Another machine, seen on this one: ATen's scalar kernels and MKL's compatible mode."""
    env = {**os.environ, "ATEN_CPU_CAPABILITY": "default", "MKL_CBWR": "COMPATIBLE"}
    out = subprocess.run([sys.executable, "-c", "import json; from lowent.machine import machine;"
                          " print(json.dumps(machine()))"], env=env, capture_output=True,
                         text=True, check=True).stdout
    m = json.loads(out)
    assert m["ATen CPU capability"] == "DEFAULT"
    assert m["kernel settings"] == "ATEN_CPU_CAPABILITY=default, MKL_CBWR=COMPATIBLE"


def test_each_cache_entry_records_where_it_was_trained(tmp_path):
    cache = Cache(tmp_path)
    run = cache.get(SPEC, train_fn=CountingTrain())
    here = machine.machine()
    assert machines_of(run) == [here]
    manifest = json.loads((entry(cache, SPEC, 0) / "manifest.json").read_text())
    assert manifest["machine"] == here
    assert json.loads((entry(cache, SPEC, 0) / "spec.json").read_text())["machine"] == here
    # loaded again: the same record, from the manifest
    assert machines_of(Cache(tmp_path).get(SPEC, train_fn=CountingTrain())) == [here]


def test_a_cache_shared_by_two_machines_is_reported_as_mixed(tmp_path):
    cache, fake = Cache(tmp_path), CountingTrain()
    cache.get(SPEC, train_fn=fake)
    d = entry(cache, SPEC, 1)  # seed 1 "trained elsewhere" (the manifest is not checksummed)
    manifest = json.loads((d / "manifest.json").read_text())
    other = {**manifest["machine"], "CPU": "Another CPU", "ATen CPU capability": "AVX2"}
    (d / "manifest.json").write_text(json.dumps({**manifest, "machine": other}))
    run = Cache(tmp_path).get(SPEC, train_fn=fake)
    assert fake.calls == 1  # used, not retrained: the machine is a record, not the key
    assert machines_of(run) == [machine.machine(), other]
    from lowent.plugin.report import trained_on

    line = trained_on(machines_of(run))
    assert line.startswith("runs trained on mixed machines (2): ") and "Another CPU" in line


def _report(runs_machine, x, outcome=None):
    v = verdict.conjunction({"below": stats.one_sample(x, 3.61, "less")}, claim="L1",
                          statement="H < H(p_tgt)")
    env = {"schema": 3, "profile": "quick", "seeds": f"{len(x)} per configuration",
           "PyTorch": "2.13.0+cpu", "PyTorch build": "CPU", "training code": "0.1.0+abc",
           "run machines": [runs_machine]}
    return {"environment": env, "claims": [{
        "nodeid": "claims/test_low_entropy.py::test_l1[base]", "claim": "L1",
        "outcome": outcome or v.outcome, "verdict": verdict_record(v), "figures": []}]}


def test_compare_expects_bits_only_on_the_same_machine_and_build(tmp_path, capsys):
    here = machine.machine()
    x = np.linspace(3.58, 3.60, 5)
    base = _report(here, x)
    moved = _report(here, x + 1e-7)  # the last bits moved, the outcome did not
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(base))
    b.write_text(json.dumps(moved))
    assert compare.main(str(a), str(a)) == 0
    assert "must be equal bit for bit; per-seed arrays equal: 1 of 1" in capsys.readouterr().out
    assert compare.main(str(a), str(b)) == 1
    assert "BITS DIFFER" in capsys.readouterr().out
    # another machine: the same numbers are judged against the noise, and the difference listed
    elsewhere = _report({**here, "ATen CPU capability": "DEFAULT"}, x + 1e-7)
    b.write_text(json.dumps(elsewhere))
    assert compare.main(str(a), str(b)) == 0
    out = capsys.readouterr().out
    assert "judged against the seed noise" in out
    assert "MACHINE/BUILD machine: ATen CPU capability: AVX512" in out or \
        "MACHINE/BUILD machine: ATen CPU capability:" in out
    assert compare.bits_expected(base, base) == (True, [])
    assert not compare.bits_expected(base, {**base, "environment": {
        **base["environment"], "run machines": [here, {**here, "CPU": "x"}]}})[0]


def test_compare_fails_a_flip_the_measurements_support_and_lists_one_within_the_noise(
        tmp_path, capsys):
    other = {**machine.machine(), "CPU": "Another CPU"}
    rng = np.random.default_rng(0)
    base = _report(machine.machine(), 3.61 - 0.01 + rng.normal(0, 0.01, 5))
    near = _report(other, 3.61 - 0.005 + rng.normal(0, 0.01, 5))  # a boundary's other side
    far = _report(other, 3.61 + 0.05 + rng.normal(0, 0.01, 5))  # clearly above: contradicted
    paths = {}
    for name, data in (("base", base), ("near", near), ("far", far)):
        paths[name] = tmp_path / f"{name}.json"
        paths[name].write_text(json.dumps(data))
    assert base["claims"][0]["outcome"] != near["claims"][0]["outcome"]
    assert compare.main(str(paths["base"]), str(paths["near"])) == 0
    assert "within the seed noise" in capsys.readouterr().out
    assert far["claims"][0]["outcome"] == "contradicted"
    assert compare.main(str(paths["base"]), str(paths["far"])) == 1
    assert ": supported)" in capsys.readouterr().out


def _with(report, **env):
    return {**report, "environment": {**report["environment"], **env}}


def test_compare_expects_no_bits_of_runs_without_a_machine_on_a_gpu_or_stacked_otherwise():
    """Bits are expected only of runs that each recorded one machine, the same, trained on
    the CPU, with each seed in the same stack (where both reports record the stacks)."""
    here = machine.machine()
    five = [["a", [0, 1, 2, 3, 4]], ["b", [0, 1, 2, 3, 4]]]
    base = _with(_report(here, np.linspace(3.58, 3.60, 5)), device="cpu (claim runs)",
                 **{"run stacks": five})
    assert compare.bits_expected(base, base) == (True, [])
    unrecorded = _with(base, **{"run machines": [None, here]})
    same, why = compare.bits_expected(base, unrecorded)
    assert not same and why == ["NEW read runs whose entries record no machine"]
    gpu = _with(base, device="cuda:NVIDIA H100 80GB HBM3 (claim runs)")
    same, why = compare.bits_expected(gpu, gpu)
    assert not same and len(why) == 2 and all("trained on a GPU" in w for w in why)
    alone = _with(base, **{"run stacks": [["a", [s]] for s in range(5)] + five[1:]})
    same, why = compare.bits_expected(base, alone)
    assert not same and why == ["run stacks: 1 configuration read by both trained in other "
                                "stacks of seeds (a seed stacked with others may round apart "
                                "from the same seed trained alone)"]
    subset = _with(base, **{"run stacks": five[:1]})  # a run of fewer claims: b not read
    assert compare.bits_expected(base, subset) == (True, [])
    older = {**base, "environment": {k: v for k, v in base["environment"].items()
                                     if k != "run stacks"}}  # a report before the record
    assert compare.bits_expected(older, base) == (True, [])
    # the same runs read by a session on another machine: its float64 evaluation may round
    # apart
    a, b = _with(base, machine=here), _with(base, machine={**here, "CPU": "Another CPU"})
    assert compare.bits_expected(a, a) == (True, [])
    same, why = compare.bits_expected(a, b)
    assert not same and why[0].startswith("evaluated on another machine: CPU")


def test_the_run_stacks_record_lists_each_configurations_stacks_once():
    from lowent.report import stacks_record, stacks_summary

    five = [("b", (0, 1, 2, 3, 4)), ("a", (0, 1, 2, 3, 4))]
    ones = [(k, (s,)) for k in "ab" for s in range(5)]
    assert stacks_record(five + five) == [["a", [0, 1, 2, 3, 4]], ["b", [0, 1, 2, 3, 4]]]
    assert stacks_summary(stacks_record(five)) == "2 stacks of 5 seeds"
    assert stacks_summary(stacks_record(ones)) == "10 stacks of 1 seed"
    assert stacks_summary(stacks_record(ones + five)) == "12 stacks of 1 to 5 seeds"
    assert stacks_summary([]) == "no runs read"


def test_compare_judges_a_flip_both_ways_and_fails_a_claim_test_that_failed_in_new(
        tmp_path, capsys):
    """A flip is within the noise when either report's predictive draws reach the other's
    outcome in alpha of them: OLD drew a rare outcome (R1 figures in the quick baseline),
    NEW the usual one. A claim test that failed in NEW fails compare, flip or not."""
    here = machine.machine()
    x = np.linspace(3.58, 3.60, 5)

    def at(outcome, shares, pytest_outcome="xfailed", status="as expected"):
        rep = _report({**here, "CPU": outcome}, x, outcome=outcome)
        rec = rep["claims"][0]
        rec["verdict"] |= {"stability": {"shares": shares, "draws": 200, "fixed": []},
                           "expected": "contradicted", "status": status}
        rec["pytest_outcome"] = pytest_outcome
        return rep

    rare = at("not equivalent", {"contradicted": 0.82, "not equivalent": 0.18},
              status="outcome unstable")
    usual = at("contradicted", {"contradicted": 0.97, "not equivalent": 0.03})
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(rare))
    b.write_text(json.dumps(usual))
    assert compare.main(str(a), str(b)) == 0
    out = capsys.readouterr().out
    assert ("not equivalent in 3% of NEW's predictive draws, contradicted in 82% of OLD's: "
            "within the seed noise") in out
    rare_and_failed = at("not equivalent", {"contradicted": 0.01, "not equivalent": 0.99},
                         pytest_outcome="failed", status="outcome changed")
    b.write_text(json.dumps(rare_and_failed))
    assert compare.main(str(a), str(b)) == 1  # no flip, but NEW's own test failed
    out = capsys.readouterr().out
    assert "verdict flips: 0" in out and "failed in NEW: 1" in out
    assert "FAILED claims/test_low_entropy.py::test_l1: not equivalent, expected " \
           "contradicted" in out
    # neither side's draws reach the other's outcome: supported
    b.write_text(json.dumps(at("contradicted", {"contradicted": 1.0})))
    a.write_text(json.dumps(at("not equivalent", {"not equivalent": 0.99, "contradicted": 0.01},
                               status="outcome changed")))
    assert compare.main(str(a), str(b)) == 1
    assert ": supported)" in capsys.readouterr().out


def test_compare_lists_a_change_of_lowent_commit(tmp_path, capsys):
    x = np.linspace(3.58, 3.60, 5)
    old = _with(_report(machine.machine(), x), lowent="0.1.0 (abc1234)")
    new = _with(old, lowent="0.1.0 (def5678)")
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(old))
    b.write_text(json.dumps(new))
    assert compare.main(str(a), str(b)) == 0
    assert "DIFFERS lowent: 0.1.0 (abc1234) -> 0.1.0 (def5678)" in capsys.readouterr().out


def test_the_stability_table_marks_tests_whose_outcome_moved(tmp_path, capsys):
    x = np.linspace(3.58, 3.60, 5)
    a, b = _report(machine.machine(), x), _report(machine.machine(), x + 0.2)
    lines, moved = compare.stability_table({"native": a, "other": b})
    assert lines[0] == "| test | claim | native | other | outcomes |"
    assert moved == ["claims/test_low_entropy.py::test_l1"]
    assert "moved: holds, contradicted" in lines[2]
    pa, pb = tmp_path / "a.json", tmp_path / "b.json"
    pa.write_text(json.dumps(a))
    pb.write_text(json.dumps(b))
    from lowent.cli import main

    assert main(["stability", f"native={pa}", f"other={pb}"]) == 0
    assert "tests whose outcome moved: 1" in capsys.readouterr().out
    assert main(["stability", str(pa)]) == 2


class TestScheduledWorkflow:
    """The PyTorch-version check on a schedule: .github/workflows/torch-versions.yml."""

    path = ROOT / ".github" / "workflows" / "torch-versions.yml"

    def workflow(self) -> dict:
        import yaml

        return yaml.safe_load(self.path.read_text())

    def steps(self) -> list[str]:
        return [s["run"] for s in self.workflow()["jobs"]["claims"]["steps"] if "run" in s]

    def test_it_parses_runs_weekly_on_the_newest_release_and_nightly_and_never_blocks(self):
        wf = self.workflow()
        triggers = wf[True] if True in wf else wf["on"]  # YAML 1.1 reads `on` as true
        assert triggers["schedule"][0]["cron"].split()[2:] == ["*", "*", "1"]  # weekly
        job = wf["jobs"]["claims"]
        assert job["continue-on-error"] is True
        kinds = {m["torch"]: m["install"] for m in job["strategy"]["matrix"]["include"]}
        assert set(kinds) == {"release", "nightly"} and "--pre" in kinds["nightly"]
        uploads = [s for s in job["steps"] if s.get("uses", "").startswith("actions/upload-artifact")]
        assert uploads and uploads[0]["with"]["path"] == "reports/ci/"

    def test_its_commands_are_the_readmes(self):
        readme = (ROOT / "README.md").read_text()
        steps = self.steps()
        assert any("pytest -n 4" in s for s in steps) and "pytest -n 4" in readme
        compare_step = next(s for s in steps if "lowent compare" in s)
        assert "python -m lowent compare baselines/" in compare_step
        assert "python -m lowent compare baselines/" in readme
        # one install everywhere: the README's extras are CI's, CONTRIBUTING's and the
        # workflow's (a missing extra skips its tests there, e.g. the Ray executor's
        # equivalence tests)
        extras = re.compile(r"-e '(\.\[[a-z,]+\])'")
        installs = {where: extras.findall(text) for where, text in (
            ("README", readme), ("CI", (ROOT / ".ci" / "run").read_text()),
            ("CONTRIBUTING", (ROOT / "CONTRIBUTING.md").read_text()),
            ("workflow", "\n".join(steps)))}
        assert all(len(found) == 1 for found in installs.values()), installs
        assert len({found[0] for found in installs.values()}) == 1, installs

    def test_its_steps_run_as_plain_commands(self, tmp_path):
        """The steps that need no training run here as the workflow runs them (bash)."""
        step = next(s for s in self.steps() if s.startswith("python -m lowent machine"))
        out = subprocess.run(["bash", "-c", step], cwd=ROOT, capture_output=True, text=True)
        assert out.returncode == 0 and out.stdout.startswith("PyTorch ")
        assert "ATen CPU capability:" in out.stdout
        compare_step = next(s for s in self.steps() if "lowent compare" in s)
        reports = tmp_path / "reports" / "ci"
        reports.mkdir(parents=True)
        baseline = json.loads((ROOT / "baselines" / "quick-torch2.13.0-cpu.json").read_text())
        (reports / "results.json").write_text(json.dumps(baseline))
        (tmp_path / "baselines").mkdir()
        (tmp_path / "baselines" / "quick-torch2.13.0-cpu.json").write_text(json.dumps(baseline))
        out = subprocess.run(["bash", "-o", "pipefail", "-c", compare_step], cwd=tmp_path,
                             capture_output=True, text=True)
        assert out.returncode == 0, out.stdout + out.stderr
        assert "verdict flips: 0" in (reports / "compare.txt").read_text()
