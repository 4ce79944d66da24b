"""Thin root conftest: thread limits for xdist workers; the fixtures and report plugins.

With ``-n 4`` on a 2-core machine every worker must run torch single-threaded, or the
workers' thread pools oversubscribe the cores and the run gets many times slower. The
environment variables must be set before torch is first imported.

``torch._dynamo`` is imported here, up front, because ``torch.optim.Optimizer.step``
imports it on its first call, and the modules it pulls in register C++ operator libraries
that can be registered once per process. pytester (the unit tests' inner suites, run in
this process) drops every module imported during a test from ``sys.modules`` when the test
ends; if the first optimizer step of a worker happened inside such a test, the next step
re-imported those modules and failed ("Only a single TORCH_LIBRARY can be used to
register the namespace ..."). Imported before any test, they are part of pytester's
snapshot and stay.
"""
import os

if os.environ.get("PYTEST_XDIST_WORKER"):
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = "1"

import torch  # noqa: E402
import torch._dynamo  # noqa: E402,F401  (see above: before pytester's module snapshot)

if os.environ.get("PYTEST_XDIST_WORKER"):
    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)

pytest_plugins = ["fixtures.claims", "pytester"]
