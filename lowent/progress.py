"""Progress lines for long trainings: a run in a few words, and what is left to train.

The pytest plugin prints them under xdist and when piped (lowent/plugin/lines.py); the CLI
states what a `train` command will do before it starts.
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Callable

import torch

from lowent.cache import Cache
from lowent.config import RunSpec
from lowent.seedtext import format_seeds


def describe(spec: RunSpec) -> str:
    """A run in a few words: "transformer/full d=64 L=4 adam, seeds 0-4, trie"."""
    m, t = spec.model, spec.train
    seeds = format_seeds(spec.seeds)
    kind = f"{m.kind}/{m.variant}" if m.kind == "transformer" else m.kind
    return (f"{kind} d={m.d_model} L={m.layers} {t.optimizer}, {t.epochs} epochs, seeds "
            f"{seeds}, {t.layout}" + (f", target {spec.target.name}"
                                      if spec.target.name != "base" else ""))


def usable_cores(cpu_max: str = "/sys/fs/cgroup/cpu.max") -> int:
    """The cores this process may use: its CPU affinity, capped by a cgroup v2 CPU quota
    (``cpu.max``, "quota period"; a container limited to 2 CPUs on a larger host) if set."""
    cores = (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
             else os.cpu_count() or 1)
    try:
        quota, period = Path(cpu_max).read_text().split()[:2]
        if quota != "max":
            cores = min(cores, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return cores


class Progress:
    """Progress lines of the claims' training: what will train, and a line as each run this
    process trained is stored (which seeds it trained, whether it resumed from a checkpoint,
    k of N ready, its time, time left). Lines go to `write`. The time left is the remaining
    runs' estimated cost (:func:`lowent.bench.estimate_seconds`, one-thread seconds, of their
    missing seeds, for the epochs after the checkpoint a run resumes from) spread over the
    cores that train at once (the usable cores, or fewer: `workers` training processes of
    `threads` torch threads each), scaled by how this process's runs compared with their
    estimates (a run's wall time times the cores each training process gets; a resumed run,
    whose time covers only part of it, is left out)."""

    def __init__(self, cache: Cache, specs, write: Callable[[str], None], *, who: str = "",
                 workers: int = 1, threads: int | None = None, cores: int | None = None):
        from lowent.bench import estimate_seconds

        self.cache, self.specs, self.write = cache, list(specs), write
        self.who = f"[{who}] " if who else ""
        # the part of each spec still to train: its seeds without a stored entry (None: all)
        self.todo = {s: s.replace(seeds=m) if (m := cache.missing(s)) else None
                     for s in self.specs}
        # the epoch each part would resume at from its checkpoint (None: from the start). A
        # run another process is training (an xdist sibling) counts from the start, so every
        # worker announces the same plan whether or not that run has a checkpoint yet.
        self.resume_at = {s: cache.checkpoint_epoch(t)
                          if t is not None and not cache.held_elsewhere(t) else None
                          for s, t in self.todo.items()}
        self.cost = {s: estimate_seconds(t) * (1 - (self.resume_at[s] or 0) / t.train.epochs)
                     if t is not None else 0.0 for s, t in self.todo.items()}
        self.cores = usable_cores() if cores is None else cores
        threads = torch.get_num_threads() if threads is None else threads
        # cores training at once: one training process of one thread (`-n 1`) uses one
        self.parallel = max(1, min(self.cores, max(workers, 1) * threads))
        self.share = self.parallel / max(workers, 1)  # cores per training process
        self.spent, self.estimated = 0.0, 0.0  # this process's runs: core-seconds, estimates
        todo = [s for s, t in self.todo.items() if t is not None]
        if todo:
            est = sum(self.cost[s] for s in todo) / self.parallel
            partly = sum(self.todo[s].seeds != s.seeds for s in todo)
            resuming = sum(self.resume_at[s] is not None for s in todo)
            notes = ([f"{partly} of them with some seeds cached"] if partly else []) + (
                [f"{resuming} resuming from a checkpoint"] if resuming else [])
            write(f"lowent: {len(self.specs)} runs for the selected claims: "
                  f"{len(self.specs) - len(todo)} cached, {len(todo)} to train "
                  + (f"({'; '.join(notes)}) " if notes else "")
                  + f"(estimated {est / 60:.0f} min on {self.parallel}"
                  + (f" of {self.cores}" if self.parallel < self.cores else "")
                  + f" core{'s' if self.cores > 1 else ''})")

    def resumes(self, spec: RunSpec) -> bool:
        """Whether training `spec` now would resume its missing seeds from a checkpoint."""
        part = self.todo.get(spec)
        return part is not None and self.cache.checkpoint_epoch(part) is not None

    def trained(self, spec: RunSpec, seconds: float, resumed: bool = False,
                part: RunSpec | None = None) -> None:
        """A line for `spec`'s missing seeds, or for `part` of them (a task of the ray
        executor that trained some of them), stored in `seconds`."""
        from lowent.bench import estimate_seconds

        whole = self.todo.get(spec) or spec
        if not resumed:
            self.spent += seconds * self.share
            self.estimated += (self.cost[spec] if part is None or part.seeds == whole.seeds
                               else estimate_seconds(part))
        ready = [s for s in self.specs if self.cache.has(s)]
        scale = self.spent / self.estimated if self.estimated else 1.0
        left = sum(self.cost[s] * len(self.cache.missing(s)) / len(self.todo[s].seeds)
                   for s in self.specs if s not in ready and self.todo[s] is not None)
        left *= scale / self.parallel
        if part is not None and part.seeds != whole.seeds:
            what = describe(part) + f" (a task of {len(part.seeds)} of its {len(whole.seeds)} "
            what += "missing seeds)"
        else:
            cached = [s for s in spec.seeds if s not in whole.seeds]
            what = describe(whole) + (f" (seeds {format_seeds(cached)} cached)"
                                      if cached else "")
        self.write(f"lowent: {self.who}trained {what} in {seconds:.0f} s"
                   f"{' (resumed from a checkpoint)' if resumed else ''}; {len(ready)} of "
                   f"{len(self.specs)} runs ready, about {left / 60:.0f} min left")
