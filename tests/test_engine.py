"""Training: stacked seeds equal separate runs, the flat optimizer equals a plain one, traces."""
import numpy as np
import pytest
import torch

from lowent.config import LAYOUTS, RunSpec, TrainSpec
from lowent.engine import EPOCH_METRICS, Run, Trainer, minibatch_order, train
from lowent.host import resolve_device
from lowent.optim import OPTIMIZERS, make_optimizer
from tests.helpers import model_spec, small_target

FAST_KINDS = [("full", dict(variant="full")), ("routed", dict(variant="routed")),
              ("gru", dict(kind="gru", layers=1)), ("lstm", dict(kind="lstm", layers=1))]


def _spec(kw, seeds, optimizer="adam", dropout=0.0, **train):
    return RunSpec(target=small_target(), model=model_spec(kw, d=8, layers=2, dropout=dropout),
                   train=TrainSpec(dtype="float64", batch_size=64, optimizer=optimizer, **train),
                   seeds=seeds)


@pytest.mark.parametrize("kw", [kw for _, kw in FAST_KINDS], ids=[i for i, _ in FAST_KINDS])
@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
def test_stacked_run_equals_separate_single_seed_runs(kw, optimizer):
    """An E-seed stacked run equals E separate single-seed runs for 20 steps (float64,
    dropout 0): same weights and the same per-step losses."""
    seeds = (4, 0, 7)
    stacked = Trainer(_spec(kw, seeds, optimizer))
    stacked_loss = stacked.steps(0, 20)  # [20, E]
    for e, s in enumerate(seeds):
        single = Trainer(_spec(kw, (s,), optimizer))
        single_loss = single.steps(0, 20)
        np.testing.assert_allclose(stacked_loss[:, e], single_loss[:, 0], rtol=0, atol=1e-12)
        for (name, a), (_, b) in zip(stacked.model.state_dict().items(),
                                     single.model.state_dict().items()):
            torch.testing.assert_close(a[e:e + 1], b, rtol=0, atol=1e-10, msg=name)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_a_seed_trains_the_same_whatever_seeds_are_stacked_beside_it(layout):
    """Every random draw of model seed s (initial weights, minibatch order, dropout masks)
    comes from streams of s alone: seed 3 of a 5-seed run equals seed 3 of a 10-seed run
    (dropout 0.1, float64, 20 steps; per-step losses and weights to 1e-12)."""
    five = Trainer(_spec(dict(variant="full"), tuple(range(5)), dropout=0.1, layout=layout))
    ten = Trainer(_spec(dict(variant="full"), tuple(range(10)), dropout=0.1, layout=layout))
    a, b = five.steps(0, 20), ten.steps(0, 20)  # [20, E]
    np.testing.assert_allclose(a[:, 3], b[:, 3], rtol=0, atol=1e-12)
    for (name, x), (_, y) in zip(five.model.state_dict().items(), ten.model.state_dict().items()):
        torch.testing.assert_close(x[3], y[3], rtol=0, atol=1e-12, msg=name)


@pytest.mark.parametrize("kw", [kw for _, kw in FAST_KINDS], ids=[i for i, _ in FAST_KINDS])
def test_faithful_training_follows_the_per_sample_loop_with_dropout(kw):
    """20 steps with dropout 0.1 (float64): the faithful layout draws the per-sample loop's
    masks and takes the same steps (per-step losses to 1e-12, weights to 1e-10)."""
    ref = Trainer(_spec(kw, (0, 1), dropout=0.1, layout="per_sample"))
    fast = Trainer(_spec(kw, (0, 1), dropout=0.1, layout="faithful"))
    np.testing.assert_allclose(fast.steps(0, 20), ref.steps(0, 20), rtol=0, atol=1e-12)
    for (name, x), (_, y) in zip(fast.model.state_dict().items(), ref.model.state_dict().items()):
        torch.testing.assert_close(x, y, rtol=0, atol=1e-10, msg=name)


