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

import json
import time
from dataclasses import asdict, dataclass

import torch

from lowent.config import ModelSpec, RunSpec, TrainSpec
from lowent.engine import Trainer, resolve_device
from lowent.reference import train_loop
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


STEP_OVERHEAD_S = 1e-3  # per optimizer step and per probe, for estimates (one thread)
EFFECTIVE_FLOPS = 35e9  # float32 FLOP/s the engine reaches on one thread of this CPU (bench)


def estimate_seconds(spec: RunSpec, vocab: int = 5, length: int = 5) -> float:
    """Rough one-thread CPU seconds to train `spec` (all its seeds), for progress lines: its
    steps, evaluations and probes at the engine's measured FLOP rate plus a fixed overhead
    per pass. Not a measurement; `python -m lowent bench` measures."""
    m, t = spec.model, spec.train
    E, steps = len(spec.seeds), t.epochs * (spec.target.n_samples // t.batch_size)
    rows = t.batch_size * length
    if t.layout in ("trie", "dedup"):
        flops = forward_flops(m, 80 if t.layout == "trie" else rows // 6, length, vocab)
    elif t.layout == "faithful":
        flops = forward_flops(m, rows, (length + 1) / 2, vocab, shared=80)
    else:
        flops = forward_flops(m, rows, (length + 1) / 2, vocab)
    contexts = sum(vocab**k for k in range(length))
    probe = forward_flops(m, contexts, length, vocab) / EFFECTIVE_FLOPS + STEP_OVERHEAD_S
    passes = t.epochs + (steps // t.log_every if t.log_every else 0)
    per_step = 3 * flops / EFFECTIVE_FLOPS + STEP_OVERHEAD_S
    return E * steps * per_step + E * passes * probe * (2 if t.dtype == "float32" else 1)


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
    target = build_target(spec.target)
    train_loop(spec.model, target, 0, 2, device=str(dev))  # warm-up
    return sum(train_loop(spec.model, target, s, steps, device=str(dev))[1] for s in spec.seeds)


def bench_layout(spec: RunSpec, steps: int, dev: torch.device, peak: float,
                 t_base: float) -> BenchRow:
    """Time the engine on spec's layout beside the baseline's `t_base` seconds."""
    _sync(dev)
    t0 = time.perf_counter()
    tr = Trainer(spec, dev)
    _sync(dev)
    t_start = time.perf_counter() - t0
    tr.steps(0, 2)  # warm-up
    _sync(dev)
    t0 = time.perf_counter()
    tr.steps(0, steps)
    _sync(dev)
    t_steps = time.perf_counter() - t0
    t0 = time.perf_counter()
    tr.evaluate()
    t_eval = time.perf_counter() - t0

    m, E, T, V, B = spec.model, len(spec.seeds), tr.T, tr.V, tr.B
    per_epoch = tr.steps_per_epoch
    if spec.train.layout == "faithful":
        flops = forward_flops(m, B * T, (T + 1) / 2, V, shared=tr.faithful.layout.size)
    else:
        flops = forward_flops(m, tr.layout.size, T, V)
    flops *= 3  # forward + backward
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


def main(args) -> int:
    dev = resolve_device(args.device)
    print(f"torch {torch.__version__}, device {dev}, threads {torch.get_num_threads()}")
    peak = matmul_peak(dev)
    rows = []
    for d, L, E in CONFIGS:
        spec = RunSpec(model=ModelSpec(d_model=d, layers=L), seeds=tuple(range(E)))
        t_base = time_baseline(spec, args.steps, dev)
        for layout in LAYOUTS:
            spec = spec.replace(train=TrainSpec(layout=layout))
            rows.append(bench_layout(spec, args.steps, dev, peak, t_base))
            print(format_row(rows[-1]), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump([asdict(r) for r in rows], f, indent=1)
    return 0
