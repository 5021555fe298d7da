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


def to_nested_tensor(x: Tensor, batch: Optional[Tensor] = None, ptr: Optional[Tensor] = None,
                     batch_size: Optional[int] = None) -> Tensor:
    """``x`` (the rows of several examples one after another, ``batch``/``ptr`` saying whose)
    as a nested tensor of one component per example (PyG's)."""
    if ptr is not None:
        sizes = (ptr[1:] - ptr[:-1]).tolist()
    elif batch is not None:
        sizes = torch.bincount(batch, minlength=batch_size or 0).tolist()
    else:
        sizes = [x.size(0)]
    return torch.nested.as_nested_tensor(list(torch.split(x, sizes, dim=0)))


def from_nested_tensor(x: Tensor, return_batch: bool = False):
    """A nested tensor's components joined along dim 0 (and the batch vector of their rows); the
    components must agree in every other dimension (PyG's)."""
    if not x.is_nested:
        raise ValueError("Input tensor in 'from_nested_tensor' is not nested")
    sizes = x._nested_tensor_size()
    for dim, (first, every) in enumerate(zip(sizes[0, 1:], sizes.t()[1:])):
        if not bool((every == first).all()):
            raise ValueError(f"Not all nested tensors have the same size in dimension {dim + 1} "
                             f"(expected size {first.item()} for all tensors)")
    out = x.contiguous().values().view(-1, *sizes[0, 1:].tolist())
    if not return_batch:
        return out
    batch = torch.arange(x.size(0), device=x.device).repeat_interleave(sizes[:, 0].to(x.device))
    return out, batch
