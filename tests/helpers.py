"""Small builders shared by the unit tests."""
from __future__ import annotations

import numpy as np
import torch

from lowent.config import ModelSpec, TargetSpec
from lowent.target import n_contexts

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
