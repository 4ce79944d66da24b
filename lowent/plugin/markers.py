"""Claim tests and their marks: the markers registered from the registry (strict), each claim
test tagged with its family marker and its id's ``-k`` keyword, and the tests of claims not
judged in this session skipped."""
from __future__ import annotations

import pytest

from lowent.claims import Claim, get_claim, markers
from lowent.config import SpecError
from lowent.plugin.session import session_of


def claim_of(item) -> Claim | None:
    """The registry entry of a test marked ``@pytest.mark.claim(id)``; None for other tests."""
    mark = item.get_closest_marker("claim")
    return None if mark is None else get_claim(_claim_id(mark))


def _claim_id(mark) -> str:
    if (len(mark.args) != 1 or set(mark.kwargs) - {"expect"}
            or not isinstance(mark.args[0], str)):
        raise SpecError(f"@pytest.mark.claim takes one claim id, e.g. claim(\"L1\"), and "
                        f"optionally expect=; got claim{mark.args!r}")
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


def pytest_collection_modifyitems(config, items):
    """Skip the claim tests of claims not judged in this session
    (:meth:`ClaimsSession.not_judged`)."""
    session = session_of(config)
    for item in items:
        claim = claim_of(item)
        reason = None if claim is None else session.not_judged(claim.id)
        if reason is not None:
            item.add_marker(pytest.mark.skip(reason=reason))
