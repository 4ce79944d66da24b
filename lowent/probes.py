"""Neuron and routing probes over all possible inputs (SETTING 6).

"All possible inputs" are the V^T sequences fed as ``# x1 .. x_{T-1}``: V^T * T token
positions (15,625 for V = T = 5). A context of length t is shared by V^(T-t) of those
sequences, so a forward over all n_contexts contexts (canonical order), weighted by these
multiplicities, covers every position exactly once. Probes read the named trace of such a
forward, run in eval mode (no dropout).
"""
from __future__ import annotations

import numpy as np
import torch

from lowent.target import context_tokens, sequence_contexts

COUNT_BINS = 20  # activation-count histogram: equal bins on [0, V^T * T]
ROUTE_BINS = 30  # routing-weight histogram: equal bins on [0, 1]


def multiplicity(vocab: int, length: int) -> np.ndarray:
    """[n_contexts] number of token positions that share each context: V^(T - depth)."""
    depth = context_tokens(vocab, length)[1]
    return vocab ** (length - depth)


def _np(x) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def ffn_active(trace: dict) -> np.ndarray | None:
    """[E, n_contexts, N] bool: neuron active (ReLU output > 0), FFN blocks concatenated in
    block order; None when the model has no FFN."""
    names = sorted((k for k in trace if k.endswith(".ffn.post")),
                   key=lambda k: int(k.split(".")[1]))
    if not names:
        return None
    return np.concatenate([_np(trace[k]) > 0 for k in names], axis=-1)


def activation_counts(active: np.ndarray, vocab: int, length: int) -> np.ndarray:
    """[E, N] int64: positions (of the V^T T) at which each neuron is active."""
    w = multiplicity(vocab, length)
    return np.einsum("ecn,c->en", active.astype(np.int64), w)


def dead_fraction(counts: np.ndarray) -> np.ndarray:
    """[E] fraction of neurons never active on any input (count 0)."""
    return (counts == 0).mean(axis=-1)


def per_input_activity(active: np.ndarray, vocab: int, length: int) -> np.ndarray:
    """[E, V^T]: fraction of neurons active, averaged over the T positions of each sequence."""
    frac = active.mean(axis=-1)  # [E, n_contexts]
    return frac[:, sequence_contexts(vocab, length)].mean(axis=-1)


def count_histogram(counts: np.ndarray, vocab: int, length: int, bins: int = COUNT_BINS):
    """[E, bins] fraction of neurons per equal bin of activation count on [0, V^T T]."""
    edges = np.linspace(0, vocab**length * length, bins + 1)
    return np.stack([np.histogram(c, edges)[0] / c.size for c in counts])


def route_weights(trace: dict) -> np.ndarray | None:
    """[E, L, n_contexts, H + 1] router weights (w_0 = residual); None without routing."""
    names = sorted((k for k in trace if k.endswith(".route")), key=lambda k: int(k.split(".")[1]))
    if not names:
        return None
    return np.stack([_np(trace[k]) for k in names], axis=1)


def route_histogram(weights: np.ndarray, vocab: int, length: int, residual_only: bool = False,
                    bins: int = ROUTE_BINS) -> np.ndarray:
    """[E, bins] fraction of path weights per equal bin on [0, 1], over all V^T T positions and
    all layers (each context weighted by its multiplicity); only w_0 if residual_only."""
    w = weights[..., :1] if residual_only else weights  # [E, L, C, P]
    mult = np.broadcast_to(multiplicity(vocab, length)[None, :, None], w.shape[1:])
    edges = np.linspace(0.0, 1.0, bins + 1)
    out = np.stack([np.histogram(we.ravel(), edges, weights=mult.ravel())[0] for we in w])
    return out / mult.sum()


def epoch_probes(trace: dict, vocab: int, length: int, n_models: int) -> dict[str, np.ndarray]:
    """dead_fraction and active_fraction (mean per-input activity), each [E]; NaN w/o FFN."""
    active = ffn_active(trace)
    if active is None:
        nan = np.full(n_models, np.nan)
        return {"dead_fraction": nan, "active_fraction": nan.copy()}
    counts = activation_counts(active, vocab, length)
    return {"dead_fraction": dead_fraction(counts),
            "active_fraction": per_input_activity(active, vocab, length).mean(axis=-1)}
