"""The claims report: built from recorded fake verdicts (no training), with and without
xdist, parsed back; pytest-html extras; a headless browser render; lowent compare."""
import json
import shutil
import subprocess
from html.parser import HTMLParser

import numpy as np
import pytest

from lowent import compare, exact, report, stats, verdict
from lowent.records import verdict_record
from lowent.claims import CLAIMS
from tests.helpers import run_cli

FAKE_CLAIMS = '''
import numpy as np
import pytest

from lowent import exact, stats, verdict

def _verdict(claim, shift):
    x = np.linspace(0.1, 0.2, 5) + shift
    return verdict.conjunction({"above 0": stats.one_sample(x, 0.0, "greater"),
                              "increasing": exact.trend([x, x + 1, x + 2], "increasing")},
                             claim=claim, statement="a fake claim", paper="paper: 40%",
                             ours=f"ours: {x.mean():.3f}")


def _figures(record_figure):
    record_figure({"kind": "lines", "title": "curve", "xlabel": "epoch", "ylabel": "H (nats)",
                   "series": [{"label": "a", "x": [1, 2, 3], "y": [3.0, 2.9, 2.8],
                               "lo": [2.9, 2.8, 2.7], "hi": [3.1, 3.0, 2.9]}],
                   "hlines": [{"y": 2.85, "label": "H(p_tgt)"}]})
    record_figure({"kind": "hist", "title": "hist", "xlabel": "w", "ylabel": "fraction",
                   "edges": [0, 0.5, 1], "series": [{"label": "d=8", "y": [0.3, 0.7]}]})
    record_figure({"kind": "events", "title": "events", "xlabel": "step", "ylabel": "loss",
                   "ylim": [0.7, 1.0], "series": [{"label": "loss", "x": [0, 1, 2, 3],
                                                   "y": [0.8, 0.9, 0.75, 0.74]}],
                   "ylabel2": "dead", "series2": [{"label": "dead", "x": [0, 2], "y": [0, 0.1]}],
                   "marks": [{"x": [1], "label": "loss spike"}, {"x": [2], "label": "jump"}]})


@pytest.mark.claim("S1")
def test_holds(record_verdict, record_figure):
    """S1. "larger models activate a lower proportion of neurons" (fake)"""
    _figures(record_figure)
    v = record_verdict(_verdict("S1", 0.0))
    assert v.passed


@pytest.mark.claim("S1 figures", expect="contradicted")
@pytest.mark.xfail(strict=True, raises=AssertionError, reason="measured: 12% vs 40%")
def test_does_not_reproduce(record_verdict):
    """S1 (figures). "more than 40%" (fake)"""
    v = record_verdict(_verdict("S1 figures", -10.0))
    assert v.passed


@pytest.mark.claim("S2")
@pytest.mark.skip(reason="not built")
def test_skipped():
    """S2. skipped (fake)"""


@pytest.fixture
def broken():
    raise RuntimeError("no runs")


@pytest.mark.claim("S4")
def test_error(broken):
    """S4. errors in setup (fake)"""
'''


class _Page(HTMLParser):
    """Collects the tags, the verdict table's rows and every external reference."""

    def __init__(self):
        super().__init__()
        self.tags, self.rows, self.external, self.images = [], [], [], []
        self._table, self._row, self._cell = None, None, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append(tag)
        for key in ("src", "href"):
            if key in a and not a[key].startswith(("#", "data:")):
                self.external.append(a[key])
        if tag == "img":
            self.images.append(a.get("src", ""))
        if tag == "table":
            self._table = a.get("class")
        if tag == "tr" and self._table == "verdicts":
            self._row = []
        if tag in ("td", "th") and self._row is not None:
            self._cell = ""

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._row is not None and self._cell is not None:
            self._row.append(self._cell.strip())
            self._cell = None
        if tag == "tr" and self._row is not None:
            self.rows.append(self._row)
            self._row = None
        if tag == "table":
            self._table = None


def parse(text: str) -> _Page:
    p = _Page()
    p.feed(text)
    return p


