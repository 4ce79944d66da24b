"""The Ray executor (lowent.ray_executor): a claim's runs trained on a local Ray cluster of two
worker processes are stored bit for bit as the local executor stores them, and a worker killed
mid-task loses nothing."""
from __future__ import annotations

import os
import re
import signal
import threading
import time

import pytest

pytest.importorskip("ray")

from lowent.cache import Cache, checkpoint_name  # noqa: E402
from lowent.config import ModelSpec, RunSpec, TrainSpec  # noqa: E402
from lowent.ray_executor import (WorkerMismatch, connect, key_parts, train_on_ray,  # noqa: E402
                                 train_task)
from tests.helpers import CLAIM_TEST, SHRINK, entry_hashes, small_target  # noqa: E402

HANG_S = 1200  # a guard against a hung cluster, not a bound on a run's time


def test_a_claim_through_a_local_ray_cluster_stores_the_local_executors_entries(pytester):
    """L1's run set (shrunk) through --lowent-executor ray with two Ray workers and through
    the default local executor: the same entries, bit for bit."""
    pytester.makeconftest(SHRINK)
    pytester.makepyfile(test_claim=CLAIM_TEST)
    pytester.makeini("[pytest]\naddopts = -p no:cacheprovider -p no:randomly\n")
    common = ("--lowent-report=none", "-p", "no:xdist")
    local = pytester.runpytest_subprocess("--lowent-cache=local", *common)
    local.assert_outcomes(passed=1)
    ray_run = pytester.runpytest_subprocess("--lowent-cache=ray", "--lowent-executor", "ray",
                                            "--lowent-slots=2", *common)
    ray_run.assert_outcomes(passed=1)
    assert "lowent: trained" in ray_run.stdout.str()  # progress lines from the driver
    a, b = entry_hashes(pytester.path / "local"), entry_hashes(pytester.path / "ray")
    assert len(a) == 6 and a == b  # 3 runs x 2 seeds


def test_one_seed_per_task_stores_what_training_each_seed_alone_stores(pytester):
    """--lowent-task-seeds 1: each of L1's (shrunk) runs is two Ray tasks of one seed, and
    their entries equal, bit for bit, those of the plan's one-seed tasks trained one after
    the other by ``python -m lowent work`` (a seed alone, one torch thread, is the same
    computation wherever it runs on this machine; that a seed trains the same in any stack
    is tests/test_engine.py's, in float64)."""
    import sys

    from lowent.plan import read_plan

    pytester.makeconftest(SHRINK)
    pytester.makepyfile(test_claim=CLAIM_TEST)
    pytester.makeini("[pytest]\naddopts = -p no:cacheprovider -p no:randomly\n")
    common = ("--lowent-report=none", "-p", "no:xdist", "--lowent-task-seeds=1")
    listed = pytester.runpytest_subprocess("--lowent-cache=alone", "--lowent-plan=p.json",
                                           *common)
    assert listed.ret == 0
    plan = read_plan(pytester.path / "p.json")
    assert len(plan["tasks"]) == 6
    for t in plan["tasks"]:
        done = pytester.run(sys.executable, "-m", "lowent", "work", "p.json", "--task",
                            str(t["task"]))
        assert done.ret == 0 and "stored in" in done.stdout.str()
    per_seed = pytester.runpytest_subprocess("--lowent-cache=ray", "--lowent-executor", "ray",
                                             "--lowent-slots=2", *common)
    per_seed.assert_outcomes(passed=1)
    assert per_seed.stdout.str().count("(a task of 1 of its 2 missing seeds)") == 6
    a, b = entry_hashes(pytester.path / "alone"), entry_hashes(pytester.path / "ray")
    assert len(a) == 6 and a == b  # 3 runs x 2 seeds


