"""The five optimizers of SPEC 4, by name.

All five are element-wise, so one optimizer over parameters stacked along a leading model
axis is exactly E independent optimizers (no global-norm clipping anywhere).
"""
from __future__ import annotations

from typing import Callable, Iterable

import torch

# name -> (torch class, keyword arguments)
OPTIMIZERS: dict[str, tuple[Callable[..., torch.optim.Optimizer], dict]] = {
    "adam": (torch.optim.Adam, dict(lr=1e-3, betas=(0.9, 0.999))),
    "sgd_momentum": (torch.optim.SGD, dict(lr=1e-3, momentum=0.9)),
    "rmsprop": (torch.optim.RMSprop, dict(lr=1e-4, alpha=0.99, weight_decay=0.01)),
    "adam_2nd": (torch.optim.Adam, dict(lr=5e-4, betas=(0.01, 0.999))),  # little momentum
    "adamw": (torch.optim.AdamW, dict(lr=1e-3, betas=(0.9, 0.999), weight_decay=0.01)),
}

FUSED = (torch.optim.Adam, torch.optim.AdamW, torch.optim.SGD)  # have fused CPU/CUDA kernels


def make_optimizer(name: str, params: Iterable[torch.nn.Parameter]) -> torch.optim.Optimizer:
    """The optimizer called `name` (a key of OPTIMIZERS) over `params`."""
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; choose from {', '.join(OPTIMIZERS)}")
    cls, kw = OPTIMIZERS[name]
    # The fused kernels are element-wise too, and several times faster on CPU than foreach.
    impl = {"fused": True} if cls in FUSED else {"foreach": True}
    return cls(params, **impl, **kw)
