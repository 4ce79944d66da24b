"""Exact metrics against brute-force enumeration, one sequence at a time, and their properties."""
import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from lowent.config import TargetSpec
from lowent.metrics import cross_entropy, entropy, kl, parts, sequence_log_probs, table_shape
from lowent.target import build_target
from tests.helpers import random_table


def brute_force(table: np.ndarray, p_tgt: np.ndarray, V: int, T: int):
    """H, KL and parts of one model by walking every sequence through its contexts."""
    ctxs = [c for t in range(T) for c in itertools.product(range(V), repeat=t)]
    index = {c: i for i, c in enumerate(ctxs)}
    H = KL = Hs = Hn = ms = 0.0
    logps = []
    for i, seq in enumerate(itertools.product(range(V), repeat=T)):
        lp = sum(table[index[seq[:t]], seq[t]] for t in range(T))
        logps.append(lp)
        p = math.exp(lp)
        h = -p * lp if p > 0 else 0.0
        H += h
        if p_tgt[i] > 0:
            KL += p_tgt[i] * (math.log(p_tgt[i]) - lp)
            Hn += h
        else:
            Hs += h
            ms += p
    return np.array(logps), H, KL, Hs, Hn, ms


@pytest.mark.parametrize("V, T, zeros", [(5, 5, False), (3, 4, True), (2, 1, False)])
def test_metrics_equal_brute_force_enumeration(V, T, zeros):
    rng = np.random.default_rng(V * 10 + T)
    table = random_table(rng, 3, V, T, zeros=zeros)
    p_tgt = rng.random(V**T) * (rng.random(V**T) < 0.3)
    p_tgt[0] += 0.1
    p_tgt /= p_tgt.sum()
    lp, H, KL, pr = sequence_log_probs(table), entropy(table), kl(p_tgt, table), parts(p_tgt, table)
    for e in range(3):
        blp, bH, bKL, bHs, bHn, bms = brute_force(table[e], p_tgt, V, T)
        np.testing.assert_allclose(lp[e], blp, rtol=0, atol=1e-12)
        np.testing.assert_allclose(H[e], bH, rtol=1e-12)
        np.testing.assert_allclose(KL[e], bKL, rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(pr.entropy_sparse[e], bHs, rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(pr.entropy_nonsparse[e], bHn, rtol=1e-10)
        np.testing.assert_allclose(pr.mass_sparse[e], bms, rtol=1e-10, atol=1e-14)


def test_target_table_has_the_target_entropy_and_zero_kl():
    t = build_target(TargetSpec())
    table = t.log_table()[None]
    np.testing.assert_allclose(entropy(table), [3.6110476], rtol=1e-6)  # ln 5 + 4 H(0.8, 0.2)
    np.testing.assert_allclose(kl(t.p_true, table), [0.0], atol=1e-12)
    pr = parts(t.p_true, table)
    np.testing.assert_allclose(pr.mass_sparse, [0.0], atol=1e-15)
    # loss = (H(p_tgt) + KL) / T exactly
    np.testing.assert_allclose(cross_entropy(t.p_true, table), [3.6110476 / 5], rtol=1e-6)


def test_table_shape_rejects_non_tables():
    assert table_shape(np.zeros((2, 781, 5))) == (5, 5)
    with pytest.raises(ValueError, match="780"):
        table_shape(np.zeros((2, 780, 5)))


@st.composite
def tables(draw):
    V, T, E = draw(st.integers(2, 4)), draw(st.integers(1, 4)), draw(st.integers(1, 3))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return random_table(rng, E, V, T, zeros=draw(st.booleans())), rng


@settings(max_examples=80, deadline=None)
@given(tables())
def test_properties_of_exact_metrics(arg):
    """sum p = 1, H >= 0, KL >= 0 with 0 exactly at equality, parts add up, cross-entropy
    identity."""
    table, rng = arg
    V, T = table_shape(table)
    p = np.exp(sequence_log_probs(table))
    np.testing.assert_allclose(p.sum(-1), 1.0, atol=1e-12)
    H = entropy(table)
    assert (H >= -1e-12).all()
    assert (H <= T * math.log(V) + 1e-9).all()
    # KL(p_theta_0 || p_theta) is 0 for model 0 itself and > 0 for a different model.
    target = p[0]
    np.testing.assert_allclose(kl(target, table[:1]), 0.0, atol=1e-12)
    other = random_table(rng, 1, V, T)
    if not np.allclose(np.exp(sequence_log_probs(other))[0], target, atol=1e-6):
        assert kl(target, other)[0] > 0
    pr = parts(target, table)
    np.testing.assert_allclose(pr.entropy_sparse + pr.entropy_nonsparse, H, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(pr.mass_sparse + pr.mass_nonsparse, 1.0, atol=1e-12)
    HT = -(target[target > 0] * np.log(target[target > 0])).sum()
    np.testing.assert_allclose(cross_entropy(target, table) * T, HT + kl(target, table),
                               rtol=1e-10, atol=1e-12)
