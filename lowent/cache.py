"""Content-addressed store of trained runs.

An entry holds one seed of a run: a directory ``<root>/<key>/`` with what :meth:`Run.save`
writes for that seed (spec.json, trace.json, weights.safetensors) plus ``manifest.json`` with
the sha256 of each file. The key hashes the one-seed RunSpec, the code version (the source of
every module that shapes a trained run), the torch version and the device, so a change to
any of them trains anew. A seed's training depends on nothing but its spec and its seed
(its initial weights, minibatch order and dropout masks come from streams of its own), so a
run of seeds 0-9 asked for after one of seeds 0-4 loads 0-4 and trains only 5-9, stacked.
Stacks of different seeds compute the same trajectories (to float rounding: a test checks
it to 1e-12 in float64).

Writes are atomic: an entry is written into a temporary directory and renamed into place.
One ``filelock`` per key serialises workers (a run holds the locks of all its seeds, taken
in key order), so pytest-xdist workers never train the same seed twice. An entry that is
corrupt (a file missing, unreadable or with a wrong checksum) or foreign (made for another
spec or key) is never used: it is reported with a warning and that seed is retrained.
An entry and its files take the writer's umask (a group sharing a cache sets 002).
Location: ``$LOWENT_CACHE``, else ``.lowent-cache/`` in the working directory.
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import socket
import tempfile
import warnings
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from filelock import FileLock, Timeout

import lowent
from lowent.config import RunSpec
from lowent.engine import Checkpoints, Run, train
from lowent.host import resolve_device
from lowent.machine import machine

FILES = ("spec.json", "trace.json", "weights.safetensors")
# Modules whose source shapes a trained run; editing any of them changes every key.
TRAINING_SOURCES = ("config.py", "target.py", "contexts.py", "engine.py", "optim.py", "metrics.py",
                    "probes.py", "models/__init__.py", "models/layers.py",
                    "models/transformer.py", "models/rnn.py")


TMP_PREFIX = ".tmp-"  # an entry being written: TMP_PREFIX + key + "-" + random


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class CacheWarning(UserWarning):
    """A cache entry was unusable and is being retrained."""


class CorruptEntry(Exception):
    """A cache entry failed validation."""


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """lowent's version plus a hash of the source of the training path."""
    h = hashlib.sha256(lowent.__version__.encode())
    pkg = Path(lowent.__file__).parent
    for name in TRAINING_SOURCES:
        h.update(name.encode() + b"\0" + (pkg / name).read_bytes())
    return f"{lowent.__version__}+{h.hexdigest()[:12]}"


def device_tag(device) -> str:
    dev = resolve_device(device)
    return "cpu" if dev.type == "cpu" else f"cuda:{torch.cuda.get_device_name(dev)}"


