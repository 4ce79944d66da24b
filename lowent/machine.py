"""What decides the bits of a float32 training run besides the code and PyTorch: the machine.

Two machines that differ in any entry of :func:`machine` may round differently, and 100
epochs turn a different rounding into another trajectory from the same seed. Runs trained
where every entry matches, with the same PyTorch build and code, are equal bit for bit; any
others are compared against the seed noise (claims/README.md, "Expected outcomes on any
machine"). The cache records each entry's machine (``manifest.json``), the claims report
the session's, and ``python -m lowent compare`` reads both.
"""
from __future__ import annotations

import os
import platform
import re
from functools import lru_cache

# Environment variables that change which kernels PyTorch or its BLAS run.
KERNEL_SETTINGS = ("ATEN_CPU_CAPABILITY", "MKL_CBWR", "MKL_ENABLE_INSTRUCTIONS",
                   "MKL_DEBUG_CPU_TYPE", "OPENBLAS_CORETYPE", "DNNL_MAX_CPU_ISA",
                   "ONEDNN_MAX_CPU_ISA", "CUBLAS_WORKSPACE_CONFIG", "NVIDIA_TF32_OVERRIDE")
# CPU flags that decide which vector kernels run (the rest say nothing about arithmetic).
_VECTOR = re.compile(r"^(sse\d?(_\d)?|ssse3|avx.*|fma\d?|f16c|amx.*|neon|asimd.*|sve.*)$")


@lru_cache(maxsize=1)
def _cpuinfo() -> tuple[str, str]:
    """(model name, vector flags) of this CPU: Linux's /proc/cpuinfo, else platform's."""
    model = flags = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError:
        text = ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key in ("model name", "cpu model", "hardware") and not model:
            model = value.strip()
        elif key in ("flags", "features") and not flags:
            flags = " ".join(sorted(f for f in value.split() if _VECTOR.match(f)))
    return model or platform.processor() or platform.machine(), flags


def _blas() -> str:
    """The BLAS PyTorch was built with, from its build configuration."""
    import torch

    config = torch.__config__.show()
    for pattern in (r"Math Kernel Library Version [\w.\-]+", r"OpenBLAS[\w .\-]*",
                    r"BLAS_INFO=(\w+)"):
        m = re.search(pattern, config)
        if m:
            text = m.group(0)
            return "MKL " + text.split("Version ")[1] if "Math Kernel" in text else text
    return "unknown"


def machine(device: str = "cpu") -> dict:
    """The entries that decide a run's bits: CPU model and vector flags, ATen's CPU
    capability, the BLAS and the kernel settings in the environment, the device (with its
    CUDA and cuDNN versions and TF32 use on a GPU) and torch's threads."""
    import torch

    model, flags = _cpuinfo()
    settings = {k: os.environ[k] for k in KERNEL_SETTINGS if os.environ.get(k)}
    out = {"CPU": model, "CPU flags": flags,
           "ATen CPU capability": torch.backends.cpu.get_cpu_capability(),
           "BLAS": _blas(),
           "kernel settings": ", ".join(f"{k}={v}" for k, v in sorted(settings.items())) or "none",
           "device": "cpu", "threads": torch.get_num_threads()}
    dev = torch.device(device)
    if dev.type == "cuda":
        out["device"] = (f"cuda: {torch.cuda.get_device_name(dev)} (CUDA {torch.version.cuda}, "
                         f"cuDNN {torch.backends.cudnn.version()}, TF32 matmul "
                         f"{torch.backends.cuda.matmul.allow_tf32})")
    return out


def fingerprint(m: dict | None) -> str:
    """One line naming a machine record (the CPU, capability, BLAS settings, device, threads)."""
    if not m:
        return "not recorded"
    return (f"{m.get('CPU', '?')}, {m.get('ATen CPU capability', '?')}, {m.get('BLAS', '?')}, "
            f"kernel settings {m.get('kernel settings', '?')}, {m.get('device', '?')}, "
            f"{m.get('threads', '?')} threads")


def differences(a: dict | None, b: dict | None) -> dict[str, tuple]:
    """The entries in which two machine records differ: name -> (a's, b's)."""
    a, b = a or {}, b or {}
    return {k: (a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)}
