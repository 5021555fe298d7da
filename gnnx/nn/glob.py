"""PyG's deprecated ``torch_geometric.nn.glob`` names, for code written against older PyG:
``GlobalAttention`` (now :class:`~gnnx.nn.aggr.AttentionalAggregation`, called as
``(x, batch, size)``) and ``global_sort_pool`` (now :class:`~gnnx.nn.aggr.SortAggregation`).
Both warn as PyG's do; the pools ``global_add_pool``, ``global_mean_pool`` and
``global_max_pool`` are re-exported."""
from __future__ import annotations

import warnings
from typing import Optional

from torch import Tensor

from gnnx.nn.aggr import AttentionalAggregation
from gnnx.nn.aggr_ordered import SortAggregation
from gnnx.nn.pool import global_add_pool, global_max_pool, global_mean_pool

__all__ = ["GlobalAttention", "global_add_pool", "global_max_pool", "global_mean_pool", "global_sort_pool"]


def _deprecated(name: str, replacement: str) -> None:
    warnings.warn(f"'nn.glob.{name}' is deprecated, use '{replacement}' instead", stacklevel=3)


class GlobalAttention(AttentionalAggregation):
    """:class:`~gnnx.nn.aggr.AttentionalAggregation` under its old name and call
    ``(x, batch=None, size=None)``; PyG's keys (``gate_nn``, ``nn``)."""

    def __init__(self, *args, **kwargs) -> None:
        _deprecated("GlobalAttention", "nn.aggr.AttentionalAggregation")
        super().__init__(*args, **kwargs)

    def __call__(self, x: Tensor, batch: Optional[Tensor] = None, size: Optional[int] = None) -> Tensor:
        return super().__call__(x, batch, dim_size=size)


def global_sort_pool(x: Tensor, index: Tensor, k: int) -> Tensor:
    """SortPool's readout (:class:`~gnnx.nn.aggr.SortAggregation` with ``k``)."""
    _deprecated("global_sort_pool", "nn.aggr.SortAggr")
    return SortAggregation(k=k)(x, index=index)
