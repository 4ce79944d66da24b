"""Content-addressed store of trained runs.

An entry is a directory ``<root>/<key>/`` holding what :meth:`Run.save` writes (spec.json,
trace.json, weights.safetensors) plus ``manifest.json`` with the sha256 of each file. The key
hashes the RunSpec, the code version (the source of every module that shapes a trained run),
the torch version and the device, so a change to any of them trains anew.

Writes are atomic: an entry is written into a temporary directory and renamed into place.
One ``filelock`` per key serialises workers, so pytest-xdist workers never train the same
run twice. An entry that is corrupt (a file missing, unreadable or with a wrong checksum) or
foreign (made for another spec or key) is never used: it is reported with a warning and
retrained. Location: ``$LOWENT_CACHE``, else ``.lowent-cache/`` in the working directory.
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Callable

import torch
from filelock import FileLock, Timeout

import lowent
from lowent.config import RunSpec
from lowent.engine import Run, resolve_device, train

FILES = ("spec.json", "trace.json", "weights.safetensors")
# Modules whose source shapes a trained run; editing any of them changes every key.
TRAINING_SOURCES = ("config.py", "target.py", "contexts.py", "engine.py", "optim.py", "metrics.py",
                    "probes.py", "models/__init__.py", "models/layers.py",
                    "models/transformer.py", "models/rnn.py")


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

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root or os.environ.get("LOWENT_CACHE") or ".lowent-cache")

    def path(self, spec: RunSpec, device="cpu") -> Path:
        return self.root / entry_key(spec, device)

    def load(self, spec: RunSpec, device="cpu") -> Run | None:
        """The stored run of `spec`, None if absent; raises CorruptEntry if it is unusable."""
        key = entry_key(spec, device)
        d = self.root / key
        if not d.exists():
            return None
        try:
            manifest = json.loads((d / "manifest.json").read_text())
        except (OSError, ValueError) as exc:
            raise CorruptEntry(f"manifest unreadable: {exc}") from None
        if manifest.get("key") != key or manifest.get("spec_key") != spec.key():
            raise CorruptEntry("entry belongs to another spec or key (foreign entry)")
        for name in FILES:
            want = manifest.get("files", {}).get(name)
            if not (d / name).is_file():
                raise CorruptEntry(f"{name} is missing")
            if _sha256(d / name) != want:
                raise CorruptEntry(f"{name} does not match its checksum")
        try:
            run = Run.load(d)
        except Exception as exc:  # any parse failure makes the entry unusable
            raise CorruptEntry(f"cannot read the run: {type(exc).__name__}: {exc}") from None
        if run.spec != spec:
            raise CorruptEntry("stored spec differs from the requested spec (foreign entry)")
        return run

    def store(self, run: RunSpec | Run, device="cpu") -> Path:
        """Write `run` atomically under its key (replacing whatever was there)."""
        key = entry_key(run.spec, device)
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{key}-", dir=self.root))
        try:
            run.save(tmp)
            manifest = {"key": key, "spec_key": run.spec.key(), "code": code_version(),
                        "torch": torch.__version__, "device": device_tag(device),
                        "files": {name: _sha256(tmp / name) for name in FILES}}
            (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1))
            final = self.root / key
            if final.exists():
                shutil.rmtree(final)
            os.replace(tmp, final)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        return final

    def get(self, spec: RunSpec, device="cpu", progress: bool = False,
            train_fn: Callable[..., Run] = train, blocking: bool = True) -> Run | None:
        """The run of `spec`: loaded if a valid entry exists, else trained once and stored.

        Holds the key's file lock throughout, so concurrent callers train it only once. With
        blocking=False, returns None at once when another process holds the lock.
        """
        key = entry_key(spec, device)
        self.root.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(self.root / f"{key}.lock"))
        try:
            lock.acquire(timeout=-1 if blocking else 0)
        except Timeout:
            return None
        try:
            try:
                run = self.load(spec, device)
                if run is not None:
                    return run
            except CorruptEntry as exc:
                warnings.warn(f"lowent cache: entry {key} is unusable ({exc}); retraining",
                              CacheWarning, stacklevel=2)
            run = train_fn(spec, device=device, progress=progress)
            self.store(run, device)
            return run
        finally:
            lock.release()
