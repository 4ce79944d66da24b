"""The mark of a claim test: which claim it checks, and whether it is known not to reproduce."""
from __future__ import annotations

import pytest


def claim(claim_id: str, does_not_reproduce: str | None = None):
    """Mark a test as checking `claim_id` (an id of lowent.claims.CLAIMS).

    Args:
        claim_id: the claim, e.g. "L1" or "R1 figures".
        does_not_reproduce: for a claim that does not reproduce, what is expected not to
            hold: the test is then a strict xfail (SETTING 7), so the suite stays green and a
            version that makes the claim hold turns the run red. The XFAIL line and the report
            replace this text with the figures measured in the run.
    Returns:
        A decorator applying ``pytest.mark.claim(claim_id)`` (and the strict xfail).
    """
    marks = [pytest.mark.claim(claim_id)]
    if does_not_reproduce is not None:
        # Only a failed assertion on the verdict is the expected outcome: any other exception
        # (a fixture that cannot train, non-finite data) is an error, never a finding.
        marks.append(pytest.mark.xfail(strict=True, raises=AssertionError,
                                       reason=does_not_reproduce))

    def apply(test):
        for mark in marks:
            test = mark(test)
        return test

    return apply
