"""The claims registry (lowent.claims) and what pytest derives from it: markers, -m/-k
selection by claim id, a clear error for an unknown claim or an unregistered run set."""
import dataclasses
from pathlib import Path

import pytest

from lowent.claims import CLAIMS, RUN_SETS, Claim, get_claim, keyword, markers, validate
from lowent.claims.kl_loss import F2
from lowent.claims.low_entropy import L1, L2, L3
from lowent.claims.residual_paths import R1
from lowent.config import SpecError
from lowent.profiles import get_profile

FAKE = '''
import pytest


@pytest.mark.claim("R1")
def test_trend():
    pass


@pytest.mark.claim("R1 figures")
def test_figures():
    pass


@pytest.mark.claim("L1")
def test_low():
    pass


def test_not_a_claim():
    pass
'''


def _marked_claims() -> dict[str, set[str]]:
    """claim id -> the outcomes the claim tests under claims/ expect of it, read from their
    marks (``@claim(...)`` and the marks of ``cases(...)`` parameters)."""
    import importlib
    import pkgutil

    import claims

    found: dict[str, set[str]] = {}

    def add(marks):
        for m in marks:
            if m.name == "claim":
                found.setdefault(m.args[0], set()).add(m.kwargs.get("expect", "holds"))
            if m.name == "parametrize":
                for p in m.args[1]:
                    add(getattr(p, "marks", ()))

    for info in pkgutil.iter_modules(claims.__path__):
        if info.name.startswith("test_"):
            module = importlib.import_module(f"claims.{info.name}")
            for obj in vars(module).values():
                for fn in [obj, *vars(obj).values()] if isinstance(obj, type) else [obj]:
                    add(getattr(fn, "pytestmark", ()))
    return found


def test_every_claim_is_declared_once_with_a_registered_run_set_and_a_test():
    """Derived from the registry, not a list of ids: each entry's run set builds on the
    profile's seeds, each claim has a test that checks it, each test names a registered
    claim, and the report keeps a family module's claims together, in the paper's order."""
    quick = get_profile("quick")
    for claim in CLAIMS.values():
        assert claim.sentence and claim.figure and claim.marker.isidentifier()
        specs = RUN_SETS[claim.runs](quick)
        assert specs and all(s.seeds == quick.seeds for s in specs.values())
    marked = _marked_claims()
    assert set(marked) == set(CLAIMS)
    order = [c.marker for c in CLAIMS.values()]
    groups = [m for i, m in enumerate(order) if i == 0 or order[i - 1] != m]
    assert len(groups) == len(set(groups)), "a marker's claims are split in the report"
    assert groups[:2] == ["low_entropy", "ffn_bias"] and groups[-2:] == ["engine", "calibration"]
    assert markers()["robustness"] == ["D1 low", "D1 high"]
    assert keyword("R1 figures") == CLAIMS["R1 figures"].keyword == "R1_figures"


def test_unknown_claim_and_unregistered_run_set_are_one_line_errors():
    with pytest.raises(SpecError, match=r"unknown claim 'L9'; .* declares L1, L2"):
        get_claim("L9")
    claim = Claim(id="X1", marker="x", sentence="s", figure="f", runs="nowhere")
    with pytest.raises(SpecError, match="claim X1 reads run set 'nowhere', which no module"):
        validate({"X1": claim}, RUN_SETS)


def _suite(pytester, tests=FAKE):
    pytester.makepyfile(test_fake=tests)
    pytester.makeini("[pytest]\naddopts = --strict-markers -p no:cacheprovider\n")


def _selected(pytester, *args) -> list[str]:
    res = pytester.runpytest("--collect-only", "-q", *args)
    return [line.split("::")[-1] for line in res.outlines if "::" in line]


def test_markers_come_from_the_registry_and_select_by_id(pytester):
    _suite(pytester)
    out = pytester.runpytest("--markers").stdout.str()
    assert "@pytest.mark.claim(id)" in out
    assert "@pytest.mark.residual_paths: claims R1, R1 figures" in out
    assert _selected(pytester, "-k", "L1") == ["test_low"]
    assert _selected(pytester, "-k", "R1_figures") == ["test_figures"]
    assert _selected(pytester, "-k", "R1 and not R1_figures") == ["test_trend"]
    assert _selected(pytester, "-m", "residual_paths") == ["test_trend", "test_figures"]
    assert _selected(pytester, "-m", "low_entropy") == ["test_low"]


