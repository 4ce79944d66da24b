"""What the results record about the software, and the pins that keep it fixed."""
import re
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

CONSTRAINTS = Path(__file__).resolve().parents[1] / "constraints.txt"


def _pins() -> dict[str, str]:
    pins = {}
    for line in CONSTRAINTS.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, pinned = re.fullmatch(r"([A-Za-z0-9_.-]+)==(\S+)", line).groups()
            pins[name] = pinned
    return pins


def test_constraints_pin_everything_but_torch_and_match_what_is_installed():
    """CI installs with `-c constraints.txt` (.ci/run), so every pin is what runs."""
    pins = _pins()
    assert "torch" not in {n.lower() for n in pins}
    for must in ("numpy", "scipy", "matplotlib", "pytest", "pytest-xdist", "safetensors"):
        assert must in pins
    wrong = {}
    for name, pinned in pins.items():
        try:
            got = version(name)
        except PackageNotFoundError:
            got = None
        if got != pinned:
            wrong[name] = (pinned, got)
    assert not wrong, f"installed versions differ from constraints.txt: {wrong}"
    assert "-c constraints.txt" in (CONSTRAINTS.parent / ".ci" / "run").read_text()


def test_the_report_records_the_software_it_ran_on(pytester):
    pytester.makepyfile(test_fake='''
import numpy as np
import pytest
from lowent import exact, stats, verdict

@pytest.mark.claim("S1")
def test_holds(record_verdict):
    x = np.linspace(0.1, 0.2, 5)
    assert record_verdict(verdict.conjunction({"a": stats.one_sample(x, 0.0, "greater")},
                                            claim="S1", statement="s")).passed
''')
    out = pytester.path / "r.html"
    pytester.runpytest(f"--lowent-report={out}", "-p", "no:cacheprovider")
    import json

    import scipy
    import torch

    env = json.loads(out.with_name("results.json").read_text())["environment"]
    from lowent.report import SCHEMA

    assert env["schema"] == SCHEMA and env["SciPy"] == scipy.__version__
    assert env["PyTorch"] == torch.__version__
    assert env["PyTorch build"] in ("CPU", f"CUDA {torch.version.cuda}")
    for key in ("Python", "NumPy", "device", "profile"):
        assert env[key]



def _version_checked() -> set[str]:
    """The claims the PyTorch-version check runs: the default run's and VERSION_CHECK's."""
    from lowent.claims import CLAIMS, NOT_DEFAULT, VERSION_CHECK

    return {c.id for c in CLAIMS.values()
            if c.marker not in NOT_DEFAULT or c.marker in VERSION_CHECK}


def test_the_baseline_in_the_repository_is_current():
    """baselines/ holds the default profile's results on the reference version; it must be
    of this results schema and cover every claim the PyTorch-version check runs: the default
    run's and those of lowent.claims.VERSION_CHECK (refresh: README)."""
    import json

    from lowent.claims import CLAIMS
    from lowent.report import SCHEMA

    base = json.loads((CONSTRAINTS.parent / "baselines" / "quick-torch2.13.0-cpu.json").read_text())
    env = base["environment"]
    assert env["schema"] == SCHEMA and env["profile"] == "quick"
    assert env["PyTorch"].startswith("2.13.0") and env["PyTorch build"] == "CPU"
    assert {r["claim"] for r in base["claims"]} == _version_checked()
    # a claim whose trie verdict differs from faithful training's is skipped under quick
    assert all(r["verdict"] or r["outcome"] == "holds" or r["outcome"] == "skipped"
               and CLAIMS[r["claim"]].trie == "differs" for r in base["claims"])


def test_the_version_check_runs_the_default_claims_and_version_checks_markers():
    """The PyTorch-version check's -m expression (the scheduled workflow's and tox's)
    leaves out exactly the markers of NOT_DEFAULT that VERSION_CHECK does not name, and
    pytest selects by it the default run's claims and VERSION_CHECK's."""
    import re

    from _pytest.mark.expression import Expression

    from lowent.claims import CLAIMS, NOT_DEFAULT, VERSION_CHECK

    root = CONSTRAINTS.parent
    workflow = (root / ".github" / "workflows" / "torch-versions.yml").read_text()
    commands = (re.findall(r"run: python -m pytest (.*)", workflow)
                + re.findall(r"^commands = pytest (-n .*)", (root / "tox.ini").read_text(), re.M))
    assert len(commands) == 2  # the workflow's claims run and tox's (not its benchmarks)
    exprs = {re.search(r'-m "([^"]*)"', command).group(1) for command in commands}
    expr = " and ".join(f"not {m}" for m in NOT_DEFAULT if m not in VERSION_CHECK)
    assert exprs == {expr}
    selected = {c.id for c in CLAIMS.values()
                if Expression.compile(expr).evaluate(lambda name, c=c, **_: name == c.marker)}
    assert selected == _version_checked()
    assert set(VERSION_CHECK) <= set(NOT_DEFAULT)


def test_the_default_run_is_the_plugins_not_an_ini_list():
    """The default run's left-out markers come from lowent.claims.NOT_DEFAULT alone (the
    plugin applies them): pyproject's addopts repeats none of them."""
    import tomllib

    from lowent.claims import NOT_DEFAULT

    ini = tomllib.loads((CONSTRAINTS.parent / "pyproject.toml").read_text())
    addopts = ini["tool"]["pytest"]["ini_options"]["addopts"]
    assert "-m" not in addopts.split() and not any(m in addopts for m in NOT_DEFAULT)


_PURGE = '''
import sys, tempfile
import conftest  # what every test process imports before its first test
from lowent.cache import Cache
from lowent.config import ModelSpec, RunSpec, TrainSpec

spec = RunSpec(model=ModelSpec(d_model=8, layers=1), train=TrainSpec(epochs=1), seeds=(0,))
snapshot = dict(sys.modules)
with tempfile.TemporaryDirectory() as first, tempfile.TemporaryDirectory() as second:
    Cache(first).get(spec)   # the process's first optimizer step, inside "a test"
    sys.modules.clear()      # what pytester does when that test ends
    sys.modules.update(snapshot)
    Cache(second).get(spec)  # the next test trains again
'''


def test_training_survives_pytesters_purge_of_the_modules_a_test_imported():
    """pytester restores sys.modules after each test that uses it, dropping what the test
    imported; torch's lazily imported optimizer machinery cannot be imported twice in one
    process, so the root conftest imports it before any test (conftest.py). Without that,
    the second training here fails as CI's run once did ("Only a single TORCH_LIBRARY")."""
    import os
    import subprocess
    import sys

    root = CONSTRAINTS.parent
    env = dict(os.environ, PYTHONPATH=str(root), OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env.pop("PYTEST_XDIST_WORKER", None)
    run = subprocess.run([sys.executable, "-c", _PURGE], cwd=root, env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
