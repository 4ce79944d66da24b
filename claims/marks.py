"""The mark of a claim test: which claim it checks, and the outcome it is expected to have."""
from __future__ import annotations

import pytest

from lowent.config import SpecError
from lowent.stats import OUTCOMES


def claim_marks(claim_id: str, expect: str = "holds", why: str = "") -> list:
    """The marks of :func:`claim` as a list (for ``pytest.param(..., marks=...)``)."""
    if expect not in OUTCOMES:
        raise SpecError(f"claim {claim_id}: unknown expected outcome {expect!r}; choose from "
                        f"{', '.join(OUTCOMES)}")
    marks = [pytest.mark.claim(claim_id, expect=expect)]
    if expect != "holds":
        # Only a failed assertion on the verdict is the expected outcome: any other exception
        # (a fixture that cannot train, non-finite data, another outcome) fails the test.
        marks.append(pytest.mark.xfail(strict=True, raises=AssertionError,
                                       reason=f"expected {expect}: {why}"))
    return marks


D1_TARGETS = ("low", "high")  # the targets D1 reruns L1, L2 and F1 on (App. D)
D1_CLAIMS = ("L1", "L2", "F1")


def cases(claim_id: str, expect: str = "holds", why: str = "",
          d1: dict[str, tuple[str, str]] | None = None,
          x: dict[str, tuple[str, str]] | None = None) -> list:
    """Values of a test's ``target`` parameter, one per claim the test checks:

    - ``base``: `claim_id` itself, expecting `expect` because `why`;
    - ``low``, ``high`` (claims of D1 only): "D1 <target>" on that target (claims/README.md,
      D1), expecting ``d1[target] = (outcome, why)``;
    - one per sensitivity setting built for `claim_id` (lowent.claims.sensitivity), on the
      base target: "X <setting>: <claim>", expecting ``x[setting name] = (outcome, why)``.

    Unlisted expectations default to holds. The value is the target the test reads; the
    claim mark decides which run set the test gets.
    """
    from lowent.claims.sensitivity import claim_id as under, settings_of

    d1, x = d1 or {}, x or {}
    params = [pytest.param("base", marks=claim_marks(claim_id, expect, why), id="base")]
    if claim_id in D1_CLAIMS:
        params += [pytest.param(t, marks=claim_marks(f"D1 {t}", *d1.get(t, ("holds", ""))), id=t)
                   for t in D1_TARGETS]
    params += [pytest.param("base", marks=claim_marks(under(s, claim_id),
                                                      *x.get(s.name, ("holds", ""))),
                            id=s.name) for s in settings_of(claim_id)]
    return params


def claim(claim_id: str, expect: str = "holds", why: str = ""):
    """Mark a test as checking `claim_id` (an id of lowent.claims.CLAIMS).

    Args:
        claim_id: the claim, e.g. "L1" or "R1 figures".
        expect: the outcome the claim is expected to have (lowent.stats.OUTCOMES: holds,
            contradicted, not equivalent, inconclusive; claims/README.md, "Outcomes"). Any
            other than holds makes the test a strict xfail that only that outcome satisfies:
            a claim that comes to hold turns the run red (XPASS), and so does one whose
            outcome changes to another (the recorder raises OutcomeChanged, which is not the
            assertion the xfail accepts).
        why: the registered reason for the expectation (what does not hold). The XFAIL line
            and the report replace it with the figures measured in the run.
    Returns:
        A decorator applying ``pytest.mark.claim(claim_id, expect=...)`` (and the xfail).
    """
    marks = claim_marks(claim_id, expect, why)

    def apply(test):
        for mark in marks:
            test = mark(test)
        return test

    return apply