def fake_results(shift=0.0, outcome_of_first="holds", error=True):
    x = np.linspace(3.5, 3.6, 10) + shift
    v = verdict.conjunction({"below": stats.one_sample(x, 3.61, "less"),
                           "decreasing": exact.trend([x, x - 1, x - 2], "decreasing")},
                          claim="L1", statement="H < H(p_tgt)", paper="below", ours="3.55")
    rec = {"nodeid": "claims/test_low_entropy.py::test_l1", "claim": "L1",
           "marker": "low_entropy", "sentence": "Larger Transformers end below",
           "doc": 'L1. "quote"', "outcome": outcome_of_first, "pytest_outcome": "passed",
           "reason": "", "duration": 1.5, "verdict": verdict_record(v),
           "figures": [{"kind": "scatter", "title": "scatter <b>", "xlabel": "KL (nats)",
                        "ylabel": "H (nats)", "series": [{"label": "T", "x": [0.1, 0.2],
                                                          "y": [3.5, 3.6]}]}]}
    err = {**rec, "nodeid": "claims/test_x.py::test_e", "claim": "S2", "outcome": "error",
           "verdict": None, "figures": [], "reason": "RuntimeError: boom"}
    return {"environment": {"PyTorch": "2.13.0", "profile": "quick"},
            "claims": [rec, err] if error else [rec]}


class TestPage:
    def test_builds_from_fake_verdicts_self_contained(self, tmp_path):
        html_path, json_path = report.write(fake_results(), tmp_path / "r.html")
        page = parse(html_path.read_text())
        assert page.external == []  # no network fetches: every image is inline
        assert len(page.images) == 1 and page.images[0].startswith("data:image/png;base64,")
        header, *rows = page.rows
        assert header[:5] == ["claim", "marker", "claim sentence", "verdict",
                              "expected (share of predictive draws)"]
        assert [r[0] for r in rows] == ["L1", "S2"]
        assert [r[3] for r in rows] == ["holds", "error"]
        assert rows[0][6].startswith("p = ") and rows[0][10] == "3.55" and rows[0][11] == "below"
        assert rows[0][8] == "0.0001" and rows[0][9] == "yes"  # reachable p; Holm over claims
        assert json.loads(json_path.read_text()) == fake_results()

    def test_every_figure_kind_draws_a_png(self):
        for kind in ("lines", "scatter", "hist", "events"):
            fig = {"kind": kind, "title": kind, "edges": [0, 1, 2], "ylim": [0, 1],
                   "series": [{"label": "a", "x": [0, 1], "y": [0.5, 0.6]}],
                   "series2": [{"x": [0, 1], "y": [0, 1]}], "marks": [{"x": [1], "label": "m"}]}
            assert report.figure_png(fig)[:8] == b"\x89PNG\r\n\x1a\n"

    @pytest.mark.parametrize("pytest_outcome, verdict, expected", [
        ("passed", {"passed": True}, "holds"),
        ("xfailed", {"passed": False, "outcome": "inconclusive"}, "inconclusive"),
        ("xfailed", {"passed": False}, "does not reproduce"),  # a report from before outcomes
        ("xfailed", None, "error"),  # an expected failure that never reached its verdict
        ("failed", {"passed": False, "outcome": "contradicted"}, "contradicted"),  # run is red
        ("failed", {"passed": True}, "holds"),  # a strict xfail that now holds; run is red
        ("failed", None, "error"),
        ("error", None, "error"),
        ("skipped", None, "skipped"),
    ])
    def test_outcomes(self, pytest_outcome, verdict, expected):
        assert report.outcome(pytest_outcome, verdict) == expected


ONE_CLAIM = """
import numpy as np
import pytest

from lowent import stats, verdict


@pytest.mark.claim("S1")
def test_holds(record_verdict):
    x = np.linspace(0.1, 0.2, 5)
    v = record_verdict(verdict.conjunction({"above 0": stats.one_sample(x, 0.0, "greater")},
                                           statement="a fake claim"))
    assert v.passed
"""


def _run_fake_suite(pytester, *args):
    pytester.makepyfile(test_fake_claims=FAKE_CLAIMS,
                        test_other="def test_not_a_claim_is_not_reported():\n    pass\n")
    pytester.makeini("[pytest]\naddopts = --strict-markers -ra\n")  # markers come from the registry
    # in this process (no torch import to pay for) unless xdist starts workers anyway
    run = pytester.runpytest_subprocess if "-n" in args else pytester.runpytest
    return run("--lowent-profile=quick", *args)


def _records(path):
    data = json.loads(path.read_text())
    for rec in data["claims"]:
        rec.pop("duration")
        rec["reason"] = rec["reason"][:40]
    return data


