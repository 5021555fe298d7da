"""Splitting a batch of graphs back into its graphs (PyG's ``unbatch``, ``unbatch_edge_index``).
The split sizes come from the data, so these are for after a model, not inside one."""
from __future__ import annotations

from typing import List, Optional

import torch
from torch import Tensor

from gnnx.utils.edges import degree
from gnnx.utils.tensors import cumsum


def unbatch(src: Tensor, batch: Tensor, dim: int = 0, batch_size: Optional[int] = None) -> List[Tensor]:
    """``src`` split along ``dim`` into one tensor per graph of the (sorted) ``batch`` vector."""
    sizes = degree(batch, batch_size, dtype=torch.long).tolist()
    return list(src.split(sizes, dim))


def unbatch_edge_index(edge_index: Tensor, batch: Tensor, batch_size: Optional[int] = None) -> List[Tensor]:
    """A batch's ``edge_index`` split into each graph's, renumbered from 0 (edges grouped by
    graph, as a collated batch has them)."""
    counts = degree(batch, batch_size, dtype=torch.long)
    edge_batch = batch[edge_index[0]]
    edge_index = edge_index - cumsum(counts)[edge_batch]
    sizes = degree(edge_batch, batch_size, dtype=torch.long).cpu().tolist()
    return list(edge_index.split(sizes, dim=1))