@pytest.mark.parametrize("tests, line", [
    ('@__import__("pytest").mark.claim("L9")\ndef test_x():\n    pass\n',  # a collection error
     "test_fake.py::test_x: unknown claim 'L9'; the registry (lowent.claims) declares L1, *"),
    ("def test_x(runs):\n    pass\n",  # an error in setup
     "*test_x asks for `runs` but names no claim: mark it @pytest.mark.claim(id)"),
])
def test_an_unknown_claim_or_a_test_without_one_is_a_one_line_error(pytester, tests, line):
    _suite(pytester, tests)
    res = pytester.runpytest()
    res.assert_outcomes(errors=1)
    res.stdout.fnmatch_lines([line])
    assert "Traceback" not in res.stdout.str()


@pytest.mark.parametrize("args, env, ini, bad", [
    (["--lowent-device", "tpu"], {}, "", "unknown device 'tpu'"),
    ([], {"LOWENT_PROFILE": "fast"}, "", "unknown profile 'fast'"),
    ([], {}, "lowent_device = gpu\n", "unknown device 'gpu'"),
    (["--lowent-seeds", "3-1"], {}, "", "seed range '3-1' is empty"),
    ([], {"LOWENT_SEEDS": "0,x"}, "", "cannot read seeds '0,x'"),
    (["--lowent-slots", "-1"], {}, "", "train slots '-1'"),
    ([], {"LOWENT_SLOTS": "two"}, "", "train slots 'two'"),
    (["--lowent-task-seeds=0"], {}, "", "seeds per task '0' (from --lowent-task-seeds, "),
    ([], {"LOWENT_TASK_SEEDS": "two"}, "", "seeds per task 'two'*not all or a whole number"),
    (["--lowent-task-seeds="], {}, "", "--lowent-task-seeds is empty"),
    (["--lowent-seeds="], {}, "", "--lowent-seeds is empty; give a value or leave the option"),
    (["--lowent-seeds=0-99999999999"], {}, "", "name 100,000,000,000 seeds; at most 10,000"),
    ([], {"LOWENT_CACHE": "afile"}, "", "the cache (--lowent-cache, $LOWENT_CACHE) '*/afile' "
                                        "is a file, not a directory"),
    (["--lowent-cache=afile/sub"], {}, "", "/afile/sub' cannot be created: '*/afile' is a file"),
    (["--lowent-report=adir"], {}, "", "the report (--lowent-report) '*/adir' is a directory"),
    (["--lowent-report=afile/r.html"], {}, "", "the report's directory '*/afile' is a file"),
])
def test_bad_settings_are_one_line_usage_errors(pytester, monkeypatch, args, env, ini, bad):
    """Each bad setting (B1, and the empty or enormous seed sets of issue 31): one line at
    configure time, exit 4, before anything is collected or trained."""
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    pytester.makefile("", afile="")
    pytester.mkdir("adir")
    pytester.makepyfile(test_fake=FAKE)
    pytester.makeini(f"[pytest]\naddopts = -p no:cacheprovider\n{ini}")
    res = pytester.runpytest("--collect-only", "-q", *args)
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    errors = [ln for ln in res.stderr.lines if ln.strip()]
    assert len(errors) == 1 and all(part in errors[0] for part in bad.split("*")), errors


