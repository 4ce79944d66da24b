"""pytest plugin: the claims report (HTML + results.json) and pytest-html extras.

Claim tests are the tests marked ``@pytest.mark.claim(id)`` (ids of lowent.claims.CLAIMS). On
each worker (or the only process) the plugin tags a claim test's reports with its claim id,
marker and sentence (from the registry) and its docstring (the paper's words); tests add
their Verdict (``record_verdict``) and figure data (``record_figure``) as user properties,
which pytest-xdist ships to the controller with the reports. The controller (or the only
process) gathers them and, at the end of the session, writes the page with
:func:`lowent.report.write`. The same records arrive with and without xdist, so the page is
the same.
"""
from __future__ import annotations

import os
import platform
import textwrap
import subprocess
import time
from pathlib import Path

import pytest

from lowent.plugin.markers import claim_of
from lowent.plugin.session import session_of
from lowent.machine import fingerprint, machine
from lowent.seedtext import seeds_entry
from lowent.claims import AA_CHECK, CLAIMS, engine_note
from lowent.report import across_machines, claim_label, outcome, stacks_record, write
from lowent.stability import UNSTABLE, Stability, describe

NOT_TRAINED = "not trained"  # a claim skipped because its layout's verdict differs


def pytest_configure(config):
    if not hasattr(config, "workerinput"):  # the controller, or a run without xdist
        config.pluginmanager.register(ReportWriter(config, session_of(config).report),
                                      "lowent-report-writer")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    claim = claim_of(item)
    if claim is not None:
        doc = " ".join((getattr(item.obj, "__doc__", None) or "").split())
        session = session_of(item.config)
        prof = session.profile
        engine = engine_note(claim.id, prof)
        if session.not_judged(claim.id):
            engine = (f"{NOT_TRAINED}: its {prof.layout} verdict differs from faithful "
                      "training's (claims/CALIBRATION.md)")
        item.user_properties.append(("lowent_claim", {
            "claim": claim.id, "marker": claim.marker, "sentence": claim.sentence, "doc": doc,
            "engine": engine}))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    result = yield
    report = result.get_result()
    if report.when != "call":
        return
    verdict = next((v for k, v in item.user_properties if k == "lowent_verdict"), None)
    if verdict is not None and hasattr(report, "wasxfail"):
        # What the XFAIL line calls measured is this run's figure, not a stored string.
        report.wasxfail = (f"{expectation(verdict)}: {verdict['ours']} (p = "
                           f"{verdict['p_value']:.3g}; {verdict.get('reason', '')})")
    if verdict is not None and item.config.pluginmanager.hasplugin("html"):
        # pytest-html is active: show the verdict in its report too
        from pytest_html import extras

        report.extras = [*getattr(report, "extras", []), extras.html(
            f"<div class='lowent-verdict'><b>{verdict['claim']}: "
            f"{verdict.get('outcome', 'holds' if verdict['passed'] else 'does not hold')}</b> "
            f"(p = {verdict['p_value']:.3g}); ours: {verdict['ours']}; paper: "
            f"{verdict['paper']}</div>")]


def expectation(verdict: dict) -> str:
    """This run's outcome against the expected one, as the stability rule judged it, e.g.
    "outcome unstable: not equivalent in this run, expected contradicted (reached in 41% of
    200 predictive draws)"."""
    outcome = verdict.get("outcome", "does not hold")
    if "stability" not in verdict:
        return f"{outcome} in this run"
    line = describe(outcome, verdict["expected"], Stability.from_dict(verdict["stability"]))
    return f"{UNSTABLE}: {line}" if verdict.get("status") == UNSTABLE else line


def _short(report) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None:  # "RuntimeError: no runs"
        return crash.message[:500]
    text = getattr(report, "longreprtext", "") or ""
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return (lines[-1] if lines else "")[:500]


