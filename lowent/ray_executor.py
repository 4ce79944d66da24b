"""The Ray executor: the missing runs of the selected claims trained as Ray tasks.

``pytest claims/ --lowent-executor ray`` (``$LOWENT_EXECUTOR``, ini ``lowent_executor``)
computes which seeds of the selected claims' runs have no valid cache entry, submits each run's
missing seeds as one Ray task, or as tasks of ``--lowent-task-seeds`` seeds each (1: a task
per seed, for a cluster wider than the runs), costliest first, and stores every result in the one
content-addressed cache from the driver, so workers need no shared filesystem. Ray picks the
cluster: ``RAY_ADDRESS`` joins one; without it a new local cluster starts on this machine, its
workers importing this very source tree (never the cluster a ``ray start`` on this machine left
running, which ``ray.init`` would otherwise join).

A task is what :func:`lowent.engine.train` does for those seeds; a worker trains it with one
torch thread (one CPU per task; one GPU with ``--lowent-device cuda``). The driver stores the
result under its own cache key (lowent's training code, PyTorch's version, the device: CPU or
the GPU's model), so a worker whose key would differ refuses the task (:class:`WorkerMismatch`)
instead of training something the key misnames. A worker killed
mid-task loses nothing: Ray runs the task again (up to ``RETRIES`` times), and the new attempt
resumes from the task's last checkpoint when it can read it, or starts over. A task keeps its
checkpoints in the cache's own checkpoint directory when its node can write there (the
driver's machine, or a filesystem shared with it: a killed pytest then resumes too), else in
the node's temporary directory; either way it computes exactly what an uninterrupted
run does (resuming is exact: tests/test_resume.py; tests/test_ray.py kills a worker). A
checkpoint in the cache's directory stays until the driver has stored the result (a result
lost on its way resumes from it); one in a node's own directory goes with the task's end. Each
result carries the machine record of the node that trained it, stored in its entry's
manifest, so a cluster of mixed machines is reported as such ("runs trained on mixed
machines").

While a task runs, the driver holds the cache locks of its seeds, so other processes sharing
the cache (xdist workers, a second pytest) wait for it instead of training it again.
"""
from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from lowent.cache import (Cache, checkpoint_name, code_version, device_tag, release, remove,
                          split_run, stamp)
from lowent.config import RunSpec, SpecError

RETRIES = 3  # Ray's reruns of a task whose worker died
CHECKPOINT_DIR = "lowent-ray-checkpoints"  # under the node's temporary directory


class WorkerMismatch(RuntimeError):
    """A Ray worker would train under another cache key than the driver's: other lowent
    training code, another PyTorch, or another GPU model."""


def require_ray():
    """The ray module, or a one-line error saying how to install it."""
    try:
        import ray
    except ImportError:
        raise SpecError("the ray executor needs Ray: pip install 'lowent[ray]' (or "
                        "pip install ray)") from None
    return ray


def connect(cpus: int | None = None) -> int:
    """Join the cluster ``RAY_ADDRESS`` names, else start a new local one with `cpus` CPUs
    (None: all); returns the cluster's CPUs. A local cluster's workers import the driver's
    lowent."""
    ray = require_ray()
    if not ray.is_initialized():
        if os.environ.get("RAY_ADDRESS"):
            ray.init(log_to_driver=False)
        else:
            source = str(Path(__file__).resolve().parent.parent)
            path = os.pathsep.join(p for p in (source, os.environ.get("PYTHONPATH")) if p)
            # address="local": without it ray.init joins the cluster a `ray start` on this
            # machine left running (and refuses num_cpus for it)
            ray.init(address="local", num_cpus=cpus, include_dashboard=False,
                     log_to_driver=False,
                     runtime_env={"env_vars": {"PYTHONPATH": path, "OMP_NUM_THREADS": "1",
                                               "MKL_NUM_THREADS": "1"}})
    return int(ray.cluster_resources().get("CPU", 1))


def checkpoint_dir(cache_checkpoints: str | None) -> Path:
    """Where a task on this node keeps its checkpoints: the cache's checkpoint directory if
    this node can write there, else ``CHECKPOINT_DIR`` in its temporary directory."""
    if cache_checkpoints:
        where = Path(cache_checkpoints)
        try:
            where.mkdir(parents=True, exist_ok=True)
            if os.access(where, os.W_OK):
                return where
        except OSError:
            pass
    where = Path(tempfile.gettempdir()) / CHECKPOINT_DIR
    where.mkdir(parents=True, exist_ok=True)
    return where


def key_parts(device) -> dict[str, str]:
    """What a cache key takes from the process that trains: lowent's training code, PyTorch's
    version and the device tag (``cpu``, or ``cuda:`` and the GPU's model)."""
    import torch

    return {"lowent training code": code_version(), "PyTorch": torch.__version__,
            "device": device_tag(device)}