@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
def test_flat_optimizer_equals_a_plain_per_tensor_optimizer(optimizer):
    """The engine's flat-buffer optimizer takes the same steps as torch's per-tensor loop."""
    spec = _spec(dict(variant="full"), (1, 2), optimizer)
    tr = Trainer(spec)
    plain = Trainer(spec)
    params = [p.detach().clone().requires_grad_() for p in plain.model.parameters()]
    for p, q in zip(plain.model.parameters(), params):  # rebind the model to plain tensors
        p.data = q.data
    cls, kw = OPTIMIZERS[optimizer]
    opt = cls(list(plain.model.parameters()), foreach=False, **kw)
    order = minibatch_order(tr.target, spec.seeds, spec.train.batch_size, 0)
    tr.steps(0, 10)
    for i in range(10):
        for p in plain.model.parameters():
            p.grad = None
        plain.batch_loss(order[i]).sum().backward()
        opt.step()
    for (name, a), b in zip(tr.model.named_parameters(), plain.model.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-10, msg=name)


def test_make_optimizer_rejects_unknown_names():
    with pytest.raises(ValueError, match="'lamb'"):
        make_optimizer("lamb", [torch.nn.Parameter(torch.zeros(1))])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("shape", [(3, 7, 5), (2, 76, 256), (1, 9)])
