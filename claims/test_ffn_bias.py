"""F1 (marker ``ffn_bias``): the FFN module drives the low-entropy bias.

Section 3.2 of the paper; the tests and family are fixed in claims/README.md.
"""
import numpy as np
import pytest

from claims import figures
from claims.conftest import VARIANTS, summary
from lowent.stats import conjunction, equivalence, one_sample

pytestmark = pytest.mark.ffn_bias

MARGIN = 0.05  # nats, the margin of "near H(p_tgt)" (claims/README.md)

# Measured with the paper profile (10 seeds, 100 epochs, d = 64, L = 4, dropout 0.1,
# torch 2.13.0 CPU); last-15-epoch means +- seed SD; H(p_tgt) = 3.6078 nats.
F1_FIGURES = (
    "does not reproduce: full ends at H(p_tgt), not below (3.6083 +- 0.0083, Holm p = 0.57) "
    "and ffn_main only 0.004 below (3.6035 +- 0.0064, p = 0.064); attention_only is above "
    "(3.6377 +- 0.0307, p = 0.02) and attention_main within 0.05 (3.6098) as claimed")


class TestFFNDrivesTheBias:
    @pytest.mark.xfail(strict=True, reason=F1_FIGURES)
    def test_ffn_variants_end_below_the_target_and_attention_only_above(
            self, variant_runs, profile, target_entropy, record_verdict, record_figure):
        """F1. "the entropy of Attention-only is basically higher than the true entropy while
        after adding one layer of FFN module, the entropy of Attention-main decreases and
        fluctuates around the true entropy. For FFN-main and original Transformers, which
        retain all FFN modules, their entropy is mostly lower than the true entropy."
        (Sec. 3.2, Fig. 4)"""
        H = {v: summary(variant_runs[v], "entropy", profile.window) for v in VARIANTS}
        record_figure(figures.epoch_curves(variant_runs, "entropy",
                                           "Variants, d = 64, L = 4 (Fig. 4 left)", target_entropy))
        record_figure(figures.scatter(
            {v: (summary(variant_runs[v], "kl", profile.window), H[v]) for v in VARIANTS},
            "Variants per seed (Fig. 4 right)", "KL(p_tgt || p_theta) (nats)",
            "H(p_theta) (nats)", (target_entropy, "H(p_tgt)")))
        v = record_verdict(conjunction(
            [one_sample(H["attention_only"], target_entropy, "greater"),
             equivalence(H["attention_main"], target_entropy, MARGIN),
             one_sample(H["ffn_main"], target_entropy, "less"),
             one_sample(H["full"], target_entropy, "less")],
            labels=["attention_only: H > H(p_tgt)", "attention_main: H within 0.05 of H(p_tgt)",
                    "ffn_main: H < H(p_tgt)", "full: H < H(p_tgt)"],
            claim="F1", statement="d = 64, L = 4: attention_only H > H(p_tgt); attention_main "
                                  "within 0.05 nats; ffn_main and full H < H(p_tgt)",
            paper=f"attention_only above H(p_tgt) = {target_entropy:.4f}, attention_main around "
                  "it, ffn_main and full below (Fig. 4)",
            ours="H (nats) " + ", ".join(f"{k}: {np.mean(h):.4f}" for k, h in H.items())))
        assert v.passed, str(v)
