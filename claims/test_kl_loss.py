"""F2 (marker ``kl_loss``): per variant, KL is linear in the training loss; equal loss does
not mean equal KL across variants.

Section 3.2 of the paper (Fig. 4 right); the tests and family are fixed in claims/README.md
and written in lowent/claims/kl_loss.py.
"""
import numpy as np

from claims import figures
from claims.marks import claim
from lowent.claims.common import summary
from lowent.claims.kl_loss import F2, by_variant, f2_family


class TestKLIsLinearInLoss:
    @claim(F2)
    def test_kl_is_linear_in_loss_per_variant_but_not_one_line_for_all(
            self, runs, profile, record_verdict, record_figure):
        """F2. "for each variant, there exists a clear linear relationship between the KL
        divergence and the loss ... However, it should be noted that different models with
        identical loss values may have different KL divergences." (Sec. 3.2, Fig. 4 right)"""
        points = {cfg: (float(np.mean(summary(run, "loss", profile.window))),
                        float(np.mean(summary(run, "kl", profile.window))), run.spec.model.variant)
                  for cfg, run in runs.items()}
        record_figure(figures.scatter(
            {v: tuple(xy) for v, xy in by_variant(points).items()},
            "KL vs training loss, a point per (d, L) (Fig. 4 right)",
            "training loss, last-15-epoch mean (nats/token)", "KL, last-15-epoch mean (nats)"))
        v = record_verdict(f2_family(points))
        assert v.passed, v.outcome
