"""The node count of an ``edge_index`` when none is given (PyG's ``maybe_num_nodes``)."""
from __future__ import annotations

from typing import Optional

from torch import Tensor

from gnnx.ops.dispatch import check_index_range


def maybe_num_nodes(edge_index: Tensor, num_nodes: Optional[int] = None) -> int:
    """``num_nodes``, or ``max index + 1`` (0 without edges): one host sync when inferred.
    A given ``num_nodes`` is checked against the indices in eager CPU calls (an index beyond
    it would silently corrupt sorting keys and masks downstream)."""
    if num_nodes is not None:
        count = int(num_nodes)
        check_index_range(edge_index, count, "edge_index", "num_nodes={count} nodes", "node index")
        return count
    return int(edge_index.max()) + 1 if edge_index.numel() > 0 else 0
