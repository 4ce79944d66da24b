"""The five optimizers of SETTING 4, by name.

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


class FlatOptimizer:
    """One optimizer over all of a module's parameters viewed into a single flat buffer.

    Every parameter becomes a view of one flat tensor and its ``.grad`` a view of one flat
    gradient, which autograd accumulates into in place; the optimizer then updates one tensor
    instead of dozens. Element-wise optimizers compute exactly what they compute per tensor
    (a unit test checks this against a plain per-tensor optimizer).
    Build it after moving the module to its device and dtype.
    """

    def __init__(self, name: str, module: torch.nn.Module):
        params = [p for p in module.parameters() if p.requires_grad]
        ref = params[0]
        total = sum(p.numel() for p in params)
        self.flat = torch.nn.Parameter(torch.empty(total, dtype=ref.dtype, device=ref.device))
        self.flat.grad = torch.zeros_like(self.flat)
        off = 0
        with torch.no_grad():
            for p in params:
                n = p.numel()
                self.flat[off:off + n].copy_(p.reshape(-1))
                p.data = self.flat.data[off:off + n].view_as(p)
                p.grad = self.flat.grad[off:off + n].view_as(p)
                off += n
        self.optimizer = make_optimizer(name, [self.flat])

    def zero_grad(self) -> None:
        self.flat.grad.zero_()

    def step(self) -> None:
        self.optimizer.step()
