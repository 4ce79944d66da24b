"""The claim-run fixtures under pytest-xdist: the selected claims' runs are trained once,
shared out between workers even when a single claim test is selected, and a second
invocation trains nothing."""
import pytest

pytest.importorskip("xdist")

CONFTEST = '''
import os
import time

from lowent.cache import Cache
from lowent.claims import RUN_SETS
from lowent.config import ModelSpec

_store = Cache.store


def store(self, run):
    """Record which process trained each run, and when; hold the lock a while, as a real run
    would."""
    t0 = time.time()
    _store(self, run)
    time.sleep(1.5)
    with open(os.environ["LOWENT_TEST_TRAINED"], "a") as f:
        f.write(f"{os.getpid()} {run.spec.seeds[0]} {t0} {time.time()}\\n")


Cache.store = store


def _specs(profile):
    return {i: profile.run(ModelSpec(d_model=8, layers=1), seeds=(i,), epochs=1)
            for i in range(6)}


RUN_SETS["depth4"] = _specs  # S1's run set, made cheap
'''

TESTS = '''
import pytest


@pytest.mark.claim("S1")
def test_the_only_claim(runs):
    assert len(runs) == 6


@pytest.mark.parametrize("i", range(8))
def test_unit(i):
    pass
'''


def _two_workers(pytester, tmp_path, monkeypatch, slots: int):
    """Run the fake suite cold on two xdist workers with `slots` training slots; returns the
    file where the fake store recorded each run (pid, seed, start, end)."""
    trained = tmp_path / "trained.txt"
    monkeypatch.setenv("LOWENT_SLOTS", str(slots))
    monkeypatch.setenv("LOWENT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("LOWENT_TEST_TRAINED", str(trained))
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_fake=TESTS)
    pytester.makeini("[pytest]\naddopts = --strict-markers\n")
    res = pytester.runpytest_subprocess("-n", "2", "-p", "no:cacheprovider")
    res.assert_outcomes(passed=9)
    return trained, res


def test_a_lone_claim_test_still_has_every_worker_train(pytester, tmp_path, monkeypatch):
    # two slots: both workers may train at once, whatever the CPU
    trained, res = _two_workers(pytester, tmp_path, monkeypatch, slots=2)
    rows = [line.split()[:2] for line in trained.read_text().splitlines()]
    assert sorted(int(seed) for _, seed in rows) == list(range(6))  # each run trained once
    assert len({pid for pid, _ in rows}) == 2  # by both workers
    # progress lines from the workers reach the terminal (output is piped here): the plan
    # once, then one line per run with k of N and the time left
    out = res.stdout.lines
    assert sum("lowent: 6 runs for the selected claims: 0 cached, 6 to train" in ln
               for ln in out) == 1
    done = [ln for ln in out if "lowent: [gw" in ln and "trained transformer/full d=8" in ln]
    assert len(done) == 6 and all("runs ready, about" in ln for ln in done)
    assert any("6 of 6 runs ready" in ln for ln in done)
    # the report's wall time covers the training done by the workers before the tests: each
    # of the 6 runs holds its lock at least 1.5 s, 3 runs per worker
    import json

    env = json.loads((pytester.path / "reports" / "results.json").read_text())["environment"]
    assert float(env["wall time"].split()[0]) >= 4.5, env["wall time"]

    # -m selects the lone claim test: it goes to one worker, and both still train
    trained.unlink()
    monkeypatch.setenv("LOWENT_CACHE", str(tmp_path / "cache2"))
    pytester.runpytest_subprocess("-n", "2", "-m", "ffn_sparsity",
                                  "-p", "no:cacheprovider").assert_outcomes(passed=1)
    rows = [line.split()[:2] for line in trained.read_text().splitlines()]
    assert sorted(int(seed) for _, seed in rows) == list(range(6))
    assert len({pid for pid, _ in rows}) == 2

    # a second invocation trains nothing; --collect-only never trains
    trained.unlink()
    pytester.runpytest_subprocess("-n", "2", "-p", "no:cacheprovider").assert_outcomes(passed=9)
    monkeypatch.setenv("LOWENT_CACHE", str(tmp_path / "cache3"))
    pytester.runpytest_subprocess("--collect-only", "-p", "no:cacheprovider")
    assert not trained.exists()


