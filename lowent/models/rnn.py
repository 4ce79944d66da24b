"""GRU and LSTM written with batched matmuls, E models stacked, over a Layout (SETTING 3).

One layer, hidden size d, embedding size d, dropout on the RNN output, linear head. The
recurrence runs level by level over the layout's depths: the hidden state of a position is
the cell applied to its parent's state and its own token, so per-sample batches and prefix
tries share the code. Gate order and biases follow ``torch.nn.GRU`` / ``torch.nn.LSTM``
(GRU: r, z, n with ``b_hn`` inside the reset product; LSTM: i, f, g, o), and a unit test
checks equality with them given the same weights.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from lowent.config import ModelSpec
from lowent.contexts import Faithful, Layout
from lowent.models.layers import (Stacked, StackedEmbedding, StackedLinear, _uniform, dropout,
                                  init_stacked)

GATES = {"gru": 3, "lstm": 4}


class StackedCell(Stacked):
    """Input and recurrent weights of a GRU/LSTM cell: w_ih, w_hh [E, d, G d]; b_ih, b_hh [E, 1, G d].

    Init as torch: every weight and bias ~ U(-1/sqrt(hidden), 1/sqrt(hidden)); drawn in
    torch's order (weight_ih, weight_hh, bias_ih, bias_hh) and layout ([G d, d], transposed).
    """

    def __init__(self, E: int, d_in: int, d: int, gates: int):
        super().__init__()
        self.w_ih = nn.Parameter(torch.empty(E, d_in, gates * d))
        self.w_hh = nn.Parameter(torch.empty(E, d, gates * d))
        self.b_ih = nn.Parameter(torch.empty(E, 1, gates * d))
        self.b_hh = nn.Parameter(torch.empty(E, 1, gates * d))

    def init_model(self, e, g):
        Gd, d = self.w_hh.shape[2], self.w_hh.shape[1]
        bound = 1 / math.sqrt(d)
        self.w_ih.data[e] = _uniform((Gd, self.w_ih.shape[1]), bound, g).T
        self.w_hh.data[e] = _uniform((Gd, d), bound, g).T
        self.b_ih.data[e, 0] = _uniform((Gd,), bound, g)
        self.b_hh.data[e, 0] = _uniform((Gd,), bound, g)


class RNN(nn.Module):
    """E stacked one-layer GRUs or LSTMs.  forward(layout) -> logits [E, M, V]."""

    def __init__(self, spec: ModelSpec, seeds, vocab: int, length: int):
        super().__init__()
        E, d = len(seeds), spec.d_model
        self.spec, self.n_models, self.cell_kind = spec, E, spec.kind
        self.embed = StackedEmbedding(E, vocab + 1, d)
        self.cell = StackedCell(E, d, d, GATES[spec.kind])
        self.head = StackedLinear(E, d, vocab)
        self.dropout = spec.dropout
        self.generators: list[torch.Generator] | None = None  # one per model, set by the trainer
        init_stacked(self, seeds)

    def _step(self, xi, h, c):
        """One cell step: xi = x W_ih + b_ih [E, N, G d]; h, c [E, N, d] (c unused by GRU)."""
        cell = self.cell
        hh = torch.baddbmm(cell.b_hh, h, cell.w_hh)  # [E, N, G d]
        if self.cell_kind == "gru":
            xr, xz, xn = xi.chunk(3, -1)
            hr, hz, hn = hh.chunk(3, -1)
            r = torch.sigmoid(xr + hr)
            z = torch.sigmoid(xz + hz)
            n = torch.tanh(xn + r * hn)
            return (1 - z) * n + z * h, c
        i, f, g, o = (xi + hh).chunk(4, -1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c

    def forward(self, layout: Layout | Faithful, trace: bool = False):
        """Logits [E, M, V]; with trace=True also ``{"rnn.hidden": [E, M, d]}``. On a
        Faithful layout the recurrence runs on the shared trie (the dropout is on the output)
        and the logits are those of the sample positions, [E, N, V]."""
        split = layout if isinstance(layout, Faithful) else None
        if split is not None:
            layout = split.shared
        x = self.embed(layout.tokens)  # [E, M, d]
        xi = torch.baddbmm(self.cell.b_ih, x, self.cell.w_ih)  # [E, M, G d]
        E, d = x.shape[0], self.cell.w_hh.shape[1]
        outs, h, c = [], None, None
        for t in range(len(layout.levels) - 1):
            lo, hi = layout.levels[t], layout.levels[t + 1]
            if hi == lo:
                break
            if h is None:
                h = x.new_zeros(E, hi - lo, d)
                c = x.new_zeros(E, hi - lo, d) if self.cell_kind == "lstm" else None
            else:
                par = layout.parent_rel[lo:hi]
                h, c = h[:, par], (c[:, par] if c is not None else None)
            h, c = self._step(xi[:, lo:hi], h, c)
            outs.append(h)
        hidden = torch.cat(outs, dim=1)  # [E, M, d]
        out = hidden if split is None else split.expand(hidden)  # [E, N, d] on Faithful
        logits = self.head(dropout(out, self.dropout, self.training, self.generators))
        return (logits, {"rnn.hidden": hidden}) if trace else logits
