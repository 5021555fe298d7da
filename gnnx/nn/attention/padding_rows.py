"""PyG's dense batches on the flat layout, for global attention that lets padding rows count.

PyG's graph transformers with linear attention (SGFormer, Polynormer) run on
``to_dense_batch``'s ``[graphs, N_max, F]`` layout, and its padding rows take part: they start
as zeros, go through the same layers, and their keys count in each graph's key sum, so a
graph's output depends on the largest graph of its batch. All padding rows of one graph hold
the same values, so one row per graph, counted ``N_max - N_graph`` times, gives PyG's values
on flat, unsorted rows without waiting on the host for ``N_max`` (given ``batch_size``).
"""
from __future__ import annotations

from typing import NamedTuple, Optional

import torch
from torch import Tensor


class PaddingRows(NamedTuple):
    """Rows ``[nodes..., one padding row per graph]``: each row's ``graph``, the dense rows it
    stands for (``multiplicity``), whether it is a node (``real``), ``size`` = ``N_max``
    (0-dim), ``num_graphs`` and ``num_nodes``."""

    graph: Tensor
    multiplicity: Tensor
    real: Tensor
    size: Tensor
    num_graphs: int
    num_nodes: int

    def append_to(self, x: Tensor) -> Tensor:
        """``x [num_nodes, F]`` followed by the padding rows' zeros."""
        return torch.cat([x, x.new_zeros(self.num_graphs, x.size(1))])


def padding_rows(batch: Optional[Tensor], num_nodes: int, batch_size: Optional[int], device) -> PaddingRows:
    if batch is None:
        batch, batch_size = torch.zeros(num_nodes, dtype=torch.long, device=device), 1
    if batch_size is None:
        batch_size = int(batch.max()) + 1 if num_nodes else 0
    counts = torch.zeros(batch_size, dtype=torch.long, device=device).index_add_(0, batch, torch.ones_like(batch))
    size = counts.max()
    graph = torch.cat([batch, torch.arange(batch_size, device=device)])
    multiplicity = torch.cat([torch.ones_like(batch), size - counts])
    real = torch.arange(num_nodes + batch_size, device=device) < num_nodes
    return PaddingRows(graph, multiplicity, real, size, batch_size, num_nodes)
