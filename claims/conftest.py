"""Runs shared by the claim modules (built on the session fixtures of fixtures/runs.py)."""
from __future__ import annotations

from typing import Callable

import numpy as np
import pytest

from lowent.config import ModelSpec, RunSpec, TargetSpec
from lowent.curves import last_window
from lowent.engine import Run
from lowent.models import matched_layers
from lowent.profiles import Profile
from lowent.target import build_target


def summary(run: Run, metric: str, window: int) -> np.ndarray:
    """[E] per-seed last-window mean of a smoothed metric, loss spikes excluded."""
    return last_window(run.per_epoch[metric], run.per_epoch["loss"], window)


def matched_transformer(d: int) -> ModelSpec:
    """The Transformer of the same d with the depth closest in parameters to the RNNs."""
    return ModelSpec(d_model=d, layers=matched_layers(ModelSpec(kind="gru", d_model=d, layers=1)))


# Runs each claim marker needs, as functions of the profile. Every claim test first trains
# the runs of all selected markers together (``claim_runs``): pytest-xdist hands the first
# tests out round-robin and claims are collected first, so every worker joins in and each
# trains runs nobody else is training (the cache's per-run locks decide who).
CLAIM_RUNS: dict[str, Callable[[Profile], dict]] = {}


def needs_runs(marker: str):
    def register(fn):
        CLAIM_RUNS[marker] = fn
        return fn

    return register


@needs_runs("low_entropy")
def _size_sweep_specs(profile: Profile) -> dict:
    specs = {}
    for d in profile.sizes:
        specs["transformer", d] = profile.run(matched_transformer(d))
        for kind in ("gru", "lstm"):
            specs[kind, d] = profile.run(ModelSpec(kind=kind, d_model=d, layers=1))
    return specs


@pytest.fixture(scope="session")
def claim_runs(request, profile, train_runs) -> dict[RunSpec, Run]:
    """All runs of the selected claims, trained cooperatively across workers."""
    markers = {m.name for item in request.session.items for m in item.iter_markers()}
    specs = {spec for marker, fn in CLAIM_RUNS.items() if marker in markers
             for spec in fn(profile).values()}
    # Costliest first, so the long runs start at once on different workers.
    order = sorted(specs, key=lambda s: -s.model.d_model**2 * s.model.layers)
    return dict(zip(order, train_runs(order)))


@pytest.fixture(scope="session")
def size_sweep(profile, claim_runs) -> dict[tuple[str, int], Run]:
    """Section 3.1 runs: {(kind, d): Run} for transformer (matched depth), gru and lstm."""
    return {k: claim_runs[spec] for k, spec in _size_sweep_specs(profile).items()}


@pytest.fixture(scope="session")
def target_entropy() -> float:
    """H(p_tgt) of the base target's sampled data set, nats."""
    return build_target(TargetSpec.named("base")).entropy


VARIANTS = ("attention_only", "attention_main", "ffn_main", "full")


@needs_runs("ffn_bias")
def _variant_specs(profile: Profile) -> dict:
    return {v: profile.run(ModelSpec(variant=v, d_model=64, layers=4)) for v in VARIANTS}


@pytest.fixture(scope="session")
def variant_runs(profile, claim_runs) -> dict[str, Run]:
    """Section 3.2 runs: {variant: Run} at d = 64, L = 4."""
    return {v: claim_runs[spec] for v, spec in _variant_specs(profile).items()}
