"""Runs shared by the claim modules (built on the session fixtures of fixtures/runs.py)."""
from __future__ import annotations

import numpy as np
import pytest

from lowent.config import ModelSpec, TargetSpec
from lowent.curves import last_window
from lowent.engine import Run
from lowent.models import matched_layers
from lowent.target import build_target


def summary(run: Run, metric: str, window: int) -> np.ndarray:
    """[E] per-seed last-window mean of a smoothed metric, loss spikes excluded."""
    return last_window(run.per_epoch[metric], run.per_epoch["loss"], window)


def matched_transformer(d: int) -> ModelSpec:
    """The Transformer of the same d with the depth closest in parameters to the RNNs."""
    return ModelSpec(d_model=d, layers=matched_layers(ModelSpec(kind="gru", d_model=d, layers=1)))


@pytest.fixture(scope="session")
def size_sweep(profile, train_runs) -> dict[tuple[str, int], Run]:
    """Section 3.1 runs: {(kind, d): Run} for transformer (matched depth), gru and lstm."""
    specs = {}
    for d in profile.sizes:
        specs["transformer", d] = profile.run(matched_transformer(d))
        for kind in ("gru", "lstm"):
            specs[kind, d] = profile.run(ModelSpec(kind=kind, d_model=d, layers=1))
    # Largest first: the costliest runs start on the first workers free.
    keys = sorted(specs, key=lambda k: (-k[1], k[0]))
    return dict(zip(keys, train_runs([specs[k] for k in keys])))


@pytest.fixture(scope="session")
def target_entropy() -> float:
    """H(p_tgt) of the base target's sampled data set, nats."""
    return build_target(TargetSpec.named("base")).entropy


VARIANTS = ("attention_only", "attention_main", "ffn_main", "full")


@pytest.fixture(scope="session")
def variant_runs(profile, train_runs) -> dict[str, Run]:
    """Section 3.2 runs: {variant: Run} at d = 64, L = 4."""
    specs = [profile.run(ModelSpec(variant=v, d_model=64, layers=4)) for v in VARIANTS]
    return dict(zip(VARIANTS, train_runs(specs)))
