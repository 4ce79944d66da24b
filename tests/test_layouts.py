"""The layouts compute the same loss and gradients (dropout 0, float64), for every model; with
dropout, the faithful layout computes what the per-sample loop computes with the same masks."""
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings, strategies as st

from lowent.config import RunSpec, TargetSpec, TrainSpec
from lowent.contexts import support_contexts, training_batching
from lowent.engine import Trainer, minibatch_order
from lowent.target import build_target
from tests.helpers import MODEL_KINDS, model_spec


def loss_and_grads(spec: RunSpec, seq_ids: np.ndarray):
    tr = Trainer(spec)
    loss = tr.batch_loss(seq_ids)
    tr.opt.zero_grad()
    loss.sum().backward()
    return loss.detach(), {n: p.grad.clone() for n, p in tr.model.named_parameters()}


def assert_layouts_agree(spec: RunSpec, seq_ids: np.ndarray, atol: float = 1e-10):
    ref_loss, ref_grads = loss_and_grads(with_layout(spec, "per_sample"), seq_ids)
    for layout in ("trie", "dedup", "faithful"):
        loss, grads = loss_and_grads(with_layout(spec, layout), seq_ids)
        torch.testing.assert_close(loss, ref_loss, rtol=0, atol=atol, msg=layout)
        for name, g in grads.items():
            torch.testing.assert_close(g, ref_grads[name], rtol=0, atol=atol,
                                       msg=f"{layout}: {name}")


@pytest.mark.parametrize("kw", [kw for _, kw in MODEL_KINDS], ids=[i for i, _ in MODEL_KINDS])
def test_trie_dedup_and_faithful_loss_and_gradients_equal_per_sample(kw):
    """SETTING 5: on the same minibatch of 512, trie, dedup, faithful and per-sample layouts give
    the same loss and gradients in float64 with dropout 0 (to 1e-10)."""
    spec = RunSpec(target=TargetSpec(), model=model_spec(kw, d=16, layers=2),
                   train=TrainSpec(dtype="float64"), seeds=(0, 1))
    seq_ids = minibatch_order(build_target(spec.target), spec.seeds, 512, epoch=3)[5]
    assert_layouts_agree(spec, seq_ids)


@pytest.mark.parametrize("kw", [kw for _, kw in MODEL_KINDS], ids=[i for i, _ in MODEL_KINDS])
def test_faithful_equals_the_per_sample_loop_with_the_same_dropout_masks(kw):
    """With dropout 0.1, the faithful layout gives every sample its own rows from its first
    dropout on and draws their masks in the per-sample loop's order from the same per-model
    generators, so both compute the same loss and gradients (float64, to 1e-10); the trie
    (one mask per node) does not."""
    spec = RunSpec(target=TargetSpec(), model=model_spec(kw, d=16, layers=3, dropout=0.1),
                   train=TrainSpec(dtype="float64"), seeds=(0, 1))
    seq_ids = minibatch_order(build_target(spec.target), spec.seeds, 512, epoch=2)[7]
    ref_loss, ref_grads = loss_and_grads(with_layout(spec, "per_sample"), seq_ids)
    loss, grads = loss_and_grads(with_layout(spec, "faithful"), seq_ids)
    torch.testing.assert_close(loss, ref_loss, rtol=0, atol=1e-10)
    for name, g in grads.items():
        torch.testing.assert_close(g, ref_grads[name], rtol=0, atol=1e-10, msg=name)
    if kw.get("variant") != "attention_only":  # which has no dropout at all
        trie_loss, _ = loss_and_grads(with_layout(spec, "trie"), seq_ids)
        assert not torch.allclose(trie_loss, ref_loss, rtol=0, atol=1e-6)


def with_layout(spec: RunSpec, layout: str) -> RunSpec:
    return spec.replace(train=TrainSpec(**{**spec.train.__dict__, "layout": layout}))


def test_base_target_trie_has_76_nodes_and_counts_sum_to_b_times_t():
    target = build_target(TargetSpec())
    assert len(support_contexts(target)) == 1 + 5 + 10 + 20 + 40
    b = training_batching(target, "trie")
    order = minibatch_order(target, (0, 1, 2), 512, epoch=0)
    counts = b.counts(order)  # [steps, E, 76, 5]
    assert counts.shape == (128, 3, 76, 5)
    np.testing.assert_array_equal(counts.sum(axis=(2, 3)), 512 * 5)


@st.composite
def small_problem(draw):
    vocab = draw(st.integers(2, 4))
    length = draw(st.integers(1, 4))
    k = draw(st.integers(1, vocab))
    raw = draw(st.lists(st.floats(0.05, 1.0), min_size=k, max_size=k))
    probs = tuple(np.asarray(raw) / sum(raw))
    target = TargetSpec(probs=probs, vocab=vocab, length=length,
                        seed=draw(st.integers(0, 2**16)), n_samples=draw(st.integers(20, 300)))
    name, kw = draw(st.sampled_from(MODEL_KINDS))
    model = model_spec(kw, d=draw(st.sampled_from([4, 8])),
                       layers=1 if "layers" in kw else draw(st.integers(1, 3)))
    batch = draw(st.integers(1, min(40, target.n_samples)))
    seeds = tuple(draw(st.lists(st.integers(0, 50), min_size=1, max_size=3, unique=True)))
    return RunSpec(target=target, model=model, train=TrainSpec(dtype="float64", batch_size=batch),
                   seeds=seeds)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=small_problem(), epoch=st.integers(0, 3))
def test_layouts_agree_on_random_small_problems(spec, epoch):
    """Random vocabularies, lengths, targets, models and batches: trie = dedup = per-sample."""
    target = build_target(spec.target)
    seq_ids = minibatch_order(target, spec.seeds, spec.train.batch_size, epoch)[0]
    assert_layouts_agree(spec, seq_ids)
