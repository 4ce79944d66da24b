"""Neuron and routing probes against brute force over every sequence and position."""
import numpy as np
import torch

from lowent.contexts import all_contexts, sequences_layout
from lowent.models import build_model
from lowent.probes import (activation_counts, count_histogram, dead_fraction, epoch_probes,
                           ffn_active, multiplicity, per_input_activity, route_histogram,
                           route_weights)
from tests.helpers import model_spec

V, T = 5, 5


def test_multiplicities_cover_15625_positions():
    w = multiplicity(V, T)
    assert w.sum() == V**T * T == 15_625
    assert w[0] == 3125 and w[-1] == 5  # "#" starts every sequence; "#x1..x4" is shared by 5


def test_activation_counts_and_activity_equal_brute_force():
    """Counts over the 781-context trie, weighted by multiplicity, equal counting every one of
    the 15,625 positions of the 3125 sequences in a per-sample forward."""
    m = build_model(model_spec(dict(variant="full"), d=8, layers=2), range(2)).double().eval()
    with torch.no_grad():  # make some neurons dead and some always on
        m.blocks[0].ffn.fc1.bias[:, 0, :3] = -50.0
        m.blocks[1].ffn.fc1.bias[:, 0, 5] = 50.0
        _, rec = m(all_contexts(V, T), trace=True)
        active = ffn_active(rec)  # [E, 781, 64]
        counts = activation_counts(active, V, T)
        activity = per_input_activity(active, V, T)
        seq_ids = np.arange(V**T)[None].repeat(2, 0)
        _, per = m(sequences_layout(seq_ids, V, T), trace=True)
    brute = np.concatenate([per[f"blocks.{i}.ffn.post"].numpy() > 0 for i in (0, 1)], -1)
    np.testing.assert_array_equal(counts, brute.sum(axis=1))  # over all T * 3125 positions
    np.testing.assert_allclose(activity, brute.reshape(2, T, V**T, -1).mean(-1).mean(1), atol=1e-15)
    assert (counts[:, :3] == 0).all() and (counts[:, 32 + 5] == 15_625).all()
    np.testing.assert_allclose(dead_fraction(counts), (counts == 0).mean(-1))
    assert (dead_fraction(counts) >= 3 / 64).all()
    # the histogram of the brute-force counts, binned by integer arithmetic: bin
    # floor(20 count / 15,625), the last bin closed (np.histogram's convention)
    hist = count_histogram(counts, V, T)
    bins = np.minimum(brute.sum(axis=1) * 20 // 15_625, 19)
    want = np.stack([np.bincount(b, minlength=20) / b.size for b in bins])
    np.testing.assert_array_equal(hist, want)
    # the epoch's probes (the per-epoch dead and active fractions) from the same brute force
    probes = epoch_probes(rec, V, T, 2)
    np.testing.assert_array_equal(probes["dead_fraction"], (brute.sum(axis=1) == 0).mean(-1))
    np.testing.assert_allclose(probes["active_fraction"], brute.mean(axis=(1, 2)), atol=1e-15)


def test_route_histograms_equal_brute_force_over_all_positions():
    m = build_model(model_spec(dict(variant="routed"), d=8, layers=3), range(2)).double().eval()
    with torch.no_grad():
        _, rec = m(all_contexts(V, T), trace=True)
    w = route_weights(rec)
    assert w.shape == (2, 3, 781, 5)
    for residual_only in (False, True):
        h = route_histogram(w, V, T, residual_only=residual_only)
        assert h.shape == (2, 30)
        np.testing.assert_allclose(h.sum(-1), 1.0)
    # brute force: the router's weights at each of the 15,625 positions of a per-sample
    # forward, every layer, every path (or the residual's alone), every model
    with torch.no_grad():
        _, per = m(sequences_layout(np.arange(V**T)[None].repeat(2, 0), V, T), trace=True)
    every = np.stack([per[f"blocks.{i}.route"].numpy() for i in range(3)], axis=1)
    assert every.shape == (2, 3, 15_625, 5)
    for residual_only in (False, True):
        for e in range(2):
            flat = (every[e, ..., 0] if residual_only else every[e]).ravel()
            bins = np.minimum((flat * 30).astype(np.int64), 29)
            np.testing.assert_allclose(route_histogram(w, V, T, residual_only)[e],
                                       np.bincount(bins, minlength=30) / flat.size,
                                       rtol=0, atol=1e-12)


def test_models_without_ffn_have_nan_probes():
    out = epoch_probes({"rnn.hidden": torch.zeros(2, 781, 4)}, V, T, 2)
    assert np.isnan(out["dead_fraction"]).all() and np.isnan(out["active_fraction"]).all()
