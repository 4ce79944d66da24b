"""Speed of the engine across PyTorch versions, with pytest-benchmark (the ``bench`` extra).

Times, at the sizes the claims use (d = 64, L = 1 and 4, the quick profile's 5 seeds
stacked): one training step on each layout (trie, faithful, per_sample), the exact float64
evaluation that ends every epoch, and one step of the straightforward torch.nn loop. The
workloads are ``lowent.bench``'s, the ones ``python -m lowent bench`` times; each saved
benchmark keeps its FLOPs, achieved GFLOP/s, device, threads and torch version.

    pytest benchmarks/ -p no:xdist --benchmark-save=torch2.13.0      # .benchmarks/...

Not part of the default run (``testpaths`` leaves this folder out); run without xdist.
Every benchmark runs on one torch thread, as each xdist worker trains the claims: with the
two threads of this 2-core machine the same benchmark's median moved by up to 32% between
runs, with one thread by at most 13% (README, "Speed across versions").

    python -m lowent bench-compare .benchmarks/*/0001_*.json .benchmarks/*/0002_*.json
"""
import pytest
import torch

from lowent import bench
from lowent.config import ModelSpec, RunSpec, TrainSpec
from lowent.engine import Trainer

pytest.importorskip("pytest_benchmark")

SIZES = [(64, 1), (64, 4)]  # (d, L): the claims' largest models at both depths
SEEDS = tuple(range(5))  # the quick profile's seeds, stacked as the claims train them
ROUNDS = 40  # with 10 rounds (and two threads) medians spread by up to 43% between runs


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread per benchmark, restored afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _spec(d: int, layers: int, layout: str = "trie") -> RunSpec:
    return RunSpec(model=ModelSpec(d_model=d, layers=layers), seeds=SEEDS,
                   train=TrainSpec(layout=layout))


def _time(benchmark, work: bench.Workload) -> None:
    benchmark.extra_info.update(work.info())
    benchmark.pedantic(work.step, rounds=ROUNDS, warmup_rounds=3)
    if benchmark.stats is not None:  # None when benchmarks are disabled (--benchmark-disable)
        benchmark.extra_info["gflops"] = work.flops / benchmark.stats.stats.median / 1e9


@pytest.mark.parametrize("d, layers", SIZES)
@pytest.mark.parametrize("layout", ["trie", "faithful", "per_sample"])
def test_training_step(benchmark, d, layers, layout):
    _time(benchmark, bench.engine_step(Trainer(_spec(d, layers, layout))))


@pytest.mark.parametrize("d, layers", SIZES)
def test_exact_evaluation(benchmark, d, layers):
    _time(benchmark, bench.evaluation(Trainer(_spec(d, layers))))


@pytest.mark.parametrize("d, layers", SIZES)
def test_straightforward_loop_step(benchmark, d, layers):
    spec = _spec(d, layers)
    _time(benchmark, bench.loop_step(spec, spec.seeds[0], bench.resolve_device("cpu")))
