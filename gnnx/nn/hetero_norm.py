r"""Per-type normalisation and jumping knowledge for heterogeneous models (PyG's
``HeteroLayerNorm``, ``HeteroBatchNorm``, ``HeteroJumpingKnowledge``: arguments, keys, repr,
values), for node types stacked in one tensor with a ``type_vec`` (as ``HeteroLinear`` takes
them) or, for jumping knowledge, per-type dicts.

.. math::
    \text{layer: } \mathbf{x}'_i = \frac{\mathbf{x}_i - \mu_i}{\sqrt{\sigma_i^2 + \epsilon}}
    \odot \gamma_{t_i} + \beta_{t_i}, \qquad
    \text{batch: } \mathbf{x}'_i = \frac{\mathbf{x}_i - \mu_{t_i}}{\sqrt{\max(\sigma_{t_i}^2, \epsilon)}}
    \odot \gamma_{t_i} + \beta_{t_i}

(layer: statistics over a node's channels; batch: per type over its nodes, running averages
in evaluation). As in PyG, the batch statistics take no gradient, and the running variance is
the biased one. Types absent from a batch keep their running statistics; which types are
present is read without a host sync, so both compile without recompiles.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Union

import torch
import torch.nn.functional as F
from torch import Tensor

from gnnx import ops
from gnnx.nn.models import JumpingKnowledge


def _affine(out: Tensor, weight: Optional[Tensor], bias: Optional[Tensor], type_vec: Tensor) -> Tensor:
    if weight is None:
        return out
    return out * weight.index_select(0, type_vec) + bias.index_select(0, type_vec)


def _per_type_affine(module: torch.nn.Module, num_types: int, channels: int, affine: bool,
                     device: Optional[torch.device]) -> None:
    """``weight`` and ``bias`` ``[num_types, channels]`` (``None`` without ``affine``)."""
    for name in ("weight", "bias"):
        value = torch.nn.Parameter(torch.empty(num_types, channels, device=device)) if affine else None
        module.register_parameter(name, value)


def _type_vec(type_vec: Optional[Tensor], type_ptr: Optional[Union[Tensor, List[int]]], rows: int,
              device: torch.device) -> Tensor:
    if type_vec is not None:
        return type_vec
    if type_ptr is None:
        raise ValueError("Either 'type_vec' or 'type_ptr' must be given")
    ptr = torch.as_tensor(type_ptr, device=device)
    return torch.repeat_interleave(torch.arange(ptr.numel() - 1, device=device), ptr[1:] - ptr[:-1],
                                   output_size=rows)


class HeteroLayerNorm(torch.nn.Module):
    """Layer norm over each node's channels with a scale and shift per type;
    ``forward(x, type_vec=None, type_ptr=None)`` (``type_ptr``: the types' row ranges)."""

    def __init__(self, in_channels: int, num_types: int, eps: float = 1e-5, affine: bool = True, mode: str = "node",
                 device: Optional[torch.device] = None) -> None:
        super().__init__()
        if mode != "node":
            raise ValueError(f"HeteroLayerNorm: mode must be 'node' (PyG's only mode), got {mode!r}")
        self.in_channels, self.num_types, self.eps, self.affine = in_channels, num_types, eps, affine
        _per_type_affine(self, num_types, in_channels, affine, device)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.affine:
            torch.nn.init.ones_(self.weight)
            torch.nn.init.zeros_(self.bias)

    def forward(self, x: Tensor, type_vec: Optional[Tensor] = None,
                type_ptr: Optional[Union[Tensor, List[int]]] = None) -> Tensor:
        type_vec = _type_vec(type_vec, type_ptr, x.size(0), x.device)
        out = F.layer_norm(x, (self.in_channels,), None, None, self.eps)
        return _affine(out, self.weight, self.bias, type_vec)

    def __repr__(self) -> str:  # PyG's
        return f"{type(self).__name__}({self.in_channels}, num_types={self.num_types})"


class HeteroBatchNorm(torch.nn.Module):
    """Batch norm per node type; ``forward(x, type_vec)``."""

    def __init__(self, in_channels: int, num_types: int, eps: float = 1e-5, momentum: Optional[float] = 0.1,
                 affine: bool = True, track_running_stats: bool = True, device: Optional[torch.device] = None) -> None:
        super().__init__()
        self.in_channels, self.num_types, self.eps, self.momentum = in_channels, num_types, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        _per_type_affine(self, num_types, in_channels, affine, device)
        if track_running_stats:
            self.register_buffer("running_mean", torch.empty(num_types, in_channels, device=device))
            self.register_buffer("running_var", torch.empty(num_types, in_channels, device=device))
            self.register_buffer("num_batches_tracked", torch.tensor(0))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            self.running_mean.zero_()
            self.running_var.fill_(1)
            self.num_batches_tracked.zero_()

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        if self.affine:
            torch.nn.init.ones_(self.weight)
            torch.nn.init.zeros_(self.bias)

    def forward(self, x: Tensor, type_vec: Tensor) -> Tensor:
        if not self.training and self.track_running_stats:
            mean, var = self.running_mean, self.running_var
        else:
            with torch.no_grad():
                mean = ops.scatter(x, type_vec, self.num_types, "mean")
                var = ops.scatter(x * x, type_vec, self.num_types, "mean") - mean * mean
            if self.training and self.track_running_stats:
                with torch.no_grad():
                    if self.momentum is None:
                        self.num_batches_tracked.add_(1)
                        factor = 1.0 / self.num_batches_tracked.to(mean.dtype)
                    else:
                        factor = self.momentum
                    present = (torch.bincount(type_vec, minlength=self.num_types) > 0).view(-1, 1)
                    self.running_mean.copy_(torch.where(present, (1.0 - factor) * self.running_mean + factor * mean,
                                                        self.running_mean))
                    self.running_var.copy_(torch.where(present, (1.0 - factor) * self.running_var + factor * var,
                                                       self.running_var))
        out = (x - mean.index_select(0, type_vec)) / var.clamp(self.eps).sqrt().index_select(0, type_vec)
        return _affine(out, self.weight, self.bias, type_vec)

    def __repr__(self) -> str:  # PyG's
        return f"{type(self).__name__}({self.in_channels}, num_types={self.num_types})"


class HeteroJumpingKnowledge(torch.nn.Module):
    """One :class:`~gnnx.nn.JumpingKnowledge` per node type; ``forward(xs_dict)`` maps each
    type's list of layer outputs to its combination."""

    def __init__(self, types: List[str], mode: str, channels: Optional[int] = None,
                 num_layers: Optional[int] = None) -> None:
        super().__init__()
        self.mode = mode.lower()
        self.jk_dict = torch.nn.ModuleDict({key: JumpingKnowledge(mode, channels, num_layers) for key in types})

    def reset_parameters(self) -> None:
        for jk in self.jk_dict.values():
            jk.reset_parameters()

    def forward(self, xs_dict: Dict[str, List[Tensor]]) -> Dict[str, Tensor]:
        return {key: jk(xs_dict[key]) for key, jk in self.jk_dict.items()}

    def __repr__(self) -> str:  # PyG's
        if self.mode == "lstm":
            jk = next(iter(self.jk_dict.values()))
            return (f"{type(self).__name__}(num_types={len(self.jk_dict)}, mode={self.mode}, "
                    f"channels={jk.channels}, layers={jk.num_layers})")
        return f"{type(self).__name__}(num_types={len(self.jk_dict)}, mode={self.mode})"
