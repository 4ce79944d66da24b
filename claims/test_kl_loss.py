"""F2 (marker ``kl_loss``): per variant, KL is linear in the training loss; equal loss does
not mean equal KL across variants.

Section 3.2 of the paper (Fig. 4 right); the tests and family are fixed in claims/README.md.
"""
import numpy as np
import pytest

from claims import figures
from claims.conftest import VARIANTS, summary
from lowent.stats import conjunction, lines_differ, pearson

pytestmark = pytest.mark.kl_loss

STRONG = 0.8  # "strong Pearson r": rho > 0.8 (claims/README.md)


def _points(variant_grid, window):
    """{variant: [2, configurations] array of (seed-mean training loss, seed-mean KL)},
    last-window means, and the same points once per distinct run as (x, y, variant): at
    L = 1 attention_main and ffn_main are full's run, which counts once, as full."""
    xy = {}
    for run in variant_grid.values():
        if run.spec.key() not in xy:
            xy[run.spec.key()] = (float(np.mean(summary(run, "loss", window))),
                                  float(np.mean(summary(run, "kl", window))),
                                  run.spec.model.variant)
    per_variant = {v: np.array([xy[run.spec.key()][:2] for (u, _, _), run in variant_grid.items()
                                if u == v]).T for v in VARIANTS}
    return per_variant, list(zip(*xy.values()))


class TestKLIsLinearInLoss:
    def test_kl_is_linear_in_loss_per_variant_but_not_one_line_for_all(
            self, variant_grid, profile, record_verdict, record_figure):
        """F2. "for each variant, there exists a clear linear relationship between the KL
        divergence and the loss ... However, it should be noted that different models with
        identical loss values may have different KL divergences." (Sec. 3.2, Fig. 4 right)"""
        pts, distinct = _points(variant_grid, profile.window)
        record_figure(figures.scatter(
            {v: tuple(pts[v]) for v in VARIANTS},
            "KL vs training loss, a point per (d, L) (Fig. 4 right)",
            "training loss, last-15-epoch mean (nats/token)", "KL, last-15-epoch mean (nats)"))
        family = [pearson(*pts[v], null=STRONG) for v in VARIANTS]
        family.append(lines_differ(*distinct))
        r = {v: f.effect for v, f in zip(VARIANTS, family)}
        v = record_verdict(conjunction(
            family,
            labels=[f"{v}: Pearson rho(loss, KL) > {STRONG} over its configurations"
                    for v in VARIANTS] + ["one common line does not fit all variants"],
            claim="F2", statement=f"per variant, Pearson rho between training loss and KL "
                                  f"exceeds {STRONG} across (d, L); the variants' lines differ",
            paper="a clear linear relation per variant; identical loss, different KL (Fig. 4 "
                  "right; no figure in the text)",
            ours="r " + ", ".join(f"{k}: {x:.3f}" for k, x in r.items())
                 + f"; F = {family[-1].statistic:.3g}, largest KL gap at equal loss "
                   f"{family[-1].effect:.4f} nats"))
        assert v.passed, str(v)
