"""Claim tests and their marks: the markers registered from the registry (strict), each claim
test tagged with its family marker and its id's ``-k`` keyword, the default run (the claims
of the markers in ``lowent.claims.NOT_DEFAULT`` left out unless selected), and the tests of
claims not judged in this session skipped."""
from __future__ import annotations

import pytest

import os
import re
from pathlib import Path

from lowent.claims import NOT_DEFAULT, Claim, get_claim, markers
from lowent.config import SpecError
from lowent.plugin.session import session_of


def claim_of(item) -> Claim | None:
    """The registry entry of a test marked ``@pytest.mark.claim(id)``; None for other tests."""
    mark = item.get_closest_marker("claim")
    return None if mark is None else get_claim(_claim_id(mark))


def _claim_id(mark) -> str:
    if (len(mark.args) != 1 or set(mark.kwargs) - {"expect", "base"}
            or not isinstance(mark.args[0], str)):
        raise SpecError(f"@pytest.mark.claim takes one claim id, e.g. claim(\"L1\"), and "
                        f"optionally expect= and base=; got claim{mark.args!r}")
    return mark.args[0]


def expected_outcome(item) -> str:
    """The outcome a claim test expects (``claims.marks.claim(id, expect=...)``; holds)."""
    mark = item.get_closest_marker("claim")
    return "holds" if mark is None else mark.kwargs.get("expect", "holds")


def pytest_configure(config):
    """Register the claim marker and every family marker from the registry (strict)."""
    config.addinivalue_line("markers", "claim(id): the test checks this claim of the paper "
                                       "(an id of lowent.claims.CLAIMS)")
    for marker, ids in markers().items():
        config.addinivalue_line("markers", f"{marker}: claims {', '.join(ids)} (lowent.claims)")


@pytest.hookimpl(wrapper=True)
def pytest_pycollect_makeitem(collector, name, obj):
    """Tag each test of a claim with its family marker and the ``-k`` keyword of its id (before
    ``-m``/``-k`` deselect); a test naming an unknown claim fails its module's collection."""
    made = yield
    for item in made if isinstance(made, list) else [made]:
        if not isinstance(item, pytest.Function):
            continue
        try:
            claim = claim_of(item)
        except SpecError as exc:
            raise pytest.Collector.CollectError(f"{item.nodeid}: {exc}") from None
        if claim is not None:
            item.add_marker(claim.marker)
            item.extra_keyword_matches.add(claim.keyword)
    return made


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    """After pytest's own ``-m``/``-k`` selection: leave out the claims of the markers the
    default run does not train (:func:`outside_default_run`), then skip the tests of claims
    not judged in this session (:meth:`ClaimsSession.not_judged`)."""
    left_out = outside_default_run(config, items)
    if left_out:
        items[:] = [item for item in items if item not in left_out]
        config.hook.pytest_deselected(items=left_out)
    session = session_of(config)
    for item in items:
        claim = claim_of(item)
        reason = None if claim is None else session.not_judged(claim.id)
        if reason is not None:
            item.add_marker(pytest.mark.skip(reason=reason))


def outside_default_run(config, items) -> list:
    """The tests of claims whose marker is in ``lowent.claims.NOT_DEFAULT`` (robustness,
    sensitivity, kl_loss, optimizers: each trains run sets of its own) when no ``-m`` was
    given, except those of a claim named exactly by a ``-k`` word (``-k F2``, ``-k D1_low``)
    or a test named by its whole node id (parameter included: ``...::test_x[low]``): a
    researcher who names a claim gets it. A file or a test's base name does not name its
    other parameters (L1's test also checks D1 and the sensitivity settings). ``-m`` (any
    expression) replaces the default, as an ``-m`` on the command line replaces one in the
    ini file."""
    if config.option.markexpr:
        return []
    words = _words(config)
    named = {_node_id(config, arg) for arg in config.args} - {None}
    out = []
    for item in items:
        claim = claim_of(item)
        if claim is None or claim.marker not in NOT_DEFAULT or claim.keyword in words:
            continue
        if item.nodeid in named:
            continue
        out.append(item)
    return out


def _words(config) -> set[str]:
    return set(re.findall(r"[^\s()]+", config.option.keyword or "")) - {"and", "or", "not"}


def left_out_by_k(config) -> dict[str, list[str]]:
    """Marker -> the claims of the default run's left-out markers that the ``-k`` expression
    matches (as pytest matches a test's keywords) without naming them exactly: those it
    selected and the default run left out. Computed from the registry, so the controller
    of an xdist run (which collects nothing) knows them too."""
    if config.option.markexpr or not config.option.keyword:
        return {}
    from _pytest.mark.expression import Expression

    try:
        expr = Expression.compile(config.option.keyword)
    except Exception:  # noqa: BLE001 - pytest reports a bad -k itself
        return {}
    words, out = _words(config), {}
    for marker, ids in markers().items():
        if marker not in NOT_DEFAULT:
            continue
        for claim_id in ids:
            kw = get_claim(claim_id).keyword
            if kw not in words and expr.evaluate(
                    lambda name, kw=kw, **_: name.lower() in kw.lower()):
                out.setdefault(marker, []).append(claim_id)
    return out


def pytest_terminal_summary(terminalreporter, config):
    """One line per left-out marker whose claims the ``-k`` matched: how to run them."""
    if hasattr(config, "workerinput"):
        return
    for marker, ids in left_out_by_k(config).items():
        shown = ", ".join(ids[:4]) + (f" and {len(ids) - 4} more" if len(ids) > 4 else "")
        terminalreporter.write_line(
            f"lowent: -k {config.option.keyword!r} matches {shown}, left out of the default run "
            f"(marker {marker}); add -m {marker} to run them, or name one exactly (-k "
            f"{get_claim(ids[0]).keyword})", yellow=True)


def _node_id(config, arg: str) -> str | None:
    """A node id argument as the node id it names (None: a file, a directory, nothing)."""
    path, sep, rest = str(arg).partition("::")
    full = Path(config.invocation_params.dir, path)
    if not sep or not full.is_file():
        return None
    return Path(os.path.relpath(full, config.rootpath)).as_posix() + sep + rest
