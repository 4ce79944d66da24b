"""The straightforward implementation a researcher would write, with ``torch.nn`` modules.

One model at a time, per-sample batches of 512 sequences, ``nn.MultiheadAttention`` with a
causal mask (the routed variant's attention written head by head, as its formula reads),
``nn.GRU`` / ``nn.LSTM``. It is the baseline of ``python -m lowent bench`` and an
independent reference in the tests: :func:`load_from_stacked` copies model e of a stacked
engine model into it, and the two must give the same logits.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from lowent.config import ModelSpec
from lowent.models.layers import sinusoid
from lowent.models.transformer import block_plan
from lowent.target import sequences


class RefRoutedAttention(nn.Module):
    """The routed variant's attention sub-layer as its formula reads, one head at a time:
    ``w = softmax(W_r x + b_r)``, output ``w_0 residual + sum_h w_h head_h``, where head_h is
    ``softmax(q_h k_h^T / sqrt(d_h), causal) v_h`` through its own slice Wo_h of the output
    projection (which has no bias)."""

    def __init__(self, d: int, heads: int):
        super().__init__()
        self.heads = heads
        self.q, self.k, self.v = nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, d)
        self.out = nn.Linear(d, d, bias=False)
        self.router = nn.Linear(d, heads + 1)

    def forward(self, x, residual, mask):  # x, residual [B, T, d]; mask [T, T], True: hidden
        dh = x.shape[-1] // self.heads
        w = torch.softmax(self.router(x), dim=-1)  # [B, T, H + 1]
        out = w[..., :1] * residual
        for h in range(self.heads):
            cols = slice(h * dh, (h + 1) * dh)
            q, k, v = (f(x)[..., cols] for f in (self.q, self.k, self.v))
            scores = (q @ k.transpose(-1, -2) / math.sqrt(dh)).masked_fill(mask, float("-inf"))
            head = torch.softmax(scores, dim=-1) @ v  # [B, T, dh]
            out = out + w[..., h + 1:h + 2] * (head @ self.out.weight[:, cols].T)
        return out


class RefBlock(nn.Module):
    def __init__(self, spec: ModelSpec, attn: bool, ffn: bool):
        super().__init__()
        d = spec.d_model
        self.pre = spec.norm == "pre"
        self.routed = spec.variant == "routed"
        self.attn = ((RefRoutedAttention(d, spec.heads) if self.routed else
                      nn.MultiheadAttention(d, spec.heads, batch_first=True)) if attn else None)
        self.ln1 = nn.LayerNorm(d) if attn else None
        self.fc1 = nn.Linear(d, spec.ffn_mult * d) if ffn else None
        self.fc2 = nn.Linear(spec.ffn_mult * d, d) if ffn else None
        self.ln2 = nn.LayerNorm(d) if ffn else None
        self.drop = nn.Dropout(spec.dropout)

    def _attn(self, x, mask):
        return self.attn(x, x, x, attn_mask=mask, need_weights=False)[0]

    def _ffn(self, x):
        return self.fc2(self.drop(torch.relu(self.fc1(x))))

    def forward(self, x, mask):
        if self.attn is not None and self.routed:  # the router mixes in the residual itself
            x = self.attn(self.ln1(x), x, mask) if self.pre else self.ln1(self.attn(x, x, mask))
        elif self.attn is not None:
            x = x + self._attn(self.ln1(x), mask) if self.pre else self.ln1(x + self._attn(x, mask))
        if self.fc1 is not None:
            x = x + self._ffn(self.ln2(x)) if self.pre else self.ln2(x + self._ffn(x))
        return x


class RefTransformer(nn.Module):
    """Decoder-only Transformer of SETTING 3 on [B, T] token batches."""

    def __init__(self, spec: ModelSpec, vocab: int, length: int):
        super().__init__()
        self.embed = nn.Embedding(vocab + 1, spec.d_model)
        self.register_buffer("pe", sinusoid(length, spec.d_model), persistent=False)
        self.blocks = nn.ModuleList(RefBlock(spec, a, f)
                                    for a, f in block_plan(spec.variant, spec.layers))
        self.norm_f = nn.LayerNorm(spec.d_model) if spec.norm == "pre" else None
        self.head = nn.Linear(spec.d_model, vocab)

    def forward(self, tokens):  # [B, T] -> [B, T, V]
        T = tokens.shape[1]
        mask = torch.triu(torch.ones(T, T, dtype=torch.bool, device=tokens.device), 1)
        x = self.embed(tokens) + self.pe[:T]
        for b in self.blocks:
            x = b(x, mask)
        if self.norm_f is not None:
            x = self.norm_f(x)
        return self.head(x)


class RefRNN(nn.Module):
    def __init__(self, spec: ModelSpec, vocab: int, length: int):
        super().__init__()
        self.embed = nn.Embedding(vocab + 1, spec.d_model)
        rnn = {"gru": nn.GRU, "lstm": nn.LSTM}[spec.kind]
        self.rnn = rnn(spec.d_model, spec.d_model, num_layers=1, batch_first=True)
        self.drop = nn.Dropout(spec.dropout)
        self.head = nn.Linear(spec.d_model, vocab)

    def forward(self, tokens):
        return self.head(self.drop(self.rnn(self.embed(tokens))[0]))


def build_reference(spec: ModelSpec, vocab: int, length: int) -> nn.Module:
    return (RefTransformer if spec.kind == "transformer" else RefRNN)(spec, vocab, length)


@torch.no_grad()
def load_from_stacked(ref: nn.Module, stacked: nn.Module, e: int) -> nn.Module:
    """Copy model e of a stacked engine model into a reference model (in place)."""
    sd = {k: v[e] for k, v in stacked.state_dict().items() if k != "pe"}
    lin = lambda name: (sd[f"{name}.weight"].T, sd.get(f"{name}.bias"))  # noqa: E731
    ref.embed.weight.copy_(sd["embed.weight"])
    ref.head.weight.copy_(lin("head")[0])
    ref.head.bias.copy_(lin("head")[1][0])
    if isinstance(ref, RefRNN):
        ref.rnn.weight_ih_l0.copy_(sd["cell.w_ih"].T)
        ref.rnn.weight_hh_l0.copy_(sd["cell.w_hh"].T)
        ref.rnn.bias_ih_l0.copy_(sd["cell.b_ih"][0])
        ref.rnn.bias_hh_l0.copy_(sd["cell.b_hh"][0])
        return ref
    for i, b in enumerate(ref.blocks):
        p = f"blocks.{i}"
        if b.attn is not None and b.routed:
            for name in ("q", "k", "v", "out", "router"):
                getattr(b.attn, name).weight.copy_(sd[f"{p}.attn.{name}.weight"].T)
                if name != "out":
                    getattr(b.attn, name).bias.copy_(sd[f"{p}.attn.{name}.bias"][0])
        elif b.attn is not None:
            qkv = [f"{p}.attn.{n}" for n in "qkv"]
            b.attn.in_proj_weight.copy_(torch.cat([sd[f"{n}.weight"].T for n in qkv]))
            b.attn.in_proj_bias.copy_(torch.cat([sd[f"{n}.bias"][0] for n in qkv]))
            b.attn.out_proj.weight.copy_(sd[f"{p}.attn.out.weight"].T)
            b.attn.out_proj.bias.copy_(sd[f"{p}.attn.out.bias"][0])
        if b.attn is not None:
            b.ln1.weight.copy_(sd[f"{p}.ln1.weight"][0])
            b.ln1.bias.copy_(sd[f"{p}.ln1.bias"][0])
        if b.fc1 is not None:
            for name in ("fc1", "fc2"):
                getattr(b, name).weight.copy_(sd[f"{p}.ffn.{name}.weight"].T)
                getattr(b, name).bias.copy_(sd[f"{p}.ffn.{name}.bias"][0])
            b.ln2.weight.copy_(sd[f"{p}.ln2.weight"][0])
            b.ln2.bias.copy_(sd[f"{p}.ln2.bias"][0])
    if ref.norm_f is not None:
        ref.norm_f.weight.copy_(sd["norm_f.weight"][0])
        ref.norm_f.bias.copy_(sd["norm_f.bias"][0])
    return ref


def inputs_and_targets(seq_ids: np.ndarray, vocab: int, length: int):
    """[B, T] inputs (# x1 .. x_{T-1}) and [B, T] next characters of sequence ids."""
    seqs = torch.as_tensor(sequences(vocab, length)[np.asarray(seq_ids)])
    inp = torch.cat([torch.full_like(seqs[:, :1], vocab), seqs[:, :-1]], dim=1)
    return inp, seqs
