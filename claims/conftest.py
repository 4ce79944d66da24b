"""Runs shared by the claim modules (built on the session fixtures of fixtures/runs.py)."""
from __future__ import annotations


import numpy as np
import pytest

from lowent import events
from lowent.config import ModelSpec, RunSpec, TargetSpec
from lowent.curves import last_window
from lowent.engine import Run, evaluate
from lowent.models import matched_layers
from lowent.models.transformer import block_plan
from lowent.probes import (activation_counts, count_histogram, dead_fraction, ffn_active,
                           per_input_activity, route_histogram, route_weights)
from lowent.profiles import Profile
from lowent.target import build_target

from fixtures.runs import needs_runs


def summary(run: Run, metric: str, window: int) -> np.ndarray:
    """[E] per-seed last-window mean of a smoothed metric, loss spikes excluded."""
    return last_window(run.per_epoch[metric], run.per_epoch["loss"], window)


_PROBES: dict[str, dict[str, np.ndarray]] = {}


def final_probes(run: Run) -> dict[str, np.ndarray]:
    """Probes of the final weights (eval mode, float64) over all V^T T token positions:
    ``activity`` [E] (mean per-input fraction of active FFN neurons), ``count_hist``
    [E, 20], ``dead`` [E], ``counts`` [E, N]; ``route_all`` and ``route_residual`` [E, 30]
    for routed models. Computed once per run and session."""
    key = run.spec.key()
    if key not in _PROBES:
        V, T = run.spec.target.vocab, run.spec.target.length
        _, rec = evaluate(run.model(), V, T)
        out = {}
        active = ffn_active(rec)
        if active is not None:
            counts = activation_counts(active, V, T)
            out.update(activity=per_input_activity(active, V, T).mean(axis=-1), counts=counts,
                       count_hist=count_histogram(counts, V, T), dead=dead_fraction(counts))
        weights = route_weights(rec)
        if weights is not None:
            out.update(route_all=route_histogram(weights, V, T),
                       route_residual=route_histogram(weights, V, T, residual_only=True))
        _PROBES[key] = out
    return _PROBES[key]


def ffn_neurons(model: ModelSpec) -> int | None:
    """FFN neurons of one model (ffn_mult d per FFN block); None without any FFN."""
    if model.kind != "transformer":
        return None
    n = sum(ffn for _, ffn in block_plan(model.variant, model.layers))
    return n * model.ffn_mult * model.d_model or None


def run_events(run: Run) -> list[dict[str, np.ndarray]]:
    """Per seed, the loss-spike and dead-neuron-jump steps of a logged run."""
    return events.per_seed(run.per_step, ffn_neurons(run.spec.model))


def matched_transformer(d: int) -> ModelSpec:
    """The Transformer of the same d with the depth closest in parameters to the RNNs."""
    return ModelSpec(d_model=d, layers=matched_layers(ModelSpec(kind="gru", d_model=d, layers=1)))


@needs_runs("low_entropy")
def _size_sweep_specs(profile: Profile) -> dict:
    specs = {}
    for d in profile.sizes:
        specs["transformer", d] = profile.run(matched_transformer(d))
        for kind in ("gru", "lstm"):
            specs[kind, d] = profile.run(ModelSpec(kind=kind, d_model=d, layers=1))
    return specs


@pytest.fixture(scope="session")
def size_sweep(profile, claim_runs) -> dict[tuple[str, int], Run]:
    """Section 3.1 runs: {(kind, d): Run} for transformer (matched depth), gru and lstm."""
    return {k: claim_runs[spec] for k, spec in _size_sweep_specs(profile).items()}


@pytest.fixture(scope="session")
def target_entropy() -> float:
    """H(p_tgt) of the base target's sampled data set, nats."""
    return build_target(TargetSpec.named("base")).entropy


VARIANTS = ("attention_only", "attention_main", "ffn_main", "full")


def logged(profile: Profile, model: ModelSpec, **train) -> RunSpec:
    """A run that logs the loss every step and the dead-neuron count every
    ``profile.log_every`` steps (the dynamics claims). Logging runs in eval mode under
    no_grad and draws no dropout, so the training trajectory is the same as without it
    (tests/test_engine.py)."""
    return profile.run(model, log_every=profile.log_every, **train)


@needs_runs("ffn_bias")
def _variant_specs(profile: Profile) -> dict:
    # full and attention_only are the logged runs the spike claims also read.
    return {v: (logged if v in ("full", "attention_only") else Profile.run)(
        profile, ModelSpec(variant=v, d_model=64, layers=4)) for v in VARIANTS}


@pytest.fixture(scope="session")
def variant_runs(profile, claim_runs) -> dict[str, Run]:
    """Section 3.2 runs: {variant: Run} at d = 64, L = 4."""
    return {v: claim_runs[spec] for v, spec in _variant_specs(profile).items()}


