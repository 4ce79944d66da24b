"""The controlled target distribution (SETTING 1), its exact tables and the sampled data set.

Contexts are ``#`` followed by 0..T-1 characters, in canonical order: by length, then
lexicographically; the index of a context c of length t is (V^t - 1)/(V - 1) + its base-V
value. Sequences are indexed by their base-V value (x_1 most significant). All sampling uses
``numpy.random.Generator`` (PCG64), so the data are identical on every PyTorch version.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from lowent.config import TargetSpec


def n_contexts(vocab: int, length: int) -> int:
    """Number of contexts ``#``, ``#x1``, ..., ``#x1..x_{T-1}``: (V^T - 1)/(V - 1)."""
    return (vocab**length - 1) // (vocab - 1)


def context_offset(vocab: int, t: int) -> int:
    """Canonical index of the first context of length t."""
    return (vocab**t - 1) // (vocab - 1)


@functools.lru_cache(maxsize=32)
def sequences(vocab: int, length: int) -> np.ndarray:
    """All V^T sequences as digits, row i = base-V digits of i.  Returns [V^T, T] int64."""
    ids = np.arange(vocab**length)
    powers = vocab ** np.arange(length - 1, -1, -1)
    out = (ids[:, None] // powers[None, :]) % vocab
    out.setflags(write=False)
    return out


@functools.lru_cache(maxsize=32)
def sequence_contexts(vocab: int, length: int) -> np.ndarray:
    """Context index of every (sequence, position): row i, column t = index of x_<t.

    Returns [V^T, T] int64; column 0 is always 0 (the context ``#``).
    """
    seqs = sequences(vocab, length)
    out = np.zeros_like(seqs)
    value = np.zeros(len(seqs), dtype=np.int64)
    for t in range(1, length):
        value = value * vocab + seqs[:, t - 1]
        out[:, t] = context_offset(vocab, t) + value
    out.setflags(write=False)
    return out


@functools.lru_cache(maxsize=32)
def context_tokens(vocab: int, length: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For every context in canonical order: last token (start symbol = vocab), depth, parent.

    Returns three [n_contexts] int64 arrays; the parent of ``#`` is -1.
    """
    n = n_contexts(vocab, length)
    token = np.full(n, vocab, dtype=np.int64)
    depth = np.zeros(n, dtype=np.int64)
    parent = np.full(n, -1, dtype=np.int64)
    for t in range(1, length):
        lo, hi = context_offset(vocab, t), context_offset(vocab, t + 1)
        value = np.arange(hi - lo)
        token[lo:hi] = value % vocab
        depth[lo:hi] = t
        parent[lo:hi] = context_offset(vocab, t - 1) + value // vocab
    for a in (token, depth, parent):
        a.setflags(write=False)
    return token, depth, parent


def entropy_of(p: np.ndarray) -> float:
    """Shannon entropy in nats of a probability vector (0 ln 0 = 0)."""
    p = np.asarray(p, dtype=np.float64)
    nz = p[p > 0]
    return float(-(nz * np.log(nz)).sum())


@dataclass(frozen=True, eq=False)
class Target:
    """A built target: exact conditional table, p over all sequences, sampled data set.

    ``p_tgt`` is the empirical (sampled) distribution: the paper compares against it
    (its footnote and Appendix B), so H and KL in this suite use it.
    """

    spec: TargetSpec
    cond: np.ndarray  # [n_contexts, V] float64: the generating conditionals p(x_t | x_<t)
    p_true: np.ndarray  # [V^T] float64: the generating distribution
    data: np.ndarray  # [n_samples] int64: sampled sequence ids
    p_tgt: np.ndarray  # [V^T] float64: empirical distribution of `data`

    @property
    def vocab(self) -> int:
        return self.spec.vocab

    @property
    def length(self) -> int:
        return self.spec.length

    @property
    def support(self) -> np.ndarray:
        """[V^T] bool: the non-sparse part, sequences with p_tgt > 0."""
        return self.p_tgt > 0

    @property
    def entropy(self) -> float:
        """H(p_tgt) in nats, of the empirical target."""
        return entropy_of(self.p_tgt)

    @property
    def entropy_true(self) -> float:
        """H of the generating distribution in nats (3.6110 for `base`)."""
        return entropy_of(self.p_true)

    def log_table(self) -> np.ndarray:
        """[n_contexts, V] float64 log of the generating conditionals (-inf where 0)."""
        with np.errstate(divide="ignore"):
            return np.log(self.cond)


def build_target(spec: TargetSpec) -> Target:
    """Build the target of `spec`: deterministic in `spec.seed`, independent of torch."""
    return _build_target(spec)


@functools.lru_cache(maxsize=16)
def _build_target(spec: TargetSpec) -> Target:
    V, T, k = spec.vocab, spec.length, len(spec.probs)
    table_rng, data_rng = (np.random.Generator(np.random.PCG64(s))
                           for s in np.random.SeedSequence(spec.seed).spawn(2))
    n = n_contexts(V, T)
    cond = np.zeros((n, V))
    cond[0] = 1.0 / V  # p(x_1 | #) is uniform
    # For every other context pick k distinct characters at random (the first k of a random
    # permutation) and give them spec.probs in order; all other characters get 0.
    chosen = np.argsort(table_rng.random((n - 1, V)), axis=1)[:, :k]
    np.put_along_axis(cond[1:], chosen, np.asarray(spec.probs)[None, :], axis=1)
    seqs, ctx = sequences(V, T), sequence_contexts(V, T)
    p_true = np.prod(cond[ctx, seqs], axis=1)
    p_true /= p_true.sum()  # exact up to rounding; keeps choice() from complaining
    data = data_rng.choice(V**T, size=spec.n_samples, p=p_true)
    p_tgt = np.bincount(data, minlength=V**T) / spec.n_samples
    for a in (cond, p_true, data, p_tgt):
        a.setflags(write=False)
    return Target(spec=spec, cond=cond, p_true=p_true, data=data, p_tgt=p_tgt)
