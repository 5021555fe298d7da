"""TorchScript, for servers and C++ code that only take ``torch.jit`` modules (older Triton
libtorch backends, CMSSW's current route).

gnnx models trace to plain ATen (:func:`torch.jit.trace`), so the result loads with
``torch::jit::load`` and no extension library. Limits: tracing records one call, so the
model must take plain tensors (not a :class:`~gnnx.Graph`) and Python branches are frozen
at their traced value (fine for gnnx layers, whose branches depend on configuration, not
data; a ``GCNConv(cached=True)`` would freeze its cache). Sizes stay dynamic: shapes are
read from the inputs. ``torch.jit.script`` is not supported (``MessagePassing`` passes
keyword arguments by name), and TorchScript itself is deprecated in recent PyTorch:
prefer :func:`gnnx.export.export` and AOTInductor packages.
"""
from __future__ import annotations

import warnings
from typing import Optional, Sequence

import torch
from torch import Tensor

from gnnx.export.program import evaluating


def to_torchscript(model: torch.nn.Module, example_inputs: Sequence[Tensor], path: Optional[str] = None):
    """Trace ``model(*example_inputs)`` (in eval mode) to TorchScript; save it to ``path`` if given."""
    with evaluating(model), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TorchScript deprecation and tracer notes
        traced = torch.jit.trace(model, tuple(example_inputs), check_trace=False)
    if path is not None:
        traced.save(path)
    return traced
