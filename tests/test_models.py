"""Stacked models against torch.nn references, initialisation and trace names."""
import math

import numpy as np
import pytest
import torch

from lowent.config import ModelSpec, SpecError
from lowent.contexts import all_contexts, sequences_layout
from lowent.models import build_model, matched_layers, param_count
from lowent.models.layers import sinusoid
from lowent.reference import build_reference, inputs_and_targets, load_from_stacked
from lowent.target import sequence_contexts
from tests.helpers import MODEL_KINDS, model_spec

V, T = 5, 5
REFERENCE_KINDS = MODEL_KINDS + [
    ("routed_pre_ln", dict(kind="transformer", variant="routed", norm="pre"))]


def _logits_both_ways(kw, d=16, layers=2, E=3, dense=False):
    """Engine logits on a per-sample layout (with `dense`, its attention as matmuls within
    each sequence) and reference logits, float64, eval mode."""
    spec = model_spec(kw, d=d, layers=layers)
    stacked = build_model(spec, range(E)).double().eval()
    rng = np.random.default_rng(0)
    seq_ids = rng.integers(0, V**T, size=(E, 7))
    ours = stacked(sequences_layout(seq_ids, V, T, dense=dense))  # [E, T*S, V], at t*S + s
    ours = ours.view(E, T, 7, V).transpose(1, 2)  # [E, S, T, V]
    theirs = []
    for e in range(E):
        ref = load_from_stacked(build_reference(spec, V, T).double().eval(), stacked, e)
        theirs.append(ref(inputs_and_targets(seq_ids[e], V, T)[0]))
    return ours, torch.stack(theirs)


@pytest.mark.parametrize("dense", [False, True], ids=["gathered", "dense"])
@pytest.mark.parametrize("kw", [kw for _, kw in REFERENCE_KINDS],
                         ids=[i for i, _ in REFERENCE_KINDS])
def test_engine_logits_equal_torch_nn_reference(kw, dense):
    """GRU/LSTM equal torch.nn.GRU/LSTM and the Transformer equals an nn.MultiheadAttention
    implementation (the routed variant: its formula written head by head), given the same
    weights (float64, eval mode), with attention over gathered ancestors and as matmuls
    within each sequence (Layout.dense, the faithful layout's form)."""
    ours, theirs = _logits_both_ways(kw, dense=dense)
    torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-10)


def test_gru_cell_matches_torch_on_random_states():
    """One hand-written GRU step equals torch.nn.GRUCell, including b_hn inside r * (.)."""
    spec = ModelSpec(kind="gru", d_model=6, layers=1)
    m = build_model(spec, (3,)).double()
    cell = torch.nn.GRUCell(6, 6).double()
    with torch.no_grad():
        cell.weight_ih.copy_(m.cell.w_ih[0].T)
        cell.weight_hh.copy_(m.cell.w_hh[0].T)
        cell.bias_ih.copy_(m.cell.b_ih[0, 0])
        cell.bias_hh.copy_(m.cell.b_hh[0, 0])
    x, h = torch.randn(4, 6, dtype=torch.float64), torch.randn(4, 6, dtype=torch.float64)
    xi = x @ m.cell.w_ih[0] + m.cell.b_ih[0]
    ours, _ = m._step(xi[None], h[None], None)
    torch.testing.assert_close(ours[0], cell(x, h), rtol=0, atol=1e-12)


@pytest.mark.parametrize("kw", [kw for _, kw in MODEL_KINDS], ids=[i for i, _ in MODEL_KINDS])
def test_trie_of_all_contexts_equals_per_sample_logits(kw):
    """The 781-context trie gives, at every context, the logits of every sequence through it."""
    spec = model_spec(kw, d=8, layers=2)
    m = build_model(spec, range(2)).double().eval()
    table = m(all_contexts(V, T))  # [E, 781, V]
    seq_ids = np.arange(V**T)[None].repeat(2, 0)  # every sequence: every context is reached
    per = m(sequences_layout(seq_ids, V, T)).view(2, T, -1, V).transpose(1, 2)  # [E, S, T, V]
    ctx = torch.as_tensor(sequence_contexts(V, T)[seq_ids[0]])  # [S, T]
    torch.testing.assert_close(per, table[:, ctx], rtol=0, atol=1e-12)


@pytest.mark.parametrize("kw", [kw for _, kw in MODEL_KINDS], ids=[i for i, _ in MODEL_KINDS])
def test_model_e_of_a_stack_is_initialised_as_a_single_seed_model(kw):
    spec = model_spec(kw)
    stacked, single = build_model(spec, (5, 9, 2)), build_model(spec, (9,))
    for (name, a), (_, b) in zip(stacked.state_dict().items(), single.state_dict().items()):
        torch.testing.assert_close(a[1:2], b, rtol=0, atol=0, msg=name)