def check_worker(device, driver: dict[str, str]) -> None:
    """Raise WorkerMismatch, naming each difference, if this process would train under other
    key parts than the driver's (`driver`, from :func:`key_parts` on the driver)."""
    here = key_parts(device)
    differ = [f"{what} {here[what]} here, {driver[what]} on the driver"
              for what in driver if here.get(what) != driver[what]]
    if differ:
        raise WorkerMismatch(
            "this Ray worker would train under another cache key than the driver's ("
            + "; ".join(differ) + "): give every node the driver's lowent and PyTorch, and "
            "run the driver on a node with the workers' GPU model")


def train_task(spec: dict, device: str, driver: dict[str, str],
               cache_checkpoints: str | None = None):
    """A Ray task: train `spec` (its seeds stacked) on this node and return the Run, with the
    node's machine record in ``meta["machine"]``. `driver` is the driver's :func:`key_parts`."""
    import torch

    from lowent.cache import DiskCheckpoints
    from lowent.engine import train
    from lowent.host import resolve_device
    from lowent.machine import machine

    check_worker(device, driver)
    torch.set_num_threads(1)
    spec = RunSpec.from_dict(spec)
    where = checkpoint_dir(cache_checkpoints)
    name = checkpoint_name(spec, device)
    pid = where / f"{name}.pid"  # which process trains it
    pid.write_text(str(os.getpid()))
    try:
        ckpt = DiskCheckpoints(where / f"{name}.pt", stamp(spec, device))
        run = train(spec, device=device, checkpoints=ckpt)
        if cache_checkpoints is None or where != Path(cache_checkpoints):
            ckpt.clear()  # the node's own: the driver cannot reach it
        # else the driver clears it once the result is stored, so that a result lost on its
        # way (the driver killed, a full disk) resumes from it instead of from epoch 0
    finally:
        pid.unlink(missing_ok=True)
    run.meta["machine"] = machine(resolve_device(device))
    return run


def train_on_ray(cache: Cache, specs, progress=None, task_seeds: int | None = None) -> int:
    """Train the seeds of `specs` without a valid entry as Ray tasks of `task_seeds` seeds
    each (None: a run's missing seeds in one task), costliest first, and store them in
    `cache` from this process. A run whose locks another process holds is left to it; a
    run's locks are released once all its tasks are stored. Returns the number of tasks
    run. Raises the first task's error after storing every task that succeeded."""
    from lowent.plan import task_cost, task_parts
    from lowent.progress import describe

    ray = require_ray()
    remote = ray.remote(train_task).options(
        max_retries=RETRIES, num_cpus=1, num_gpus=1 if cache.device == "cuda" else 0)
    driver, where = key_parts(cache.device), str(Path(cache.root).resolve() / "checkpoints")
    say = progress.write if progress is not None else print
    if cache.device == "cuda" and not ray.cluster_resources().get("GPU"):
        say("lowent: the Ray cluster has no GPU now: the CUDA tasks wait until a node with "
            "one joins (an autoscaler may add one); stop with Ctrl-C otherwise")
    held, parts, pending, failed = {}, [], {}, []  # held: spec -> [its locks, tasks left]
    try:
        for spec in specs:
            locks = cache.hold(spec, blocking=False)
            if locks is None:
                continue  # another process trains it; train_all waits for it
            missing = tuple(s for s in spec.seeds if s not in cache.usable(spec))
            if not missing:
                release(locks)
                continue
            held[spec] = [locks, 0]
            cut = task_parts(spec, missing, task_seeds)
            whole = spec.replace(seeds=missing)
            if len(cut) > 1 and (epoch := cache.checkpoint_epoch(whole)) is not None:
                say(f"lowent: {describe(whole)} has a checkpoint at epoch {epoch}, which tasks "
                    f"of {task_seeds} seed{'s' if task_seeds > 1 else ''} do not resume (they "
                    "train from the start; without --lowent-task-seeds one task resumes it)")
            parts += [(spec, part) for part in cut]
        parts.sort(key=lambda sp: -task_cost(cache, sp[1])[1])  # stable: ties keep run order
        for spec, part in parts:
            pending[remote.remote(part.to_dict(), cache.device, driver, where)] = (
                spec, part, time.monotonic())
            held[spec][1] += 1
        tasks = len(pending)
        while pending:
            [ref], _ = ray.wait(list(pending), num_returns=1)
            spec, part, t0 = pending.pop(ref)
            try:
                run = ray.get(ref)
                for one in split_run(run):
                    one.meta["machine"] = run.meta["machine"]
                    cache.store(one)
                remove(cache.checkpoint_path(part))  # the task left it for this moment
                if progress is not None:
                    progress.trained(spec, float(run.meta.get("wall_s", time.monotonic() - t0)),
                                     "resumed_from_epoch" in run.meta, part=part)
            except Exception as exc:  # noqa: BLE001 - raised below, after the others are stored
                failed.append(exc)
            finally:
                held[spec][1] -= 1
                if not held[spec][1]:
                    release(held.pop(spec)[0])
    finally:
        for locks, _ in held.values():
            release(locks)
    if failed:
        raise failed[0]
    return tasks
