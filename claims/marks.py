"""The mark of a claim test: which claim it checks (its registry entry, imported from
lowent.claims), and the outcome it is expected to have."""
from __future__ import annotations

import pytest

from lowent.claims import Claim
from lowent.config import SpecError
from lowent.verdict import OUTCOMES


def claim_marks(entry: Claim | str, expect: str = "holds", why: str = "",
                base: Claim | None = None) -> list:
    """The marks of :func:`claim` as a list (for ``pytest.param(..., marks=...)``); `base`:
    the claim whose family the test runs, when it checks another claim with it (D1)."""
    claim_id = entry.id if isinstance(entry, Claim) else entry
    if expect not in OUTCOMES:
        raise SpecError(f"claim {claim_id}: unknown expected outcome {expect!r}; choose from "
                        f"{', '.join(OUTCOMES)}")
    kw = {"expect": expect} | ({"base": base.id} if base is not None else {})
    marks = [pytest.mark.claim(claim_id, **kw)]
    if expect != "holds":
        # Only a failed assertion on the verdict is the expected outcome: any other exception
        # (a fixture that cannot train, non-finite data, another outcome) fails the test.
        marks.append(pytest.mark.xfail(strict=True, raises=AssertionError,
                                       reason=f"expected {expect}: {why}"))
    return marks


def cases(entry: Claim, expect: str = "holds", why: str = "",
          d1: dict[str, tuple[str, str]] | None = None,
          x: dict[str, tuple[str, str]] | None = None) -> list:
    """Values of a test's ``target`` parameter, one per claim the test checks:

    - ``base``: `entry` itself, expecting `expect` because `why`;
    - ``low``, ``high`` (for the claims D1 reruns): "D1 <target>" on that target
      (claims/README.md, D1), expecting ``d1[target] = (outcome, why)``;
    - one per sensitivity setting built for `entry` (lowent.claims.sensitivity), on the
      base target: "X <setting>: <claim>", expecting ``x[setting name] = (outcome, why)``.

    Unlisted expectations default to holds. The value is the target the test reads; the
    claim mark decides which run set the test gets.
    """
    from lowent.claims.robustness import D1, RERUNS
    from lowent.claims.sensitivity import claim_id, settings_of

    d1, x = d1 or {}, x or {}
    params = [pytest.param("base", marks=claim_marks(entry, expect, why), id="base")]
    if entry in RERUNS:
        params += [pytest.param(t, marks=claim_marks(c, *d1.get(t, ("holds", "")), base=entry),
                                id=t) for t, c in D1.items()]
    params += [pytest.param("base", marks=claim_marks(claim_id(s, entry.id),
                                                      *x.get(s.name, ("holds", ""))),
                            id=s.name) for s in settings_of(entry.id)]
    return params


def claim(entry: Claim | str, expect: str = "holds", why: str = ""):
    """Mark a test as checking the claim `entry` (an entry of lowent.claims, e.g. ``L1`` from
    lowent.claims.low_entropy).

    Args:
        entry: the claim's registry entry.
        expect: the outcome the claim is expected to have (lowent.verdict.OUTCOMES: holds,
            contradicted, not equivalent, inconclusive; claims/README.md, "Outcomes"). Any
            other than holds makes the test a strict xfail of that outcome; another outcome
            is judged by the stability rule (claims/README.md, "Expected outcomes on any
            machine"): an xfail "outcome unstable" within the noise, a failure otherwise.
        why: the registered reason for the expectation (what does not hold). The XFAIL line
            and the report replace it with the figures measured in the run.
    Returns:
        A decorator applying ``pytest.mark.claim(id, expect=...)`` (and the xfail).
    """
    marks = claim_marks(entry, expect, why)

    def apply(test):
        for mark in marks:
            test = mark(test)
        return test

    return apply
