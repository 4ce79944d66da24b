"""Small builders shared by the unit tests."""
from __future__ import annotations

import contextlib
import hashlib
import io
import subprocess
from pathlib import Path

import numpy as np
import torch

from lowent.cache import DiskCheckpoints
from lowent.config import ModelSpec, TargetSpec
from lowent.target import n_contexts


class Interrupted(Exception):
    """Stands for the process being killed."""


class KilledAfter(DiskCheckpoints):
    """Checkpoints on disk; the process 'dies' right after the n-th save."""

    def __init__(self, path, stamp, n: int):
        super().__init__(path, stamp)
        self.left = n

    def save(self, state):
        super().save(state)
        self.left -= 1
        if self.left == 0:
            raise Interrupted

# Every model kind the engine builds: (id, ModelSpec kwargs).
MODEL_KINDS = [
    ("full", dict(kind="transformer", variant="full")),
    ("attention_only", dict(kind="transformer", variant="attention_only")),
    ("attention_main", dict(kind="transformer", variant="attention_main")),
    ("ffn_main", dict(kind="transformer", variant="ffn_main")),
    ("routed", dict(kind="transformer", variant="routed")),
    ("full_pre_ln", dict(kind="transformer", variant="full", norm="pre")),
    ("gru", dict(kind="gru", layers=1)),
    ("lstm", dict(kind="lstm", layers=1)),
]


def model_spec(kw: dict, d: int = 8, layers: int = 2, dropout: float = 0.0) -> ModelSpec:
    return ModelSpec(**{"d_model": d, "layers": layers, "dropout": dropout, **kw})


def small_target(**kw) -> TargetSpec:
    return TargetSpec(**{"n_samples": 4096, **kw})


def random_table(rng: np.random.Generator, E: int, vocab: int, length: int,
                 zeros: bool = False) -> np.ndarray:
    """A random log-conditional table [E, n_contexts, V]; with zeros, some -inf entries."""
    logits = rng.normal(size=(E, n_contexts(vocab, length), vocab)) * 2
    if zeros:
        drop = rng.random(logits.shape) < 0.3
        drop[..., 0] = False  # keep every row normalisable
        logits[drop] = -np.inf
    return torch.log_softmax(torch.as_tensor(logits), dim=-1).numpy()


def run_cli(*args: str) -> subprocess.CompletedProcess:
    """``python -m lowent ARGS`` in this process (no interpreter and torch to start each
    time): ``lowent.cli.main`` with stdout and stderr captured, its exit status from its
    return value or SystemExit as the process's would be. tests/test_cli.py runs the module's
    entry point itself as a process."""
    from lowent.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


def rejects(result, alpha: float = 0.05) -> bool:
    """Whether a procedure's result rejects its null at `alpha` (a claim's part passes)."""
    return bool(result.pvalue < alpha)


def rejection_rate(experiment, n_sim: int, seed: int = 0, alpha: float = 0.05) -> float:
    """Fraction of `n_sim` simulated experiments (rng -> Result) that reject at `alpha`: the
    false-positive rate on null data, the power on data with an effect."""
    rng = np.random.default_rng(seed)
    return float(np.mean([rejects(experiment(rng), alpha) for _ in range(n_sim)]))


# A shrunken quick profile (a conftest), so that a claim's whole run set trains in seconds,
# and a claim test of L1 on it (3 runs of 2 seeds and 1 epoch).
SHRINK = """
import lowent.profiles as p
p.PROFILES["quick"] = p.PROFILES["quick"].replace(epochs=1, window=1, seeds=(0, 1),
                                                  sizes=(8,))
"""
CLAIM_TEST = """
import pytest

@pytest.mark.claim("L1")
def test_l1_runs(runs):
    assert len(runs) == 3 and all(r.per_epoch["entropy"].shape == (2, 1) for r in runs.values())
"""
ENTRY_DATA = ("trace.json", "weights.safetensors")  # what a run computed (spec.json: timings)


def entry_hashes(root: Path) -> dict[str, dict[str, str]]:
    """key -> {file: sha256} of the computed files of every cache entry under `root`."""
    return {d.name: {f: hashlib.sha256((d / f).read_bytes()).hexdigest() for f in ENTRY_DATA}
            for d in sorted(root.iterdir()) if (d / "manifest.json").is_file()}