class TestPlugin:
    def test_same_report_with_and_without_xdist(self, pytester):
        out1, out2 = pytester.path / "a" / "r.html", pytester.path / "b" / "r.html"
        r1 = _run_fake_suite(pytester, f"--lowent-report={out1}", "-p", "no:cacheprovider")
        r1.assert_outcomes(passed=2, xfailed=1, skipped=1, errors=1)
        r2 = _run_fake_suite(pytester, f"--lowent-report={out2}", "-n", "2")
        r2.assert_outcomes(passed=2, xfailed=1, skipped=1, errors=1)
        a, b = _records(out1.with_name("results.json")), _records(out2.with_name("results.json"))
        assert a["claims"] == b["claims"]
        by_test = {r["nodeid"].split("::")[-1]: r for r in a["claims"]}
        assert set(by_test) == {"test_holds", "test_does_not_reproduce", "test_skipped",
                                "test_error"}
        assert by_test["test_holds"]["outcome"] == "holds"
        assert by_test["test_holds"]["claim"] == "S1" and len(by_test["test_holds"]["figures"]) == 3
        assert by_test["test_does_not_reproduce"]["outcome"] == "contradicted"
        # The XFAIL reason is this run's verdict, not the string the test was marked with.
        full = {r["nodeid"].split("::")[-1]: r for r in json.loads(
            out1.with_name("results.json").read_text())["claims"]}["test_does_not_reproduce"]
        ours = full["verdict"]["ours"]
        assert full["reason"].startswith("contradicted, as expected (100% of 200 predictive draws)")
        assert f": {ours} (p = " in full["reason"]
        assert "against: above 0" in full["reason"]
        assert by_test["test_holds"]["engine"].startswith("trie; calibrated")
        terminal = r1.stdout.str()
        assert "lowent verdicts (profile quick)" in terminal
        assert any(ln.startswith("S1 figures") and "contradicted" in ln
                   for ln in r1.stdout.lines)
        assert f"contradicted, as expected (100% of 200 predictive draws): {ours}" in terminal
        assert by_test["test_does_not_reproduce"]["claim"] == "S1 figures"
        assert by_test["test_error"]["claim"] == "S4"
        assert by_test["test_error"]["marker"] == "loss_spikes"
        assert by_test["test_holds"]["sentence"] == CLAIMS["S1"].sentence
        assert by_test["test_skipped"]["outcome"] == "skipped"
        assert by_test["test_error"]["outcome"] == "error"
        assert "no runs" in by_test["test_error"]["reason"]
        assert a["environment"]["profile"] == "quick" and a["environment"]["PyTorch"]
        page = parse(out2.read_text())
        assert page.external == [] and len(page.images) == 3
        # "Measured" labels only what this run computed: a skip's reason is the test's own
        html = out2.read_text()
        assert "<b>Skipped:</b> not built</p>" in html and "Measured:</b> Skipped" not in html
        assert "<b>Measured:</b> contradicted, as expected" in html and "<b>Error:</b>" in html
        # registry order: S1, S1 figures, S2, S4
        assert [r[3] for r in page.rows[1:]] == ["holds", "contradicted", "skipped", "error"]
        # the smallest reachable p (Page's test over 3 sizes of 5 seeds, its resampled floor)
        # and the correction over all claims of the run (two verdicts: S1 holds at 2 x its p)
        x = np.linspace(0.1, 0.2, 5)
        floor = exact.trend([x, x + 1, x + 2], "increasing").min_pvalue
        assert page.rows[1][8] == f"{floor:.3g}" and page.rows[1][9] == "yes"
        assert page.rows[2][9] == "-"

    def test_none_writes_nothing(self, pytester):
        r = _run_fake_suite(pytester, "--lowent-report=none")
        r.assert_outcomes(passed=2, xfailed=1, skipped=1, errors=1)
        assert not list(pytester.path.rglob("results.json"))

    def test_a_report_that_cannot_be_written_keeps_the_verdicts_and_fails_the_run(
            self, pytester, monkeypatch):
        """B2: the report path was writable at the start and is not at the end (a full disk):
        the terminal's verdict table stays, one line says so, the run exits 1."""
        from lowent.plugin import report as plugin_report

        def full(results, path):
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(plugin_report, "write", full)
        pytester.makepyfile(test_one=ONE_CLAIM)
        r = pytester.runpytest(f"--lowent-report={pytester.path / 'r.html'}", "-p",
                               "no:cacheprovider")
        r.assert_outcomes(passed=1)
        r.stdout.fnmatch_lines(["*lowent verdicts*", "S1 * holds*",
                                "lowent: the claims report could not be written to */r.html (No "
                                "space left on device); the verdicts above are this run's"])
        assert "Traceback" not in r.stdout.str() and r.ret == pytest.ExitCode.TESTS_FAILED

    def test_verdict_is_attached_to_pytest_html(self, pytester):
        pytest.importorskip("pytest_html")
        out = pytester.path / "ph.html"
        r = _run_fake_suite(pytester, f"--html={out}", "--self-contained-html",
                            "--lowent-report=none")
        r.assert_outcomes(passed=2, xfailed=1, skipped=1, errors=1)
        text = out.read_text()
        assert "lowent-verdict" in text and "S1: holds" in text


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed")
def test_page_renders_in_a_headless_browser(tmp_path):
    html_path, _ = report.write(fake_results(), tmp_path / "r.html")
    shot = tmp_path / "shot.png"
    common = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-extensions",
              "--enable-logging=stderr", "--v=0"]
    r = subprocess.run([*common, f"--screenshot={shot}", "--window-size=1280,2000",
                        html_path.as_uri()], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert shot.stat().st_size > 10_000 and shot.read_bytes()[:4] == b"\x89PNG"
    for bad in ("Uncaught", "Failed to load resource", "ERR_"):
        assert bad not in r.stderr, r.stderr[-2000:]
    dom = subprocess.run([*common, "--dump-dom", html_path.as_uri()], capture_output=True,
                         text=True, timeout=120)
    assert dom.returncode == 0 and "does not reproduce" not in dom.stdout
    assert [r[3] for r in parse(dom.stdout).rows[1:]] == ["holds", "error"]


CRASHING_CLAIMS = '''
import numpy as np
import pytest

from claims.marks import claim
from lowent import exact, stats, verdict


@pytest.fixture
def broken():
    raise RuntimeError("the cache is a file")


@claim("L1", expect="inconclusive", why="d = 64 does not end below H(p_tgt)")
def test_fixture_raises(broken):
    """L1. fake"""


@claim("L2", expect="contradicted", why="RNNs end above H(p_tgt)")
def test_nan_data(record_verdict):
    """L2. fake"""
    x = np.array([0.1, np.nan, 0.2])
    v = record_verdict(verdict.conjunction({"below": stats.one_sample(x, 0.5, "less")},
                                         claim="L2", statement="fake"))
    assert v.passed


@claim("S1", expect="inconclusive", why="fewer active")
def test_nan_p_value(record_verdict):
    """S1. fake: a family whose test returns a NaN p-value"""
    nan = float("nan")
    part = stats.Result(procedure="fake", statistic=nan, pvalue=nan, n=3, effect=nan,
                        effect_name="fake", ci=(nan, nan))
    v = record_verdict(verdict.Verdict(claim="S1", statement="fake", parts={"fake": part}))
    assert v.passed


@claim("L3", expect="contradicted", why="the non-sparse entropy rises")
def test_body_raises():
    """L3. fake"""
    raise KeyError("no such run")


def _above_when_claimed_below(claim_id):
    x = np.linspace(0.1, 0.2, 5)
    return verdict.conjunction({"below": stats.one_sample(x, 0.0, "less")}, claim=claim_id,
                             statement="fake")


@claim("F1", expect="contradicted", why="full ends above H(p_tgt)")
def test_real_finding(record_verdict):
    """F1. fake"""
    assert record_verdict(_above_when_claimed_below("F1")).passed


@claim("S2", expect="inconclusive", why="expected not shown either way")
def test_outcome_changed(record_verdict):
    """S2. fake: expected inconclusive, the data contradict the claim"""
    assert record_verdict(_above_when_claimed_below("S2")).passed


@claim("S4", expect="inconclusive", why="too few events")
def test_cannot_reach_alpha(record_verdict):
    """S4. fake: a Poisson test of 'no events' over too little exposure to ever pass"""
    v = record_verdict(verdict.conjunction({"none": exact.rate_below(np.zeros(2), 1.0, 0.05)},
                                         claim="S4", statement="fake"))
    assert v.passed
'''


def test_an_exception_in_a_claim_test_is_an_error_never_a_finding(pytester, monkeypatch):
    """A strict xfail accepts only a failed assertion on the verdict with the expected
    outcome: a raising fixture, NaN data, an exception in the body and a design that cannot
    reach alpha are errors (terminal, results.json, exit code); another outcome than the
    expected one fails; the genuine finding is still an xfail."""
    from pathlib import Path

    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).resolve().parents[1]))  # claims.marks
    pytester.makepyfile(test_crashing=CRASHING_CLAIMS)
    pytester.makeini("[pytest]\naddopts = --strict-markers -p no:cacheprovider\n")
    out = pytester.path / "r.html"
    res = pytester.runpytest(f"--lowent-report={out}", "--lowent-profile=quick")
    res.assert_outcomes(failed=5, errors=1, xfailed=1)
    assert res.ret != 0
    recs = {r["nodeid"].split("::")[-1]: r for r in json.loads(
        out.with_name("results.json").read_text())["claims"]}
    assert {k: r["outcome"] for k, r in recs.items()} == {
        "test_fixture_raises": "error", "test_nan_data": "error", "test_nan_p_value": "error",
        "test_body_raises": "error", "test_real_finding": "contradicted",
        "test_outcome_changed": "contradicted", "test_cannot_reach_alpha": "error"}
    assert recs["test_outcome_changed"]["pytest_outcome"] == "failed"
    reason = recs["test_outcome_changed"]["reason"]
    assert "contradicted in this run, expected inconclusive (reached in " in reason
    assert "of 200 predictive draws): the measurements support the change" in reason
    assert "smallest reachable p is 0.905" in recs["test_cannot_reach_alpha"]["reason"]
    assert "finite" in recs["test_nan_data"]["reason"]
    assert "not a number" in recs["test_nan_p_value"]["reason"]


