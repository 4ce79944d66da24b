"""A hostile but fair user, by property: any arguments to the command line, any bytes in a
cache entry's files. Whatever comes in, the answer is an exit status and at most one line on
stderr, or a cache entry retrained with a warning; never a traceback, never a crash.

What is tried (issue 31, beyond its list): every subcommand with option values drawn from
numbers of every sign and size, nan and inf, empty and odd strings, paths to nothing, to a
file, to a directory and under a file; every file of an entry (manifest, spec, trace,
weights) replaced by arbitrary bytes, by arbitrary JSON, or truncated. Training, the
benchmark and the replication plan's simulations (minutes each) are stubbed out (a command
that would do that work says so and stops): the point is what happens to the input before
any work starts.
"""
import copy
import json
import warnings

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lowent.cache import FILES, Cache, CacheWarning
from lowent.config import RunSpec, TrainSpec
from lowent.engine import train
from tests.helpers import model_spec, run_cli, small_target

COMMANDS = ("train", "bench", "bench-compare", "bench-noise", "compare", "report", "baseline",
            "power", "replication", "stability", "cache", "machine", "work")
OPTIONS = ("--model", "--variant", "--d-model", "--layers", "--norm", "--seeds", "--epochs",
           "--optimizer", "--target", "--layout", "--dropout", "--dtype", "--log-every",
           "--device", "--out", "--steps", "--repeat", "--threads", "--json", "--threshold",
           "--alpha", "--sims", "--cache", "--prune", "--allow-different", "--task",
           "--judge", "--method")
STATUSES = {0, 1, 2}


class WouldWork(Exception):
    """Raised by the stubs in place of training or timing."""


def _values(paths):
    return st.one_of(
        st.integers(-10**12, 10**12).map(str),
        st.floats(allow_nan=True, allow_infinity=True).map(str),
        st.sampled_from(["", " ", "-", "0-", "-1", "0-4", "3-1", "1e400", "nan", "none", "x,y",
                         "transformer", "gru", "full", "routed", "pre", "trie", "faithful",
                         "float64", "cpu", "cuda", "adam", "low", "A=B", "=", "0,0"]),
        st.sampled_from(paths),
        st.text(max_size=12))


@pytest.fixture
def places(tmp_path):
    (tmp_path / "afile").write_text("not json")
    (tmp_path / "adir").mkdir()
    (tmp_path / "results.json").write_text(json.dumps({"environment": {}, "claims": []}))
    return [str(tmp_path / n) for n in ("afile", "adir", "nothing", "afile/under",
                                        "results.json")]


@settings(max_examples=300, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_command_line_is_a_status_and_at_most_one_line(monkeypatch, places, data):
    import lowent.bench
    import lowent.engine
    import lowent.replication

    def stub(*a, **kw):
        raise WouldWork("would train or time here")

    monkeypatch.setattr(lowent.engine, "train", stub)
    monkeypatch.setattr(lowent.bench, "main", stub)
    monkeypatch.setattr(lowent.replication, "family_power", stub)
    command = data.draw(st.sampled_from(COMMANDS))
    positional = data.draw(st.lists(_values(places), max_size=3))
    options = data.draw(st.lists(st.tuples(st.sampled_from(OPTIONS), _values(places)),
                                 max_size=4))
    args = [command, *positional, *[x for pair in options for x in pair]]
    try:
        r = run_cli(*args)
    except WouldWork:
        return  # the input passed every check and reached the work
    lines = r.stderr.strip().splitlines()
    assert r.returncode in STATUSES, (args, r.returncode, r.stderr)
    assert len(lines) <= 1 and "Traceback" not in r.stderr, (args, r.stderr)
    if r.returncode:
        assert lines and lines[0].startswith("lowent: error:"), (args, r.stderr)


SPEC = RunSpec(target=small_target(), model=model_spec(dict(variant="full"), d=4, layers=1),
               train=TrainSpec(batch_size=256, epochs=1), seeds=(0,))


@pytest.fixture(scope="module")
def trained():
    return train(SPEC)


_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
                     lambda inner: st.lists(inner, max_size=3)
                     | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=8)


@settings(max_examples=120, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(FILES + ("manifest.json",)),
       damage=st.one_of(st.binary(max_size=64), _JSON.map(lambda v: json.dumps(v).encode()),
                        st.integers(0, 64)))
def test_any_bytes_in_an_entry_are_retrained_with_a_warning(tmp_path_factory, trained, name,
                                                            damage):
    root = tmp_path_factory.mktemp("cache")
    cache = Cache(root)
    calls = []

    def fake_train(spec, **kw):
        calls.append(spec.seeds)
        return copy.deepcopy(trained)

    cache.get(SPEC, train_fn=fake_train)
    path = cache.path(SPEC) / name
    raw = path.read_bytes()
    path.write_bytes(raw[:damage] if isinstance(damage, int) else damage)
    if path.read_bytes() == raw:
        return  # the damage changed nothing
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        run = cache.get(SPEC, train_fn=fake_train)
    assert len(calls) == 2, "an entry with damaged bytes was used"
    assert any(issubclass(w.category, CacheWarning) for w in seen)
    assert (run.table == trained.table).all()
