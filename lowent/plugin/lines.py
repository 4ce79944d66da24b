"""Progress lines of a claims session. Every process that trains appends its lines to one
file per session; the controller (or the only process) prints them as they come, so they
show under xdist and when piped."""
from __future__ import annotations

import threading
import uuid
from pathlib import Path
from typing import Callable

import pytest

from lowent.plugin.session import session_of


def progress_writer(config) -> Callable[[str], None]:
    """Append a line to the session's progress file (a no-op when there is none)."""
    path = getattr(config, "workerinput", {}).get("lowent_progress") or getattr(
        config, "_lowent_progress", None)

    def write(line: str) -> None:
        if path:
            with open(path, "a", encoding="utf-8") as f:
                f.write(line + "\n")

    return write


def pytest_configure(config):
    if not hasattr(config, "workerinput"):  # the controller, or the only process
        path = session_of(config).cache.root / ".progress" / f"{uuid.uuid4().hex}.log"
        config._lowent_progress = str(path)
        config.pluginmanager.register(ProgressPrinter(config, path), "lowent-progress")


class ProgressPrinter:
    """On the controller: prints new lines of the progress file every second, dropping a
    line that repeats the one before (each worker announces the same plan).

    In one process (no xdist) the tests run beside the printing thread, and a line printed
    while a test runs lands in that test's captured output (lost when it passes): there the
    thread waits while a test runs, and the lines written during it (a claim test that
    trains what it needs itself) are printed when it ends."""

    def __init__(self, config, path: Path):
        self.config, self.path = config, path
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.offset, self.last = 0, None
        self.lock = threading.Lock()  # the thread's ticks and a caller's flush, in turn
        self.alone = False  # no xdist: tests run in this process
        self.in_test = False

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node):  # pytest-xdist: hand each worker the file
        node.workerinput["lowent_progress"] = str(self.path)

    def pytest_sessionstart(self, session):
        self.alone = not self.config.pluginmanager.hasplugin("dsession")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.touch()
        self.thread.start()

    def pytest_runtest_logstart(self, nodeid, location):
        if self.alone:
            with self.lock:
                self.in_test = True

    def pytest_runtest_logfinish(self, nodeid, location):
        if self.alone:
            with self.lock:
                self.in_test = False
            self.flush()

    def _loop(self):
        while not self.stop.wait(1.0):
            self.flush(tick=True)

    def flush(self, tick: bool = False):
        """Print the new lines of the file, now (a caller's: training ends just before the
        tests start, and a test just ended), or at the thread's tick unless a test runs."""
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        with self.lock:
            if tick and self.in_test:
                return
            try:
                with open(self.path, "rb") as f:  # offsets in bytes: lines may be non-ASCII
                    f.seek(self.offset)
                    chunk = f.read()
            except OSError:
                return
            lines = chunk.split(b"\n")
            self.offset += len(chunk) - len(lines[-1])  # keep a partial last line for later
            for line in (raw.decode("utf-8", "replace") for raw in lines[:-1]):
                if line and line != self.last and reporter is not None:
                    reporter.write_line(line)
                self.last = line

    def pytest_sessionfinish(self, session):
        if self.thread.is_alive():
            self.stop.set()
            self.thread.join(5)
        self.flush()
        self.path.unlink(missing_ok=True)
