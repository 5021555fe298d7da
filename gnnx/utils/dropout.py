"""Random edge and node dropout (PyG's ``dropout_edge``, ``dropout_node``); data-dependent
shapes. For a compiled step, keep the edges and weight them with the mask instead."""
from __future__ import annotations

from typing import Optional, Tuple

import torch
from torch import Tensor

from gnnx.utils.num_nodes import maybe_num_nodes
from gnnx.utils.subgraph import subgraph


def _check(p: float) -> None:
    if p < 0.0 or p > 1.0:
        raise ValueError(f"Dropout probability has to be between 0 and 1 (got {p})")


def dropout_edge(edge_index: Tensor, p: float = 0.5, force_undirected: bool = False,
                 training: bool = True, generator: Optional[torch.Generator] = None) -> Tuple[Tensor, Tensor]:
    """Each edge dropped with probability ``p``: ``(kept edge_index, edge_mask)``; with
    ``force_undirected`` both directions of a pair go together (the mask then indexes the
    ``i < j`` edges kept, as PyG's)."""
    _check(p)
    if not training or p == 0.0:
        return edge_index, torch.ones(edge_index.size(1), dtype=torch.bool, device=edge_index.device)
    row, col = edge_index[0], edge_index[1]
    edge_mask = torch.rand(row.size(0), device=edge_index.device, generator=generator) >= p
    if force_undirected:
        edge_mask[row > col] = False
    edge_index = edge_index[:, edge_mask]
    if force_undirected:
        edge_index = torch.cat([edge_index, edge_index.flip(0)], dim=1)
        edge_mask = edge_mask.nonzero().repeat((2, 1)).squeeze()
    return edge_index, edge_mask


def dropout_node(edge_index: Tensor, p: float = 0.5, num_nodes: Optional[int] = None, training: bool = True,
                 relabel_nodes: bool = False,
                 generator: Optional[torch.Generator] = None) -> Tuple[Tensor, Tensor, Tensor]:
    """Each node dropped with probability ``p``, with its edges: ``(edge_index, edge_mask,
    node_mask)``."""
    _check(p)
    count = maybe_num_nodes(edge_index, num_nodes)
    if not training or p == 0.0:
        return (edge_index, torch.ones(edge_index.size(1), dtype=torch.bool, device=edge_index.device),
                torch.ones(count, dtype=torch.bool, device=edge_index.device))
    node_mask = torch.rand(count, device=edge_index.device, generator=generator) > p
    edge_index, _, edge_mask = subgraph(node_mask, edge_index, relabel_nodes=relabel_nodes, num_nodes=count,
                                        return_edge_mask=True)
    return edge_index, edge_mask, node_mask


def dropout_adj(edge_index: Tensor, edge_attr: Optional[Tensor] = None, p: float = 0.5,
                force_undirected: bool = False, num_nodes: Optional[int] = None,
                training: bool = True) -> Tuple[Tensor, Optional[Tensor]]:
    """PyG's older form of :func:`dropout_edge`: ``(kept edge_index, kept edge_attr)``; with
    ``force_undirected`` the ``i < j`` edges kept are returned in both directions."""
    _check(p)
    if not training or p == 0.0:
        return edge_index, edge_attr
    edge_index, kept = dropout_edge(edge_index, p, force_undirected)  # PyG's draw and edge order
    return edge_index, None if edge_attr is None else edge_attr[kept]


def dropout_path(edge_index: Tensor, p: float = 0.2, walks_per_node: int = 1, walk_length: int = 3,
                 num_nodes: Optional[int] = None, is_sorted: bool = False, training: bool = True,
                 generator: Optional[torch.Generator] = None) -> Tuple[Tensor, Tensor]:
    """DropEdge along paths (PyG's ``dropout_path``, from `"MaskGAE"
    <https://arxiv.org/abs/2205.10053>`_): random walks of ``walk_length`` steps start
    ``walks_per_node`` times at the source of each edge kept with probability ``p``, and every
    edge a walk takes is dropped. Returns ``(kept edge_index, edge_mask)``. The walks are
    :func:`gnnx.data.random_walk`'s (PyG's need pyg-lib), so the draws differ from PyG's."""
    from gnnx.data.random_walk import random_walk

    if p < 0.0 or p > 1.0:
        raise ValueError(f"Sample probability has to be between 0 and 1 (got {p}")
    num_edges = edge_index.size(1)
    edge_mask = torch.ones(num_edges, dtype=torch.bool, device=edge_index.device)
    if not training or p == 0.0:
        return edge_index, edge_mask
    num_nodes = maybe_num_nodes(edge_index, num_nodes)
    order = torch.argsort(edge_index[0] * num_nodes + edge_index[1], stable=True)  # by source
    row, col = edge_index[0][order], edge_index[1][order]
    picked = torch.rand(num_edges, device=edge_index.device, generator=generator) <= p
    start = row[picked].repeat(walks_per_node)
    rowptr = torch.cat([row.new_zeros(1), torch.cumsum(torch.bincount(row, minlength=num_nodes), 0)])
    walk = random_walk(rowptr, col, start, walk_length, generator=generator)
    walked = walk[:, :-1].reshape(-1) * num_nodes + walk[:, 1:].reshape(-1)
    on_a_walk = torch.isin(row * num_nodes + col, walked)
    edge_mask[order[on_a_walk]] = False
    return edge_index[:, edge_mask], edge_mask