def test_settings_come_from_option_then_environment_then_ini(pytester, monkeypatch):
    monkeypatch.delenv("LOWENT_PROFILE", raising=False)
    monkeypatch.delenv("LOWENT_CACHE", raising=False)
    pytester.makepyfile(test_fake=FAKE)
    pytester.makeini("[pytest]\naddopts = -p no:cacheprovider\nlowent_profile = paper\n"
                     "lowent_cache = from-ini\nlowent_device = cpu\n")
    header = pytester.runpytest("--collect-only", "-q", "-v").stdout.str()
    assert "lowent profile: paper, device: cpu" in header and "from-ini" in header
    monkeypatch.setenv("LOWENT_PROFILE", "quick")
    assert "lowent profile: quick" in pytester.runpytest(
        "--collect-only", "-v").stdout.str()
    assert "lowent profile: paper" in pytester.runpytest(
        "--collect-only", "-v", "--lowent-profile", "paper").stdout.str()
    assert "lowent profile: quick (seeds 0-2,7), device" in pytester.runpytest(
        "--collect-only", "-v", "--lowent-seeds", "7, 0-2").stdout.str()
    helptext = pytester.runpytest("--help").stdout.str()
    for name in ("--lowent-profile", "--lowent-cache", "--lowent-device", "--lowent-seeds",
                 "--lowent-slots", "--lowent-task-seeds", "--lowent-differing", "lowent_device",
                 "lowent_task_seeds", "LOWENT_TASK_SEEDS"):
        assert name in helptext
    assert "{auto,cpu,cuda}" in helptext and "{paper,quick}" in helptext
    assert "{skip,judge}" in helptext
    # ~ in the cache's setting (an ini key or a variable, where no shell expands it) is home
    monkeypatch.setenv("HOME", str(pytester.path / "home"))
    monkeypatch.setenv("LOWENT_CACHE", "~/lowent-cache")
    header = pytester.runpytest("--collect-only", "-v").stdout.str()
    assert str(pytester.path / "home" / "lowent-cache") in header
    assert not (pytester.path / "~").exists()


def test_a_lowent_value_after_a_space_without_a_configuration_file_is_warned_of(pytester,
                                                                                 tmp_path):
    """pytest finds its rootdir before it loads lowent, so `--lowent-report PATH` (a space,
    a path outside the project) can move the rootdir off the project's pyproject.toml: with
    no configuration file found, a warning says so and how to write the option."""
    pytester.makepyfile(test_fake="def test_one():\n    pass\n")
    report = str(tmp_path / "elsewhere" / "r.html")
    spaced = pytester.runpytest("-p", "no:cacheprovider", "--lowent-report", report)
    spaced.stdout.fnmatch_lines(["*PytestConfigWarning: lowent: no configuration file found "
                                 "(rootdir *write --lowent-report=VALUE"])
    joined = pytester.runpytest("-p", "no:cacheprovider", f"--lowent-report={report}")
    assert "lowent: no configuration" not in joined.stdout.str()
    pytester.makeini("[pytest]\naddopts = -p no:cacheprovider\n")
    configured = pytester.runpytest("--lowent-report", report)
    assert "lowent: no configuration" not in configured.stdout.str()
    assert all(r.ret == 0 for r in (spaced, joined, configured))


def test_the_plugin_comes_by_entry_point_and_can_be_turned_off(pytester):
    """lowent's plugin is the pytest11 entry point `lowent`: a project with no conftest gets
    its options and claim markers; `-p no:lowent` removes them."""
    from importlib.metadata import entry_points

    assert [ep.value for ep in entry_points(group="pytest11") if ep.name == "lowent"] == [
        "lowent.plugin"]
    pytester.makepyfile(test_fake=FAKE)
    assert "--lowent-device" in pytester.runpytest_subprocess("--help").stdout.str()
    assert pytester.runpytest_subprocess("--collect-only", "-q", "-k", "L1").ret == 0
    assert "--lowent-device" not in pytester.runpytest_subprocess(
        "-p", "no:lowent", "--help").stdout.str()
    off = pytester.runpytest_subprocess("-p", "no:lowent", "--strict-markers", "--collect-only")
    assert off.ret != 0 and "'claim' not found in `markers`" in off.stdout.str()


@pytest.mark.parametrize("seeds, compact", [
    ((0, 1, 2, 3, 4), "0-4"), ((7,), "7"), ((0, 2, 5, 6), "0,2,5-6"),
])
def test_seed_lists_print_as_ranges(seeds, compact):
    from lowent.seedtext import format_seeds

    assert format_seeds(seeds) == compact


