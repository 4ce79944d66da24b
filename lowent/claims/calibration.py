"""A1 (marker ``calibration``): an A/A check of the claims' comparison. Not a claim of the
paper: the seeds of one configuration, split into two halves in every way, must not be
declared different more often than alpha (claims/README.md, "Sensitivity and A/A")."""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Mapping

import numpy as np

from lowent.claims import Claim
from lowent.stats import ALPHA, two_sample

ORDER = 13  # in the report: the suite's own checks, last

A1 = Claim(
    id="A1", marker="calibration", runs="size_sweep", figure="A/A, not in the paper",
    sentence="A/A: splitting one configuration's seeds into two halves, the claims' one-sided "
             "Welch test declares a difference at most alpha of the time.")
CLAIMS = (A1,)


@dataclass(frozen=True)
class AARate:
    """The A/A rate of declared differences, pooled over configurations."""

    rate: float  # declared differences / comparisons, all configurations
    se: float  # Monte Carlo error: SD of the per-configuration rates / sqrt(configurations)
    comparisons: int
    per_config: dict  # configuration -> its rate

    @property
    def calibrated(self) -> bool:
        """At most alpha, allowing two Monte Carlo errors."""
        return self.rate <= ALPHA + 2 * self.se


def aa_rate(values: Mapping, alpha: float = ALPHA) -> AARate:
    """Every ordered split of each configuration's seeds into halves (floor and ceil of
    E / 2) through the one-sided Welch test "first half less than second".

    Args:
        values: configuration -> [E] per-seed observations (E >= 4).
    """
    per, total, hits = {}, 0, 0
    for key, x in values.items():
        x = np.asarray(x, dtype=np.float64)
        E = x.size
        if E < 4:
            raise ValueError(f"{key}: an A/A split needs at least 4 seeds, got {E}")
        sizes = {E // 2, E - E // 2}
        declared = n = 0
        for k in sorted(sizes):
            for first in itertools.combinations(range(E), k):
                rest = [i for i in range(E) if i not in first]
                declared += two_sample(x[list(first)], x[rest], "less").pvalue < alpha
                n += 1
        per[key] = declared / n
        total, hits = total + n, hits + declared
    rates = np.array(list(per.values()))
    se = float(rates.std(ddof=1) / np.sqrt(rates.size)) if rates.size > 1 else float("nan")
    return AARate(rate=hits / total, se=se, comparisons=total, per_config=per)
