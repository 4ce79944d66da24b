"""The engine trains exactly like the straightforward torch.nn loop (float64, dropout 0)."""
import pytest
import torch
import torch.nn.functional as F

from lowent.config import RunSpec, TrainSpec
from lowent.engine import Trainer, minibatch_order
from lowent.optim import OPTIMIZERS
from lowent.reference import build_reference, inputs_and_targets, load_from_stacked
from tests.helpers import model_spec, small_target


@pytest.mark.parametrize("kw", [dict(variant="full"), dict(variant="ffn_main"),
                                dict(variant="routed"), dict(kind="gru", layers=1),
                                dict(kind="lstm", layers=1)],
                         ids=["full", "ffn_main", "routed", "gru", "lstm"])
@pytest.mark.parametrize("optimizer", ["adam", "rmsprop"])
def test_engine_steps_equal_the_torch_nn_loop(kw, optimizer):
    """Trie batches + stacked seeds + flat optimizer == one nn.Module per seed, per-sample
    minibatches, F.cross_entropy, torch.optim: same weights after 8 steps."""
    spec = RunSpec(target=small_target(), model=model_spec(kw, d=8, layers=2),
                   train=TrainSpec(dtype="float64", batch_size=128, optimizer=optimizer),
                   seeds=(3, 8))
    tr = Trainer(spec)
    refs = [load_from_stacked(build_reference(spec.model, 5, 5).double(), tr.model, e)
            for e in range(2)]
    order = minibatch_order(tr.target, spec.seeds, 128, epoch=0)
    tr.steps(0, 8)
    for e, ref in enumerate(refs):
        cls, okw = OPTIMIZERS[optimizer]
        opt = cls(ref.parameters(), **okw)
        ref.train()
        for i in range(8):
            x, y = inputs_and_targets(order[i, e], 5, 5)
            loss = F.cross_entropy(ref(x).reshape(-1, 5), y.reshape(-1))
            opt.zero_grad()
            loss.backward()
            opt.step()
        ours = build_reference(spec.model, 5, 5).double()
        load_from_stacked(ours, tr.model, e)
        for (name, a), b in zip(ours.named_parameters(), ref.parameters()):
            torch.testing.assert_close(a, b, rtol=0, atol=1e-9, msg=name)
