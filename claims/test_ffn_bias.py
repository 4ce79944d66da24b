"""F1 (marker ``ffn_bias``): the FFN module drives the low-entropy bias.

Section 3.2 of the paper; the tests and family are fixed in claims/README.md.
"""
import numpy as np
import pytest

from claims.conftest import VARIANTS, summary
from lowent.stats import conjunction, equivalence, one_sample

pytestmark = pytest.mark.ffn_bias

MARGIN = 0.05  # nats, the margin of "near H(p_tgt)" (claims/README.md)


class TestFFNDrivesTheBias:
    def test_ffn_variants_end_below_the_target_and_attention_only_above(
            self, variant_runs, profile, target_entropy, record_verdict):
        """F1. "the entropy of Attention-only is basically higher than the true entropy while
        after adding one layer of FFN module, the entropy of Attention-main decreases and
        fluctuates around the true entropy. For FFN-main and original Transformers, which
        retain all FFN modules, their entropy is mostly lower than the true entropy."
        (Sec. 3.2, Fig. 4)"""
        H = {v: summary(variant_runs[v], "entropy", profile.window) for v in VARIANTS}
        v = record_verdict(conjunction(
            [one_sample(H["attention_only"], target_entropy, "greater"),
             equivalence(H["attention_main"], target_entropy, MARGIN),
             one_sample(H["ffn_main"], target_entropy, "less"),
             one_sample(H["full"], target_entropy, "less")],
            claim="F1", statement="d = 64, L = 4: attention_only H > H(p_tgt); attention_main "
                                  "within 0.05 nats; ffn_main and full H < H(p_tgt)",
            paper=f"attention_only above H(p_tgt) = {target_entropy:.4f}, attention_main around "
                  "it, ffn_main and full below (Fig. 4)",
            ours="H (nats) " + ", ".join(f"{k}: {np.mean(h):.4f}" for k, h in H.items())))
        assert v.passed, str(v)
