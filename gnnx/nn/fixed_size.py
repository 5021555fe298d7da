"""A fixed number of graphs for a model's readouts (PyG's ``to_fixed_size``)."""
from __future__ import annotations

import copy
from typing import Any, Dict, Tuple

import torch

from gnnx.nn.aggr import Aggregation
from gnnx.nn.message_passing import MessagePassing


def to_fixed_size(module: torch.nn.Module, batch_size: int, debug: bool = False) -> torch.nn.Module:
    """A copy of ``module`` whose aggregation modules called as readouts (those not inside a
    message-passing layer) always pool into ``batch_size`` graphs, so their outputs have a
    static size, as PyG's ``to_fixed_size`` makes them by rewriting the traced graph. gnnx's
    readouts also take ``batch_size``/``dim_size`` themselves, and compile with dynamic sizes;
    this serves ported code. ``debug`` is accepted for PyG's signature."""
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"to_fixed_size: batch_size must be a positive int, got {batch_size!r}")
    model = copy.deepcopy(module)
    inside_layers = {id(m) for layer in model.modules() if isinstance(layer, MessagePassing)
                     for m in layer.modules() if m is not layer}
    for readout in model.modules():
        if isinstance(readout, Aggregation) and id(readout) not in inside_layers:
            readout.register_forward_pre_hook(_fixed_dim_size(batch_size), with_kwargs=True)
    return model


def _fixed_dim_size(batch_size: int):
    def hook(module: torch.nn.Module, args: Tuple[Any, ...], kwargs: Dict[str, Any]):
        if len(args) > 3:  # forward(x, index, ptr, dim_size, ...)
            args = args[:3] + (batch_size,) + args[4:]
        else:
            kwargs = {**kwargs, "dim_size": batch_size}
        return args, kwargs

    return hook
