"""The node count of an ``edge_index`` when none is given (PyG's ``maybe_num_nodes``)."""
from __future__ import annotations

from typing import Optional

from torch import Tensor


def maybe_num_nodes(edge_index: Tensor, num_nodes: Optional[int] = None) -> int:
    """``num_nodes``, or ``max index + 1`` (0 without edges): one host sync when inferred."""
    if num_nodes is not None:
        return int(num_nodes)
    return int(edge_index.max()) + 1 if edge_index.numel() > 0 else 0