def test_trace_names_are_pinned():
    m = build_model(model_spec(dict(variant="routed"), layers=2), (0,))
    _, rec = m(all_contexts(V, T), trace=True)
    assert sorted(rec) == ["blocks.0.ffn.post", "blocks.0.route",
                           "blocks.1.ffn.post", "blocks.1.route"]
    assert rec["blocks.0.ffn.post"].shape == (1, 781, 32)
    assert rec["blocks.1.route"].shape == (1, 781, 5)
    _, rec = build_model(model_spec(dict(kind="gru", layers=1)), (0,))(all_contexts(V, T), True)
    assert sorted(rec) == ["rnn.hidden"]


@pytest.mark.parametrize("variant, attn, ffn", [
    ("full", [1, 1, 1], [1, 1, 1]), ("attention_only", [1, 1, 1], [0, 0, 0]),
    ("attention_main", [1, 1, 1], [0, 0, 1]), ("ffn_main", [1, 0, 0], [1, 1, 1])])
def test_variants_have_the_paper_blocks(variant, attn, ffn):
    m = build_model(ModelSpec(variant=variant, d_model=8, layers=3), (0,))
    assert [b.attn is not None for b in m.blocks] == [bool(a) for a in attn]
    assert [b.ffn is not None for b in m.blocks] == [bool(f) for f in ffn]


@pytest.mark.parametrize("S", [1, 7])
@pytest.mark.parametrize("routed", [False, True], ids=["plain", "routed"])
def test_dense_attention_equals_gathered_attention_with_gradients(routed, S):
    """The faithful layout's attention (causal matmuls within each sequence) computes what
    attention over gathered ancestors computes: output and gradients of input and weights,
    float64, to 1e-12."""
    from lowent.models.transformer import Attention

    E, d, heads = 2, 16, 4
    seq_ids = np.random.default_rng(S).integers(0, V**T, size=(E, S))
    x = torch.randn(E, T * S, d, dtype=torch.float64, generator=torch.Generator().manual_seed(S))
    grad = torch.randn_like(x)
    attn = Attention(E, d, heads, routed).double()
    for p in attn.parameters():
        torch.nn.init.normal_(p, std=0.5)
    results = []
    for dense in (False, True):
        xi = x.clone().requires_grad_()
        trace = {}
        out = attn(xi, sequences_layout(seq_ids, V, T, dense=dense), xi, trace, "a")
        attn.zero_grad()
        out.backward(grad)
        results.append([out, xi.grad, *(p.grad for p in attn.parameters()), *trace.values()])
    for a, b in zip(*results, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


def test_router_weights_are_a_distribution():
    m = build_model(model_spec(dict(variant="routed")), range(2))
    _, rec = m(all_contexts(V, T), trace=True)
    torch.testing.assert_close(rec["blocks.0.route"].sum(-1), torch.ones(2, 781))


def test_parameter_counts_and_matched_depth():
    # Transformer block: 4 d^2 + 4 d (attention) + 8 d^2 + 5 d (FFN) + 4 d (two LNs);
    # embedding 6 d, head 5 d + 5.
    d = 16
    assert param_count(ModelSpec(d_model=d, layers=1)) == 12 * d * d + 13 * d + 11 * d + 5
    assert param_count(ModelSpec(kind="gru", d_model=d, layers=1)) == 6 * d * d + 6 * d + 11 * d + 5
    assert matched_layers(ModelSpec(kind="lstm", d_model=64, layers=1)) == 1


@pytest.mark.parametrize("kw, bad", [
    (dict(kind="mamba"), "mamba"), (dict(d_model=30), "30"), (dict(variant="moe"), "moe"),
    (dict(norm="sandwich"), "sandwich"), (dict(kind="gru", layers=2), "layers=2"),
    (dict(dropout=1.5), "1.5"), (dict(dropout="0.1"), "number in .*'0.1'"),
    (dict(ffn_mult=0), "ffn_mult must be >= 1, got 0"), (dict(heads=2.0), "heads must be an integer"),
    (dict(d_model=64.0), "d_model must be an integer, got 64.0"), (dict(layers=0), "layers")])
def test_bad_model_specs_name_the_bad_value(kw, bad):
    with pytest.raises(SpecError, match=bad):
        ModelSpec(**kw)


@pytest.mark.parametrize("length, d", [(5, 8), (16, 64)])
def test_position_encoding_is_vaswanis_formula(length, d):
    """The engine and the torch.nn reference share `sinusoid`, so the logits tests cannot see
    an error in it: checked here against PE[p, 2i] = sin(p / 10000^(2i/d)),
    PE[p, 2i + 1] = cos(p / 10000^(2i/d)), written with the math module."""
    want = torch.tensor([[(math.sin if j % 2 == 0 else math.cos)(p / 10000 ** ((j - j % 2) / d))
                          for j in range(d)] for p in range(length)], dtype=torch.float64)
    torch.testing.assert_close(sinusoid(length, d).double(), want, rtol=0, atol=1e-7)
