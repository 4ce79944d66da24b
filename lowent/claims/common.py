"""Helpers the claim families and their tests share: per-seed summaries of runs, probes of
the final weights, loss-spike and dead-neuron-jump events, and the specs several run sets
reuse. Pure functions of runs; caching is the caller's (a session fixture)."""
from __future__ import annotations

import functools
from typing import Callable, Hashable, Mapping

import numpy as np

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

VARIANTS = ("attention_only", "attention_main", "ffn_main", "full")  # Transformer variants


def summary(run: Run, metric: str, window: int) -> np.ndarray:
    """[E] per-seed last-window mean of a smoothed metric, loss spikes excluded."""
    return last_window(run.per_epoch[metric], run.per_epoch["loss"], window)


def final_probes(run: Run) -> dict[str, np.ndarray]:
    """Probes of the final weights (eval mode, float64) over all V^T T token positions.

    Returns:
        ``activity`` [E] (mean per-input fraction of active FFN neurons), ``count_hist``
        [E, 20], ``dead`` [E], ``counts`` [E, N] for models with an FFN;
        ``route_all`` and ``route_residual`` [E, 30] for routed models.
    """
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
    return out


def memoized(fn: Callable[[Run], dict], key: Callable[[Run], Hashable] = lambda r: r.spec.key()
             ) -> Callable[[Run], dict]:
    """`fn` computed once per run (by `key`); the memo lives in the returned function."""
    memo: dict = {}

    def get(run: Run) -> dict:
        k = key(run)
        if k not in memo:
            memo[k] = fn(run)
        return memo[k]

    return get


def ffn_neurons(model: ModelSpec) -> int | None:
    """FFN neurons of one model (ffn_mult d per FFN block); None without any FFN."""
    if model.kind != "transformer":
        return None
    n = sum(ffn for _, ffn in block_plan(model.variant, model.layers))
    return n * model.ffn_mult * model.d_model or None


def run_events(run: Run) -> list[dict[str, np.ndarray]]:
    """Per seed, the loss-spike and dead-neuron-jump steps of a logged run."""
    return events.per_seed(run.per_step, ffn_neurons(run.spec.model))


def spikes_per_run(run: Run) -> np.ndarray:
    """[E] number of loss spikes of each seed."""
    return np.array([e["spikes"].size for e in run_events(run)], dtype=np.float64)


@functools.lru_cache(maxsize=None)
def target_entropy(target: str = "base") -> float:
    """H(p_tgt) of a named target's sampled data set, nats."""
    return build_target(TargetSpec.named(target)).entropy


def matched_transformer(d: int) -> ModelSpec:
    """The Transformer of the same d with the depth closest in parameters to the RNNs."""
    return ModelSpec(d_model=d, layers=matched_layers(ModelSpec(kind="gru", d_model=d, layers=1)))


def logged(profile: Profile, model: ModelSpec, **train) -> RunSpec:
    """A run that logs the loss every step and the dead-neuron count every
    ``profile.log_every`` steps (the dynamics claims). Logging runs in eval mode under
    no_grad and draws no dropout, so the training trajectory is the same as without it
    (tests/test_engine.py)."""
    return profile.run(model, log_every=profile.log_every, **train)


def depth4_specs(profile: Profile) -> dict[int, RunSpec]:
    """{d: RunSpec} of the full Transformer, L = 4, logged (S1, S2, S4; F2's L = 4 full)."""
    return {d: logged(profile, ModelSpec(d_model=d, layers=4)) for d in profile.sizes}


def means(values: Mapping, fmt: str = ".4f") -> str:
    """"d=8: 3.6644, d=16: ..." from {d: per-seed array}."""
    return ", ".join(f"d={d}: {np.mean(v):{fmt}}" for d, v in values.items())
