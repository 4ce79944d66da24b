"""A claim's verdict: its family of results judged at alpha as an intersection-union test,
with its outcome -- holds, contradicted, not equivalent or inconclusive (claims/README.md,
"Outcomes"). Statistics and outcome rules only; its words and JSON are lowent.records'.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

from lowent.stats import ALPHA, Result

OUTCOMES = ("holds", "contradicted", "not equivalent", "inconclusive")
# A part's outcome within its claim's family.
SUPPORTED, AGAINST, NOT_EQUIVALENT, NOT_SHOWN = ("supported", "against", "not equivalent",
                                                 "inconclusive")


def holm_adjust(p) -> np.ndarray:
    """Holm's step-down adjusted p-values of `p` (same order)."""
    p = np.asarray(p, dtype=np.float64)
    adj, running, k = np.empty(p.size), 0.0, p.size
    for i, j in enumerate(np.argsort(p, kind="stable")):
        running = max(running, min(1.0, (k - i) * p[j]))
        adj[j] = running
    return adj


@dataclass(frozen=True, kw_only=True)
class Verdict:
    """A claim's verdict: the sentence tested, its family of results, each under a label
    saying what it checks, judged at `alpha`; the claim holds when every part passes at alpha
    (claims/README.md, "Outcomes")."""

    statement: str  # the sentence this verdict tests
    parts: Mapping[str, Result]  # label -> result, each judged at alpha
    claim: str = ""  # claim id, e.g. "L1" (lowent.claims.CLAIMS); "" until a test records it
    paper: str = ""  # the paper's figure, where its text gives one
    ours: str = ""  # our figure, in the same terms
    alpha: float = ALPHA

    def supported(self, label: str) -> bool:
        """Whether the part `label` passes: its p-value is below alpha."""
        return bool(self.parts[label].pvalue < self.alpha)

    @property
    def passed(self) -> bool:
        return all(self.supported(label) for label in self.parts)

    @property
    def pvalue(self) -> float:
        """The intersection-union p-value: the largest part's."""
        return max(r.pvalue for r in self.parts.values())

    @property
    def min_pvalue(self) -> float:
        """The smallest p-value the claim's design can reach: its largest part's."""
        return max(r.min_pvalue for r in self.parts.values())

    @property
    def against(self) -> dict[str, bool]:
        """label -> whether the data favour the opposite of that part: its opposite p-value
        below alpha after Holm over the parts that have an opposite."""
        opp = [label for label, r in self.parts.items()
               if r.kind == "directional" and r.pvalue_opposite is not None]
        adj = dict(zip(opp, holm_adjust([self.parts[lb].pvalue_opposite for lb in opp])))
        return {label: label in adj and bool(adj[label] < self.alpha) for label in self.parts}

    def part_outcomes(self) -> dict[str, str]:
        """label -> supported, against, not equivalent or inconclusive (not shown)."""
        against, out = self.against, {}
        for label, r in self.parts.items():
            if self.supported(label):
                out[label] = SUPPORTED
            elif r.kind == "equivalence":
                out[label] = NOT_EQUIVALENT
            else:
                out[label] = AGAINST if against[label] else NOT_SHOWN
        return out

    @property
    def outcome(self) -> str:
        """One of OUTCOMES: holds, contradicted, not equivalent, inconclusive."""
        parts = self.part_outcomes().values()
        if self.passed:
            return "holds"
        if AGAINST in parts:
            return "contradicted"
        if NOT_EQUIVALENT in parts:
            return "not equivalent"
        return "inconclusive"

    @property
    def weakest(self) -> Result:
        """The part with the largest p-value: the claim's statistics."""
        return max(self.parts.values(), key=lambda r: r.pvalue)


def conjunction(family: Mapping[str, Result], *, statement: str, claim: str = "",
                paper: str = "", ours: str = "", alpha: float = ALPHA) -> Verdict:
    """One claim made of several tests, as an intersection-union test: each part is judged
    at `alpha` with no correction, and the claim holds when every part passes (the error of
    "every part holds" is then at most alpha). The Verdict also says whether the claim is
    contradicted, not equivalent or inconclusive (claims/README.md, "Outcomes").

    Args:
        family: label (what the test checks) -> its result, in the claim's order.
        statement, paper, ours: see :class:`Verdict`.
        claim: the claim's id, left empty by a claim's family: the test that records the
            verdict labels it with the claim its mark names.
    """
    if not family:
        raise ValueError(f"claim {claim}: an empty family of tests")
    return Verdict(claim=claim, statement=statement, paper=paper, ours=ours,
                   parts=dict(family), alpha=alpha)
