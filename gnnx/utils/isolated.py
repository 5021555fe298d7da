"""Isolated nodes (PyG's ``contains_isolated_nodes``, ``remove_isolated_nodes``): nodes with
no edge but, possibly, a self loop. Data-dependent shapes."""
from __future__ import annotations

from typing import Optional, Tuple

import torch
from torch import Tensor

from gnnx.utils.loop import remove_self_loops, segregate_self_loops
from gnnx.utils.num_nodes import maybe_num_nodes


def contains_isolated_nodes(edge_index: Tensor, num_nodes: Optional[int] = None) -> bool:
    """Whether some node touches no edge other than a self loop."""
    count = maybe_num_nodes(edge_index, num_nodes)
    edge_index, _ = remove_self_loops(edge_index)
    return torch.unique(edge_index.view(-1)).numel() < count


def remove_isolated_nodes(edge_index: Tensor, edge_attr: Optional[Tensor] = None,
                          num_nodes: Optional[int] = None) -> Tuple[Tensor, Optional[Tensor], Tensor]:
    """``(edge_index, edge_attr, node_mask)`` without the isolated nodes, renumbered; their
    self loops go with them, the other nodes' stay (after the other edges, as PyG's)."""
    count = maybe_num_nodes(edge_index, num_nodes)
    edge_index, edge_attr, loop_edge_index, loop_edge_attr = segregate_self_loops(edge_index, edge_attr)
    mask = torch.zeros(count, dtype=torch.bool, device=edge_index.device)
    mask[edge_index.view(-1)] = True
    new_id = torch.full((count,), -1, dtype=torch.long, device=mask.device)
    new_id[mask] = torch.arange(int(mask.sum()), device=mask.device)
    edge_index = new_id[edge_index]
    loop_mask = torch.zeros_like(mask)
    loop_mask[loop_edge_index[0]] = True
    loop_mask &= mask
    loop_of = torch.full_like(new_id, -1)
    loop_of[loop_edge_index[0]] = torch.arange(loop_edge_index.size(1), device=mask.device)
    kept_loops = loop_of[loop_mask]
    edge_index = torch.cat([edge_index, new_id[loop_edge_index[:, kept_loops]]], dim=1)
    if edge_attr is not None:
        edge_attr = torch.cat([edge_attr, loop_edge_attr[kept_loops]], dim=0)
    return edge_index, edge_attr, mask
