"""``python -m lowent bench``: the engine beside the straightforward loop, in one run.

For each configuration the baseline (:mod:`lowent.reference`: one ``torch.nn`` model at a
time, per-sample batches of 512) and the engine (all seeds stacked) in each layout take the
same number of optimizer steps on the same minibatches. The engine's figure per model-epoch
(128 steps) includes its share of start-up (building the target, models and layout, spread
over a 100-epoch run) and the exact float64 evaluation that ends every epoch. Printed: time
per model-epoch for both and their ratio; the engine's achieved GFLOP/s beside a measured
matmul peak; and the compute floor, the time its layout's FLOPs would take at that peak.
``trie`` computes one row per context node (one dropout mask per node); ``faithful`` shares
the rows before the first dropout and computes every sample's rows after it, the least work
that per-sample dropout allows.
"""
from __future__ import annotations

import itertools
import json
import time
from dataclasses import asdict, dataclass
from typing import Callable

import torch

from lowent.config import ModelSpec, RunSpec, TrainSpec
from lowent.engine import Trainer, minibatch_order
from lowent.host import keep_freed_memory, resolve_device
from lowent.target import build_target

CONFIGS = ((64, 1, 10), (64, 4, 10))  # (d, L, seeds): the largest model at both depths
LAYOUTS = ("trie", "faithful")
RUN_EPOCHS = 100  # start-up is spread over a run of this many epochs


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_peak(device: torch.device, n: int = 2048, reps: int = 5) -> float:
    """Best float32 GFLOP/s of an n x n matmul on `device` (all threads)."""
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    a @ b
    best = float("inf")
    for _ in range(reps):
        _sync(device)
        t0 = time.perf_counter()
        a @ b
        _sync(device)
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best / 1e9


def block_flops(spec: ModelSpec, attn: bool, ffn: bool, ancestors: float) -> tuple[float, float]:
    """Multiply-add FLOPs (2 per MAC) per position of one block, split at the FFN's ReLU:
    (attention + W1, W2). Attention counts its projections, router, and the scores and
    mixing over `ancestors` attended slots. Element-wise work is not counted."""
    d = spec.d_model
    before = 0.0
    if attn:
        before += 2 * 4 * d * d + 4 * ancestors * d
        if spec.variant == "routed":
            before += 2 * d * (spec.heads + 1)
    if not ffn:
        return before, 0.0
    return before + 2 * d * spec.ffn_mult * d, 2 * spec.ffn_mult * d * d


def forward_flops(spec: ModelSpec, positions: int, ancestors: float, vocab: int,
                  shared: int | None = None) -> float:
    """FLOPs of one model's forward over `positions` positions. With `shared` (the faithful
    layout), everything up to the first FFN's ReLU runs on `shared` trie nodes instead and the
    rest on the `positions` sample rows; an RNN then runs its recurrence on the nodes."""
    d = spec.d_model
    if spec.kind != "transformer":
        gates = {"gru": 3, "lstm": 4}[spec.kind]
        rnn = 2 * 2 * d * gates * d
        return (shared if shared is not None else positions) * rnn + positions * 2 * d * vocab
    from lowent.models.transformer import block_plan

    total, rows = positions * 2 * d * vocab, shared if shared is not None else positions
    for attn, ffn in block_plan(spec.variant, spec.layers):
        before, after = block_flops(spec, attn, ffn, ancestors)
        total += rows * before
        if ffn:
            rows = positions  # from the first dropout on, every sample has its own rows
        total += rows * after
    return total


def split_sublayers(spec: ModelSpec, layout: str) -> tuple[dict[str, int], dict[str, int]]:
    """Sub-layers a training step on `layout` runs on shared trie nodes and on per-sample
    rows: ``({"attention": a, "ffn": f, "rnn": r}, {"attention": a, "ffn": f})``. ``trie`` and
    ``dedup`` run every sub-layer on nodes; ``per_sample`` every Transformer sub-layer on
    sample rows; ``faithful`` runs on the nodes everything up to the first FFN's ReLU (that
    block's attention, and every attention before it) and on sample rows the FFNs from that
    one on and the attention of the blocks after it. An RNN's recurrence runs on the nodes
    (except on ``per_sample``) and nothing of it on sample rows."""
    nodes, rows = {"attention": 0, "ffn": 0, "rnn": 0}, {"attention": 0, "ffn": 0}
    if spec.kind != "transformer":
        nodes["rnn"] = int(layout != "per_sample")
        return nodes, rows
    from lowent.models.transformer import block_plan

    plan = block_plan(spec.variant, spec.layers)
    if layout in ("trie", "dedup"):
        nodes.update(attention=sum(a for a, _ in plan), ffn=sum(f for _, f in plan))
        return nodes, rows
    first = -1  # per_sample: everything on sample rows
    if layout == "faithful":
        first = next((i for i, (_, ffn) in enumerate(plan) if ffn), len(plan))
    for i, (attn, ffn) in enumerate(plan):
        rows["ffn"] += ffn and i >= first
        (nodes if i <= first else rows)["attention"] += attn
    return nodes, rows