def test_engine_note_says_how_each_verdict_was_trained(monkeypatch):
    from lowent.claims import engine_note
    from lowent.plugin.report import short_engine
    from lowent.profiles import get_profile

    quick, paper = get_profile("quick"), get_profile("paper")
    assert engine_note("L2", quick).startswith("trie; calibrated")
    assert short_engine(engine_note("S1", quick)) == "trie, calibrated"
    assert short_engine(engine_note("R1", quick)) == "trie, calibrated"
    assert short_engine(engine_note("F2", quick)) == "trie, calibrated"
    monkeypatch.setitem(CLAIMS, "L1", dataclasses.replace(CLAIMS["L1"], trie="differs"))
    assert short_engine(engine_note("L1", quick)) == "trie, differs from paper profile"
    monkeypatch.setitem(CLAIMS, "S1", dataclasses.replace(CLAIMS["S1"], trie="not compared"))
    assert short_engine(engine_note("S1", quick)) == "trie, approximate (not calibrated)"
    assert engine_note("S1", quick) == ("trie: approximate dropout; not calibrated against "
                                        "faithful training")
    assert engine_note("L1", paper) == engine_note("F1", paper) == "faithful"
    assert engine_note("E1", quick).startswith("compares the layouts")
    assert short_engine(engine_note("A1", quick)) == "trie, A/A check"
    assert short_engine(engine_note("A1", paper)) == "faithful, A/A check"
    assert "no calibration against faithful training applies" in engine_note("A1", quick)
    assert engine_note("X dropout 0: L1", quick) == "no dropout: exact on any layout"
    assert engine_note("X dropout 0: F1", quick) == "no dropout: exact on any layout"
    with pytest.raises(SpecError, match="trie must be one of"):
        dataclasses.replace(CLAIMS["L1"], trie="close enough")


def test_d1_reruns_l1_l2_f1_as_parameters_on_the_low_and_high_targets():
    """D1 is a parametrisation of the same tests: each D1 target's run set is the base run
    sets' keys on that target, and the test parameters name the claims."""
    from claims.marks import cases
    from lowent.claims import run_specs
    from lowent.profiles import get_profile

    quick = get_profile("quick")
    base = {**run_specs("L1", quick), **run_specs("F1", quick)}
    for t in ("low", "high"):
        d1 = run_specs(f"D1 {t}", quick)
        assert set(d1) == set(base)
        assert all(s.target.name == t and s.replace(target=base[k].target) == base[k].replace(
            train=s.train) for k, s in d1.items())
    params = cases(L1, expect="inconclusive", why="w")
    assert [p.id for p in params][:3] == ["base", "low", "high"]
    claims = [[m.args[0] for m in p.marks if m.name == "claim"] for p in params[:3]]
    assert claims == [["L1"], ["D1 low"], ["D1 high"]]
    assert [any(m.name == "xfail" for m in p.marks) for p in params[:3]] == [True, False, False]
    assert [p.id for p in cases(F2)] == ["base"]  # neither D1 nor a setting built for F2


def test_sensitivity_settings_change_one_choice_of_each_claims_runs():
    """A setting's claim "X <setting>: <claim>" reads the claim's own run set with one change,
    and the claim's test checks it through a parameter named after the setting."""
    from claims.marks import cases
    from lowent.claims import CLAIMS, run_specs
    from lowent.claims.sensitivity import READINGS, claim_id, settings_of
    from lowent.profiles import get_profile

    quick = get_profile("quick")
    changed = {}
    for s in READINGS.values():
        for c in s.claims:
            xid = claim_id(s, c)
            assert CLAIMS[xid].marker == "sensitivity" and xid == f"X {s.label}: {c}"
            base = run_specs(c, quick) if c != "S2" else {
                ("transformer", 64): run_specs("S2", quick)["transformer", 64]}
            runs = run_specs(xid, quick)
            assert set(runs) == set(base)
            assert all(runs[k].train == base[k].train and runs[k].target == base[k].target
                       for k in base)
            changed[s.name, c] = {k for k in base if runs[k] != base[k]}
    sweep = run_specs("L1", quick)
    transformers = {k for k in sweep if k[0] == "transformer"}
    assert changed["dropout0", "L1"] == set(sweep)
    assert changed["rnn_nodrop", "L2"] == set(sweep) - transformers
    assert changed["preln", "L3"] == changed["matched_l4", "L2"] == transformers
    # attention_only has no dropout, so dropout 0 leaves its run as it is
    assert changed["dropout0", "F1"] == {"full", "attention_main", "ffn_main"}
    assert changed["preln", "F1"] == {"full", "attention_only", "attention_main", "ffn_main"}
    x = run_specs("X dropout 0: L2", quick)
    assert all(spec.model.dropout == 0.0 for spec in x.values())
    assert {run_specs("X matched L = 4: L3", quick)[k].model.layers for k in transformers} == {4}
    assert {spec.model.norm for spec in run_specs("X pre-LN: R1", quick).values()} == {"pre"}
    # The RNNs without dropout are the same runs as under dropout 0 (one training for both),
    # and S2's run under dropout 0 is S1's d = 64 run under dropout 0.
    rnn = set(sweep) - transformers
    assert all(run_specs("X RNNs without dropout: L2", quick)[k] == x[k] for k in rnn)
    assert (run_specs("X dropout 0: S2", quick)["transformer", 64]
            == run_specs("X dropout 0: S1", quick)[64])
    assert [s.name for s in settings_of("L1")] == ["dropout0", "preln"]
    params = cases(L2, expect="contradicted", why="w",
                   x={"preln": ("inconclusive", "v")})
    assert [p.id for p in params] == ["base", "low", "high", "dropout0", "rnn_nodrop", "preln",
                                      "matched_l4"]
    marks = {p.id: {m.name: m for m in p.marks} for p in params}
    assert marks["preln"]["claim"].args == ("X pre-LN: L2",)
    assert marks["preln"]["claim"].kwargs["expect"] == "inconclusive"
    assert "xfail" not in marks["dropout0"]
    assert [p.id for p in cases(L3)] == ["base", "dropout0", "rnn_nodrop", "preln",
                                           "matched_l4"]
    assert [p.id for p in cases(R1)] == ["base", "preln"]


