"""Batch layouts: how a minibatch (or every context) becomes one forward pass.

In a causal model the computation at position t depends only on the context x_<t, so a
minibatch of sequences can be laid out four ways, all giving the same loss and gradients
when dropout is 0 (SETTING 5):

* ``per_sample``: 512 sequences x T positions, each position attends to its own past.
* ``dedup``: the distinct sequences of the data set, each weighted by its count in the batch.
* ``trie``: the distinct contexts of the data set as trie nodes (76 for the base target);
  a node attends to itself and its ancestors and takes its depth as position; the loss is
  sum over (node, next char) of count * -ln p / (B T).
* ``faithful``: the trie up to the first dropout, then one row per (sample, position). A
  sample's computation before its first dropout depends only on its context, so it is
  computed once per trie node and gathered into the sample's rows (:class:`Faithful`);
  every sample then draws its own dropout masks, as in the per-sample loop. With the same
  dropout generators it draws exactly the masks of ``per_sample`` and computes the same loss
  and gradients: exact in distribution with dropout, at a fraction of the cost.

A :class:`Layout` is the model-facing description shared by all three: positions sorted by
depth, each with its token, depth, ancestors and parent. Every trie over all contexts in
canonical order gives the exact evaluation of a model (:func:`all_contexts`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from lowent.target import Target, context_tokens, n_contexts, sequence_contexts, sequences


@dataclass(frozen=True)
class Layout:
    """Positions of one forward pass, sorted by depth (level t holds positions at depth t).

    A position attends to ``ancestors[m, :depth[m] + 1]`` (root first, itself last); its
    recurrent parent is ``parent_rel[m]``, an index into the previous level.
    """

    tokens: torch.Tensor  # [1 or E, M] int64 input ids (start symbol = V)
    depth: torch.Tensor  # [M] int64 position index 0..T-1
    ancestors: torch.Tensor  # [M, T] int64 attended positions; padding repeats the position
    valid: torch.Tensor  # [M, T] bool: which ancestor slots are real
    parent_rel: torch.Tensor  # [M] int64 index of the parent within the previous level (root: 0)
    levels: tuple[int, ...]  # [T + 1] start offset of each depth level
    # Whole sequences, position t * S + s attending to (0, s), ..., (t, s): attention may run
    # as causal matmuls within each sequence instead of over gathered ancestors (the
    # faithful layout's sample rows; per_sample keeps the gathered form as its reference).
    dense: bool = False

    @property
    def size(self) -> int:
        return int(self.depth.shape[0])

    def to(self, device) -> "Layout":
        move = lambda t: t.to(device)  # noqa: E731
        return Layout(tokens=move(self.tokens), depth=move(self.depth),
                      ancestors=move(self.ancestors), valid=move(self.valid),
                      parent_rel=move(self.parent_rel), levels=self.levels, dense=self.dense)


def _levels(depth: np.ndarray, length: int) -> tuple[int, ...]:
    if np.any(np.diff(depth) < 0):
        raise ValueError("layout positions must be sorted by depth")
    return tuple(int(x) for x in np.searchsorted(depth, np.arange(length + 1)))


def trie_layout(ctx_ids: np.ndarray, vocab: int, length: int) -> Layout:
    """Layout of a prefix-closed set of contexts (canonical ids, sorted ascending)."""
    ctx_ids = np.asarray(ctx_ids, dtype=np.int64)
    token, depth, parent = context_tokens(vocab, length)
    pos = np.full(n_contexts(vocab, length), -1, dtype=np.int64)
    pos[ctx_ids] = np.arange(len(ctx_ids))
    d = depth[ctx_ids]
    levels = _levels(d, length)
    M = len(ctx_ids)
    anc = np.repeat(np.arange(M)[:, None], length, axis=1)
    # Walk up the trie: the ancestor at depth k of a node at depth t is its (t-k)-th parent.
    cur = ctx_ids.copy()
    for back in range(length):
        has = d - back >= 0
        if back > 0:
            cur = np.where(has, parent[np.maximum(cur, 0)], -1)
        p = pos[np.maximum(cur, 0)]
        if np.any(has & (p < 0)):
            raise ValueError("context set is not prefix-closed")
        rows = np.nonzero(has)[0]
        anc[rows, d[rows] - back] = p[rows]
    valid = np.arange(length)[None, :] <= d[:, None]
    par = pos[np.maximum(parent[ctx_ids], 0)]
    parent_rel = np.where(d > 0, par - np.asarray(levels)[np.maximum(d - 1, 0)], 0)
    return Layout(tokens=torch.as_tensor(token[ctx_ids])[None, :], depth=torch.as_tensor(d),
                  ancestors=torch.as_tensor(anc), valid=torch.as_tensor(valid),
                  parent_rel=torch.as_tensor(parent_rel), levels=levels)


def all_contexts(vocab: int, length: int) -> Layout:
    """Every context in canonical order (781 for V = T = 5): the exact evaluation layout."""
    return trie_layout(np.arange(n_contexts(vocab, length)), vocab, length)


def support_contexts(target: Target) -> np.ndarray:
    """Canonical ids of the contexts that occur in the data set (76 for `base`), sorted."""
    seen = np.unique(target.data)
    return np.unique(sequence_contexts(target.vocab, target.length)[seen])


def sequences_layout(seq_ids: np.ndarray, vocab: int, length: int,
                     dense: bool = False) -> Layout:
    """Layout of whole sequences: seq_ids [E, S] (one row of S sequences per model).

    Position (t, s) sits at index t * S + s and attends to (0, s), ..., (t, s). The input at
    depth 0 is the start symbol and at depth t the character x_t. With `dense`, attention
    runs as causal matmuls within each sequence (Layout.dense), the same numbers in another
    order of summation.
    """
    seq_ids = np.asarray(seq_ids, dtype=np.int64)
    if seq_ids.ndim != 2:
        raise ValueError("seq_ids must be [E, S]")
    S = seq_ids.shape[1]
    seqs = sequences(vocab, length)[seq_ids]  # [E, S, T]
    inp = np.concatenate([np.full(seqs.shape[:2] + (1,), vocab), seqs[:, :, :-1]], axis=2)
    tokens = inp.transpose(0, 2, 1).reshape(len(seq_ids), length * S)  # [E, T*S]
    t = np.repeat(np.arange(length), S)
    s = np.tile(np.arange(S), length)
    anc = np.arange(length)[None, :] * S + s[:, None]
    valid = np.arange(length)[None, :] <= t[:, None]
    anc = np.where(valid, anc, (t * S + s)[:, None])
    return Layout(tokens=torch.as_tensor(tokens), depth=torch.as_tensor(t),
                  ancestors=torch.as_tensor(anc), valid=torch.as_tensor(valid),
                  parent_rel=torch.as_tensor(s), levels=_levels(t, length), dense=dense)


@dataclass(frozen=True)
class Faithful:
    """A minibatch laid out as shared trie nodes followed by per-sample rows.

    The model runs ``shared`` up to its first dropout, then :meth:`expand` gathers each
    sample's rows from its trie nodes and the rest of the forward runs on ``samples``
    (a :func:`sequences_layout`, position t * S + s).
    """

    shared: Layout  # the trie of the data set's contexts
    samples: Layout  # the minibatch's sequences, [E, T*S] tokens
    node: torch.Tensor  # [E * T*S] row of each sample position in shared, flattened per model

    def expand(self, x: torch.Tensor) -> torch.Tensor:
        """Rows of trie nodes [E, M, k] -> rows of sample positions [E, T*S, k]."""
        E, M, k = x.shape
        return x.reshape(E * M, k).index_select(0, self.node).view(E, -1, k)

    def to(self, device) -> "Faithful":
        return Faithful(shared=self.shared.to(device), samples=self.samples.to(device),
                        node=self.node.to(device))


@dataclass(frozen=True)
class Batching:
    """A fixed training layout plus the map from sequences to its (position, next char) slots."""

    layout: Layout  # positions of one training forward, the same at every step
    slots: np.ndarray  # [V^T, T] flat slot position * V + x_t of each sequence (-1: absent)
    vocab: int

    def counts(self, seq_ids: np.ndarray) -> np.ndarray:
        """Counts of (position, next char) in minibatches of sequence ids.

        Args:
            seq_ids: [..., B] sequence ids (any leading axes, e.g. [steps, E, B]).
        Returns:
            [..., M, V] float64 counts; each minibatch's counts sum to B * T.
        """
        seq_ids = np.asarray(seq_ids)
        lead, B = seq_ids.shape[:-1], seq_ids.shape[-1]
        flat = self.slots[seq_ids].reshape(-1, B * self.slots.shape[1])  # [K, B*T]
        if np.any(flat < 0):
            raise ValueError("a minibatch holds a sequence outside the layout's data set")
        n = self.layout.size * self.vocab
        flat = flat + np.arange(len(flat))[:, None] * n
        counts = np.bincount(flat.ravel(), minlength=len(flat) * n)
        return counts.reshape(*lead, self.layout.size, self.vocab).astype(np.float64)


@dataclass(frozen=True)
class FaithfulBatching:
    """The fixed trie of a ``faithful`` run and the trie node of every (sequence, position)."""

    layout: Layout  # the trie of the data set's contexts (shared part of every step)
    where: np.ndarray  # [V^T, T] trie position of each sequence's context at t (-1: absent)
    vocab: int
    length: int

    def faithful(self, seq_ids: np.ndarray) -> Faithful:
        """The Faithful layout of minibatches seq_ids [E, S] (one row of S per model)."""
        seq_ids = np.asarray(seq_ids, dtype=np.int64)
        where = self.where[seq_ids]  # [E, S, T]
        if np.any(where < 0):
            raise ValueError("a minibatch holds a sequence outside the layout's data set")
        E, M = len(seq_ids), self.layout.size
        node = where.transpose(0, 2, 1).reshape(E, -1) + (np.arange(E) * M)[:, None]
        return Faithful(shared=self.layout,
                        samples=sequences_layout(seq_ids, self.vocab, self.length, dense=True),
                        node=torch.as_tensor(node.reshape(-1)))


def faithful_batching(target: Target) -> FaithfulBatching:
    """The shared trie (the support contexts) of a ``faithful`` run over target's data set."""
    V, T = target.vocab, target.length
    ctx_ids = support_contexts(target)
    pos = np.full(n_contexts(V, T), -1, dtype=np.int64)
    pos[ctx_ids] = np.arange(len(ctx_ids))
    return FaithfulBatching(layout=trie_layout(ctx_ids, V, T), where=pos[sequence_contexts(V, T)],
                            vocab=V, length=T)