STEP_OVERHEAD_S = 1e-3  # per optimizer step and per probe, for estimates (one thread)
EFFECTIVE_FLOPS = 35e9  # float32 FLOP/s the engine reaches on one thread of this CPU (bench)
# Layouts with per-sample rows (faithful after its first dropout, per_sample throughout),
# fitted (non-negative least squares of the relative error) on the 64 faithful runs of this
# code's paper-profile runs of F2 and S3 on this CPU (39 of 5 stacked seeds at d = 8 to 64,
# L = 1 to 4, all four variants; 25 of one seed; measured over estimated 0.81 to 1.86, median
# 1.00, 61 of them within 0.8 to 1.3), with the sub-layers on trie nodes charged as the
# trie's (TRIE_LAYER_S, once a step for all seeds): every seed's FLOPs, a fixed cost per step
# and seed, and the element-wise work (dropout masks, softmax, copies) FLOPs do not count,
# per sample row and sub-layer on sample rows; an attention sub-layer's (its [T, T] softmax
# and the copies of its heads) is four times an FFN's.
SAMPLE_ROWS_FLOPS = 35.7e9
SAMPLE_STEP_S = 1.12e-3  # per step and seed
ROW_SUBLAYER_S = {"attention": 1.65e-6, "ffn": 0.42e-6}  # per sample row, one thread


# Trie (and dedup) runs, fitted on the 5-seed trie runs of two cold default runs here (56
# runs of 20 or 100 epochs, two trainings at a time beside the unit tests, as in a cold run;
# measured over estimated 0.74 to 1.29, median 0.98): their tensors are small, so a step's
# time is mostly a fixed cost per layer, the same however many seeds are stacked (one kernel
# for all of them), plus the FLOPs of every seed.
TRIE_STEP_S = 0.64e-3  # per optimizer step: loss, backward's bookkeeping, optimizer
TRIE_LAYER_S = {"attention": 1.53e-3, "ffn": 0.86e-3, "rnn": 2.1e-3}  # per step, per sub-layer
TRIE_FLOPS = 39.7e9  # float32 FLOP/s of the stacked seeds' work, training and probes


