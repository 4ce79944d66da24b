"""E1 (marker ``engine``): the fast engine computes what the faithful loop computes.

SPEC 7, E1: "The fast engine (trie + ensemble) and the faithful per-sample loop agree:
identical trajectories with dropout 0; statistically indistinguishable final H, KL with
dropout 0.1." This module holds the dropout-0 half, which is exact and needs no statistics.
"""
import numpy as np
import pytest

from lowent.config import ModelSpec, RunSpec, TrainSpec

pytestmark = pytest.mark.engine

SEEDS = (0, 1, 2)


class TestEngineAgreesWithFaithfulLoop:
    def test_trie_ensemble_and_per_sample_single_runs_have_identical_trajectories(self, train_run):
        """With dropout 0 in float64, three seeds trained together on trie batches follow the
        same per-epoch loss, H and KL as each seed trained alone on per-sample batches."""
        fast = train_run(RunSpec(model=ModelSpec(d_model=16, layers=2, dropout=0.0),
                                 train=TrainSpec(epochs=2, dtype="float64"), seeds=SEEDS))
        for e, seed in enumerate(SEEDS):
            slow = train_run(fast.spec.replace(
                train=TrainSpec(epochs=2, dtype="float64", layout="per_sample"), seeds=(seed,)))
            for name in ("loss", "loss_eval", "entropy", "kl", "mass_sparse", "dead_fraction"):
                np.testing.assert_allclose(fast.per_epoch[name][e], slow.per_epoch[name][0],
                                           rtol=1e-9, atol=1e-12, err_msg=name)
            np.testing.assert_allclose(fast.table[e], slow.table[0], rtol=0, atol=1e-8)
