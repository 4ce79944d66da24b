"""``python -m lowent cache``: what a run cache holds, and which checkpoints still serve.

Long faithful runs are trained over several sittings, so a cache collects finished entries
(one per seed), checkpoints of unfinished runs, and entries and checkpoints of other code
or torch versions, which no run of this version reads. This lists them, run by run, from
the entries' JSON files (not validated here: the cache validates an entry before using it)
and each checkpoint's stamp and epoch, and ``--prune`` deletes the checkpoints that can
never be resumed:

* **stale**: written by another code or torch version (the cache refuses to resume it and
  starts the run again);
* **unused**: every seed of its stack now has an entry of this version (its seeds were
  trained in other stacks since), so nothing will ask for that stack again;
* **unreadable**: not a checkpoint the cache can read.

It also lists the **orphans** of interrupted writes, which ``--prune`` removes: an entry
directory being written (``.tmp-<key>-*``) whose entry lock nobody holds, and a checkpoint
being written (``.<name>.pt.<host>.<pid>.tmp``) by a process that no longer runs on this host
(on another host: one older than ORPHAN_AGE seconds).

A checkpoint whose seeds are locked (a process is training that run now), and one written on
a device this machine lacks (a GPU's, kept for that GPU), are left alone.
Entries of other versions are listed and counted, never deleted: they are the record of
verdicts measured with that code.
"""
from __future__ import annotations

import json
import os
import re
import socket
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from lowent.cache import TMP_PREFIX, Cache, code_version, device_tag, remove
from lowent.config import RunSpec
from lowent.seedtext import format_seeds
from lowent.progress import describe


@dataclass
class Group:
    """The entries of one run (its spec without seeds) made by one code, torch and device."""

    spec: RunSpec  # with every seed found
    code: str
    torch: str
    device: str
    wall_s: float  # summed over the distinct stacks the seeds were trained in

    @property
    def current(self) -> bool:
        return self.code == code_version() and self.torch == torch.__version__


@dataclass
class Checkpoint:
    path: Path
    spec: RunSpec | None  # None: the file cannot be read
    epoch: int
    wall_s: float
    status: str  # "resumable", "locked: ...", "stale: ...", "unused: ...", "unreadable"

    @property
    def prunable(self) -> bool:
        return self.status.startswith(("stale", "unused", "unreadable"))


def groups(cache: Cache) -> list[Group]:
    """Every finished entry under the cache's root, grouped into runs."""
    found: dict[tuple, dict] = {}
    for manifest in sorted(cache.root.glob("*/manifest.json")):
        try:
            if not (manifest.is_file() and (manifest.parent / "spec.json").is_file()):
                continue  # not regular files (a FIFO would block the read): a broken entry
            m = json.loads(manifest.read_text())
            meta = json.loads((manifest.parent / "spec.json").read_text())
            spec = RunSpec.from_dict(meta["spec"])
            key = (spec.replace(seeds=(0,)).key(),) + tuple(  # hashable, None kept as None
                v if v is None or isinstance(v, str) else str(v)
                for v in (m.get(k) for k in ("code", "torch", "device")))
            stack = tuple(int(s) for s in meta.get("stack", spec.seeds))
            wall = float(meta.get("wall_s", 0.0))
        except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
            continue  # a broken entry: the cache reports and retrains it when it is asked for
        g = found.setdefault(key, {"spec": spec.replace(seeds=(0,)), "seeds": set(),
                                   "stacks": {}})
        g["seeds"].update(spec.seeds)
        g["stacks"][stack] = wall
    return [Group(spec=g["spec"].replace(seeds=tuple(sorted(g["seeds"]))), code=code,
                  torch=tv, device=dev, wall_s=sum(g["stacks"].values()))
            for (_, code, tv, dev), g in found.items()]


def _here(tag: str | None) -> str | None:
    """The device of this machine that a checkpoint's device tag names, None if absent."""
    if tag == "cpu":
        return "cpu"
    if torch.cuda.is_available() and tag == device_tag("cuda"):
        return "cuda"
    return None


def checkpoints(cache: Cache) -> list[Checkpoint]:
    """Every checkpoint file under the cache's root, with what would become of it."""
    out = []
    for path in sorted((cache.root / "checkpoints").glob("*.pt")):
        try:
            blob = torch.load(path, weights_only=True, map_location="cpu")
            stamp = json.loads(blob["stamp"])
            spec = RunSpec.from_dict(stamp["spec"])
            epoch, wall = int(blob["state"]["epoch"]), float(blob["state"]["wall_s"])
        except Exception:  # noqa: BLE001 - any unreadable file is reported the same
            out.append(Checkpoint(path, None, 0, 0.0, "unreadable"))
            continue
        other = [k for k, now in (("code", code_version()), ("torch", torch.__version__))
                 if stamp.get(k) != now]
        device = _here(stamp.get("device"))
        if other:
            status = "stale: written with another " + ", ".join(
                f"{k} ({stamp.get(k)})" for k in other)
        elif device is None:
            status = f"for another device ({stamp.get('device')}): left alone"
        elif cache.on(device).held_elsewhere(spec):
            # The lock's holder trains the run, or has it queued (the Ray executor's driver
            # holds the locks of all the runs it submitted until each is stored).
            status = "locked: a running process trains it or has it queued"
        elif not (left := cache.on(device).missing(spec)):
            status = "unused: every seed of its stack has an entry (trained in other stacks)"
        else:
            status = f"resumable: seeds {format_seeds(left)} to train"
        out.append(Checkpoint(path, spec, epoch, wall, status))
    return out