def entry_key(spec: RunSpec, device="cpu") -> str:
    """Key of the entry of `spec` trained on `device` by this code and torch version."""
    parts = [spec.key(), code_version(), torch.__version__, device_tag(device)]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class Cache:
    """Runs stored by key under `root`."""

    def __init__(self, root: str | Path | None = None, log: Callable[[str], None] | None = None,
                 device: str = "cpu"):
        self.root = Path(root or os.environ.get("LOWENT_CACHE") or ".lowent-cache")
        self.log = log  # called with a line of text when a run resumes from a checkpoint
        self.device = device  # where its runs train ("cpu", "cuda"); part of every key

    def on(self, device: str) -> "Cache":
        """The same store, for runs trained on `device`."""
        return Cache(self.root, self.log, device)

    def checkpoint_path(self, spec: RunSpec) -> Path:
        """Where an unfinished run of `spec` (the seeds being trained together) keeps its
        latest checkpoint. The name hashes the spec and device only, so that a checkpoint of
        other code or another torch version is found, reported and not resumed."""
        return self.root / "checkpoints" / f"{checkpoint_name(spec, self.device)}.pt"

    def _lock(self, key: str) -> FileLock:
        """The file lock of the entry `key`, held while its seed trains."""
        return FileLock(str(self.root / f"{key}.lock"))

    def held_elsewhere(self, spec: RunSpec) -> bool:
        """Whether another process holds the lock of any seed of `spec`: it is training it."""
        for s in spec.seeds:
            lock = self._lock(entry_key(spec.replace(seeds=(s,)), self.device))
            try:
                lock.acquire(timeout=0)
            except Timeout:
                return True
            lock.release()
        return False

    def checkpoint_epoch(self, spec: RunSpec) -> int | None:
        """The epoch at which `spec`'s checkpoint was written, if training `spec` now would
        resume from it (written for this spec, code, torch and device); None otherwise.
        Only reads the file: a checkpoint that cannot be resumed is left for training to
        discard, with its warning."""
        state, _ = DiskCheckpoints(self.checkpoint_path(spec), stamp(spec, self.device)).read()
        return None if state is None else int(state["epoch"])

    def path(self, spec: RunSpec) -> Path:
        """The entry directory of a one-seed spec."""
        if len(spec.seeds) != 1:
            raise ValueError(f"an entry holds one seed; got seeds {spec.seeds}")
        return self.root / entry_key(spec, self.device)

    def missing(self, spec: RunSpec) -> tuple[int, ...]:
        """The seeds of `spec` without a finished entry (not validated: a quick look for
        progress lines; :meth:`get` validates)."""
        return tuple(s for s in spec.seeds
                     if not (self.path(spec.replace(seeds=(s,))) / "manifest.json").exists())

    def has(self, spec: RunSpec) -> bool:
        """Whether every seed of `spec` has a finished entry (see :meth:`missing`)."""
        return not self.missing(spec)

    def load(self, spec: RunSpec) -> Run | None:
        """The stored run of a one-seed `spec`, None if absent; raises CorruptEntry if it is
        unusable."""
        d = self.path(spec)
        key = d.name
        if not d.exists() and not d.is_symlink():
            return None
        if not d.is_dir():
            raise CorruptEntry("the entry is not a directory")
        if not (d / "manifest.json").is_file():  # absent, or a FIFO whose read would block
            raise CorruptEntry("manifest.json is missing or not a regular file")
        try:
            manifest = json.loads((d / "manifest.json").read_text())
        except (OSError, ValueError, RecursionError) as exc:
            raise CorruptEntry(f"manifest unreadable: {type(exc).__name__}: {exc}") from None
        if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
            raise CorruptEntry("manifest is not an entry's (not an object with its files)")
        if manifest.get("key") != key or manifest.get("spec_key") != spec.key():
            raise CorruptEntry("entry belongs to another spec or key (foreign entry)")
        for name in FILES:
            if not (d / name).is_file():
                raise CorruptEntry(f"{name} is missing")
            try:
                digest = _sha256(d / name)
            except OSError as exc:
                raise CorruptEntry(f"{name} is unreadable ({exc.strerror or exc})") from None
            if digest != manifest["files"].get(name):
                raise CorruptEntry(f"{name} does not match its checksum")
        try:
            run = Run.load(d)
        except Exception as exc:  # any parse failure makes the entry unusable
            raise CorruptEntry(f"cannot read the run: {type(exc).__name__}: {exc}") from None
        if run.spec != spec:
            raise CorruptEntry("stored spec differs from the requested spec (foreign entry)")
        run.meta["machine"] = manifest.get("machine")  # where it was trained (None: not recorded)
        return run

    def stored(self, spec: RunSpec) -> Run | None:
        """The run of `spec` if every one of its seeds is stored, else None; never trains
        (:meth:`get` trains what is missing). For reading a cache, e.g. to compare two
        layouts' runs. Raises CorruptEntry, naming the seed, if an entry is unusable."""
        runs = []
        for s in spec.seeds:
            try:
                run = self.load(spec.replace(seeds=(s,)))
            except CorruptEntry as exc:
                raise CorruptEntry(f"seed {s}: {exc}") from None
            if run is None:
                return None
            runs.append(run)
        return merge_runs(spec, runs)

    def store(self, run: Run) -> Path:
        """Write a one-seed `run` atomically under its key (replacing whatever was there)."""
        key = self.path(run.spec).name
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{key}-", dir=self.root))
        try:
            mask = _umask()
            os.chmod(tmp, 0o777 & ~mask)  # mkdtemp's 0700 would hide it from the group
            run.save(tmp)
            for name in FILES:  # safetensors writes its file 0600, whatever the umask
                os.chmod(tmp / name, 0o666 & ~mask)
            manifest = {"key": key, "spec_key": run.spec.key(), "code": code_version(),
                        "torch": torch.__version__, "device": device_tag(self.device),
                        "machine": run.meta.get("machine") or machine(resolve_device(self.device)),
                        "files": {name: _sha256(tmp / name) for name in FILES}}
            (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1))
            final = self.root / key
            if final.is_symlink() or (final.exists() and not final.is_dir()):
                final.unlink()  # an unusable entry of another shape (a file, a link, a FIFO)
            elif final.exists():
                shutil.rmtree(final)
            os.replace(tmp, final)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        return final

    def get(self, spec: RunSpec, progress: str = "none",
            train_fn: Callable[..., Run] = train, blocking: bool = True) -> Run | None:
        """The run of `spec`: each seed loaded if a valid entry holds it; the missing seeds
        trained together once and stored, one entry per seed.

        Holds the file locks of all the run's seeds throughout, so concurrent callers train a
        seed only once. With blocking=False, returns None at once when another process holds
        any of them.
        """
        held = self.hold(spec, blocking)
        if held is None:
            return None
        try:
            have = self.usable(spec)
            missing = tuple(s for s in spec.seeds if s not in have)
            if missing:
                stack = spec.replace(seeds=missing)
                ckpt = DiskCheckpoints(self.checkpoint_path(stack), stamp(stack, self.device))
                trained = train_fn(stack, device=self.device, progress=progress, checkpoints=ckpt,
                                   log=self.log)
                where = machine(resolve_device(self.device))
                for s, one in zip(missing, split_run(trained)):
                    one.meta["machine"] = where
                    self.store(one)
                    have[s] = one
                ckpt.clear()
            return merge_runs(spec, [have[s] for s in spec.seeds])
        finally:
            release(held)

    def hold(self, spec: RunSpec, blocking: bool = True) -> list[FileLock] | None:
        """Take the file locks of every seed of `spec`, in key order (so two runs sharing
        seeds never deadlock). With blocking=False, None, holding nothing, when another
        process holds any of them. Give them back with :func:`release`."""
        self.root.mkdir(parents=True, exist_ok=True)
        keys = sorted(entry_key(spec.replace(seeds=(s,)), self.device) for s in spec.seeds)
        held = []
        for lock in (self._lock(key) for key in keys):
            try:
                lock.acquire(timeout=-1 if blocking else 0)
            except Timeout:
                release(held)
                return None
            held.append(lock)
        return held

    def usable(self, spec: RunSpec) -> dict[int, Run]:
        """seed -> stored run, for the seeds of `spec` whose entries are valid; an unusable
        entry is warned about and left out (it is to be retrained)."""
        have = {}
        for s in spec.seeds:
            one = spec.replace(seeds=(s,))
            try:
                run = self.load(one)
            except CorruptEntry as exc:
                warnings.warn(f"lowent cache: entry {entry_key(one, self.device)} of seed {s} is "
                              f"unusable ({exc}); retraining", CacheWarning, stacklevel=3)
                run = None
            if run is not None:
                have[s] = run
        return have


