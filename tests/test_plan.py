"""The work list of a selection (lowent.plan, ``--lowent-plan``, ``python -m lowent plan`` and
``work``): it trains nothing, names exactly the missing runs, and its tasks, trained one by
one, fill the cache with the entries the claims suite would have trained itself."""
from __future__ import annotations

import json

import pytest

from lowent.config import RunSpec, SpecError
from lowent.plan import read_plan, work
from tests.helpers import CLAIM_TEST, SHRINK, entry_hashes


def test_a_plan_trains_nothing_and_its_tasks_fill_the_cache_as_the_suite_would(pytester):
    pytester.makeconftest(SHRINK)
    pytester.makepyfile(test_claim=CLAIM_TEST)
    pytester.makeini("[pytest]\naddopts = -p no:cacheprovider -p no:randomly -p no:xdist\n")
    listed = pytester.runpytest_subprocess("--lowent-cache=planned", "--lowent-report=none",
                                           "--lowent-plan=plan.json")
    assert listed.ret == 0 and "passed" not in listed.stdout.str()
    assert "3 runs for" in listed.stdout.str() and "3 to train" in listed.stdout.str()
    assert not entry_hashes(pytester.path / "planned")  # nothing trained
    plan = read_plan(pytester.path / "plan.json")
    assert [t["task"] for t in plan["tasks"]] == [0, 1, 2] and plan["cached"] == 0
    assert all(len(t["entries"]) == 2 and t["estimated_cpu_s"] > 0 for t in plan["tasks"])
    for t in plan["tasks"]:
        work(plan, t["task"], log=lambda line: None)
    assert sorted(entry_hashes(pytester.path / "planned")) == sorted(
        k for t in plan["tasks"] for k in t["entries"])
    again = pytester.runpytest_subprocess("--lowent-cache=planned", "--lowent-report=none",
                                          "--lowent-plan=-")
    assert "3 cached, 0 to train" in again.stdout.str()
    judged = pytester.runpytest_subprocess("--lowent-cache=planned", "--lowent-report=none")
    judged.assert_outcomes(passed=1)
    assert "lowent: trained" not in judged.stdout.str()  # every run came from the plan's tasks
    local = pytester.runpytest_subprocess("--lowent-cache=local", "--lowent-report=none")
    local.assert_outcomes(passed=1)
    assert entry_hashes(pytester.path / "planned") == entry_hashes(pytester.path / "local")


def test_a_plan_in_tasks_of_one_seed_lists_each_missing_seed_once_costliest_first(pytester):
    """--lowent-task-seeds 1: one task per missing seed, costliest first, the same entries as
    one task per run; a seed already stored is in no task."""
    pytester.makeconftest(SHRINK)
    pytester.makepyfile(test_claim=CLAIM_TEST)
    pytester.makeini("[pytest]\naddopts = -p no:cacheprovider -p no:randomly -p no:xdist\n")
    whole = pytester.runpytest_subprocess("--lowent-cache=c", "--lowent-report=none",
                                          "--lowent-plan=whole.json")
    per_seed = pytester.runpytest_subprocess("--lowent-cache=c", "--lowent-report=none",
                                             "--lowent-plan=seeds.json", "--lowent-task-seeds=1")
    assert whole.ret == per_seed.ret == 0
    assert "3 to train on cpu in 6 tasks of 1 seed(s)" in per_seed.stdout.str()
    runs, seeds = (read_plan(pytester.path / f)["tasks"] for f in ("whole.json", "seeds.json"))
    assert len(runs) == 3 and len(seeds) == 6 and all(len(t["entries"]) == 1 for t in seeds)
    assert sorted(k for t in seeds for k in t["entries"]) == sorted(
        k for t in runs for k in t["entries"])
    costs = [t["estimated_cpu_s"] for t in seeds]
    assert costs == sorted(costs, reverse=True) and [t["task"] for t in seeds] == list(range(6))
    plan = read_plan(pytester.path / "seeds.json")
    work(plan, 0, log=lambda line: None)  # one seed stored: the next plan leaves it out
    again = pytester.runpytest_subprocess("--lowent-cache=c", "--lowent-report=none",
                                          "--lowent-plan=again.json", "--lowent-task-seeds=1")
    assert again.ret == 0
    left = read_plan(pytester.path / "again.json")["tasks"]
    assert sorted(k for t in left for k in t["entries"]) == sorted(
        k for t in seeds[1:] for k in t["entries"])


