"""Checks of the paths a run writes (the cache, a report, a trained run's directory), made
before any training: a path that cannot be used is one line naming it and what to do, not a
traceback after an hour of training."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from lowent.config import SpecError


def _nearest_existing(p: Path, what: str) -> Path:
    """The nearest of `p` and its parents that exists; SpecError where one on the way is a
    symbolic link to nothing (or a loop), which no write through it can use."""
    while not p.exists() and p != p.parent:
        if p.is_symlink():
            raise SpecError(f"{what}: {str(p)!r} is a symbolic link to nothing (or a loop of "
                            "links); give a path you can write")
        p = p.parent
    return p


def _probe(directory: Path, what: str, path) -> None:
    """Write and remove a file in `directory`: the one test of writability that holds for
    every user (root included) and file system (read-only mounts, /proc)."""
    try:
        fd, name = tempfile.mkstemp(prefix=".lowent-probe-", dir=directory)
        os.close(fd)
        os.unlink(name)
    except OSError as exc:
        raise SpecError(f"{what} {str(path)!r} is not writable ({exc.strerror or exc}); give a "
                        f"directory you can write") from None


def writable_dir(path, what: str, create: bool = True) -> Path:
    """`path` as a directory this process can write (created when `create`); SpecError
    otherwise. `what` names it in the message, e.g. "the cache (--lowent-cache)"."""
    if not str(path).strip():
        raise SpecError(f"{what} is empty; give a directory")
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise SpecError(f"{what} {str(path)!r} is a file, not a directory; give a directory")
    base = _nearest_existing(p.absolute(), what)
    if not base.is_dir():
        raise SpecError(f"{what} {str(path)!r} cannot be created: {str(base)!r} is a file")
    if create and base != p.absolute():
        try:
            p.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SpecError(f"{what} {str(path)!r} cannot be created "
                            f"({exc.strerror or exc}); give a directory you can write") from None
        base = p
    _probe(base, what, path)
    return p


def writable_file(path, what: str) -> Path:
    """`path` as a file this process can write (its directory need not exist yet: the nearest
    existing one must be writable); SpecError otherwise. Nothing is created."""
    if not str(path).strip():
        raise SpecError(f"{what} is empty; give a file name")
    p = Path(path)
    if p.is_dir():
        raise SpecError(f"{what} {str(path)!r} is a directory; give a file name")
    writable_dir(p.parent, what.split(" (")[0] + "'s directory", create=False)
    return p