def training_batching(target: Target, layout: str) -> Batching:
    """The fixed layout of a `trie` or `dedup` run over the sequences of target's data set."""
    V, T = target.vocab, target.length
    nxt = sequences(V, T)
    seen = np.unique(target.data)
    if layout == "trie":
        trie = faithful_batching(target)  # the same trie and node of every context
        lay, where = trie.layout, trie.where  # where: [V^T, T]
    elif layout == "dedup":
        lay = sequences_layout(seen[None, :], V, T)
        rank = np.full(V**T, -1, dtype=np.int64)
        rank[seen] = np.arange(len(seen))
        where = np.where(rank[:, None] >= 0, np.arange(T)[None, :] * len(seen) + rank[:, None], -1)
    else:
        raise ValueError(f"layout {layout!r} has no fixed batching")
    slots = np.where(where >= 0, where * V + nxt, -1)
    return Batching(layout=lay, slots=slots, vocab=V)


def per_sample_counts(seq_ids: np.ndarray, vocab: int, length: int) -> np.ndarray:
    """One-hot next characters of a sequences_layout(seq_ids): [E, T*S, V] float64."""
    nxt = sequences(vocab, length)[np.asarray(seq_ids)]  # [E, S, T]
    flat = nxt.transpose(0, 2, 1).reshape(len(nxt), -1)  # [E, T*S]
    return np.eye(vocab)[flat]