def test_a_local_cluster_under_auto_slots_gets_every_usable_core_whatever_the_drivers_threads():
    """Ray tasks train on one torch thread each, so auto slots start a local cluster of all
    usable cores, not cores over the driver's torch threads (a plain pytest on 2 cores has 2
    threads, and its cluster had 1 CPU: one task at a time). A number is kept, 0 is all."""
    from lowent.plugin.scheduling import ray_local_cpus
    from lowent.progress import usable_cores

    # auto's slots from a driver of 2 threads on 2 cores are 1; the cluster takes the cores
    assert ray_local_cpus("auto", 1) == usable_cores()
    assert ray_local_cpus("3", 3) == 3
    assert ray_local_cpus("0", None) is None


def test_without_ray_address_a_new_local_cluster_starts_not_the_one_ray_start_left(monkeypatch):
    """Without RAY_ADDRESS, ray.init() joins the cluster a `ray start` on this machine left
    running (/tmp/ray/ray_current_cluster) and refuses num_cpus for it; connect asks for a new
    local one. With RAY_ADDRESS it joins that cluster and sizes nothing."""
    import ray

    calls = []
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", lambda **kw: calls.append(kw))
    monkeypatch.setattr(ray, "cluster_resources", lambda: {"CPU": 3.0})
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    assert connect(2) == 3
    assert calls[-1]["address"] == "local" and calls[-1]["num_cpus"] == 2
    monkeypatch.setenv("RAY_ADDRESS", "ray://head:10001")
    connect(2)
    assert "address" not in calls[-1] and "num_cpus" not in calls[-1]


@pytest.mark.parametrize("what, other", [("lowent training code", "0.0.0+000000000000"),
                                         ("PyTorch", "0.0.0"), ("device", "cuda:Some GPU")])
def test_a_worker_that_would_train_under_another_key_refuses_the_task_before_training(
        tmp_path, what, other):
    """The driver stores a task's result under its own key (training code, PyTorch, device
    tag): a worker whose parts differ says which, and trains nothing."""
    spec = RunSpec(target=small_target(), model=ModelSpec(kind="gru", d_model=8, layers=1),
                   train=TrainSpec(epochs=1, batch_size=64), seeds=(0,))
    driver = {**key_parts("cpu"), what: other}
    with pytest.raises(WorkerMismatch, match=f"{what} .* here, {re.escape(other)} on the driver"):
        train_task(spec.to_dict(), "cpu", driver, str(tmp_path / "checkpoints"))
    assert not any((tmp_path / "checkpoints").glob("*"))  # no checkpoint, no pid file
    train_task(spec.to_dict(), "cpu", key_parts("cpu"), str(tmp_path / "checkpoints"))
    assert not any((tmp_path / "checkpoints").glob("*"))  # a finished task leaves nothing


def test_a_task_leaves_a_checkpoint_in_the_caches_directory_for_the_driver_to_clear(tmp_path):
    """Until the driver has stored the result, the task's last checkpoint stays where the
    driver can reach it: a result lost on its way resumes from it, not from epoch 0."""
    spec = RunSpec(target=small_target(), model=ModelSpec(kind="gru", d_model=8, layers=1),
                   train=TrainSpec(epochs=6, batch_size=64), seeds=(0,))  # a checkpoint at 5
    where = tmp_path / "checkpoints"
    train_task(spec.to_dict(), "cpu", key_parts("cpu"), str(where))
    assert [p.name for p in where.iterdir()] == [f"{checkpoint_name(spec)}.pt"]


