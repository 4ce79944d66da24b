"""Checkpoints: an interrupted run resumes from its last checkpoint and ends bit-identical to
an uninterrupted one; a checkpoint of other code, torch or spec, or a damaged one, is never
resumed."""
import numpy as np
import pytest
import torch

from lowent.cache import Cache, CacheWarning, DiskCheckpoints, stamp
from lowent.config import LAYOUTS, RunSpec, TrainSpec
from lowent.engine import train
from tests.helpers import MODEL_KINDS, Interrupted, KilledAfter, model_spec, small_target


def _spec(kw, layout, epochs=3):
    return RunSpec(target=small_target(), model=model_spec(kw, d=8, layers=2, dropout=0.1),
                   train=TrainSpec(dtype="float64", batch_size=256, epochs=epochs, layout=layout,
                                   log_every=5), seeds=(0, 2))


def assert_same_run(a, b, atol=0.0):
    for name in a.per_epoch:
        np.testing.assert_allclose(a.per_epoch[name], b.per_epoch[name], rtol=0, atol=atol,
                                   err_msg=name)
    assert a.per_step.keys() == b.per_step.keys()
    for name in a.per_step:
        np.testing.assert_allclose(a.per_step[name], b.per_step[name], rtol=0, atol=atol,
                                   err_msg=name)
    for name, value in a.state.items():
        torch.testing.assert_close(value, b.state[name], rtol=0, atol=atol, msg=name)
    np.testing.assert_allclose(a.table, b.table, rtol=0, atol=atol)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("kw", [kw for _, kw in MODEL_KINDS], ids=[i for i, _ in MODEL_KINDS])
def test_a_resumed_run_equals_an_uninterrupted_one(tmp_path, kw, layout):
    """Killed after its first checkpoint (epoch 1 of 3, dropout 0.1, float64), then run
    again: the weights, the per-epoch and per-step traces and the final table equal an
    uninterrupted run's bit for bit."""
    spec = _spec(kw, layout)
    whole = train(spec)
    path, st = tmp_path / "ck.pt", stamp(spec)
    with pytest.raises(Interrupted):
        train(spec, checkpoints=KilledAfter(path, st, 1), every=1)
    lines = []
    resumed = train(spec, checkpoints=DiskCheckpoints(path, st), every=1, log=lines.append)
    assert resumed.meta["resumed_from_epoch"] == 1
    assert lines and "from epoch 1 of 3" in lines[0]
    assert_same_run(resumed, whole)


def test_a_checkpoint_of_another_spec_or_code_is_not_resumed(tmp_path):
    spec = _spec(dict(variant="full"), "trie")
    path = tmp_path / "ck.pt"
    with pytest.raises(Interrupted):
        train(spec, checkpoints=KilledAfter(path, stamp(spec), 1), every=1)
    foreign = stamp(spec).replace('"code": "', '"code": "0.0.0+old')
    with pytest.warns(CacheWarning, match="written with another code"):
        run = train(spec, checkpoints=DiskCheckpoints(path, foreign), every=1)
    assert "resumed_from_epoch" not in run.meta
    assert_same_run(run, train(spec))


def test_a_damaged_checkpoint_is_not_resumed(tmp_path):
    spec = _spec(dict(variant="full"), "trie")
    path = tmp_path / "ck.pt"
    with pytest.raises(Interrupted):
        train(spec, checkpoints=KilledAfter(path, stamp(spec), 1), every=1)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.warns(CacheWarning, match="unreadable"):
        run = train(spec, checkpoints=DiskCheckpoints(path, stamp(spec)), every=1)
    assert "resumed_from_epoch" not in run.meta


@pytest.mark.parametrize("blob", ["stamp_int", "stamp_text", "stamp_list", "no_state",
                                  "state_without_epoch", "a_directory", "a_fifo"])
def test_a_checkpoint_of_a_foreign_shape_is_unreadable_and_discarded(tmp_path, blob):
    """Whatever sits at a checkpoint's path, reading it says "unreadable" (the epoch the
    progress lines read too), and training discards it with a warning and starts over."""
    import os

    from lowent.cache import Cache

    spec = _spec(dict(variant="full"), "trie")
    path = tmp_path / "ck.pt"
    if blob == "a_directory":
        (path / "inner").mkdir(parents=True)
    elif blob == "a_fifo":
        os.mkfifo(path)
    else:
        torch.save({"stamp_int": {"stamp": 5}, "stamp_text": {"stamp": "hello"},
                    "stamp_list": {"stamp": "[1]"}, "no_state": {"stamp": stamp(spec)},
                    "state_without_epoch": {"stamp": stamp(spec), "state": {}}}[blob], path)
    state, why = DiskCheckpoints(path, stamp(spec)).read()
    assert state is None and why.startswith("unreadable")
    cache = Cache(tmp_path / "cache")
    cache.checkpoint_path(spec).parent.mkdir(parents=True)
    os.replace(path, cache.checkpoint_path(spec))
    assert cache.checkpoint_epoch(spec) is None
    with pytest.warns(CacheWarning, match="unreadable"):
        run = train(spec, checkpoints=DiskCheckpoints(cache.checkpoint_path(spec), stamp(spec)),
                    every=1)
    assert "resumed_from_epoch" not in run.meta


def test_a_crash_while_writing_leaves_the_previous_checkpoint(tmp_path, monkeypatch):
    spec = _spec(dict(variant="full"), "trie")
    path, st = tmp_path / "ck.pt", stamp(spec)
    with pytest.raises(Interrupted):
        train(spec, checkpoints=KilledAfter(path, st, 1), every=1)
    before = path.read_bytes()
    real_save = torch.save

    def dies_half_way(obj, f):
        real_save(obj, f)
        with open(f, "r+b") as fh:
            fh.truncate(100)
        raise Interrupted

    monkeypatch.setattr(torch, "save", dies_half_way)
    with pytest.raises(Interrupted):
        train(spec, checkpoints=DiskCheckpoints(path, st), every=1)
    assert path.read_bytes() == before
    monkeypatch.setattr(torch, "save", real_save)
    assert DiskCheckpoints(path, st).load()["epoch"] == 1


def test_the_cache_resumes_an_interrupted_run_and_says_so(tmp_path):
    """cache.get killed after a checkpoint, then asked again: the missing seeds resume from
    their checkpoint, the log says from which epoch, the checkpoint is dropped once stored,
    and the run equals one trained without interruption."""
    spec = _spec(dict(kind="gru", layers=1), "faithful", epochs=12)  # checkpoints every 5

    def killed(s, device="cpu", progress="none", checkpoints=None, log=None):
        return train(s, device=device, checkpoints=KilledAfter(checkpoints.path,
                                                                 checkpoints.stamp, 2), log=log)

    lines = []
    cache = Cache(tmp_path / "c", log=lines.append)
    with pytest.raises(Interrupted):
        cache.get(spec, train_fn=killed)
    assert cache.checkpoint_path(spec).exists()
    run = cache.get(spec)
    assert any("from epoch 10 of 12" in line for line in lines)
    assert not cache.checkpoint_path(spec).exists()
    assert_same_run(run, Cache(tmp_path / "fresh").get(spec))
