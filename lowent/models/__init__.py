"""Model registry: ``MODELS[kind](spec, seeds, vocab, length)`` builds E stacked models."""
from __future__ import annotations

from torch import nn

from lowent.config import LENGTH, VOCAB, ModelSpec
from lowent.models.rnn import RNN
from lowent.models.transformer import Transformer

MODELS: dict[str, type[nn.Module]] = {"transformer": Transformer, "gru": RNN, "lstm": RNN}


def build_model(spec: ModelSpec, seeds, vocab: int = VOCAB, length: int = LENGTH) -> nn.Module:
    """E = len(seeds) models of `spec`, model e initialised from seed seeds[e] (float32, CPU)."""
    return MODELS[spec.kind](spec, tuple(seeds), vocab, length)


def param_count(spec: ModelSpec, vocab: int = VOCAB) -> int:
    """Trainable parameters of one model of `spec` (counted on a one-seed instance)."""
    return sum(p[0].numel() for p in build_model(spec, (0,), vocab).parameters())


def matched_layers(rnn: ModelSpec, candidates=(1, 2, 4), vocab: int = VOCAB) -> int:
    """Transformer depth L whose parameter count is closest to the RNN's (SETTING 3)."""
    target = param_count(rnn, vocab)
    return min(candidates, key=lambda L: abs(
        param_count(ModelSpec(kind="transformer", d_model=rnn.d_model, layers=L), vocab) - target))


__all__ = ["MODELS", "build_model", "param_count", "matched_layers", "Transformer", "RNN"]