ORPHAN_AGE = 3600  # s: a checkpoint write of another host older than this has died
_CHECKPOINT_TMP = re.compile(r"^\.[0-9a-f]+\.pt\.(?:(?P<host>.+)\.)?(?P<pid>\d+)\.tmp$")


def _running_here(pid: str) -> bool:
    try:
        os.kill(int(pid), 0)
    except (ValueError, OverflowError, ProcessLookupError):  # not a pid, or no such process
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def orphans(cache: Cache) -> list[Path]:
    """What interrupted writes left in the cache (see the module's docstring)."""
    from filelock import FileLock, Timeout

    out = []
    for path in sorted(cache.root.glob(f"{TMP_PREFIX}*")):
        key = path.name[len(TMP_PREFIX):].split("-")[0]
        try:
            FileLock(str(cache.root / f"{key}.lock")).acquire(timeout=0).lock.release()
        except Timeout:
            continue  # its writer holds the lock: being written now
        except OSError:
            continue  # its lock cannot be taken (not a file): left alone, never guessed
        out.append(path)
    for path in sorted((cache.root / "checkpoints").glob(".*.tmp")):
        m = _CHECKPOINT_TMP.match(path.name)
        host = (m and m["host"]) or socket.gethostname()  # no host: written before they had one
        if m and host == socket.gethostname():
            dead = not _running_here(m["pid"])
        else:
            try:
                dead = time.time() - path.lstat().st_mtime > ORPHAN_AGE
            except FileNotFoundError:
                continue  # renamed or removed by its writer since the listing
        if dead:
            out.append(path)
    return out


def _order(spec: RunSpec) -> tuple:
    m = spec.model
    return (spec.target.name, m.kind, m.variant, m.d_model, m.layers, describe(spec))


def _to_go(c: Checkpoint) -> str:
    """The time a run that will go on from `c` still needs at its own pace so far (its wall
    time per epoch up to the checkpoint); empty for one that will not go on from it."""
    if c.spec is None or c.epoch <= 0 or not c.status.startswith(("resumable", "locked")):
        return ""
    left = c.wall_s / c.epoch * (c.spec.train.epochs - c.epoch)
    return f" (about {left / 60:,.0f} min to go at its pace so far)"


def report(cache: Cache, cps: list[Checkpoint]) -> list[str]:
    """The lines ``python -m lowent cache`` prints, with `cps` its :func:`checkpoints`."""
    gs = groups(cache)
    now = sorted((g for g in gs if g.current), key=lambda g: _order(g.spec))
    old = [g for g in gs if not g.current]
    lines = [f"cache {cache.root} (this code {code_version()}, torch {torch.__version__})",
             f"runs of this code and torch: {len(now)}"]
    lines += [f"  {describe(g.spec)}; {g.device}, {g.wall_s:,.0f} s of training"
              for g in now]
    if old:
        versions = sorted({f"{g.code}, torch {g.torch}" for g in old})
        lines.append(f"runs of other versions (kept, never read by this one): {len(old)} "
                     f"({sum(len(g.spec.seeds) for g in old)} entries) from "
                     + "; ".join(versions))
    left = orphans(cache)
    if left:
        lines.append(f"orphans of interrupted writes (--prune removes them): {len(left)}")
        lines += [f"  {p.name}" for p in left]
    lines.append(f"checkpoints: {len(cps)}")
    for c in cps:
        what = (f"{describe(c.spec)}: epoch {c.epoch} of {c.spec.train.epochs}, "
                f"{c.wall_s:,.0f} s so far" if c.spec is not None else c.path.name)
        lines.append(f"  {what}; {c.status}{_to_go(c)}")
    return lines


def prune(cps: list[Checkpoint]) -> list[Path]:
    """Delete those of the checkpoints `cps` that can never be resumed; returns their paths."""
    gone = []
    for c in cps:
        if c.prunable:
            remove(c.path)
            gone.append(c.path)
    return gone


def main(args) -> int:
    if args.cache is not None and not args.cache.strip():
        raise ValueError("--cache is empty; give a directory (or leave it out for "
                         "$LOWENT_CACHE, else .lowent-cache)")
    cache = Cache(args.cache)
    if not cache.root.is_dir():
        raise ValueError(f"no cache at {cache.root}")
    cps = checkpoints(cache)  # each file is read once, for the listing and the pruning
    for line in report(cache, cps):
        print(line)
    if args.prune:
        gone = prune(cps)
        names = "" if not gone else " (" + ", ".join(p.name for p in gone) + ")"
        print(f"pruned {len(gone)} checkpoints{names}")
        left = orphans(cache)
        for path in left:
            remove(path)
        print(f"removed {len(left)} orphans of interrupted writes")
    return 0
