"""The node count of an ``edge_index`` when none is given (PyG's ``maybe_num_nodes``), and the
range check of indices against a given count."""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from gnnx.ops.dispatch import can_check_on_host


def check_index_range(index: Tensor, count: int, name: str, unit: str, scope: str) -> None:
    """In eager CPU calls, an error if ``index`` leaves ``[0, count)``: "``name`` holds ``unit``
    <value>, outside the ``scope``". Where PyG trusts a given count, an index beyond it either
    fails deep inside torch or silently corrupts keys and masks."""
    if index.numel() and can_check_on_host(index):
        low, high = (int(v) for v in torch.aminmax(index))
        if low < 0 or high >= count:
            raise ValueError(f"{name} holds {unit} {low if low < 0 else high}, outside the {scope} "
                             f"(indices must lie in [0, {count}))")


def maybe_num_nodes(edge_index: Tensor, num_nodes: Optional[int] = None) -> int:
    """``num_nodes``, or ``max index + 1`` (0 without edges): one host sync when inferred.
    A given ``num_nodes`` is checked against the indices in eager CPU calls (an index beyond
    it would silently corrupt sorting keys and masks downstream)."""
    if num_nodes is not None:
        count = int(num_nodes)
        check_index_range(edge_index, count, "edge_index", "node index", f"num_nodes={count} nodes")
        return count
    return int(edge_index.max()) + 1 if edge_index.numel() > 0 else 0
