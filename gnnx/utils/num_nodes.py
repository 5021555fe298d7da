"""The node count of an ``edge_index`` when none is given (PyG's ``maybe_num_nodes``)."""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from gnnx.ops.dispatch import can_check_on_host


def maybe_num_nodes(edge_index: Tensor, num_nodes: Optional[int] = None) -> int:
    """``num_nodes``, or ``max index + 1`` (0 without edges): one host sync when inferred.
    A given ``num_nodes`` is checked against the indices in eager CPU calls (an index beyond
    it would silently corrupt sorting keys and masks downstream)."""
    if num_nodes is not None:
        count = int(num_nodes)
        if edge_index.numel() and can_check_on_host(edge_index):
            low, high = (int(v) for v in torch.aminmax(edge_index))
            if low < 0 or high >= count:
                raise ValueError(f"edge_index holds node index {low if low < 0 else high}, outside the "
                                 f"num_nodes={count} nodes (indices must lie in [0, {count}))")
        return count
    return int(edge_index.max()) + 1 if edge_index.numel() > 0 else 0
