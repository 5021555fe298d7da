"""Graph augmentations (PyG's ``shuffle_node``, ``mask_feature``, ``add_random_edge``),
PyG's arguments and random draws."""
from __future__ import annotations

from typing import Optional, Tuple, Union

import torch
from torch import Tensor

from gnnx.utils.functions import scatter
from gnnx.utils.negative_sampling import negative_sampling
from gnnx.utils.tensors import cumsum


def shuffle_node(x: Tensor, batch: Optional[Tensor] = None, training: bool = True) -> Tuple[Tensor, Tensor]:
    """``(x[perm], perm)`` with rows permuted at random, within each graph of ``batch``
    (the identity outside training)."""
    if not training:
        return x, torch.arange(x.size(0), device=x.device)
    if batch is None:
        perm = torch.randperm(x.size(0), device=x.device)
        return x[perm], perm
    counts = scatter(batch.new_ones(x.size(0)), batch, dim=0, reduce="sum")
    offsets = cumsum(counts)
    perm = torch.cat([torch.randperm(int(n), device=x.device) + offset
                      for offset, n in zip(offsets[:-1].tolist(), counts.tolist())])
    return x[perm], perm


def mask_feature(x: Tensor, p: float = 0.5, mode: str = "col", fill_value: float = 0.0,
                 training: bool = True) -> Tuple[Tensor, Tensor]:
    """``(x masked, mask)``: each column (``"col"``), row (``"row"``) or entry (``"all"``)
    set to ``fill_value`` with probability ``p``."""
    if p < 0.0 or p > 1.0:
        raise ValueError(f"Masking ratio has to be between 0 and 1 (got {p})")
    if not training or p == 0.0:
        return x, torch.ones_like(x, dtype=torch.bool)
    if mode == "row":
        mask = (torch.rand(x.size(0), device=x.device) >= p).view(-1, 1)
    elif mode == "col":
        mask = (torch.rand(x.size(1), device=x.device) >= p).view(1, -1)
    elif mode == "all":
        mask = torch.rand_like(x) >= p
    else:
        raise ValueError(f"mask_feature mode must be 'row', 'col' or 'all', got {mode!r}")
    return x.masked_fill(~mask, fill_value), mask


def add_random_edge(edge_index: Tensor, p: float = 0.5, force_undirected: bool = False,
                    num_nodes: Optional[Union[int, Tuple[int, int]]] = None,
                    training: bool = True) -> Tuple[Tensor, Tensor]:
    """``(edge_index with new edges, the new edges)``: ``round(p * E)`` non-edges drawn by
    :func:`~gnnx.utils.negative_sampling` (both directions with ``force_undirected``)."""
    if p < 0.0 or p > 1.0:
        raise ValueError(f"Ratio of added edges has to be between 0 and 1 (got '{p}')")
    if force_undirected and isinstance(num_nodes, (tuple, list)):
        raise RuntimeError("'force_undirected' is not supported for bipartite graphs")
    if not training or p == 0.0:
        return edge_index, torch.tensor([[], []], device=edge_index.device)
    added = negative_sampling(edge_index=edge_index, num_nodes=num_nodes,
                              num_neg_samples=round(edge_index.size(1) * p), force_undirected=force_undirected)
    return torch.cat([edge_index, added], dim=1), added
