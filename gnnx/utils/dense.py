"""Dense batches and adjacency matrices (PyG's ``to_dense_batch``, ``to_dense_adj``,
``dense_to_sparse``).

Given ``batch_size`` and ``max_num_nodes`` the first two need no host sync (static
shapes: nodes beyond ``max_num_nodes`` go to a discarded slot rather than being filtered),
so they compile; without them the sizes are read from the data, as in PyG.
"""
from __future__ import annotations

import warnings
from typing import Optional, Tuple

import torch
from torch import Tensor

from gnnx import ops


def _counts(batch: Tensor, batch_size: int) -> Tuple[Tensor, Tensor]:
    """Nodes per graph and each graph's first node (``batch`` sorted)."""
    counts = ops.scatter(torch.ones_like(batch), batch, dim_size=batch_size, reduce="sum")
    return counts, torch.cumsum(counts, 0) - counts


def to_dense_batch(x: Tensor, batch: Optional[Tensor] = None, fill_value: float = 0.0,
                   max_num_nodes: Optional[int] = None, batch_size: Optional[int] = None) -> Tuple[Tensor, Tensor]:
    """``x [N, *]`` of graphs given by a sorted ``batch`` as ``[B, N_max, *]`` plus the mask
    of real entries ``[B, N_max]``; nodes past ``max_num_nodes`` in a graph are dropped."""
    if batch is None and max_num_nodes is None:
        return x.unsqueeze(0), torch.ones(1, x.size(0), dtype=torch.bool, device=x.device)
    if batch is None:
        batch = torch.zeros(x.size(0), dtype=torch.long, device=x.device)
    if batch_size is None:
        batch_size = int(batch.max()) + 1 if batch.numel() > 0 else 1
    counts, first = _counts(batch, batch_size)
    if max_num_nodes is None:
        max_num_nodes = int(counts.max()) if counts.numel() > 0 else 0
    position = torch.arange(batch.numel(), device=x.device) - first[batch]
    slots = batch_size * max_num_nodes
    index = torch.where(position < max_num_nodes, batch * max_num_nodes + position, slots)  # slot `slots`: dropped
    out = x.new_full((slots + 1,) + tuple(x.shape[1:]), fill_value)
    out = out.index_copy(0, index, x)[:slots]
    mask = torch.zeros(slots + 1, dtype=torch.bool, device=x.device).index_fill(0, index, True)[:slots]
    return out.view((batch_size, max_num_nodes) + tuple(x.shape[1:])), mask.view(batch_size, max_num_nodes)


def to_dense_adj(edge_index: Tensor, batch: Optional[Tensor] = None, edge_attr: Optional[Tensor] = None,
                 max_num_nodes: Optional[int] = None, batch_size: Optional[int] = None) -> Tensor:
    """``[B, N_max, N_max(, *)]`` adjacency matrices (entries of duplicate edges summed);
    edges touching nodes past ``max_num_nodes`` are dropped."""
    if batch is None:
        count = int(edge_index.max()) + 1 if edge_index.numel() > 0 else 0
        batch = edge_index.new_zeros(count)
    if batch_size is None:
        batch_size = int(batch.max()) + 1 if batch.numel() > 0 else 1
    counts, first = _counts(batch, batch_size)
    if max_num_nodes is None:
        max_num_nodes = int(counts.max()) if counts.numel() > 0 else 0
    graph = batch[edge_index[0]]
    row = edge_index[0] - first[graph]
    col = edge_index[1] - first[batch[edge_index[1]]]
    slots = batch_size * max_num_nodes * max_num_nodes
    inside = (row < max_num_nodes) & (col < max_num_nodes)
    index = torch.where(inside, graph * max_num_nodes * max_num_nodes + row * max_num_nodes + col, slots)
    if edge_attr is None:
        edge_attr = torch.ones(edge_index.size(1), device=edge_index.device)
    adj = ops.scatter(edge_attr, index, dim_size=slots + 1, reduce="sum")[:slots]
    return adj.view((batch_size, max_num_nodes, max_num_nodes) + tuple(edge_attr.shape[1:]))


def dense_to_sparse(adj: Tensor, mask: Optional[Tensor] = None) -> Tuple[Tensor, Tensor]:
    """The non-zero entries of ``[N, N]`` or ``[B, N, N]`` adjacency as ``(edge_index,
    edge_attr)``, graphs of a batch numbered one after another (only the rows and columns
    of ``mask [B, N]`` count). Data-dependent size."""
    if adj.dim() < 2 or adj.dim() > 3:
        raise ValueError(f"Dense adjacency matrix 'adj' must be two- or three-dimensional (got {adj.dim()} "
                         f"dimensions)")
    if mask is not None and adj.dim() == 2:
        warnings.warn("Mask should not be provided in case the dense adjacency matrix is two-dimensional",
                      stacklevel=2)
        mask = None
    if mask is not None and mask.dim() != 2:
        raise ValueError(f"Mask must be two-dimensional (got {mask.dim()} dimensions)")
    if mask is not None and adj.size(-2) != adj.size(-1):
        raise ValueError(f"Mask is only supported on quadratic adjacency matrices (got [*, {adj.size(-2)}, "
                         f"{adj.size(-1)}])")
    if adj.dim() == 2:
        edge_index = adj.nonzero().t()
        return edge_index, adj[edge_index[0], edge_index[1]]
    rows = adj.reshape(-1, adj.size(-1))
    if mask is not None:
        rows = rows[mask.reshape(-1)]
    edge_index = rows.nonzero().t()
    edge_attr = rows[edge_index[0], edge_index[1]]
    if mask is None:
        offset = torch.arange(0, adj.size(0) * adj.size(2), adj.size(2), device=adj.device)
        offset = offset.repeat_interleave(adj.size(1))
    else:
        count = mask.sum(dim=-1)
        offset = (torch.cumsum(count, 0) - count).repeat_interleave(count)
    edge_index[1] += offset[edge_index[0]]
    return edge_index, edge_attr