def test_a_whole_runs_checkpoint_that_one_seed_tasks_cannot_resume_is_said(tmp_path,
                                                                           monkeypatch, capsys):
    """A checkpoint of a run's missing seeds stacked (the local executor's) is not resumed by
    tasks of fewer seeds: the driver says so rather than redo its epochs in silence."""
    import ray

    import lowent.ray_executor as rx
    from lowent.cache import stamp
    from lowent.engine import train
    from tests.helpers import Interrupted, KilledAfter

    spec = RunSpec(target=small_target(), model=ModelSpec(kind="gru", d_model=8, layers=1),
                   train=TrainSpec(epochs=6, batch_size=64), seeds=(0, 1))
    cache = Cache(tmp_path)
    with pytest.raises(Interrupted):
        train(spec, checkpoints=KilledAfter(cache.checkpoint_path(spec), stamp(spec), 1))
    assert cache.checkpoint_epoch(spec) == 5
    submitted = []

    class Remote:  # records the tasks instead of running them; none reaches a worker
        def options(self, **kw):
            return self

        def remote(self, *args):
            submitted.append(args[0]["seeds"])
            raise Interrupted

    monkeypatch.setattr(ray, "remote", lambda fn: Remote())
    with pytest.raises(Interrupted):
        rx.train_on_ray(cache, [spec], task_seeds=1)
    out = capsys.readouterr().out
    assert "has a checkpoint at epoch 5, which tasks of 1 seed do not resume" in out
    assert [list(s) for s in submitted] == [[0]]


def test_cuda_tasks_on_a_cluster_without_a_gpu_say_that_they_wait(tmp_path, monkeypatch,
                                                                   capsys):
    """Ray queues a task no node can run (it may autoscale one in): the driver says so
    instead of waiting in silence."""
    import ray

    import lowent.ray_executor as rx

    monkeypatch.setattr(ray, "cluster_resources", lambda: {"CPU": 2.0})
    monkeypatch.setattr(rx, "key_parts", lambda device: {})
    assert train_on_ray(Cache(tmp_path, device="cuda"), []) == 0
    assert "the Ray cluster has no GPU now" in capsys.readouterr().out


def test_ray_with_xdist_is_a_one_line_usage_error(pytester):
    pytester.makepyfile(test_claim=CLAIM_TEST)
    res = pytester.runpytest_subprocess("--lowent-executor=ray", "-n", "2")
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    assert "run pytest without -n" in res.stderr.str()


@pytest.fixture
def ray_cluster():
    import ray

    connect(2)
    yield
    ray.shutdown()


def test_a_worker_killed_mid_task_is_retried_and_its_run_equals_an_uninterrupted_one(
        tmp_path, ray_cluster):
    """SIGKILL the worker training a run after its first checkpoint: Ray runs the task
    again, which resumes from that checkpoint, and the stored entries equal those of an
    uninterrupted run trained here."""
    spec = RunSpec(target=small_target(), model=ModelSpec(kind="gru", d_model=16, layers=1),
                   train=TrainSpec(epochs=15, batch_size=64), seeds=(3, 4))
    cache = Cache(tmp_path / "ray")  # its tasks checkpoint in its checkpoints/ (same machine)
    ckpt, pid = (cache.root / "checkpoints" / f"{checkpoint_name(spec)}{s}"
                 for s in (".pt", ".pid"))
    done = {}
    worker = threading.Thread(target=lambda: done.update(tasks=train_on_ray(cache, [spec])),
                              daemon=True)  # a hung cluster must not keep pytest from exiting
    worker.start()
    # Ray runs its workers at nice 15: beside busy xdist workers the task may wait minutes
    # for a core. The test waits for the checkpoint (or the task's end) however long that
    # takes, up to HANG_S for the whole test, a guard against a hung cluster only.
    hang = time.monotonic() + HANG_S
    while not ckpt.exists() and worker.is_alive():
        assert time.monotonic() < hang, f"no checkpoint and no end in {HANG_S} s: Ray hung?"
        time.sleep(0.02)
    assert ckpt.exists(), "the task ended before its first checkpoint: make the run longer"
    os.kill(int(pid.read_text()), signal.SIGKILL)
    worker.join(max(0.0, hang - time.monotonic()))
    assert not worker.is_alive(), f"the retried task did not end in {HANG_S} s: Ray hung?"
    assert done == {"tasks": 1}
    run = cache.load(spec.replace(seeds=(3,)))
    assert run.meta.get("resumed_from_epoch", 0) > 0  # the retry resumed the killed task
    assert not ckpt.exists() and not pid.exists()  # the driver cleared it once stored
    Cache(tmp_path / "local").get(spec)
    assert entry_hashes(tmp_path / "ray") == entry_hashes(tmp_path / "local")
