"""Where an op runs: the single place that tells eager execution from tracing.

Every op in :mod:`gnnx.ops` has a plain-ATen reference that is always correct and
always traceable. Faster implementations are picked here, per call, from the
device and from whether a compiler is tracing, so that

* eager code may use an opaque fast kernel (e.g. MKL's sparse CSR matmul on CPU),
* ``torch.compile`` and ``torch.export`` see plain ATen (or a ``triton_op`` on CUDA)
  and therefore never meet a Python-only custom op that C++ could not run.
"""
from __future__ import annotations

import torch


def is_tracing() -> bool:
    """True while Dynamo compiles or ``torch.export`` traces the caller."""
    return torch.compiler.is_compiling() or torch.compiler.is_exporting()


def can_check_on_host(t: torch.Tensor) -> bool:
    """Whether a value check on ``t`` is free of a device sync and of tracing.

    Eager CPU tensors can be read without stalling a device, so eager CPU calls get
    full index-range checks; CUDA and traced calls keep to shape and dtype checks
    (their range checks live in :class:`gnnx.Graph` and :mod:`gnnx.export`).
    """
    return not is_tracing() and not torch.jit.is_tracing() and t.device.type == "cpu"
