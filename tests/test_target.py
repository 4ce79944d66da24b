"""The target of SETTING 1: exact entropies, supports, canonical order, reproducible data."""
import itertools
import math

import numpy as np
import pytest

from lowent.config import SpecError, TargetSpec
from lowent.target import _build_target, build_target, n_contexts, sequence_contexts, sequences


def _H(*p):
    return -sum(x * math.log(x) for x in p)


@pytest.mark.parametrize("name, entropy, support, derivation", [
    ("base", 3.6110, 80, math.log(5) + 4 * _H(0.8, 0.2)),
    ("low", 2.9098, 80, math.log(5) + 4 * _H(0.9, 0.1)),
    ("high", 5.2012, 405, math.log(5) + 4 * _H(0.6, 0.3, 0.1)),
])
def test_theoretical_entropy_and_support(name, entropy, support, derivation):
    """H = ln 5 + 4 H(probs): 3.6110 / 2.9098 / 5.2012 nats; 5 * k^4 support sequences."""
    t = build_target(TargetSpec.named(name))
    np.testing.assert_allclose(t.entropy_true, entropy, atol=5e-5)
    np.testing.assert_allclose(t.entropy_true, derivation, rtol=1e-12)
    assert (t.p_true > 0).sum() == support
    assert t.support.sum() <= support and t.support.sum() >= 0.99 * support


def test_conditionals_follow_the_sparsity_principle():
    t = build_target(TargetSpec.named("high"))
    np.testing.assert_allclose(t.cond[0], 0.2)  # p(x1 | #) uniform
    np.testing.assert_allclose(t.cond.sum(axis=1), 1.0, rtol=1e-15)
    rows = np.sort(t.cond[1:], axis=1)[:, ::-1]
    np.testing.assert_array_equal(rows[:, :3], np.tile([0.6, 0.3, 0.1], (len(rows), 1)))
    assert (rows[:, 3:] == 0).all()
    # The choice is per prefix, not per last character: prefixes ending alike differ.
    assert any((t.cond[6] != t.cond[6 + 5 * j]).any() for j in range(1, 5))


def test_same_seed_gives_identical_data_and_other_seeds_do_not():
    spec = TargetSpec()
    a, b = _build_target.__wrapped__(spec), _build_target.__wrapped__(spec)
    np.testing.assert_array_equal(a.data, b.data)
    np.testing.assert_array_equal(a.cond, b.cond)
    c = _build_target.__wrapped__(TargetSpec(seed=1))
    assert not np.array_equal(a.data, c.data)


def test_data_set_is_65536_samples_and_p_tgt_is_their_frequency():
    t = build_target(TargetSpec())
    assert t.data.shape == (65_536,)
    np.testing.assert_array_equal(t.p_tgt * 65_536, np.bincount(t.data, minlength=3125))
    assert set(np.unique(t.data)) <= set(np.nonzero(t.p_true)[0])
    # The empirical entropy is within sampling error of the generating one.
    assert abs(t.entropy - t.entropy_true) < 0.02


def test_canonical_context_order_matches_enumeration():
    """Contexts sorted by length then lexicographically; index = (V^t-1)/(V-1) + base-V value."""
    V, T = 3, 4
    ctxs = [c for t in range(T) for c in itertools.product(range(V), repeat=t)]
    index = {c: i for i, c in enumerate(ctxs)}
    assert len(ctxs) == n_contexts(V, T) == 40
    seqs = sequences(V, T)
    for i, s in enumerate(seqs):
        assert int("".join(map(str, s)), V) == i
        for t in range(T):
            assert sequence_contexts(V, T)[i, t] == index[tuple(s[:t])]


@pytest.mark.parametrize("kw, bad", [
    (dict(probs=(0.5, 0.4)), "sum to 1"), (dict(vocab=1), "vocab"),
    (dict(probs=(0.2,) * 6, vocab=5), "at most 5"),
    # numbers that sum to 1 but are no distribution, and sizes that are no sizes
    (dict(probs=(1.5, -0.5)), r"positive numbers, got \(1.5, -0.5\)"),
    (dict(probs=(float("nan"), 0.5)), "positive numbers"), (dict(probs=(1.0, 0.0)), "positive"),
    (dict(probs=("0.8", "0.2")), "positive numbers"), (dict(seed=-1), "seed must be >= 0"),
    (dict(vocab=5.0), "vocab must be an integer, got 5.0"), (dict(n_samples=0), "n_samples"),
    (dict(length=True), "length must be an integer"),
    (dict(length=40), r"5 \*\* 40 sequences; .* at most 1,048,576")])
def test_bad_target_specs_are_clear_errors(kw, bad):
    with pytest.raises(SpecError, match=bad):
        TargetSpec(**kw)


def test_unknown_target_name_is_a_clear_error():
    with pytest.raises(SpecError, match="'mid'"):
        TargetSpec.named("mid")
