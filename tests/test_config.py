"""Specs: bad values are one-line errors naming them; valid values keep their cache keys."""
import numpy as np
import pytest

from lowent.config import ModelSpec, RunSpec, SpecError, TargetSpec, TrainSpec


@pytest.mark.parametrize("kw, bad", [
    (dict(epochs=1.5), "epochs must be an integer, got 1.5"), (dict(epochs=0), "epochs must be >= 1"),
    (dict(batch_size="512"), "batch_size must be an integer, got '512'"),
    (dict(log_every=-1), "log_every must be >= 0"), (dict(optimizer="lamb"), "'lamb'")])
def test_bad_training_specs_name_the_bad_value(kw, bad):
    with pytest.raises(SpecError, match=bad):
        TrainSpec(**kw)


@pytest.mark.parametrize("kw, bad", [
    (dict(seeds=(1.5,)), r"seeds must be integers, got \(1.5,\)"),
    (dict(seeds="0-4"), "seeds must be integers, got '0-4'"), (dict(seeds=(True,)), "integers"),
    (dict(seeds=()), "at least one seed"), (dict(seeds=(2, 2)), "distinct"),
    (dict(seeds=None), "seeds must be a sequence of numbers, got None"),
    (dict(seeds=(-1,)), "non-negative"), (dict(model={"d_model": 8}), "model must be a ModelSpec"),
    (dict(train=TrainSpec(batch_size=2**17)), "exceeds the data set")])
def test_bad_run_specs_name_the_bad_value(kw, bad):
    with pytest.raises(SpecError, match=bad):
        RunSpec(**kw)


@pytest.mark.parametrize("kw, bad", [
    (dict(probs=None), "probs must be a sequence of numbers, got None"),
    (dict(vocab=10, length=10**9), r"10 \*\* 1000000000 sequences"),  # refused, not computed
    (dict(vocab=2, length=21), r"2 \*\* 21 sequences")])
def test_impossible_targets_are_refused_at_once(kw, bad):
    with pytest.raises(SpecError, match=bad):
        TargetSpec(**kw)
    assert TargetSpec(vocab=2, length=20, probs=(0.5, 0.5)).length == 20  # 2**20: allowed


def test_numpy_and_python_numbers_make_the_same_spec_and_key():
    plain = RunSpec(target=TargetSpec(probs=(0.8, 0.2)), seeds=(0, 1, 2))
    numpy = RunSpec(target=TargetSpec(probs=np.array([0.8, 0.2])), seeds=np.arange(3))
    assert numpy == plain and numpy.key() == plain.key()
    assert RunSpec(seeds=range(3)).key() == plain.key()


def test_valid_specs_keep_their_keys():
    """The cache is keyed by these hashes: a change to how a spec is written down (rather than
    to what it trains) would orphan every stored run, so two keys are pinned."""
    assert RunSpec().key() == "3d8743cab3623408585191e9"
    spec = RunSpec(target=TargetSpec.named("high", seed=2),
                   model=ModelSpec(kind="gru", layers=1, d_model=32),
                   train=TrainSpec(layout="faithful", log_every=8, optimizer="rmsprop"),
                   seeds=range(5))
    assert spec.key() == "bb241309a6e54d712dcabcf3"