def release(locks: list[FileLock]) -> None:
    """Give back locks taken by :meth:`Cache.hold`."""
    for lock in locks:
        lock.release()


def checkpoint_name(spec: RunSpec, device="cpu") -> str:
    """The file name (without suffix) of the checkpoint of `spec`'s stacked seeds on `device`."""
    return hashlib.sha256(f"{spec.key()}|{device_tag(device)}".encode()).hexdigest()[:32]


def stamp(spec: RunSpec, device="cpu") -> str:
    """What a checkpoint must have been written by to be resumed: the spec, the code
    version, the torch version and the device."""
    return json.dumps({"spec": spec.to_dict(), "code": code_version(), "torch": torch.__version__,
                       "device": device_tag(device)}, sort_keys=True)


class DiskCheckpoints(Checkpoints):
    """The latest checkpoint of one run in one file, replaced atomically (written to a
    temporary file, then renamed), so a crash while writing leaves the previous one. A file
    that cannot be read, or was written for another stamp, is never resumed: a one-line
    CacheWarning says why and the run starts again."""

    def __init__(self, path: str | Path, stamp: str):
        self.path, self.stamp = Path(path), stamp

    def read(self) -> tuple[dict | None, str | None]:
        """(the checkpoint's state, None) if it can be resumed; else (None, why not), why
        being None when there is no file. Reads only; :meth:`load` discards."""
        if not self.path.exists() and not self.path.is_symlink():
            return None, None
        try:
            if not self.path.is_file():  # a directory, a FIFO (whose read would block), ...
                raise OSError("not a regular file")
            blob = torch.load(self.path, weights_only=True)
            if blob["stamp"] == self.stamp:
                state = blob["state"]
                int(state["epoch"])  # what resuming and the progress lines read first
                return state, None
            was, now = json.loads(blob["stamp"]), json.loads(self.stamp)
            why = "written with another " + ", ".join(k for k in now if was.get(k) != now[k])
        except Exception as exc:  # noqa: BLE001 - any unreadable file is reported the same
            return None, f"unreadable ({type(exc).__name__})"
        return None, why

    def load(self) -> dict | None:
        state, why = self.read()
        return self._discard(why) if why is not None else state

    def _discard(self, why: str) -> None:
        warnings.warn(f"lowent: checkpoint {self.path.name} is {why}; starting the run again",
                      CacheWarning, stacklevel=3)
        self.clear()
        return None

    def save(self, state: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{socket.gethostname()}.{os.getpid()}.tmp")
        torch.save({"stamp": self.stamp, "state": state}, tmp)
        os.replace(tmp, self.path)

    def clear(self) -> None:
        remove(self.path)


def remove(path: Path) -> None:
    """Delete what is at `path`, whatever it is (a file, a link, a FIFO, a directory tree);
    nothing if there is nothing."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def split_run(run: Run) -> list[Run]:
    """One Run per seed of a stacked run (model axis first in every array and tensor); each
    records in ``meta["stack"]`` the seeds it was trained with."""
    out = []
    for e, s in enumerate(run.seeds):
        out.append(Run(
            spec=run.spec.replace(seeds=(s,)),
            per_epoch={k: v[e:e + 1].copy() for k, v in run.per_epoch.items()},
            per_step={k: (v.copy() if k == "step" else v[e:e + 1].copy())
                      for k, v in run.per_step.items()},
            state={k: v[e:e + 1].clone() for k, v in run.state.items()},
            table=run.table[e:e + 1].copy(),
            meta={**run.meta, "stack": list(run.meta.get("stack", run.seeds))}))
    return out


def merge_runs(spec: RunSpec, runs: list[Run]) -> Run:
    """The Run of `spec` from one-seed runs in the order of spec.seeds. ``meta["wall_s"]``
    sums the wall time of the distinct stacks they were trained in."""
    if [r.seeds[0] for r in runs] != list(spec.seeds):
        raise ValueError("runs do not match the spec's seeds")
    if len(runs) == 1:
        return runs[0]
    first = runs[0]
    machines = []
    for r in runs:
        if r.meta.get("machine") not in machines:
            machines.append(r.meta.get("machine"))
    stacks = {tuple(r.meta.get("stack", r.seeds)): r.meta.get("wall_s", 0.0) for r in runs}
    return Run(
        spec=spec,
        per_epoch={k: np.concatenate([r.per_epoch[k] for r in runs]) for k in first.per_epoch},
        per_step={k: (first.per_step[k] if k == "step" else
                      np.concatenate([r.per_step[k] for r in runs])) for k in first.per_step},
        state={k: torch.cat([r.state[k] for r in runs]) for k in first.state},
        table=np.concatenate([r.table for r in runs]),
        meta={**{k: v for k, v in first.meta.items() if k not in ("stack", "machine")},
              "wall_s": round(sum(stacks.values()), 3), "stacks": [list(st) for st in stacks],
              "machines": machines})


def machines_of(run: Run) -> list:
    """The machine records of the seeds of a run from the cache (lowent.machine.machine;
    None for an entry that recorded none), each distinct one once."""
    return list(run.meta["machines"]) if "machines" in run.meta else [run.meta.get("machine")]
