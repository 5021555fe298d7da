"""Normalisation layers with PyG's parameter names."""
from __future__ import annotations

from typing import Any, Optional

import torch
from torch import Tensor


class BatchNorm(torch.nn.Module):
    r"""Batch normalisation over nodes (PyG's ``BatchNorm``; parameters under ``module``).

    .. math::
        \mathbf{x}'_i = \frac{\mathbf{x}_i - \mathrm{E}[\mathbf{x}]}{\sqrt{\mathrm{Var}[\mathbf{x}] + \epsilon}}
        \odot \gamma + \beta

    Shapes: input ``[N, C]``, output ``[N, C]``.
    """

    def __init__(self, in_channels: int, eps: float = 1e-5, momentum: Optional[float] = 0.1,
                 affine: bool = True, track_running_stats: bool = True) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.module = torch.nn.BatchNorm1d(in_channels, eps, momentum, affine, track_running_stats)

    def reset_parameters(self) -> None:
        self.module.reset_parameters()

    def forward(self, x: Tensor) -> Tensor:
        return self.module(x)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.module.extra_repr()})"


def normalization(norm: Any, channels: int, **kwargs: Any) -> torch.nn.Module:
    """Resolve a normalisation layer by PyG's name (``None`` gives ``Identity``)."""
    if norm is None:
        return torch.nn.Identity()
    if isinstance(norm, torch.nn.Module):
        return norm
    if norm in ("batch_norm", "batchnorm", "BatchNorm"):
        return BatchNorm(channels, **kwargs)
    raise ValueError(f"unknown normalisation {norm!r}; supported: None, 'batch_norm'")
