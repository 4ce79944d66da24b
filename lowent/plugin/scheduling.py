"""Training the selected claims' runs: every process that collected claim tests trains the
runs of all of them before its test loop, cooperatively through the cache's locks and the
training slots."""
from __future__ import annotations

import contextlib
import time

import pytest

from lowent.cache import Cache
from lowent.claims import run_specs
from lowent.config import RunSpec
from lowent.engine import Run
from lowent.plugin.lines import progress_writer
from lowent.plugin.markers import claim_of
from lowent.plugin.session import session_of, setting
from lowent.plugin.slots import TrainingSlots, session_slots
from lowent.profiles import Profile
from lowent.progress import Progress, usable_cores


def claim_specs(items, profile: Profile) -> list[RunSpec]:
    """The runs of every claim test among `items` that reads its runs (the ``runs`` fixture)
    and is not marked skip: their claims' run sets (lowent.claims.RUN_SETS), costliest first
    (so the long runs start at once on different workers).

    Every process that collected claim tests (each xdist worker collects them all) trains the
    runs of all selected claims together before its test loop, whatever tests pytest-xdist
    hands it, even none: the cache's per-run locks let each worker train runs nobody else is
    training."""
    ids = {claim_of(item).id for item in items
           if "runs" in getattr(item, "fixturenames", ()) and claim_of(item) is not None
           and item.get_closest_marker("skip") is None}
    specs = {spec for i in ids for spec in run_specs(i, profile).values()}
    return sorted(specs, key=lambda s: (-s.model.d_model**2 * s.model.layers, s.key()))


def train_all(cache: Cache, specs, progress: Progress | None = None,
              slots: TrainingSlots | None = None) -> list[Run]:
    """Train several runs; a run whose lock another process holds is skipped and come back
    to, so xdist workers that need the same runs train different ones at once. With
    `progress`, a line for each run this process trains. With `slots`, a run that is neither
    stored nor being trained elsewhere trains only once a slot is free.
    Returns the runs in the order given."""
    specs = list(specs)
    done: dict[int, Run] = {}
    while len(done) < len(specs):
        pending = [i for i in range(len(specs)) if i not in done]
        for i in pending:
            hold = contextlib.nullcontext()
            if slots is not None and not cache.has(specs[i]):
                if cache.held_elsewhere(specs[i]):
                    continue  # being trained elsewhere: come back to it
                hold = slots.hold()
            with hold:  # (the run may have been stored while this process waited for a slot)
                had = progress is not None and cache.has(specs[i])
                resumes = progress is not None and not had and progress.resumes(specs[i])
                t0 = time.monotonic()
                run = cache.get(specs[i], blocking=False)
            if run is not None:
                done[i] = run
                if progress is not None and not had:
                    progress.trained(specs[i], time.monotonic() - t0, resumes)
        if len(done) < len(specs) and all(i not in done for i in pending):
            i = pending[0]  # every pending run is being trained elsewhere: wait for one
            done[i] = cache.get(specs[i])
    return [done[i] for i in range(len(specs))]


@pytest.hookimpl(wrapper=True)
def pytest_runtestloop(session):
    """Train the selected claims' runs before any test runs, in every process that collected
    them: pytest-xdist hands out tests in consecutive chunks, so one worker may get every
    claim test, or a lone claim test (``-m kl_loss``) goes to one worker while the others
    idle. A training error is left for the claim tests to report through ``claim_runs``
    (the first claim test of a process trains again; if that fails too, it and the later
    ones report the error), not pinned on unit tests or on the session."""
    config = session.config
    if session.items and not (config.getoption("lowent_plan", None) or
                              config.option.collectonly or
                              getattr(config.option, "setuponly", False)):
        try:
            _train_selected(session)
        except Exception as exc:  # noqa: BLE001 - reported by the claim tests themselves
            progress_writer(config)(
                f"lowent: training before the tests stopped ({type(exc).__name__}: "
                f"{str(exc).splitlines()[0] if str(exc) else 'no message'}); the first claim "
                "test trains what is still missing, and the claim tests report any error")
        printer = config.pluginmanager.get_plugin("lowent-progress")
        if printer is not None:  # this process prints: before the first test's capture
            printer.flush()
    return (yield)


def _train_selected(session) -> None:
    s = session_of(session.config)
    specs = claim_specs(session.items, s.profile)
    if specs:
        train_with_lines(session.config, specs, load=False)


def ray_local_cpus(slots_text: str, slots: int | None) -> int | None:
    """The CPUs of a local Ray cluster: under ``auto`` every usable core, since each Ray task
    trains on one torch thread whatever the driver's threads (the local executor's auto,
    cores over the driver's threads, gave a plain pytest on 2 cores a cluster of 1); else
    the slots set (None: all the CPUs Ray sees)."""
    return usable_cores() if slots_text == "auto" else slots


def train_with_lines(config, specs, load: bool = True) -> list[Run] | None:
    """Train what `specs` still need on the session's executor (Ray, or here through
    `train_all` and the training slots), with progress lines: before the tests, and in a
    claim test that trains what training before the tests left (after an error). With
    `load`, returns the runs."""
    s = session_of(config)
    worker_input = getattr(config, "workerinput", {})
    worker = worker_input.get("workerid", "")
    write = progress_writer(config)
    s.cache.log = lambda line: write(f"lowent: {f'[{worker}] ' if worker else ''}{line}")
    slots = session_slots(s)
    if s.executor == "ray":
        from lowent.ray_executor import connect, train_on_ray

        cpus = connect(ray_local_cpus(setting(config, "slots"), s.slots))
        train_on_ray(s.cache, specs, Progress(s.cache, specs, write, workers=cpus, threads=1,
                                              cores=cpus), task_seeds=s.task_seeds)
        return train_all(s.cache, specs, slots=slots) if load else None  # now only loads
    workers = worker_input.get("workercount", 1)
    training = workers if slots is None else min(workers, slots.n)
    progress = Progress(s.cache, specs, write, who=worker, workers=training)
    runs = train_all(s.cache, specs, progress, slots)
    return runs if load else None


@pytest.hookimpl(specname="pytest_runtestloop", tryfirst=True)
def pytest_runtestloop_plan(session):
    """With --lowent-plan, the work list instead of the test loop: nothing trains, no test
    runs."""
    if session.config.getoption("lowent_plan", None):
        _write_plan(session)
        return True
    return None


def _write_plan(session) -> None:
    """Print the work list of the selected claims' missing runs (lowent.plan) and write it
    as JSON where --lowent-plan says ('-': print only)."""
    import json
    from pathlib import Path

    from lowent.plan import COMMAND_ARGS, format_plan, make_plan

    config, s = session.config, session_of(session.config)
    args = list(config.invocation_params.args)
    if tuple(args[:len(COMMAND_ARGS)]) == COMMAND_ARGS:  # python -m lowent plan's own
        args = args[len(COMMAND_ARGS):]
    args = [a for a in args if not a.startswith("--lowent-plan")]
    selection = " ".join(args) or "the default selection"
    plan = make_plan(s.cache, claim_specs(session.items, s.profile),
                     f"{selection} (profile {s.profile_name})", s.task_seeds)
    write = config.pluginmanager.get_plugin("terminalreporter").write_line
    for line in format_plan(plan):
        write(line)
    where = config.getoption("lowent_plan")
    if where != "-":
        Path(where).parent.mkdir(parents=True, exist_ok=True)
        Path(where).write_text(json.dumps(plan, indent=1) + "\n", encoding="utf-8")
        write(f"lowent plan: wrote {where} ({len(plan['tasks'])} tasks; train task N with "
              f"python -m lowent work {where} --task N)")
