"""Exact metrics of a learned distribution, as pure functions of its log-conditional table.

A table has shape [E, n_contexts, V]: entry [e, c, x] = ln p_theta_e(x | context c), contexts in
the canonical order of :mod:`lowent.target`. V and T are read off the shape. Everything is
float64 numpy; no torch module is needed. All values are in nats.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lowent.target import sequence_contexts, sequences


def table_shape(table: np.ndarray) -> tuple[int, int]:
    """(V, T) of a table [E, n_contexts, V], where n_contexts = (V^T - 1)/(V - 1)."""
    n, V = table.shape[-2], table.shape[-1]
    T, total = 0, 0
    while total < n:
        total += V**T
        T += 1
    if total != n or V < 2:
        raise ValueError(f"table of shape {table.shape} is not [E, (V^T-1)/(V-1), V]")
    return V, T


def _as_table(table) -> np.ndarray:
    table = np.asarray(table, dtype=np.float64)
    if table.ndim == 2:
        raise ValueError("tables are [E, n_contexts, V]; add a leading model axis")
    return table


def sequence_log_probs(table) -> np.ndarray:
    """ln p_theta(x) of every sequence.

    Args:
        table: [E, n_contexts, V] log-conditionals.
    Returns:
        [E, V^T] float64: sum over positions t of ln p(x_t | x_<t).
    """
    table = _as_table(table)
    V, T = table_shape(table)
    ctx, seqs = sequence_contexts(V, T), sequences(V, T)
    return table[:, ctx, seqs].sum(axis=-1)


def _plogp(logp: np.ndarray) -> np.ndarray:
    """p ln p elementwise with 0 ln 0 = 0 (log p = -inf gives 0, not nan)."""
    p = np.exp(logp)
    return np.where(p > 0, p * np.where(p > 0, logp, 0.0), 0.0)


def entropy(table) -> np.ndarray:
    """H(p_theta) = -sum_x p_theta(x) ln p_theta(x) over all V^T sequences.

    Returns:
        [E] float64, nats.
    """
    return -_plogp(sequence_log_probs(table)).sum(axis=-1)


def kl(p_tgt, table) -> np.ndarray:
    """KL(p_tgt || p_theta) = sum_{x: p_tgt(x) > 0} p_tgt(x) ln(p_tgt(x) / p_theta(x)).

    Args:
        p_tgt: [V^T] target probabilities (the empirical target of the data set).
        table: [E, n_contexts, V] log-conditionals.
    Returns:
        [E] float64, nats (+inf if the model gives 0 to a sequence in the support).
    """
    p = np.asarray(p_tgt, dtype=np.float64)
    logq = sequence_log_probs(table)
    s = p > 0
    return (p[s] * (np.log(p[s]) - logq[:, s])).sum(axis=-1)


def cross_entropy(p_tgt, table) -> np.ndarray:
    """Exact per-token training loss on the target: -sum_x p_tgt(x) ln p_theta(x) / T.

    Equals (H(p_tgt) + KL(p_tgt || p_theta)) / T. Returns [E] float64, nats per token.
    """
    table = _as_table(table)
    _, T = table_shape(table)
    p = np.asarray(p_tgt, dtype=np.float64)
    s = p > 0
    return -(p[s] * sequence_log_probs(table)[:, s]).sum(axis=-1) / T


@dataclass(frozen=True)
class Parts:
    """Entropy split between the sparse part (p_tgt = 0) and the non-sparse part (p_tgt > 0).

    entropy_sparse + entropy_nonsparse = H(p_theta); mass_sparse + mass_nonsparse = 1.
    """

    entropy_sparse: np.ndarray  # [E] nats: -sum_{x: p_tgt(x)=0} p ln p
    entropy_nonsparse: np.ndarray  # [E] nats: -sum_{x: p_tgt(x)>0} p ln p
    mass_sparse: np.ndarray  # [E]: p_theta(sparse part)
    mass_nonsparse: np.ndarray  # [E]: p_theta(non-sparse part)


def parts(p_tgt, table) -> Parts:
    """Split H(p_theta) and the probability mass by the support of p_tgt."""
    logq = sequence_log_probs(table)
    s = np.asarray(p_tgt) > 0
    plogp = _plogp(logq)
    q = np.exp(logq)
    return Parts(entropy_sparse=-plogp[:, ~s].sum(-1), entropy_nonsparse=-plogp[:, s].sum(-1),
                 mass_sparse=q[:, ~s].sum(-1), mass_nonsparse=q[:, s].sum(-1))


def epoch_metrics(p_tgt, table) -> dict[str, np.ndarray]:
    """The per-epoch metrics of a run's trace, each [E]: entropy, kl, loss_eval and parts."""
    pr = parts(p_tgt, table)
    return {"entropy": pr.entropy_sparse + pr.entropy_nonsparse, "kl": kl(p_tgt, table),
            "loss_eval": cross_entropy(p_tgt, table), "entropy_sparse": pr.entropy_sparse,
            "entropy_nonsparse": pr.entropy_nonsparse, "mass_sparse": pr.mass_sparse}
