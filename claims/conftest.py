"""Fixtures of the claim tests (thin: the work is in lowent.claims). ``runs`` (the run set of
the test's claim), ``profile`` and the recorders come from the fixtures/runs.py plugin."""
from __future__ import annotations

from typing import Callable

import numpy as np
import pytest

from lowent.claims.common import final_probes, memoized, target_entropy as _target_entropy
from lowent.engine import Run


@pytest.fixture(scope="session")
def probes() -> Callable[[Run], dict[str, np.ndarray]]:
    """run -> lowent.claims.common.final_probes(run), computed once per run and session."""
    return memoized(final_probes)


@pytest.fixture(scope="session")
def target_entropy() -> float:
    """H(p_tgt) of the base target's sampled data set, nats."""
    return _target_entropy("base")