class TestCompare:
    def _write(self, tmp_path, name, data):
        p = tmp_path / name
        p.write_text(json.dumps(data))
        return str(p)

    def test_identical_reports_have_no_flip_and_no_shift(self, tmp_path, capsys):
        a = self._write(tmp_path, "a.json", fake_results(error=False))
        assert compare.main(a, a) == 0
        out = capsys.readouterr().out
        assert "verdict flips: 0" in out and "): 0" in out

    def test_a_flip_exits_non_zero_and_a_shift_is_listed(self, tmp_path, capsys):
        a = self._write(tmp_path, "a.json", fake_results())
        b = self._write(tmp_path, "b.json", fake_results(shift=0.05,
                                                         outcome_of_first="inconclusive"))
        assert compare.main(a, b) == 1
        out = capsys.readouterr().out
        assert "FLIP claims/test_low_entropy.py::test_l1: holds -> inconclusive" in out
        assert "SHIFT" in out

    def test_tests_in_one_report_only_are_counted_and_the_first_named(self, tmp_path,
                                                                      capsys):
        full = fake_results(error=False)
        for i in range(8):
            extra = json.loads(json.dumps(full["claims"][0]))
            extra["nodeid"] = f"claims/test_other.py::test_{i}"
            full["claims"].append(extra)
        subset = json.loads(json.dumps(full))
        subset["claims"] = subset["claims"][:1]
        a, b = self._write(tmp_path, "a.json", full), self._write(tmp_path, "b.json", subset)
        assert compare.main(a, b) == 0
        out = capsys.readouterr().out
        assert "tests only in OLD: 8" in out and "... and 3 more" in out
        assert out.count("  only in OLD:") == compare.ONLY_LISTED
        assert "only in NEW" not in out

    def test_labels_in_a_verdict_are_not_metrics(self, tmp_path, capsys):
        """An F-test's verdict carries its group labels; compare skips them."""
        data = fake_results(error=False)
        x = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]
        data["claims"][0]["verdict"]["parts"][0]["data"]["groups"] = ["a", "a", "a", "b", "b", "b"]
        data["claims"][0]["verdict"]["parts"][0]["data"]["flags"] = [True, False]
        data["claims"][0]["verdict"]["parts"][0]["data"]["x2"] = x
        a = self._write(tmp_path, "a.json", data)
        assert compare.main(a, a) == 0
        names = compare._arrays(data["claims"][0])
        assert any(n.endswith("/ x2") for n in names)
        assert not any(n.endswith(("/ groups", "/ flags")) for n in names)

    def test_an_error_in_new_exits_non_zero(self, tmp_path, capsys):
        data = fake_results()
        data["claims"][0].update(outcome="error", reason="RuntimeError: no runs")
        a = self._write(tmp_path, "a.json", data)
        assert compare.main(a, a) == 1
        assert "ERROR claims/test_low_entropy.py::test_l1: RuntimeError: no runs" in (
            capsys.readouterr().out)

    def test_noise_alone_is_not_a_shift(self, tmp_path):
        rng = np.random.default_rng(0)
        old, new = fake_results(), fake_results()
        for part in new["claims"][0]["verdict"]["parts"]:
            for k, v in part["data"].items():
                part["data"][k] = (np.asarray(v) + rng.normal(0, 1e-4, len(v))).tolist()
        assert compare.compare(old, new)["shifts"] == []

    def test_cli_and_bad_files(self, tmp_path):
        a = self._write(tmp_path, "a.json", fake_results(error=False))
        junk = self._write(tmp_path, "junk.json", {"something": 1})
        assert run_cli("compare", a, a).returncode == 0
        r = run_cli("compare", a, junk)
        assert r.returncode == 2 and "not a lowent results.json" in r.stderr
        for name, body in (("claims_empty_record.json", '{"claims": [{}]}'),
                           ("env_number.json", '{"claims": [], "environment": 3}')):
            bad = self._write(tmp_path, name, json.loads(body))
            for cmd in (("compare", a, bad), ("report", bad, str(tmp_path / "x.html")),
                        ("stability", f"x={bad}"), ("replication", "--judge", bad)):
                r = run_cli(*cmd)
                assert r.returncode == 2 and "not a lowent results.json" in r.stderr, (cmd, r)
        (tmp_path / "latin1.json").write_bytes(b'{"claims": ["\xff"]}')
        r = run_cli("compare", a, str(tmp_path / "latin1.json"))
        assert r.returncode == 2 and "latin1.json" in r.stderr
        r = run_cli("report", a, str(tmp_path / "again.html"))
        assert r.returncode == 0 and (tmp_path / "again.html").stat().st_size > 1000

    def test_only_torch_may_vary_schema_and_profile_must_match(self, tmp_path, capsys):
        base = fake_results(error=False)
        base["environment"].update({"schema": 2, "SciPy": "1.17.1", "PyTorch build": "CPU"})
        other = json.loads(json.dumps(base))
        other["environment"].update({"PyTorch": "2.15.0", "SciPy": "1.18.0",
                                     "PyTorch build": "CUDA 12.8", "wall time": "9 s"})
        a, b = self._write(tmp_path, "a.json", base), self._write(tmp_path, "b.json", other)
        assert compare.main(a, b) == 0
        out = capsys.readouterr().out
        assert "differ in more than PyTorch: 2 other entries" in out
        assert "DIFFERS SciPy: 1.17.1 -> 1.18.0" in out and "DIFFERS PyTorch build" in out
        assert "wall time" not in out  # per-run entries are not differences
        for key, value in (("schema", 1), ("profile", "paper")):
            odd = json.loads(json.dumps(base))
            odd["environment"][key] = value
            c = self._write(tmp_path, f"{key}.json", odd)
            with pytest.raises(compare.Incomparable, match=f"differ in {key}"):
                compare.main(a, c)
            assert compare.main(a, c, allow_different=True) == 0
        r = run_cli("compare", a, c)
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
        assert "--allow-different" in r.stderr


def test_the_sensitivity_table_is_claim_by_setting_with_our_reading_first():
    from lowent.report import OURS, render, setting_grid

    def rec(label, outcome):
        return {"nodeid": label, "claim": label.split(": ")[0], "outcome": outcome,
                "verdict": {"claim": label, "outcome": outcome}}

    claims = [rec("L1", "holds"), rec("X dropout 0: L1", "inconclusive"),
              rec("X pre-LN: L1", "holds"), rec("X pre-LN: L2", "contradicted"),
              rec("D1 low: L1", "inconclusive")]
    columns, cells = setting_grid(claims)
    assert columns == [OURS, "dropout 0", "pre-LN"]
    assert cells == {"L1": {OURS: "holds", "dropout 0": "inconclusive", "pre-LN": "holds"},
                     "L2": {"pre-LN": "contradicted"}}
    page = render({"environment": {}, "claims": claims})
    assert "Sensitivity: each verdict under other readings" in page
    assert setting_grid([rec("L1", "holds")]) == ([], {})
    assert "Sensitivity:" not in render({"environment": {}, "claims": [rec("L1", "holds")]})
