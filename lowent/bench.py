"""``python -m lowent bench``: the engine beside the straightforward loop, in one run.

For each configuration the baseline (:mod:`lowent.reference`: one ``torch.nn`` model at a
time, per-sample batches of 512) and the engine (trie batches, all seeds stacked) take the
same number of optimizer steps on the same minibatches. Printed: time per model-epoch
(128 steps) for both and their ratio; the engine's achieved GFLOP/s beside a measured matmul
peak; and the compute floor, the time the engine's FLOPs would take at that peak.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass

import torch

from lowent.config import ModelSpec, RunSpec
from lowent.engine import Trainer, resolve_device
from lowent.reference import train_loop
from lowent.target import build_target

CONFIGS = ((64, 4, 8), (8, 1, 32))  # (d, L, seeds): the paper's largest model; the smallest


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


def forward_flops(spec: ModelSpec, positions: int, ancestors: int, vocab: int) -> float:
    """Multiply-add FLOPs (2 per MAC) of one model's forward over `positions` positions.

    Counts the matmuls: projections, FFN, head, router, and attention scores and mixing over
    `ancestors` attended slots per position. Element-wise work is not counted.
    """
    d = spec.d_model
    if spec.kind != "transformer":
        gates = {"gru": 3, "lstm": 4}[spec.kind]
        return positions * 2 * (2 * d * gates * d + d * vocab)
    from lowent.models.transformer import block_plan

    per = 2 * d * vocab
    for attn, ffn in block_plan(spec.variant, spec.layers):
        if attn:
            per += 2 * 4 * d * d + 4 * ancestors * d
            if spec.variant == "routed":
                per += 2 * d * (spec.heads + 1)
        if ffn:
            per += 2 * 2 * d * spec.ffn_mult * d
    return positions * per


@dataclass
class BenchRow:
    d: int
    layers: int
    seeds: int
    steps: int
    baseline_s_per_model_epoch: float
    engine_s_per_model_epoch: float  # training steps only
    engine_epoch_with_eval_s: float  # per model-epoch, including the exact float64 evaluation
    ratio: float
    engine_gflops: float
    baseline_gflops: float
    peak_gflops: float
    floor_s_per_model_epoch: float
    engine_over_floor: float


def bench_config(d: int, layers: int, n_seeds: int, steps: int, device, peak: float) -> BenchRow:
    dev = resolve_device(device)
    spec = RunSpec(model=ModelSpec(d_model=d, layers=layers), seeds=tuple(range(n_seeds)))
    target = build_target(spec.target)
    V, T, B = target.vocab, target.length, spec.train.batch_size
    per_epoch = len(target.data) // B

    train_loop(spec.model, target, 0, 2, device=str(dev))  # warm-up
    t_base = sum(train_loop(spec.model, target, s, steps, device=str(dev))[1]
                 for s in spec.seeds)

    tr = Trainer(spec, dev)
    tr.steps(0, 2)  # warm-up
    _sync(dev)
    t0 = time.perf_counter()
    tr.steps(0, steps)
    _sync(dev)
    t_eng = time.perf_counter() - t0
    t0 = time.perf_counter()
    tr.evaluate()
    t_eval = time.perf_counter() - t0

    E = n_seeds
    eng_flops = 3 * forward_flops(spec.model, tr.layout.size, T, V)  # forward + backward
    base_flops = 3 * forward_flops(spec.model, B * T, (T + 1) / 2, V)
    base = t_base / (E * steps) * per_epoch
    eng = t_eng / (E * steps) * per_epoch
    floor = eng_flops * per_epoch / (peak * 1e9)
    return BenchRow(d=d, layers=layers, seeds=E, steps=steps, baseline_s_per_model_epoch=base,
                    engine_s_per_model_epoch=eng, engine_epoch_with_eval_s=eng + t_eval / E,
                    ratio=base / eng, engine_gflops=eng_flops * E * steps / t_eng / 1e9,
                    baseline_gflops=base_flops * E * steps / t_base / 1e9, peak_gflops=peak,
                    floor_s_per_model_epoch=floor, engine_over_floor=eng / floor)


def format_row(r: BenchRow) -> str:
    return "\n".join([
        f"d={r.d} L={r.layers}, {r.seeds} seeds, {r.steps} steps per side",
        f"  baseline (torch.nn, per-sample, one model at a time): "
        f"{r.baseline_s_per_model_epoch:8.3f} s/model-epoch  {r.baseline_gflops:6.1f} GFLOP/s",
        f"  engine   (trie, {r.seeds} seeds stacked):              "
        f"{r.engine_s_per_model_epoch:8.3f} s/model-epoch  {r.engine_gflops:6.1f} GFLOP/s"
        f"  (with exact eval: {r.engine_epoch_with_eval_s:.3f})",
        f"  ratio baseline/engine: {r.ratio:.1f}x;  compute floor {r.floor_s_per_model_epoch:.3f}"
        f" s/model-epoch at the measured peak {r.peak_gflops:.0f} GFLOP/s;"
        f"  engine = {r.engine_over_floor:.2f}x the floor",
    ])


def main(args) -> int:
    dev = resolve_device(args.device)
    print(f"torch {torch.__version__}, device {dev}, threads {torch.get_num_threads()}")
    peak = matmul_peak(dev)
    rows = []
    for d, L, E in CONFIGS:
        rows.append(bench_config(d, L, E, args.steps, dev, peak))
        print(format_row(rows[-1]), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump([asdict(r) for r in rows], f, indent=1)
    return 0