class ReportWriter:
    """Gathers claim-test records on the controller and writes the report at the end."""

    def __init__(self, config, path: Path | None):
        self.config, self.path = config, path
        self.records: dict[str, dict] = {}
        self.machines: list = []  # the machine records of the runs the claim tests read
        self.stacks: set = set()  # (configuration key, seeds of a stack) of those runs
        self.t0 = time.time()

    def pytest_runtest_logreport(self, report):
        props = [(k, v) for k, v in report.user_properties if k.startswith("lowent_")]
        tag = next((v for k, v in props if k == "lowent_claim"), None)
        if tag is None:
            return
        rec = self.records.setdefault(report.nodeid, {
            "nodeid": report.nodeid, "claim": tag["claim"], "marker": tag["marker"],
            "sentence": tag["sentence"], "engine": tag.get("engine", ""),
            "doc": tag["doc"], "outcome": "error", "pytest_outcome": "", "reason": "",
            "duration": 0.0, "verdict": None, "figures": []})
        rec["duration"] += report.duration
        for k, v in props:
            if k == "lowent_machines":
                for m in v:
                    if m not in self.machines:
                        self.machines.append(m)
            elif k == "lowent_stacks":
                self.stacks.update((key, tuple(st)) for key, st in v)
        verdict = next((v for k, v in props if k == "lowent_verdict"), None)
        if verdict is not None:
            rec["verdict"] = verdict
        figures = [v for k, v in props if k == "lowent_figure"]
        if figures:
            rec["figures"] = figures
        if report.passed and report.when != "call":
            return
        if report.when == "teardown" or report.failed and report.when == "setup":
            rec["pytest_outcome"] = "error"
        elif report.skipped:
            rec["pytest_outcome"] = "xfailed" if hasattr(report, "wasxfail") else "skipped"
        else:
            rec["pytest_outcome"] = report.outcome
        rec["outcome"] = outcome(rec["pytest_outcome"], rec["verdict"])
        if rec["pytest_outcome"] == "xfailed":
            rec["reason"] = report.wasxfail
        elif report.skipped and isinstance(report.longrepr, tuple):
            rec["reason"] = str(report.longrepr[2])
        elif report.failed:
            rec["reason"] = _short(report)

    def claims(self) -> list[dict]:
        """The records, in the registry's order."""
        order = list(CLAIMS)
        return sorted(self.records.values(), key=lambda r: (
            order.index(r["claim"]) if r["claim"] in order else len(order), r["nodeid"]))

    def pytest_sessionfinish(self, session):
        if not self.records or self.path is None:
            return
        results = {"environment": environment(self.config, time.time() - self.t0,
                                              self.machines, self.stacks),
                   "claims": self.claims()}
        try:
            self.written = write(results, self.path)
        except OSError as exc:  # checked writable at the start; lost since (disk, permissions)
            self.unwritten = f"{exc.strerror or exc}"
            if session.exitstatus == 0:  # the run asked for a report and has none
                session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter):
        """A compact verdict table at the end of any run of claim tests."""
        if not self.records:
            return
        tr = terminalreporter
        tr.write_sep("=", f"lowent verdicts (profile {session_of(self.config).profile_name})")
        if len(self.machines) > 1:
            tr.write_line(f"lowent: {trained_on(self.machines)}; their outcomes are judged "
                          "against the seed noise, never bit for bit", yellow=True)
        width = max(60, tr._tw.fullwidth)
        for rec in self.claims():
            v = rec["verdict"] or {}
            p = f"p = {v['p_value']:.3g}" if v.get("p_value") is not None else "no verdict"
            tr.write_line(f"{claim_label(rec):<11} {rec['outcome']:<19} {p:<13} "
                          f"{short_engine(rec['engine'])}")
            details = [expectation(v) if "stability" in v else "",
                       across_machines(rec["nodeid"]),
                       v.get("ours") or rec["reason"] or (
                           rec["figures"][0].get("title", "") if rec["figures"] else "")]
            for detail in filter(None, details):
                for line in textwrap.wrap(detail, width - 1, initial_indent=" " * 12,
                                          subsequent_indent=" " * 12):
                    tr.write_line(line)
        if getattr(self, "written", None):
            html_path, json_path = self.written
            tr.write_line(f"lowent claims report: {html_path} (+ {json_path.name})")
        elif getattr(self, "unwritten", None):
            tr.write_line(f"lowent: the claims report could not be written to {self.path} "
                          f"({self.unwritten}); the verdicts above are this run's", red=True)


def short_engine(note: str) -> str:
    """The terminal's few words for lowent.claims.engine_note (the report has it whole)."""
    if note.startswith(NOT_TRAINED):
        return f"{NOT_TRAINED}, differs from paper profile"
    if note.startswith("trie; calibrated"):
        return "trie, calibrated"
    if note.startswith("trie: approximate dropout; its verdict differs"):
        return "trie, differs from paper profile"
    if note.startswith("trie:"):
        return "trie, approximate (not calibrated)"
    if note.startswith("compares the layouts"):
        return "layouts compared"
    if note.endswith(AA_CHECK):
        return note.split(" runs;")[0] + ", A/A check"
    return note


def trained_on(machines: list) -> str:
    """Where the runs behind the verdicts were trained: one machine record's line, or how
    many machines a shared cache mixed, each named."""
    if len(machines) == 1:
        return fingerprint(machines[0])
    return (f"runs trained on mixed machines ({len(machines)}): "
            + "; ".join(fingerprint(m) for m in machines))


def environment(config, wall_s: float, machines: list | None = None, stacks=()) -> dict:
    """What a reader needs to know about the run behind the verdicts."""
    import numpy
    import torch

    import lowent
    from lowent.cache import code_version, device_tag

    root = Path(str(config.rootpath))
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    session = session_of(config)
    name, prof = session.profile_name, session.profile
    workers = getattr(config.option, "numprocesses", None)
    import scipy

    from lowent.report import SCHEMA

    return {
        "schema": SCHEMA,
        "lowent": f"{lowent.__version__} ({commit or 'commit unknown'})",
        "PyTorch": torch.__version__,
        "PyTorch build": f"CUDA {torch.version.cuda}" if torch.version.cuda else "CPU",
        "Python": platform.python_version(),
        "NumPy": numpy.__version__, "SciPy": scipy.__version__, "platform": platform.platform(),
        "device": f"{device_tag(session.device)} (claim runs; {os.cpu_count()} CPU "
                  f"cores, {workers or 'no'} xdist workers)",
        "training code": code_version(),
        "machine": machine(session.device),
        "run machines": list(machines or []),
        "run stacks": stacks_record(stacks),
        "profile": name,
        "seeds": seeds_entry(prof.seeds),
        "epochs": prof.epochs,
        "wall time": f"{wall_s:.1f} s",
        "finished": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }
