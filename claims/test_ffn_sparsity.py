"""S1 (marker ``ffn_sparsity``): larger Transformers have fewer active FFN neurons.

Section 4.2 of the paper; the tests and families are fixed in claims/README.md.
"""
import numpy as np
import pytest

from claims import figures
from claims.conftest import final_probes
from lowent.probes import COUNT_BINS
from lowent.stats import conjunction, equivalence, one_sample, trend

pytestmark = pytest.mark.ffn_sparsity

NEAR = 0.05  # "about / nearly p": within 5 percentage points (claims/README.md)

# Measured with the paper profile (10 seeds, 100 epochs, L = 4, dropout 0.1, torch 2.13.0 CPU).
S1_FIGURES = (
    "does not reproduce the paper's d = 8 and lowest-bin figures: d = 8 activates 21.9% of "
    "its FFN neurons per input, not more than 40% (d = 16: 24.9%); at d = 64, 23.3% of "
    "neurons are in the lowest count bin, not over 25% (p = 1); the d = 64 activity (16.5%, "
    "about 15%) and dead fraction (7.0%, nearly 10%) match; the trends with d hold")


def _probes(depth4_runs):
    """{d: (activity [E], lowest-count-bin fraction [E], dead fraction [E])}."""
    return {d: (p["activity"], p["count_hist"][:, 0], p["dead"])
            for d, p in ((d, final_probes(r)) for d, r in depth4_runs.items())}


def _means(pr, i) -> str:
    return ", ".join(f"d={d}: {np.mean(v[i]):.3f}" for d, v in pr.items())


class TestLargerTransformersAreSparser:
    def test_larger_transformers_activate_fewer_neurons(self, depth4_runs, record_verdict,
                                                        record_figure):
        """S1. "smaller models have a higher proportion of active neurons while in larger
        models, neurons tend to be more inactive ... larger models activate a lower proportion
        of neurons on average for each input sequence" (Sec. 4.2, Fig. 6 centre right, right)"""
        pr = _probes(depth4_runs)
        record_figure(figures.histograms(
            {f"d={d}": final_probes(r)["count_hist"] for d, r in depth4_runs.items()},
            np.linspace(0, 15625, COUNT_BINS + 1), "Activation counts of FFN neurons "
            "(Fig. 6 centre right)", "positions (of 15,625) at which a neuron is active"))
        record_figure(figures.by_size(
            {"active per input": {d: p[0] for d, p in pr.items()},
             "dead": {d: p[2] for d, p in pr.items()}},
            "Active and dead FFN neurons (Fig. 6 right)", "fraction of FFN neurons"))
        v = record_verdict(conjunction(
            [trend([p[0] for p in pr.values()], "decreasing"),
             trend([p[1] for p in pr.values()], "increasing"),
             trend([p[2] for p in pr.values()], "increasing")],
            labels=["per-input activity falls with d", "lowest count bin grows with d",
                    "dead fraction grows with d"],
            claim="S1", statement="full, L = 4: per-input activity falls with d; the lowest "
                                  "count bin and the dead fraction grow with d",
            paper="activity falls, lowest bin and dead neurons grow with d (Fig. 6)",
            ours=f"activity {_means(pr, 0)}; lowest bin {_means(pr, 1)}; dead {_means(pr, 2)}"))
        assert v.passed, str(v)

    @pytest.mark.xfail(strict=True, reason=S1_FIGURES)
    def test_sparsity_figures_match_the_papers(self, depth4_runs, record_verdict):
        """S1 (figures). "when [d = 64], over 25% of neurons have activation counts within
        [the lowest bin]. Meanwhile, nearly 10% of the neurons remain completely inactive ...
        When [d = 64], only about 15% of neurons are activated on average for each input
        sequence, whereas for [d = 8], this number exceeds 40%." (Sec. 4.2)"""
        pr = _probes(depth4_runs)
        small = min(pr)
        act64, low64, dead64 = pr[64]
        v = record_verdict(conjunction(
            [equivalence(act64, 0.15, NEAR), one_sample(pr[small][0], 0.40, "greater"),
             one_sample(low64, 0.25, "greater"), equivalence(dead64, 0.10, NEAR)],
            labels=["d = 64: 15% +- 5% active per input", f"d = {small}: > 40% active per input",
                    "d = 64: > 25% in the lowest count bin", "d = 64: 10% +- 5% dead"],
            claim="S1 figures", statement=f"d = 64: about 15% active per input, > 25% in the "
                                          f"lowest count bin, about 10% dead; d = {small}: > 40% "
                                          f"active per input",
            paper="d = 64: about 15% active, > 25% in the lowest bin, nearly 10% dead; "
                  "smallest d: > 40% active",
            ours=f"d = 64: {np.mean(act64):.1%} active, {np.mean(low64):.1%} in the lowest bin, "
                 f"{np.mean(dead64):.1%} dead; d = {small}: {np.mean(pr[small][0]):.1%} active"))
        assert v.passed, str(v)
