"""F1 (marker ``ffn_bias``): the FFN module drives the low-entropy bias.

Section 3.2 of the paper; the tests and family are fixed in claims/README.md and written in
lowent/claims/ffn_bias.py.
"""
import pytest

from claims import figures
from claims.marks import cases
from lowent.claims.common import VARIANTS, summary, target_entropy as entropy_of
from lowent.claims.ffn_bias import F1, f1_family

# The registered outcome of a claim that does not hold, and why (claims/CALIBRATION.md has
# the figures behind it). A run's XFAIL line and report give that run's own figures.
F1_EXPECTED = "full and ffn_main are not shown to end below H(p_tgt), nor above it"
# D1: the registered outcomes on the low and high targets (claims/CALIBRATION.md, D1).
F1_D1 = {"low": ("inconclusive", "full and ffn_main are not shown below H(p_tgt)"),
         "high": ("contradicted", "full and ffn_main end above H(p_tgt), not below")}

# Sensitivity: the registered outcomes under other readings of the setting (first run,
# claims/CALIBRATION.md, "Sensitivity").
F1_X = {"dropout0": ("contradicted", "without dropout full ends above H(p_tgt), and ffn_main "
                     "is not shown below it"),
        "preln": ("inconclusive", "with pre-LN blocks neither ffn_main nor full is shown below "
                  "H(p_tgt)")}


class TestFFNDrivesTheBias:
    @pytest.mark.parametrize("target", cases(F1, "inconclusive", F1_EXPECTED, F1_D1, F1_X))
    def test_ffn_variants_end_below_the_target_and_attention_only_above(
            self, target, runs, profile, record_verdict, record_figure):
        """F1. "the entropy of Attention-only is basically higher than the true entropy while
        after adding one layer of FFN module, the entropy of Attention-main decreases and
        fluctuates around the true entropy. For FFN-main and original Transformers, which
        retain all FFN modules, their entropy is mostly lower than the true entropy."
        (Sec. 3.2, Fig. 4; on the low and high targets: D1; under other readings of the
        setting: X)"""
        target_entropy = entropy_of(target)
        H = {v: summary(runs[v], "entropy", profile.window) for v in VARIANTS}
        record_figure(figures.epoch_curves({v: runs[v] for v in VARIANTS}, "entropy",
                                           "Variants, d = 64, L = 4 (Fig. 4 left)", target_entropy))
        record_figure(figures.scatter(
            {v: (summary(runs[v], "kl", profile.window), H[v]) for v in VARIANTS},
            "Variants per seed (Fig. 4 right)", "KL(p_tgt || p_theta) (nats)",
            "H(p_theta) (nats)", (target_entropy, "H(p_tgt)")))
        v = record_verdict(f1_family(H, target_entropy))
        assert v.passed, v.outcome
