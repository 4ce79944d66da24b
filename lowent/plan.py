"""The work list of a selection of claims, for those who schedule training by other means
than pytest-xdist or Ray (a Slurm array, a CI matrix, several shells).

``python -m lowent plan claims/ -m low_entropy --lowent-profile paper --out plan.json`` runs
pytest's collection with that selection and writes, without training anything, one task per
run with seeds missing from the cache: its spec (the missing seeds only), the cache entries
it will fill, the epoch it would resume at, and its estimated one-thread CPU time
(:func:`lowent.bench.estimate_seconds`, a rough figure; ``python -m lowent bench``
measures). ``python -m lowent work plan.json --task N`` trains task N and stores it in the
plan's cache (or ``--cache DIR``; entries are directories named by their content's key, so
caches filled on different machines merge by copying them into one). The claims suite then
finds every run cached and only judges.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from lowent.cache import Cache, code_version, entry_key
from lowent.config import RunSpec, SpecError
from lowent.progress import describe

SCHEMA = 1
# what ``python -m lowent plan`` passes to pytest before the user's selection: machinery,
# not part of the selection a plan names
COMMAND_ARGS = ("-q", "-p", "no:xdist", "-p", "no:cacheprovider",
                # the command imported lowent before pytest could rewrite the plugin's asserts
                "-W", "ignore::pytest.PytestAssertRewriteWarning", "--lowent-report=none")


def task_parts(spec: RunSpec, missing, task_seeds: int | None = None) -> list[RunSpec]:
    """`spec` restricted to its `missing` seeds, cut into tasks of `task_seeds` seeds each
    (None: one task of them all). A seed's training depends on that seed alone, not on the
    seeds stacked beside it (tests/test_engine.py), so any cut trains the same runs."""
    missing = tuple(missing)
    size = task_seeds or len(missing) or 1
    return [spec.replace(seeds=missing[i:i + size]) for i in range(0, len(missing), size)]


def task_cost(cache: Cache, part: RunSpec) -> tuple[int | None, float]:
    """(the epoch `part` would resume at from its checkpoint, its estimated one-thread CPU
    seconds for the epochs left)."""
    from lowent.bench import estimate_seconds

    resume = cache.checkpoint_epoch(part)
    return resume, estimate_seconds(part) * (1 - (resume or 0) / part.train.epochs)


def work_list(cache: Cache, specs, task_seeds: int | None = None) -> list[dict]:
    """The tasks of `specs`' seeds missing from `cache`: each spec's missing seeds cut into
    tasks of `task_seeds` seeds (None: one task per spec), costliest first."""
    parts = [task_parts(spec, missing, task_seeds)
             for spec in specs if (missing := cache.missing(spec))]
    costed = sorted(((part, *task_cost(cache, part)) for group in parts for part in group),
                    key=lambda t: -t[2])  # stable: equal costs keep the claims' order
    return [{"task": i, "run": describe(part), "spec": part.to_dict(),
             "entries": [entry_key(part.replace(seeds=(s,)), cache.device) for s in part.seeds],
             "resume_from_epoch": resume, "estimated_cpu_s": round(cost, 1)}
            for i, (part, resume, cost) in enumerate(costed)]


def make_plan(cache: Cache, specs, selection: str, task_seeds: int | None = None) -> dict:
    """The plan of `specs` (the selected claims' runs) on `cache`, in tasks of `task_seeds`
    seeds (None: one task per run)."""
    specs = list(specs)
    tasks = work_list(cache, specs, task_seeds)
    cached = sum(not cache.missing(spec) for spec in specs)
    return {"schema": SCHEMA, "selection": selection, "training code": code_version(),
            "device": cache.device, "cache": str(Path(cache.root).resolve()),
            "runs": len(specs), "cached": cached, "to train": len(specs) - cached,
            "task seeds": task_seeds or "all", "tasks": tasks,
            "estimated_cpu_s": round(sum(t["estimated_cpu_s"] for t in tasks), 1)}


def format_plan(plan: dict) -> list[str]:
    """The plan as lines for a terminal: a header, one line per task, the total."""
    runs, tasks = plan["runs"] - plan["cached"], len(plan["tasks"])
    lines = [f"lowent plan: {plan['runs']} runs for {plan['selection']}: {plan['cached']} "
             f"cached, {runs} to train on {plan['device']}"
             + (f" in {tasks} tasks of {plan['task seeds']} seed(s)" if tasks != runs else "")
             + f" (cache {plan['cache']})"]
    for t in plan["tasks"]:
        resume = (f", resumes at epoch {t['resume_from_epoch']}"
                  if t["resume_from_epoch"] is not None else "")
        lines.append(f"  task {t['task']:>3}: {t['run']}{resume}; estimated "
                     f"{t['estimated_cpu_s'] / 60:.1f} CPU-thread min")
    hours = plan["estimated_cpu_s"] / 3600
    lines.append(f"lowent plan: estimated {hours:.2f} CPU-thread hours in all (one torch "
                 "thread per task; a rough figure from lowent.bench.estimate_seconds)")
    return lines


def read_plan(path: str | Path) -> dict:
    """A plan written by ``python -m lowent plan``, or a one-line SpecError."""
    try:
        plan = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise SpecError(f"cannot read the plan {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise SpecError(f"{path} is not a lowent plan (not JSON: {exc})") from None
    if not isinstance(plan, dict) or plan.get("schema") != SCHEMA or "tasks" not in plan:
        raise SpecError(f"{path} is not a lowent plan of schema {SCHEMA} (python -m lowent "
                        "plan writes one)")
    return plan


def work(plan: dict, task: int, cache_dir: str | None = None, log=print) -> Path:
    """Train task `task` of `plan` and store it in the plan's cache (or `cache_dir`); a task
    already stored is only loaded. Returns the cache directory."""
    from lowent.paths import writable_dir

    try:
        tasks, made_by = list(plan["tasks"]), str(plan["training code"])
        root, device = cache_dir or str(plan["cache"]), str(plan["device"])
    except (KeyError, TypeError) as exc:
        raise SpecError(f"the plan is damaged ({type(exc).__name__}: {exc}); python -m "
                        "lowent plan writes one") from None
    if not 0 <= task < len(tasks):
        raise SpecError(f"the plan has tasks 0-{len(tasks) - 1}, not {task}")
    if made_by != code_version():
        raise SpecError(f"the plan was made by lowent training code {made_by}, "
                        f"this is {code_version()}: make the plan again with this lowent")
    try:
        spec = RunSpec.from_dict(tasks[task]["spec"])
    except (KeyError, TypeError, ValueError) as exc:
        raise SpecError(f"task {task} of the plan is damaged ({type(exc).__name__}: {exc}); "
                        "python -m lowent plan writes one") from None
    writable_dir(root, "the cache (--cache, or the plan's)")
    cache = Cache(root, device=device)
    cache.log = log
    log(f"lowent work: task {task}: {describe(spec)} on {cache.device}, into {cache.root}")
    t0 = time.perf_counter()
    cache.get(spec)
    log(f"lowent work: task {task} stored in {time.perf_counter() - t0:.0f} s")
    return Path(cache.root)
