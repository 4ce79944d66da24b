"""S1 (marker ``ffn_sparsity``): larger Transformers have fewer active FFN neurons (Sec. 4.2,
Fig. 6). The trend test and the figures test, with their families, are fixed in
claims/README.md; lowent/claims/ffn_sparsity.py computes them."""
import pytest

from claims import figures
from claims.marks import cases, claim
from lowent.claims.ffn_sparsity import (COUNT_EDGES, S1, S1_FIGURES, s1_family,
                                        s1_figures_family, sparsity)

# The registered outcome of a claim that does not hold, and why (claims/CALIBRATION.md has
# the figures behind it). A run's XFAIL line and report give that run's own figures.
S1_EXPECTED = (
    "d = 8 activates far fewer than 40% of its neurons per input, "
    "and fewer than 25% of d = 64's neurons are in the lowest count bin")

# Sensitivity: the registered outcomes under other readings of the setting (first run,
# claims/CALIBRATION.md, "Sensitivity"; dropout 0 holds).
S1_X = {"preln": ("inconclusive", "with pre-LN blocks the per-input activity does not fall "
                  "with d")}


def _by_d(runs, probes) -> tuple[dict, dict, dict]:
    """d -> [E] activity, lowest-count-bin fraction and dead fraction (three dicts)."""
    per_d = {d: sparsity(probes(r)) for d, r in runs.items()}
    return tuple({d: p[i] for d, p in per_d.items()} for i in range(3))


class TestLargerTransformersAreSparser:
    @pytest.mark.parametrize("target", cases(S1, x=S1_X))  # base, and dropout 0, pre-LN (X)
    def test_larger_transformers_activate_fewer_neurons(self, target, runs, probes,
                                                        record_verdict, record_figure):
        """S1. "smaller models have a higher proportion of active neurons while in larger
        models, neurons tend to be more inactive ... larger models activate a lower proportion
        of neurons on average for each input sequence" (Sec. 4.2, Fig. 6 centre right, right)"""
        activity, lowest, dead = _by_d(runs, probes)
        record_figure(figures.histograms(
            {f"d={d}": probes(r)["count_hist"] for d, r in runs.items()},
            COUNT_EDGES, "Activation counts of FFN neurons "
            "(Fig. 6 centre right)", "positions (of 15,625) at which a neuron is active"))
        record_figure(figures.by_size({"active per input": activity, "dead": dead},
                                      "Active and dead FFN neurons (Fig. 6 right)",
                                      "fraction of FFN neurons"))
        v = record_verdict(s1_family(activity, lowest, dead))
        assert v.passed, v.outcome

    @claim(S1_FIGURES, expect="contradicted", why=S1_EXPECTED)
    def test_sparsity_figures_match_the_papers(self, runs, probes, record_verdict):
        """S1 (figures). "when [d = 64], over 25% of neurons have activation counts within
        [the lowest bin]. Meanwhile, nearly 10% of the neurons remain completely inactive ...
        When [d = 64], only about 15% of neurons are activated on average for each input
        sequence, whereas for [d = 8], this number exceeds 40%." (Sec. 4.2)"""
        v = record_verdict(s1_figures_family(*_by_d(runs, probes)))
        assert v.passed, v.outcome
