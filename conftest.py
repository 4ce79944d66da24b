"""Thin root conftest: thread limits for xdist workers; the fixtures and report plugins.

With ``-n 4`` on a 2-core machine every worker must run torch single-threaded, or the
workers' thread pools oversubscribe the cores and the run gets many times slower. The
environment variables must be set before torch is first imported.
"""
import os

if os.environ.get("PYTEST_XDIST_WORKER"):
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = "1"

import torch  # noqa: E402

if os.environ.get("PYTEST_XDIST_WORKER"):
    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)

pytest_plugins = ["fixtures.claims", "pytester"]