OUTSIDE = '''
import pytest


@pytest.mark.claim("F2")
def test_kl():
    pass


@pytest.mark.claim("D1 low")
def test_low():
    pass


@pytest.mark.claim("R1")
def test_trend():
    pass
'''


def test_the_default_run_leaves_out_whole_run_set_claims_unless_they_are_named(pytester):
    """Claims of the markers in NOT_DEFAULT are left out of a run without -m, but a claim
    named by a -k word or a whole node id runs, and any -m replaces the default."""
    _suite(pytester, OUTSIDE)
    assert _selected(pytester) == ["test_trend"]
    assert _selected(pytester, "-k", "F2") == ["test_kl"]
    assert _selected(pytester, "-k", "D1_low or R1") == ["test_low", "test_trend"]
    assert _selected(pytester, "-k", "D1") == []  # not an id: the default holds
    assert _selected(pytester, "-m", "kl_loss") == ["test_kl"]
    assert _selected(pytester, "-m", "not residual_paths") == ["test_kl", "test_low"]
    assert _selected(pytester, "test_fake.py::test_kl") == ["test_kl"]
    assert _selected(pytester, "test_fake.py") == ["test_trend"]  # a file names no claim


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]])
def test_a_k_that_matches_only_left_out_claims_says_which_marker_runs_them(pytester, xdist):
    """-k D1 matches D1 low and D1 high, which the default run leaves out: one line says to
    add -m robustness (also from an xdist controller, which collects nothing); a claim named
    exactly runs and gets no such line."""
    _suite(pytester, OUTSIDE)
    res = pytester.runpytest_subprocess("-k", "D1", *xdist)
    hints = [ln for ln in res.outlines if ln.startswith("lowent: -k")]
    assert hints == ["lowent: -k 'D1' matches D1 low, D1 high, left out of the default run "
                     "(marker robustness); add -m robustness to run them, or name one exactly "
                     "(-k D1_low)"]
    res = pytester.runpytest_subprocess("-k", "F2", *xdist)
    res.assert_outcomes(passed=1)
    assert not [ln for ln in res.outlines if ln.startswith("lowent: -k")]


def test_the_tests_marked_unstable_across_machines_exist_and_are_labelled():
    """Each entry of lowent.claims.unstable names a claim test under claims/ (a renamed test
    would silently lose its label), and the report's label quotes the record."""
    import claims
    from lowent.claims.unstable import ACROSS_MACHINES
    from lowent.report import across_machines

    root = Path(claims.__file__).parent.parent
    for test_id in ACROSS_MACHINES:
        path, cls, name = test_id.split("::")
        source = (root / path).read_text()
        assert f"class {cls}" in source and f"def {name}(" in source, test_id
        assert across_machines(test_id).startswith("outcome unstable across machines")
    assert across_machines("claims/test_low_entropy.py::T::test_other") == ""
