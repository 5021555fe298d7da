r"""Global readouts: one vector per graph of a batch.

.. math::
    \mathbf{r}_g = \bigoplus_{i \,:\, \mathrm{batch}_i = g} \mathbf{x}_i

Pass ``size`` (the number of graphs): without it, it is read from ``batch`` with a host sync.
Graphs without nodes read 0.
"""
from __future__ import annotations

from typing import Optional

from torch import Tensor

from gnnx import ops


def _pool(x: Tensor, batch: Optional[Tensor], size: Optional[int], reduce: str) -> Tensor:
    if batch is None:
        return getattr(x, reduce if reduce != "max" else "amax")(dim=0, keepdim=True)
    if batch.dtype.is_floating_point or batch.dim() != 1 or batch.size(0) != x.size(0):
        raise ValueError(
            f"batch must be an int64 vector with one entry per node ({x.size(0)}), got "
            f"{batch.dtype} of shape {list(batch.shape)}"
        )
    if size is None:
        size = int(batch.max()) + 1 if batch.numel() > 0 else 0
    return ops.scatter(x, batch, size, reduce)


def global_add_pool(x: Tensor, batch: Optional[Tensor], size: Optional[int] = None) -> Tensor:
    """Sum of node features per graph: ``[N, F] -> [size, F]``."""
    return _pool(x, batch, size, "sum")


def global_mean_pool(x: Tensor, batch: Optional[Tensor], size: Optional[int] = None) -> Tensor:
    """Mean of node features per graph: ``[N, F] -> [size, F]``."""
    return _pool(x, batch, size, "mean")


def global_max_pool(x: Tensor, batch: Optional[Tensor], size: Optional[int] = None) -> Tensor:
    """Feature-wise maximum per graph: ``[N, F] -> [size, F]``."""
    return _pool(x, batch, size, "max")