def estimate_seconds(spec: RunSpec, vocab: int = 5, length: int = 5) -> float:
    """Rough one-thread CPU seconds to train `spec` (all its seeds), for progress lines: its
    steps, evaluations and probes at the engine's measured FLOP rate plus the overheads fitted
    on this CPU's runs (above). Not a measurement; `python -m lowent bench` measures."""
    m, t = spec.model, spec.train
    E, steps = len(spec.seeds), t.epochs * (spec.target.n_samples // t.batch_size)
    rows = t.batch_size * length
    contexts = sum(vocab**k for k in range(length))
    passes = t.epochs + (steps // t.log_every if t.log_every else 0)
    per_probe = 2 if t.dtype == "float32" else 1
    nodes, on_rows = split_sublayers(m, t.layout)
    shared = sum(TRIE_LAYER_S[k] * n for k, n in nodes.items())
    if t.layout in ("trie", "dedup"):
        flops = forward_flops(m, 80 if t.layout == "trie" else rows // 6, length, vocab)
        probe = forward_flops(m, contexts, length, vocab) * per_probe
        work = E * (steps * 3 * flops + passes * probe) / TRIE_FLOPS
        return steps * (TRIE_STEP_S + shared) + work
    flops = forward_flops(m, rows, (length + 1) / 2, vocab,
                          shared=80 if t.layout == "faithful" else None)
    per_step = (3 * flops / SAMPLE_ROWS_FLOPS + SAMPLE_STEP_S
                + rows * sum(ROW_SUBLAYER_S[k] * n for k, n in on_rows.items()))
    probe = forward_flops(m, contexts, length, vocab) / EFFECTIVE_FLOPS + STEP_OVERHEAD_S
    return steps * shared + E * steps * per_step + E * passes * probe * per_probe


@dataclass
class Workload:
    """One unit of work to time, shared by ``python -m lowent bench`` (:func:`measure`) and
    the pytest-benchmark suite (``benchmarks/``): ``step()`` does it once (one optimizer
    step of every stacked seed, one exact evaluation, one step of the torch.nn loop),
    ``flops`` is its multiply-add FLOPs and ``models`` how many models it advances."""

    name: str
    step: Callable[[], object]
    flops: float
    models: int
    device: torch.device

    def info(self) -> dict:
        """Figures and versions a saved benchmark keeps beside its timings."""
        return {"workload": self.name, "flops": self.flops, "models": self.models,
                "device": str(self.device), "torch": torch.__version__,
                "threads": torch.get_num_threads()}


def measure(w: Workload, calls: int) -> float:
    """Seconds of `calls` calls of w.step (after one warm-up call), device synchronised."""
    w.step()
    _sync(w.device)
    t0 = time.perf_counter()
    for _ in range(calls):
        w.step()
    _sync(w.device)
    return time.perf_counter() - t0


def engine_step(tr: Trainer) -> Workload:
    """One training step of all of `tr`'s stacked seeds on its layout (minibatches of epoch 0
    in turn), as Trainer.steps takes it, without the probes."""
    order = minibatch_order(tr.target, tr.spec.seeds, tr.B, 0)  # [steps, E, B]
    counts = None
    if tr.batching is not None:
        counts = torch.as_tensor(tr.batching.counts(order), dtype=tr.dtype, device=tr.device)
    turn = itertools.count()

    def step():
        i = next(turn) % len(order)
        loss = tr.batch_loss(order[i], None if counts is None else counts[i])
        tr.opt.zero_grad()
        loss.sum().backward()
        tr.opt.step()

    m, T, V, B = tr.spec.model, tr.T, tr.V, tr.B
    if tr.spec.train.layout == "faithful":
        fwd = forward_flops(m, B * T, (T + 1) / 2, V, shared=tr.faithful.layout.size)
    elif tr.spec.train.layout == "per_sample":
        fwd = forward_flops(m, B * T, (T + 1) / 2, V)
    else:
        fwd = forward_flops(m, tr.layout.size, T, V)
    return Workload(name=f"step {tr.spec.train.layout}", step=step, flops=3 * fwd * tr.E,
                    models=tr.E, device=tr.device)


def evaluation(tr: Trainer) -> Workload:
    """The exact float64 evaluation (781 contexts, every probe) that ends each epoch."""
    n = tr.eval_layout.size
    return Workload(name="exact evaluation", step=tr.evaluate,
                    flops=forward_flops(tr.spec.model, n, tr.T, tr.V) * tr.E, models=tr.E,
                    device=tr.device)


def loop_step(spec: RunSpec, seed: int, dev: torch.device) -> Workload:
    """One step of the straightforward loop (lowent.reference: one torch.nn model,
    per-sample minibatches of 512), on the minibatches the engine draws for `seed`."""
    import torch.nn.functional as F

    from lowent.optim import OPTIMIZERS
    from lowent.reference import build_reference, inputs_and_targets

    target = build_target(spec.target)
    torch.manual_seed(seed)
    model = build_reference(spec.model, target.vocab, target.length).to(dev)
    cls, kw = OPTIMIZERS[spec.train.optimizer]
    opt = cls(model.parameters(), **kw)
    order = minibatch_order(target, (seed,), spec.train.batch_size, 0)[:, 0]
    batches = [tuple(t.to(dev) for t in inputs_and_targets(order[i], target.vocab,
                                                         target.length)) for i in range(8)]
    model.train()
    turn = itertools.count()

    def step():
        x, y = batches[next(turn) % len(batches)]
        loss = F.cross_entropy(model(x).reshape(-1, target.vocab), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    T, B = target.length, spec.train.batch_size
    return Workload(name="torch.nn loop step", step=step,
                    flops=3 * forward_flops(spec.model, B * T, (T + 1) / 2, target.vocab),
                    models=1, device=dev)


@dataclass
class BenchRow:
    d: int
    layers: int
    seeds: int
    steps: int
    layout: str
    baseline_s_per_model_epoch: float
    engine_s_per_model_epoch: float  # steps, plus the exact evaluation and start-up shares
    steps_s_per_model_epoch: float  # training steps alone
    ratio: float
    engine_gflops: float
    baseline_gflops: float
    peak_gflops: float
    floor_s_per_model_epoch: float
    engine_over_floor: float


def time_baseline(spec: RunSpec, steps: int, dev: torch.device) -> float:
    """Seconds of `steps` steps of every seed of `spec` in the torch.nn loop, one at a time."""
    return sum(measure(loop_step(spec, s, dev), steps) for s in spec.seeds)


def bench_layout(spec: RunSpec, steps: int, dev: torch.device, peak: float,
                 t_base: float) -> BenchRow:
    """Time the engine on spec's layout beside the baseline's `t_base` seconds."""
    _sync(dev)
    t0 = time.perf_counter()
    tr = Trainer(spec, dev)
    _sync(dev)
    t_start = time.perf_counter() - t0
    work = engine_step(tr)
    t_steps = measure(work, steps)
    t_eval = measure(evaluation(tr), 1)

    m, E, T, V, B = spec.model, len(spec.seeds), tr.T, tr.V, tr.B
    per_epoch = tr.steps_per_epoch
    flops = work.flops / E  # one model's step, forward + backward
    base_flops = 3 * forward_flops(m, B * T, (T + 1) / 2, V)
    base = t_base / (E * steps) * per_epoch
    step_s = t_steps / (E * steps) * per_epoch
    eng = step_s + (t_eval + t_start / RUN_EPOCHS) / E
    floor = flops * per_epoch / (peak * 1e9)
    return BenchRow(d=m.d_model, layers=m.layers, seeds=E, steps=steps, layout=spec.train.layout,
                    baseline_s_per_model_epoch=base, engine_s_per_model_epoch=eng,
                    steps_s_per_model_epoch=step_s, ratio=base / eng,
                    engine_gflops=flops * E * steps / t_steps / 1e9,
                    baseline_gflops=base_flops * E * steps / t_base / 1e9, peak_gflops=peak,
                    floor_s_per_model_epoch=floor, engine_over_floor=eng / floor)


def format_row(r: BenchRow) -> str:
    return "\n".join([
        f"d={r.d} L={r.layers}, {r.seeds} seeds, {r.steps} steps per side, layout {r.layout}",
        f"  baseline (torch.nn, per-sample, one model at a time): "
        f"{r.baseline_s_per_model_epoch:8.3f} s/model-epoch  {r.baseline_gflops:6.1f} GFLOP/s",
        f"  engine   ({r.layout}, {r.seeds} seeds stacked, with eval and start-up): "
        f"{r.engine_s_per_model_epoch:8.3f} s/model-epoch  {r.engine_gflops:6.1f} GFLOP/s"
        f"  (steps alone: {r.steps_s_per_model_epoch:.3f})",
        f"  ratio baseline/engine: {r.ratio:.1f}x;  {r.layout} compute floor "
        f"{r.floor_s_per_model_epoch:.3f} s/model-epoch at the measured peak "
        f"{r.peak_gflops:.0f} GFLOP/s;  engine = {r.engine_over_floor:.2f}x the floor",
    ])


def summarize(rows: list[BenchRow]) -> list[str]:
    """One line per configuration and layout over its repeated measurements: the median
    ratio and its range, and the median distance from the compute floor."""
    import statistics

    groups: dict[tuple, list[BenchRow]] = {}
    for r in rows:
        groups.setdefault((r.d, r.layers, r.seeds, r.layout), []).append(r)
    out = []
    for (d, L, E, layout), rs in groups.items():
        ratios = [r.ratio for r in rs]
        out.append(f"d={d} L={L}, {E} seeds, {layout}: ratio median "
                   f"{statistics.median(ratios):.1f}x ({min(ratios):.1f}x to "
                   f"{max(ratios):.1f}x over {len(rs)} repeats); engine = "
                   f"{statistics.median(r.engine_over_floor for r in rs):.2f}x the floor "
                   f"(median)")
    return out


def main(args) -> int:
    threads = torch.get_num_threads()
    if getattr(args, "threads", None):
        torch.set_num_threads(args.threads)
    try:
        return _main(args)
    finally:
        torch.set_num_threads(threads)


def _main(args) -> int:
    keep_freed_memory()  # before the baseline too: both sides run under the same allocator
    dev = resolve_device(args.device)
    print(f"torch {torch.__version__}, device {dev}, threads {torch.get_num_threads()}")
    peak = matmul_peak(dev)
    rows = []
    for d, L, E in CONFIGS:
        for _ in range(args.repeat):  # baseline and layouts in turn, so drift hits all alike
            spec = RunSpec(model=ModelSpec(d_model=d, layers=L), seeds=tuple(range(E)))
            t_base = time_baseline(spec, args.steps, dev)
            for layout in LAYOUTS:
                spec = spec.replace(train=TrainSpec(layout=layout))
                rows.append(bench_layout(spec, args.steps, dev, peak, t_base))
                print(format_row(rows[-1]), flush=True)
    if args.repeat > 1:
        print("\n".join(["summary:", *summarize(rows)]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump([asdict(r) for r in rows], f, indent=1)
    return 0
