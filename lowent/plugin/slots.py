"""Training slots: at most n processes sharing a cache train at once."""
from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Iterator

from filelock import FileLock, Timeout


class TrainingSlots:
    """At most `n` processes train at once: a slot is one of n file locks under the cache's
    ``slots/``, held while a process trains a run (never while it waits for one).

    With more xdist workers than cores (``-n 4`` on 2 cores, one torch thread each) four
    trainings share two cores, and each core switches between two of them; the workers
    beyond the slots wait, and the runs finish sooner with the same numbers."""

    def __init__(self, root: Path, n: int, poll_s: float = 0.5):
        self.dir, self.poll_s, self.n = Path(root) / "slots", poll_s, n
        self.locks: dict[int, FileLock] = {}  # made as they are first tried: n may be huge

    def _lock(self, k: int) -> FileLock:
        if k not in self.locks:
            self.locks[k] = FileLock(str(self.dir / f"{k}.lock"))
        return self.locks[k]

    @contextlib.contextmanager
    def hold(self) -> Iterator[int]:
        """Wait for a free slot and hold it for the body; yields the slot's number."""
        self.dir.mkdir(parents=True, exist_ok=True)
        while True:
            for k in range(self.n):
                lock = self._lock(k)
                try:
                    lock.acquire(timeout=0)
                except Timeout:
                    continue
                try:
                    yield k
                finally:
                    lock.release()
                return
            time.sleep(self.poll_s)


def session_slots(session) -> TrainingSlots | None:
    """The session's training slots, in its cache (None: no limit)."""
    return None if session.slots is None else TrainingSlots(session.cache.root, session.slots)