def test_dropout_equals_a_straightforward_mask_from_the_same_draws(shape, dtype):
    """The dropout of the layers (every model's 64-bit words drawn into one buffer) gives
    bit for bit what the plain form gives: each model's words drawn alone, cut to
    16 bits, compared with the threshold, cast and scaled; output, gradient and the
    generators' next draws."""
    from lowent.models.layers import DROP_BITS, dropout

    p, n = 0.1, int(np.prod(shape[1:]))
    x = torch.rand(shape, dtype=dtype, generator=torch.Generator().manual_seed(1)) - 0.3

    def run(fn):
        gens = [torch.Generator().manual_seed(100 + e) for e in range(shape[0])]
        xi = x.clone().requires_grad_()
        y = fn(xi, gens)
        y.backward(torch.full_like(y, 0.7))
        return y.detach(), xi.grad, torch.stack([torch.rand(2, generator=g) for g in gens])

    def plain(xi, gens):
        bits = torch.cat([torch.randint(-2**63, 2**63 - 1, ((n + 3) // 4,), generator=g)
                          .view(torch.int16)[:n] for g in gens]).view(shape)
        keep = (bits >= round(p * 2**DROP_BITS) - 2**15).to(dtype) * (1.0 / (1.0 - p))
        return xi * keep

    for ours, theirs in zip(run(lambda xi, gens: dropout(xi, p, True, gens)), run(plain),
                            strict=True):
        assert torch.equal(ours, theirs)
    if n > 1000:  # and it is dropout: about 1 - p of the elements survive
        assert abs((run(plain)[0] != 0).double().mean().item() - (1 - p)) < 0.01


def test_training_is_deterministic_with_dropout():
    spec = _spec(dict(variant="full"), (0, 1), dropout=0.1)
    a, b = Trainer(spec).steps(0, 15), Trainer(spec).steps(0, 15)
    np.testing.assert_array_equal(a, b)
    c = Trainer(_spec(dict(variant="full"), (0, 1), dropout=0.0)).steps(0, 15)
    assert not np.allclose(a, c)  # dropout is really applied


@pytest.mark.parametrize("kw", [dict(variant="full"), dict(kind="gru", layers=1)],
                         ids=["full", "gru"])
def test_logging_dead_neurons_does_not_change_training(kw):
    """The probes every k steps run in eval mode without gradients or dropout draws, so a
    logged run follows the unlogged one exactly (the claims share logged runs: the
    Transformers of F1, F2 and S1-S4, the RNNs of L1-L3 and S4)."""
    spec = _spec(kw, (0, 1), dropout=0.1)
    a, tr = Trainer(spec).steps(0, 20), Trainer(_spec(kw, (0, 1), dropout=0.1, log_every=3))
    np.testing.assert_array_equal(a, tr.steps(0, 20))
    assert tr.probe_steps == list(range(0, 20, 3))


def test_the_logged_dead_count_equals_a_per_sample_count_on_the_weights_it_saw():
    """The dead-neuron count S2-S4 read (per_step "dead_count", probed after every
    log_every-th step on the 781-context trie) equals counting, on the final weights, the
    neurons never active at any of the 15,625 positions of a per-sample forward."""
    from lowent.contexts import sequences_layout

    tr = Trainer(_spec(dict(variant="full"), (0, 1), log_every=4))
    with torch.no_grad():  # some neurons dead, differently in each model
        tr.model.blocks[0].ffn.fc1.bias[0, 0, :5] = -50.0
        tr.model.blocks[1].ffn.fc1.bias[1, 0, 3:6] = -50.0
    tr.steps(0, 5)  # probes after steps 0 and 4: the last one on the final weights
    assert tr.probe_steps == [0, 4] and tr.model.training
    tr.model.eval()
    with torch.no_grad():
        _, per = tr.model(sequences_layout(np.arange(5**5)[None].repeat(2, 0), 5, 5), trace=True)
    active = np.concatenate([per[f"blocks.{i}.ffn.post"].numpy() > 0 for i in (0, 1)], -1)
    brute = (active.sum(axis=1) == 0).sum(-1)  # [E] never active at any position
    np.testing.assert_array_equal(tr.probe_dead[-1], brute)
    assert (brute >= [5, 3]).all()


def test_run_trace_has_every_metric_and_survives_save_and_load(tmp_path):
    spec = _spec(dict(variant="full"), (0, 3), log_every=4)
    spec = spec.replace(train=TrainSpec(**{**spec.train.__dict__, "dtype": "float32"}))
    run = train(spec, steps=100)  # 64 steps per epoch: 2 epochs, the second partial
    for name in EPOCH_METRICS:
        assert run.per_epoch[name].shape == (2, 2), name
        assert np.all(np.isfinite(run.per_epoch[name])), name
    assert run.per_step["loss"].shape == (2, 100)
    np.testing.assert_array_equal(run.per_step["step"], np.arange(0, 100, 4))
    assert run.per_step["dead_count"].shape == (2, 25)
    # the metrics' values are checked against brute force in tests/test_metrics.py and
    # test_a_float32_runs_recorded_metrics_equal_a_float64_brute_force_of_its_weights
    run.save(tmp_path)
    back = Run.load(tmp_path)
    assert back.spec == spec
    for name in EPOCH_METRICS:
        np.testing.assert_array_equal(back.per_epoch[name], run.per_epoch[name])
    np.testing.assert_array_equal(back.table, run.table)
    from lowent.engine import evaluate

    np.testing.assert_allclose(evaluate(back.model(), 5, 5, trace=False), run.table, atol=1e-12)


def test_a_float32_runs_recorded_metrics_equal_a_float64_brute_force_of_its_weights():
    """What train() records per epoch, for a float32 run: the last epoch's H and KL equal a
    float64 brute force over every sequence of the final weights (one sequence per row of
    a per-sample batch, log-probabilities summed in numpy, KL against the data set's
    p_tgt), to 1e-10 (a float32 evaluation is 2e-8 off and fails it); and each epoch's loss is
    the mean of its steps' losses."""
    from lowent.contexts import sequences_layout
    from lowent.target import build_target

    spec = _spec(dict(variant="full"), (0, 3))
    spec = spec.replace(train=TrainSpec(**{**spec.train.__dict__, "dtype": "float32",
                                           "epochs": 2, "log_every": 4}))  # every step's loss
    run = train(spec)
    V, T, E = 5, 5, 2
    model = run.model().double().eval()
    assert next(run.model().parameters()).dtype == torch.float32
    S = V**T
    ids = np.tile(np.arange(S), (E, 1))
    with torch.no_grad():
        logp = torch.log_softmax(model(sequences_layout(ids, V, T)), -1).numpy()  # [E, T*S, V]
    from lowent.contexts import sequences

    seqs = sequences(V, T)  # [S, T]
    lp = np.zeros((E, S))
    for t in range(T):
        lp += logp[:, t * S + np.arange(S), seqs[:, t]]
    P = np.exp(lp)
    np.testing.assert_allclose(P.sum(1), 1.0, atol=1e-12)
    H = -(P * lp).sum(1)
    p_tgt = build_target(spec.target).p_tgt
    on = p_tgt > 0
    KL = (p_tgt[on] * (np.log(p_tgt[on]) - lp[:, on])).sum(1)
    np.testing.assert_allclose(run.per_epoch["entropy"][:, -1], H, rtol=0, atol=1e-10)
    np.testing.assert_allclose(run.per_epoch["kl"][:, -1], KL, rtol=0, atol=1e-10)
    steps = spec.target.n_samples // spec.train.batch_size
    np.testing.assert_allclose(run.per_epoch["loss"],
                               run.per_step["loss"].reshape(E, 2, steps).mean(-1), rtol=1e-12)


def test_models_without_ffn_record_nan_neuron_metrics():
    run = train(_spec(dict(kind="gru", layers=1), (0,)), steps=5)
    assert np.isnan(run.per_epoch["dead_fraction"]).all()
    assert np.isfinite(run.per_epoch["entropy"]).all()


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present")
def test_cuda_without_a_gpu_is_a_clear_error():
    with pytest.raises(RuntimeError, match="no CUDA GPU"):
        resolve_device("cuda")
    with pytest.raises(ValueError, match="'tpu'"):
        resolve_device("tpu")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_training_matches_cpu_in_float64():
    spec = _spec(dict(variant="full"), (0, 1))
    cpu, gpu = Trainer(spec, "cpu").steps(0, 5), Trainer(spec, "cuda").steps(0, 5)
    np.testing.assert_allclose(cpu, gpu, rtol=0, atol=1e-9)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("layout", ["trie", "faithful"])
def test_a_claims_runs_train_the_same_on_cuda_as_on_the_cpu_in_float64(layout):
    """L1's runs (the size sweep of the quick profile), 30 steps each in float64 on both
    devices: the same exact tables and per-step losses (dropout masks are drawn on the
    device, so with dropout the comparison uses dropout 0)."""
    from lowent.claims import run_specs
    from lowent.profiles import get_profile

    for spec in run_specs("L1", get_profile("quick")).values():
        spec = spec.replace(model=spec.model.__class__(**{**spec.model.__dict__, "dropout": 0.0}),
                            train=TrainSpec(dtype="float64", layout=layout, log_every=8))
        cpu, gpu = train(spec, "cpu", steps=30), train(spec, "cuda", steps=30)
        np.testing.assert_allclose(gpu.table, cpu.table, rtol=0, atol=1e-9)
        np.testing.assert_allclose(gpu.per_step["loss"], cpu.per_step["loss"], rtol=0, atol=1e-9)


def test_a_trainer_has_the_c_allocator_keep_freed_memory():
    """Trainer sets glibc's mmap and trim thresholds once per process (fewer page faults;
    numerically inert); elsewhere it is a no-op that says so."""
    import platform

    from lowent import host

    Trainer(_spec(dict(variant="full"), (0,)))
    assert host._freed_memory_kept is not None
    if platform.system() == "Linux" and platform.libc_ver()[0] == "glibc":
        assert host.keep_freed_memory() is True


def test_progress_is_one_of_its_names():
    with pytest.raises(ValueError, match="unknown progress True; use one of none, bar, lines"):
        train(_spec(dict(variant="full"), (0,)), progress=True, steps=1)
