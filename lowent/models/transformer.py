"""Decoder-only Transformer over a :class:`~lowent.contexts.Layout`, E models stacked (SETTING 3).

Token embedding + sinusoidal position encoding of each position's depth; blocks are post-LN
(``x = LN(x + Attn(x))``, ``x = LN(x + FFN(x))``) or, as an option, pre-LN with a final LN.
Attention is causal through the layout: position m attends to ``layout.ancestors[m]``, so the
same code runs per-sample batches and prefix tries. FFN is ``W2 dropout(ReLU(W1 x))``. On a
:class:`~lowent.contexts.Faithful` layout the blocks run on the shared trie up to the first
FFN's ReLU, and on per-sample rows from its dropout on.

Variants: ``full``; ``attention_only`` (no FFN); ``attention_main`` (FFN only in the last
block); ``ffn_main`` (attention only in the first block); ``routed`` (full, with the attention
sub-layer replaced by a router over the residual path and the heads).

Routed attention (SETTING 3, our reading of the lost Eq. 2): per token, ``w = softmax(W_r x + b_r)``
gives H + 1 weights, w_0 for the residual and w_h for head h, and the sub-layer output is
``w_0 x + sum_h w_h head_h(x)``, head_h being that head's attention output through its slice
of the output projection. The output projection of a routed block has no bias, so the router
alone decides the mix, and the residual is not added a second time.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from lowent.config import ModelSpec
from lowent.contexts import Faithful, Layout
from lowent.models.layers import (StackedEmbedding, StackedLayerNorm, StackedLinear, dropout,
                                  init_stacked, sinusoid)

Trace = dict[str, torch.Tensor]


class Attention(nn.Module):
    """Multi-head causal self-attention over layout ancestors, optionally routed."""

    def __init__(self, E: int, d: int, heads: int, routed: bool):
        super().__init__()
        self.heads, self.routed = heads, routed
        self.q = StackedLinear(E, d, d)
        self.k = StackedLinear(E, d, d)
        self.v = StackedLinear(E, d, d)
        self.out = StackedLinear(E, d, d, bias=not routed)
        self.router = StackedLinear(E, d, heads + 1) if routed else None

    def forward(self, x: torch.Tensor, layout: Layout, residual: torch.Tensor,
                trace: Trace | None, name: str) -> torch.Tensor:
        """x [E, M, d] (input of the heads); residual [E, M, d]. Returns residual + attention
        (plain) or w_0 residual + sum_h w_h head_h (routed)."""
        E, M, d = x.shape
        H = self.heads
        dh, A = d // H, layout.ancestors.shape[1]
        if layout.dense:
            heads = sequence_attention(self.q(x), self.k(x), self.v(x), A, H)
        else:
            idx = layout.ancestors.reshape(-1)
            q = self.q(x).view(E, M, 1, H, dh)
            # Each position attends to its ancestors (itself last): gather keys and values.
            ka = self.k(x).index_select(1, idx).view(E, M, A, H, dh)  # [E, M, A, H, dh]
            va = self.v(x).index_select(1, idx).view(E, M, A, H, dh)
            scores = (q * ka).sum(-1) / math.sqrt(dh)  # [E, M, A, H]
            scores = scores.masked_fill(~layout.valid[None, :, :, None], float("-inf"))
            heads = (torch.softmax(scores, dim=2)[..., None] * va).sum(2)  # [E, M, H, dh]
        if not self.routed:
            return residual + self.out(heads.reshape(E, M, d))
        w = torch.softmax(self.router(x), dim=-1)  # [E, M, H + 1]
        if trace is not None:
            trace[f"{name}.route"] = w
        # sum_h w_h (head_h Wo_h) = (concat_h w_h head_h) Wo: weight each head, then project.
        mixed = self.out((heads * w[..., 1:, None]).reshape(E, M, d))
        return w[..., :1] * residual + mixed


def sequence_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, length: int,
                       heads: int) -> torch.Tensor:
    """Causal multi-head attention within whole sequences laid out depth-major (Layout.dense).

    q, k, v [E, T*S, d], position t * S + s of sequence s. Returns the heads [E, T*S, H, dh]:
    what the gathered form computes (position (t, s) attends to (0, s), ..., (t, s)), as
    batched [T, T] matmuls per (model, sequence, head) instead of products over gathered
    ancestors, whose broadcast products and their backward were a large share of a faithful
    step at d = 64, L = 4 (that step is 14-24% faster this way).
    """
    E, M, d = q.shape
    S, dh = M // length, d // heads

    def split(x):  # [E, T*S, d] -> [E, S, H, T, dh]
        return x.view(E, length, S, heads, dh).permute(0, 2, 3, 1, 4)

    scores = split(q) @ split(k).transpose(-1, -2) / math.sqrt(dh)  # [E, S, H, T, T]
    later = torch.ones(length, length, dtype=torch.bool, device=q.device).triu(1)
    scores = scores.masked_fill(later, float("-inf"))
    out = torch.softmax(scores, dim=-1) @ split(v)  # [E, S, H, T, dh]
    return out.permute(0, 3, 1, 2, 4).reshape(E, M, heads, dh)


class FFN(nn.Module):
    """W2 dropout(ReLU(W1 x)), hidden size ffn_mult * d."""

    def __init__(self, E: int, d: int, hidden: int, dropout: float):
        super().__init__()
        self.fc1 = StackedLinear(E, d, hidden)
        self.fc2 = StackedLinear(E, hidden, d)
        self.dropout = dropout
        self.generators: list[torch.Generator] | None = None  # one per model, set by the trainer

    def forward(self, x, trace: Trace | None, name: str, expand=None):
        """x [E, M, d] -> [E, M, d]; `expand` (faithful layouts) maps the ReLU output of trie
        nodes to per-sample rows before the dropout, giving [E, N, d]."""
        post = torch.relu(self.fc1(x))  # [E, M, hidden]
        if trace is not None:
            trace[f"{name}.post"] = post
        if expand is not None:
            post = expand(post)  # [E, N, hidden]
        return self.fc2(dropout(post, self.dropout, self.training, self.generators))


class Block(nn.Module):
    def __init__(self, E: int, spec: ModelSpec, attn: bool, ffn: bool):
        super().__init__()
        d = spec.d_model
        self.pre = spec.norm == "pre"
        self.attn = Attention(E, d, spec.heads, spec.variant == "routed") if attn else None
        self.ln1 = StackedLayerNorm(E, d) if attn else None
        self.ffn = FFN(E, d, spec.ffn_mult * d, spec.dropout) if ffn else None
        self.ln2 = StackedLayerNorm(E, d) if ffn else None

    def forward(self, x, layout, trace, name, expand=None):
        """x [E, M, d] -> [E, M, d]; with `expand` (the block of a faithful layout's first
        dropout) the FFN's output and the residual become per-sample rows [E, N, d]."""
        if self.attn is not None:
            if self.pre:
                x = self.attn(self.ln1(x), layout, x, trace, name)
            else:
                x = self.ln1(self.attn(x, layout, x, trace, name))
        if self.ffn is not None:
            residual = x if expand is None else expand(x)
            if self.pre:
                x = residual + self.ffn(self.ln2(x), trace, f"{name}.ffn", expand)
            else:
                x = self.ln2(residual + self.ffn(x, trace, f"{name}.ffn", expand))
        return x


