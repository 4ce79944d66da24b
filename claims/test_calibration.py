"""A1 (marker ``calibration``): the A/A check of the claims' two-sample comparison (not a
claim of the paper; claims/README.md, "Sensitivity and A/A"; lowent/claims/calibration.py)."""
from claims.marks import claim
from lowent.claims.calibration import A1, aa_rate
from lowent.claims.common import summary
from lowent.stats import ALPHA


class TestAA:
    @claim(A1)
    def test_splitting_one_configurations_seeds_declares_no_difference_beyond_alpha(
            self, runs, profile, record_property, record_figure):
        """A1. Each of the size sweep's 12 configurations (Transformer, GRU, LSTM at four d):
        its seeds' final entropies split into two halves in every ordered way, each split
        through the one-sided Welch test; the rate of declared differences is at most
        alpha (two Monte Carlo errors allowed)."""
        aa = aa_rate({f"{k} d={d}": summary(run, "entropy", profile.window)
                      for (k, d), run in runs.items()})
        record_property("lowent_aa", {"rate": aa.rate, "se": aa.se,
                                      "comparisons": aa.comparisons})
        names = list(aa.per_config)
        record_figure({"kind": "lines", "xlabel": "configuration (" + ", ".join(
            f"{i}: {n}" for i, n in enumerate(names)) + ")", "ylabel": "declared different",
            "title": f"A/A: {aa.rate:.3f} of {aa.comparisons} splits declared different "
                     f"(Monte Carlo error {aa.se:.3f})",
            "series": [{"label": "per configuration", "x": list(range(len(names))),
                        "y": [aa.per_config[n] for n in names]}],
            "hlines": [{"y": ALPHA, "label": "alpha"}]})
        assert aa.calibrated, (f"A/A: {aa.rate:.3f} of {aa.comparisons} splits declared "
                               f"different (Monte Carlo error {aa.se:.3f}), above alpha {ALPHA}")