def test_workers_beyond_the_training_slots_wait_for_one(pytester, tmp_path, monkeypatch):
    """With one slot, two workers never train at once, and still every run trains once and
    every test passes."""
    trained, _ = _two_workers(pytester, tmp_path, monkeypatch, slots=1)
    rows = sorted((float(t0), float(t1), int(seed)) for _, seed, t0, t1 in
                  (line.split() for line in trained.read_text().splitlines()))
    assert sorted(seed for *_, seed in rows) == list(range(6))
    for (_, end, _), (start, _, _) in zip(rows, rows[1:]):
        assert start >= end  # one training at a time


RESUME_CONFTEST = '''
import os

from lowent.cache import DiskCheckpoints
from lowent.claims import RUN_SETS
from lowent.config import ModelSpec

_save = DiskCheckpoints.save


def save(self, state):
    """With LOWENT_TEST_DIE set, the process dies right after its first checkpoint."""
    _save(self, state)
    if os.environ.get("LOWENT_TEST_DIE"):
        os._exit(3)


DiskCheckpoints.save = save
RUN_SETS["depth4"] = lambda profile: {0: profile.run(ModelSpec(d_model=8, layers=1),
                                                     seeds=(0, 1), epochs=7)}
'''


def test_a_killed_claims_run_resumes_and_says_from_which_epoch(pytester, tmp_path,
                                                                 monkeypatch):
    """The process dies after its run's first checkpoint (epoch 5 of 7); the same command
    again resumes the run from there and its progress says so."""
    monkeypatch.setenv("LOWENT_CACHE", str(tmp_path / "cache"))
    pytester.makeconftest(RESUME_CONFTEST)
    pytester.makepyfile(test_fake=TESTS.replace("len(runs) == 6", "len(runs) == 1"))
    pytester.makeini("[pytest]\naddopts = --strict-markers -p no:cacheprovider\n")
    monkeypatch.setenv("LOWENT_TEST_DIE", "1")
    assert pytester.runpytest_subprocess("-m", "ffn_sparsity").ret == 3
    monkeypatch.delenv("LOWENT_TEST_DIE")
    res = pytester.runpytest_subprocess("-m", "ffn_sparsity")
    res.assert_outcomes(passed=1)
    assert any("lowent: resuming transformer d=8 L=1 seeds 0,1 from epoch 5 of 7" in ln
               for ln in res.stdout.lines), res.stdout.str()
    assert any("1 to train (1 resuming from a checkpoint)" in ln
               for ln in res.stdout.lines), res.stdout.str()


DIFFERS_CONFTEST = '''
from lowent.claims import RUN_SETS
from lowent.config import ModelSpec

RUN_SETS["variant_grid"] = lambda profile: {0: profile.run(ModelSpec(d_model=8, layers=1),
                                                           seeds=(0,), epochs=1)}
'''


def test_a_claim_whose_layout_differs_from_faithful_training_is_skipped_untrained(
        pytester, tmp_path, monkeypatch):
    """A claim whose trie verdict differs from faithful training's (its entry's ``trie``;
    here F2, set so for this test whatever the record says): under quick its test is skipped with the
    reason, its runs are not trained, and the report's row says so;
    ``--lowent-differing judge`` trains and judges it on the trie."""
    import dataclasses

    from lowent.cache import Cache
    from lowent.claims import CLAIMS
    from lowent.config import ModelSpec
    from lowent.profiles import PROFILES

    quick = PROFILES["quick"]
    monkeypatch.setitem(CLAIMS, "F2", dataclasses.replace(CLAIMS["F2"], trie="differs"))
    monkeypatch.setenv("LOWENT_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("LOWENT_DIFFERING", raising=False)
    pytester.makeconftest(DIFFERS_CONFTEST)
    pytester.makepyfile(test_fake='''
import pytest


@pytest.mark.claim("F2")
def test_f2(runs):
    assert len(runs) == 1
''')
    pytester.makeini("[pytest]\naddopts = --strict-markers -p no:cacheprovider\n")
    spec = quick.run(ModelSpec(d_model=8, layers=1), seeds=(0,), epochs=1)
    res = pytester.runpytest("-rs", "-k", "F2")  # F2 is outside the default run: named
    res.assert_outcomes(skipped=1)
    res.stdout.fnmatch_lines(["F2 * skipped * not trained, differs from paper profile",
                              "SKIPPED*not judged under the quick profile: its trie verdict "
                              "differs from faithful training's*"])
    assert not Cache(tmp_path / "cache").has(spec)
    import json

    row, = json.loads((pytester.path / "reports" / "results.json").read_text())["claims"]
    assert row["outcome"] == "skipped" and row["engine"].startswith("not trained")
    res = pytester.runpytest("--lowent-differing", "judge", "-m", "kl_loss")
    res.assert_outcomes(passed=1)
    assert Cache(tmp_path / "cache").has(spec)
