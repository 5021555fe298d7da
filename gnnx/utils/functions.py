"""Small tensor helpers with PyG's names: ``scatter``, ``softmax``, ``one_hot``, masks."""
from __future__ import annotations

from typing import Optional, Tuple

import torch
from torch import Tensor

from gnnx import ops
from gnnx.ops.dispatch import check_index_range


def scatter(src: Tensor, index: Tensor, dim: int = 0, dim_size: Optional[int] = None, reduce: str = "sum") -> Tensor:
    """Reduce ``src`` into ``dim_size`` slots along ``dim`` (PyG's argument order; reductions
    ``sum``/``add``, ``mean``, ``max``, ``min``, ``mul``, ``any``: one of the slot's values,
    which PyG leaves unspecified and gnnx makes the first, on every device). Pass ``dim_size``
    in compiled code: inferring it syncs with the host. Empty slots are 0, as in PyG."""
    if dim_size is None:
        dim_size = int(index.max()) + 1 if index.numel() > 0 else 0
    dim = dim if dim >= 0 else src.dim() + dim
    if reduce == "any":
        count = src.size(dim)
        if count == 0:
            return src.new_zeros([dim_size if d == dim else size for d, size in enumerate(src.shape)])
        first = torch.full((dim_size,), count, dtype=torch.long, device=src.device).scatter_reduce(
            0, index, torch.arange(count, device=src.device), "amin")  # each slot's first position
        filled = (first < count).view([-1 if d == dim else 1 for d in range(src.dim())])
        picked = src.index_select(dim, first.clamp(max=count - 1))
        return torch.where(filled, picked, torch.zeros_like(picked))
    if reduce == "mul":
        shape = list(src.shape)
        shape[dim] = dim_size
        expanded = index.view([-1 if d == dim else 1 for d in range(src.dim())]).expand_as(src)
        return src.new_ones(shape).scatter_reduce(dim, expanded, src, "prod", include_self=True)
    return ops.scatter(src, index, dim_size=dim_size, reduce=reduce, dim=dim)


def softmax(src: Tensor, index: Optional[Tensor] = None, ptr: Optional[Tensor] = None,
            num_nodes: Optional[int] = None, dim: int = 0) -> Tensor:
    """Softmax of ``src`` within the groups of ``index`` (or the CSR ranges of ``ptr``) along ``dim``."""
    if index is None and ptr is None:
        raise ValueError("softmax needs index or ptr")
    if index is None:
        counts = ptr[1:] - ptr[:-1]
        index = torch.repeat_interleave(torch.arange(counts.numel(), device=ptr.device), counts)
        num_nodes = counts.numel()
    if num_nodes is None:
        num_nodes = int(index.max()) + 1 if index.numel() > 0 else 0
    return ops.segment_softmax(src, index, num_nodes, dim=dim)


def one_hot(index: Tensor, num_classes: Optional[int] = None, dtype: Optional[torch.dtype] = None) -> Tensor:
    """``[N, num_classes]`` with a 1 at each row's ``index`` (float by default, as PyG)."""
    if index.dim() != 1:
        raise ValueError("'index' tensor needs to be one-dimensional")
    if num_classes is None:
        num_classes = int(index.max()) + 1
    check_index_range(index, num_classes, "index", "num_classes={count} classes", "class")
    out = torch.zeros((index.size(0), num_classes), dtype=dtype, device=index.device)
    return out.scatter_(1, index.unsqueeze(1), 1)


def index_to_mask(index: Tensor, size: Optional[int] = None) -> Tensor:
    """A boolean mask of ``size`` entries, True at ``index``."""
    size = int(index.max()) + 1 if size is None else size
    check_index_range(index, size, "index", "size={count} entries", "position")
    mask = torch.zeros(size, dtype=torch.bool, device=index.device)
    mask[index] = True
    return mask


def unique_first(values: Tensor) -> Tuple[Tensor, Tensor]:
    """The distinct values (sorted) and where each first occurs in ``values``."""
    unique, inverse = torch.unique(values, return_inverse=True)
    first = torch.full((unique.numel(),), values.numel(), dtype=torch.long, device=values.device)
    first = first.scatter_reduce(0, inverse, torch.arange(values.numel(), device=values.device), "amin")
    return unique, first


def first_position_table(values: Tensor, size: int) -> Tensor:
    """``[size]``: where each of ``0..size-1`` first occurs in ``values`` (``-1`` where it does
    not): the batch row of a node id when a node may sit on several rows (a repeated seed)."""
    table = torch.full((size,), -1, dtype=torch.long, device=values.device)
    distinct, first = unique_first(values)
    table[distinct] = first
    return table


def mask_to_index(mask: Tensor) -> Tensor:
    """The positions where ``mask`` is True (data-dependent size)."""
    return mask.nonzero(as_tuple=False).view(-1)
