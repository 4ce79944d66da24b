"""The process a run trains in and the device it trains on: the device's name checked, the C
allocator told to keep freed memory, the versions recorded beside every run. Nothing here
changes a number a run computes."""
from __future__ import annotations

import platform

import numpy as np
import torch

import lowent


def resolve_device(device: str | torch.device) -> torch.device:
    """A torch device, with a clear error when CUDA is asked for and absent."""
    if str(device).split(":")[0] not in ("cpu", "cuda"):
        raise ValueError(f"unknown device {str(device)!r}; use cpu or cuda")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {str(device)!r} requested but no CUDA GPU is available")
    return dev


M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # mallopt parameters (glibc's malloc.h)
MMAP_THRESHOLD_MAX = 32 << 20  # the largest mmap threshold glibc accepts on 64-bit systems
_freed_memory_kept: bool | None = None


def keep_freed_memory() -> bool:
    """Have the C allocator keep freed memory for the next step instead of returning it.

    By default glibc serves large blocks with fresh mmaps, and returns the top of its heap to
    the system once more than its trim threshold is free, so every training step faults its
    large tensors in again (docs/performance.md has the page-fault counts). With blocks up to
    32 MB served from the heap and no trimming, they are faulted in once. Process-wide, once
    per process, and numerically inert; a no-op (False) where the C library has no ``mallopt``.
    """
    global _freed_memory_kept
    if _freed_memory_kept is None:
        import ctypes

        try:
            mallopt = ctypes.CDLL(None).mallopt
        except (OSError, AttributeError):
            _freed_memory_kept = False
        else:
            mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
            _freed_memory_kept = (mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_MAX) == 1
                                  and mallopt(M_TRIM_THRESHOLD, 1 << 30) == 1)
    return _freed_memory_kept


def environment(device: torch.device) -> dict:
    """Versions and device recorded beside every run."""
    return {"lowent": lowent.__version__, "torch": torch.__version__,
            "python": platform.python_version(), "numpy": np.__version__,
            "device": str(device) if device.type == "cpu" else torch.cuda.get_device_name(device)}
