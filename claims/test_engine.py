"""E1 (marker ``engine``): the fast engine computes what the faithful loop computes.

SPEC 7, E1: "The fast engine (trie + ensemble) and the faithful per-sample loop agree:
identical trajectories with dropout 0; statistically indistinguishable final H, KL with
dropout 0.1." The dropout-0 half is exact and needs no statistics; the dropout-0.1 half is
a two-sample equivalence test (claims/README.md).
"""
import numpy as np
import pytest

from claims import figures
from claims.conftest import E1_WINDOW, summary
from lowent.config import ModelSpec, RunSpec, TrainSpec
from lowent.stats import conjunction, equivalence_two

MARGIN = 0.01  # nats: what "indistinguishable" allows (claims/README.md)

# Measured with the paper profile (10 seeds, d = 16, L = 1, dropout 0.1, 20 epochs, torch
# 2.13.0 CPU); last-5-epoch means +- seed SD.
E1_DROPOUT_FIGURES = (
    "does not reproduce: with dropout 0.1 the trie's one mask per context node trains more "
    "slowly than per-sample masks: after 20 epochs H = 3.7212 +- 0.0221 (trie) vs 3.6744 +- "
    "0.0147 nats (per-sample), difference 0.047 [0.032, 0.061]; KL 0.0909 +- 0.0123 vs "
    "0.0571 +- 0.0098, difference 0.034 [0.025, 0.043]; both far outside +-0.01 (TOST p = 1)")

pytestmark = pytest.mark.engine

SEEDS = (0, 1, 2)


class TestEngineAgreesWithFaithfulLoop:
    def test_trie_ensemble_and_per_sample_single_runs_have_identical_trajectories(self, train_run):
        """E1 (dropout 0). "identical trajectories with dropout 0": in float64, three seeds
        trained together on trie batches follow the same per-epoch loss, H and KL as each seed
        trained alone on per-sample batches."""
        fast = train_run(RunSpec(model=ModelSpec(d_model=16, layers=2, dropout=0.0),
                                 train=TrainSpec(epochs=2, dtype="float64"), seeds=SEEDS))
        for e, seed in enumerate(SEEDS):
            slow = train_run(fast.spec.replace(
                train=TrainSpec(epochs=2, dtype="float64", layout="per_sample"), seeds=(seed,)))
            for name in ("loss", "loss_eval", "entropy", "kl", "mass_sparse", "dead_fraction"):
                np.testing.assert_allclose(fast.per_epoch[name][e], slow.per_epoch[name][0],
                                           rtol=1e-9, atol=1e-12, err_msg=name)
            np.testing.assert_allclose(fast.table[e], slow.table[0], rtol=0, atol=1e-8)


class TestEngineIsFaithfulWithDropout:
    @pytest.mark.xfail(strict=True, reason=E1_DROPOUT_FIGURES)
    def test_trie_and_per_sample_batches_end_at_the_same_entropy_and_kl(
            self, layout_runs, record_verdict, record_figure):
        """E1 (dropout 0.1). "statistically indistinguishable final H, KL with dropout 0.1":
        with dropout the trie draws one mask per context node instead of one per sample;
        the final entropy and KL must not move by more than 0.01 nats."""
        H = {k: summary(r, "entropy", E1_WINDOW) for k, r in layout_runs.items()}
        KL = {k: summary(r, "kl", E1_WINDOW) for k, r in layout_runs.items()}
        record_figure(figures.epoch_curves(layout_runs, "entropy", "Trie vs per-sample batches, "
                                           "d = 16, L = 1, dropout 0.1"))
        v = record_verdict(conjunction(
            [equivalence_two(H["trie"], H["per_sample"], MARGIN),
             equivalence_two(KL["trie"], KL["per_sample"], MARGIN)],
            labels=["final H within 0.01 nats", "final KL within 0.01 nats"],
            claim="E1", statement="d = 16, L = 1, dropout 0.1, 20 epochs: trie and per-sample "
                                  "runs end within 0.01 nats in H and in KL (two-sample TOST)",
            paper="the fast engine agrees with the faithful loop (SPEC 5, 7)",
            ours="H trie {:.4f} / per-sample {:.4f}; KL {:.4f} / {:.4f} nats".format(
                H["trie"].mean(), H["per_sample"].mean(), KL["trie"].mean(),
                KL["per_sample"].mean())))
        assert v.passed, str(v)