def block_plan(variant: str, layers: int) -> list[tuple[bool, bool]]:
    """(has attention, has FFN) of each block for a variant."""
    last, first = layers - 1, 0
    return [{"full": (True, True), "routed": (True, True), "attention_only": (True, False),
             "attention_main": (True, i == last), "ffn_main": (i == first, True)}[variant]
            for i in range(layers)]


class Transformer(nn.Module):
    """E stacked decoder-only Transformers.  forward(layout) -> logits [E, M, V]."""

    def __init__(self, spec: ModelSpec, seeds, vocab: int, length: int):
        super().__init__()
        E, d = len(seeds), spec.d_model
        self.spec, self.n_models = spec, E
        self.embed = StackedEmbedding(E, vocab + 1, d)
        self.register_buffer("pe", sinusoid(length, d), persistent=False)  # [T, d]
        self.blocks = nn.ModuleList(Block(E, spec, a, f)
                                    for a, f in block_plan(spec.variant, spec.layers))
        self.norm_f = StackedLayerNorm(E, d) if spec.norm == "pre" else None
        self.head = StackedLinear(E, d, vocab)
        init_stacked(self, seeds)

    def forward(self, layout: Layout | Faithful, trace: bool = False):
        """Logits [E, M, V] of every layout position (of every sample position, [E, N, V],
        on a Faithful layout); with trace=True also a dict of named internals:
        ``blocks.{i}.ffn.post`` [E, M, 4d] (ReLU output, before dropout) and
        ``blocks.{i}.route`` [E, M, H + 1] (routed variant)."""
        rec: Trace | None = {} if trace else None
        split = layout if isinstance(layout, Faithful) else None
        if split is not None:
            layout = split.shared
        x = self.embed(layout.tokens) + self.pe[layout.depth]  # [E, M, d]
        for i, block in enumerate(self.blocks):
            if split is not None and block.ffn is not None:  # the first dropout: split here
                x = block(x, layout, rec, f"blocks.{i}", split.expand)  # [E, N, d]
                layout, split = split.samples, None
            else:
                x = block(x, layout, rec, f"blocks.{i}")
        if split is not None:  # no FFN, no dropout: every row is shared
            x = split.expand(x)
        if self.norm_f is not None:
            x = self.norm_f(x)
        logits = self.head(x)  # [E, M, V]
        return (logits, rec) if trace else logits