def test_the_plan_command_in_the_checkout_names_the_selection_and_prints_no_warning(tmp_path):
    """``python -m lowent plan --out FILE claims/ ...`` as the README runs it, from the
    checkout (whose root conftest loads the claims' fixtures): the plan names the user's
    selection alone, not the arguments the command adds, and nothing prints a pytest
    warning summary. An empty cache: nothing is cached and nothing trains. (pytest's
    warning about the plugin's asserts, which the command silences, comes where the
    editable install left lowent.egg-info in the checkout, as `pip install -e .` does; in a
    checkout without it there is no warning to silence and that check passes either way.)"""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    out_file, cache = tmp_path / "p.json", tmp_path / "cache"
    res = subprocess.run([sys.executable, "-m", "lowent", "plan", "--out", str(out_file),
                          "claims/", "-m", "low_entropy", "-k", "L1", f"--lowent-cache={cache}"],
                         cwd=root, capture_output=True, text=True, timeout=300)
    out = res.stdout + res.stderr
    assert res.returncode == 0 and "wrote" in out, out
    assert "warnings summary" not in out and "Warning" not in out, out
    plan = read_plan(out_file)
    assert plan["selection"] == (f"claims/ -m low_entropy -k L1 --lowent-cache={cache} "
                                 "(profile quick)")
    assert plan["cached"] == 0 and len(plan["tasks"]) == plan["runs"] > 0
    assert not cache.exists() or not any(cache.glob("*/manifest.json"))  # nothing trained


def test_a_plan_refuses_xdist(pytester):
    pytester.makepyfile(test_claim=CLAIM_TEST)
    res = pytester.runpytest_subprocess("--lowent-plan=-", "-n", "2")
    assert res.ret != 0 and "without -n" in (res.stdout.str() + res.stderr.str())


def test_bad_plans_and_tasks_are_one_line_errors(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("not json")
    with pytest.raises(SpecError, match="not a lowent plan"):
        read_plan(bad)
    bad.write_text(json.dumps({"schema": 1}))
    with pytest.raises(SpecError, match="not a lowent plan"):
        read_plan(bad)
    with pytest.raises(SpecError, match="cannot read the plan"):
        read_plan(tmp_path / "absent.json")
    plan = {"schema": 1, "training code": "0.0.0+other", "device": "cpu",
            "cache": str(tmp_path), "tasks": [{"spec": {}}]}
    with pytest.raises(SpecError, match="tasks 0-0, not 3"):
        work(plan, 3)
    with pytest.raises(SpecError, match="make the plan again"):
        work(plan, 0)
    # schema right, contents damaged: one line each, never a KeyError from inside
    from lowent.cache import code_version

    ours = {**plan, "training code": code_version()}
    for damaged, says in (({k: v for k, v in ours.items() if k != "device"}, "plan is damaged"),
                          ({**ours, "tasks": 3}, "plan is damaged"),
                          ({**ours, "tasks": [{"spec": {}}]}, "task 0 of the plan is damaged"),
                          ({**ours, "tasks": [{}]}, "task 0 of the plan is damaged")):
        with pytest.raises(SpecError, match=says):
            work(damaged, 0)
    (tmp_path / "afile").write_text("")
    good = {**ours, "tasks": [{"spec": RunSpec().to_dict()}]}
    with pytest.raises(SpecError, match="is a file, not a directory"):
        work(good, 0, cache_dir=str(tmp_path / "afile"))


def test_an_unwritable_plan_path_is_a_usage_error_before_anything_runs(pytester):
    pytester.makepyfile(test_claim=CLAIM_TEST)
    (pytester.path / "afile").write_text("x")
    res = pytester.runpytest_subprocess("--lowent-plan=afile/plan.json", "-p", "no:xdist")
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    assert "the plan's directory" in res.stderr.str()