DEPTHS = (1, 2, 4)  # L of the configuration grids (SPEC 3)


def variant_spec(profile: Profile, variant: str, d: int, layers: int) -> RunSpec:
    """The run of one variant configuration. Where another claim trains the same model, its
    spec (logged or not) is reused so nothing is trained twice: at L = 1 attention_main and
    ffn_main are the full Transformer (one block with attention and FFN), which is also the
    matched-depth Transformer of L1-L3; full at L = 4 is S1's logged run; at d = 64, L = 4
    the variants are F1's runs."""
    if layers == 1 and variant in ("attention_main", "ffn_main"):
        variant = "full"
    model = ModelSpec(variant=variant, d_model=d, layers=layers)
    if layers == 4 and (variant == "full" or (variant == "attention_only" and d == 64)):
        return logged(profile, model)
    return profile.run(model)


@needs_runs("kl_loss")
def _grid_specs(profile: Profile) -> dict:
    return {(v, d, L): variant_spec(profile, v, d, L)
            for v in VARIANTS for d in profile.sizes for L in DEPTHS}


@pytest.fixture(scope="session")
def variant_grid(profile, claim_runs) -> dict[tuple[str, int, int], Run]:
    """F2 runs: {(variant, d, L): Run} over d in the profile's sizes and L in {1, 2, 4}; at
    L = 1 attention_main and ffn_main map to the full run (the same model)."""
    return {k: claim_runs[spec] for k, spec in _grid_specs(profile).items()}


@needs_runs("ffn_sparsity")
def _depth4_specs(profile: Profile) -> dict:
    return {d: logged(profile, ModelSpec(d_model=d, layers=4)) for d in profile.sizes}


@pytest.fixture(scope="session")
def depth4_runs(profile, claim_runs) -> dict[int, Run]:
    """Sections 4.2/4.3 runs: {d: Run} of the full Transformer, L = 4, logged every 8 steps."""
    return {d: claim_runs[spec] for d, spec in _depth4_specs(profile).items()}


@needs_runs("residual_paths")
def _routed_specs(profile: Profile) -> dict:
    return {d: profile.run(ModelSpec(variant="routed", d_model=d, layers=4))
            for d in profile.sizes}


@pytest.fixture(scope="session")
def routed_runs(profile, claim_runs) -> dict[int, Run]:
    """Section 4.1 runs: {d: Run} of the routed Transformer, L = 4."""
    return {d: claim_runs[spec] for d, spec in _routed_specs(profile).items()}


OPTIMIZER_NAMES = ("adam", "sgd_momentum", "rmsprop", "adam_2nd", "adamw")


@needs_runs("optimizers")
def _optimizer_specs(profile: Profile) -> dict:
    return {o: logged(profile, ModelSpec(d_model=64, layers=4), optimizer=o)
            for o in OPTIMIZER_NAMES}


@pytest.fixture(scope="session")
def optimizer_runs(profile, claim_runs) -> dict[str, Run]:
    """Section 4.2 runs: {optimizer: Run} of the full Transformer at d = 64, L = 4, logged."""
    return {o: claim_runs[spec] for o, spec in _optimizer_specs(profile).items()}


@needs_runs("loss_spikes")
def _spike_specs(profile: Profile) -> dict:
    specs = {("transformer", d): spec for d, spec in _depth4_specs(profile).items()}
    specs["attention_only", 64] = logged(profile, ModelSpec(variant="attention_only",
                                                            d_model=64, layers=4))
    for kind in ("gru", "lstm"):
        specs[kind, 64] = logged(profile, ModelSpec(kind=kind, d_model=64, layers=1))
    return specs


@pytest.fixture(scope="session")
def spike_runs(profile, claim_runs) -> dict[tuple[str, int], Run]:
    """Runs of the spike claims, logged: {(kind, d): Run} for the L = 4 Transformer at every
    d, attention_only at d = 64 (L = 4), and GRU and LSTM at d = 64."""
    return {k: claim_runs[spec] for k, spec in _spike_specs(profile).items()}


E1_EPOCHS = 20  # E1 checks the engine, not the paper's training length (claims/README.md)
E1_WINDOW = 5  # epochs averaged at the end of the E1 runs


@needs_runs("engine")
def _layout_specs(profile: Profile) -> dict:
    return {layout: profile.run(ModelSpec(d_model=16, layers=1), layout=layout, epochs=E1_EPOCHS)
            for layout in ("trie", "per_sample")}


@pytest.fixture(scope="session")
def layout_runs(profile, claim_runs) -> dict[str, Run]:
    """E1 runs: {layout: Run} of the full Transformer, d = 16, L = 1, dropout 0.1, trained
    on trie batches and on faithful per-sample batches (same seeds)."""
    return {k: claim_runs[spec] for k, spec in _layout_specs(profile).items()}
