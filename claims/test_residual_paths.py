"""R1 (marker ``residual_paths``): larger Transformers prefer the residual path.

Section 4.1 of the paper; the tests and families are fixed in claims/README.md and written in
lowent/claims/residual_paths.py.
"""
import numpy as np
import pytest

from claims import figures
from claims.marks import cases, claim
from lowent.claims.residual_paths import (R1, R1_FIGURES, r1_family, r1_figures_family,
                                          route_fractions)
from lowent.probes import ROUTE_BINS

# The registered outcome of a claim that does not hold, and why (claims/CALIBRATION.md has
# the figures behind it). A run's XFAIL line and report give that run's own figures.
R1_EXPECTED = (
    "at d = 64 fewer than half of the path weights are near 0, and "
    "far fewer than 30% of the residual weights near 1")


class TestLargerTransformersPreferTheResidualPath:
    @pytest.mark.parametrize("target", cases(R1))  # target: base (and pre-LN, X)
    def test_larger_transformers_put_more_weight_near_zero_and_more_residual_weight_near_one(
            self, target, runs, probes, record_verdict, record_figure):
        """R1. "as the model size grows, the proportion of weights with smaller values begins
        to increase ... As the model size increases, the proportion of higher weight values
        [of residual connections] begins to rise" (Sec. 4.1, Fig. 6 left, centre left)"""
        fr = {d: route_fractions(probes(r)) for d, r in runs.items()}
        edges = np.linspace(0, 1, ROUTE_BINS + 1)
        for key, title in (("route_all", "Weights of all paths (Fig. 6 left)"),
                           ("route_residual", "Weights of the residual path (Fig. 6 centre left)")):
            record_figure(figures.histograms(
                {f"d={d}": probes(r)[key] for d, r in runs.items()}, edges, title,
                "routing weight"))
        v = record_verdict(r1_family({d: f[0] for d, f in fr.items()},
                                     {d: f[1] for d, f in fr.items()}))
        assert v.passed, v.outcome

    @claim(R1_FIGURES, expect="contradicted", why=R1_EXPECTED)
    def test_d64_routing_fractions_match_the_papers_figures(self, runs, probes, record_verdict):
        """R1 (figures). "when [d = 64], more than half of the weights are assigned values close
        to 0 ... nearly 30% of the [residual] weight values are close to 1" (Sec. 4.1)"""
        v = record_verdict(r1_figures_family(*route_fractions(probes(runs[64]))))
        assert v.passed, v.outcome
