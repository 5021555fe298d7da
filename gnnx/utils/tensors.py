"""PyG's small tensor helpers (``cumsum``, ``lexsort``, ``index_sort``, ``group_argsort``,
``group_cat``, ``select``, ``narrow``, ``mask_select``, ``segment``,
``segment_logsumexp``), with PyG's arguments and results."""
from __future__ import annotations

from typing import Any, List, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor

from gnnx.utils.functions import scatter


def cumsum(x: Tensor, dim: int = 0) -> Tensor:
    """The cumulative sum along ``dim`` with a leading zero (one entry longer): turns counts
    into offsets (``ptr``)."""
    size = x.size()[:dim] + (x.size(dim) + 1,) + x.size()[dim + 1:]
    out = x.new_empty(size)
    out.narrow(dim, 0, 1).zero_()
    torch.cumsum(x, dim=dim, out=out.narrow(dim, 1, x.size(dim)))
    return out


def ptr_to_index(ptr: Tensor, output_size: Optional[int] = None) -> Tensor:
    """Segment offsets ``[S + 1]`` to each row's segment id (``output_size`` rows: no host
    read of the total)."""
    index = torch.arange(ptr.numel() - 1, dtype=ptr.dtype, device=ptr.device)
    return index.repeat_interleave(ptr.diff(), output_size=output_size)


def lexsort(keys: Sequence[Tensor], dim: int = -1, descending: bool = False) -> Tensor:
    """The permutation that sorts by the last key, then the one before, ... (numpy's
    ``lexsort`` order: ``keys[-1]`` is the primary key)."""
    if len(keys) < 1:
        raise ValueError("lexsort needs at least one key")
    out = keys[0].argsort(dim=dim, descending=descending, stable=True)
    for key in keys[1:]:
        order = key.gather(dim, out).argsort(dim=dim, descending=descending, stable=True)
        out = out.gather(dim, order)
    return out


def index_sort(inputs: Tensor, max_value: Optional[int] = None, stable: bool = False) -> Tuple[Tensor, Tensor]:
    """``(sorted values, permutation)`` of a 1-D index tensor (``max_value`` is accepted for
    PyG's signature; torch's sort serves)."""
    return inputs.sort(stable=stable)


def group_argsort(src: Tensor, index: Tensor, dim: int = 0, num_groups: Optional[int] = None,
                  descending: bool = False, return_consecutive: bool = False, stable: bool = False) -> Tensor:
    """Each entry's rank within its group of equal ``index`` (by ``src``, ascending or
    ``descending``); ``return_consecutive``: the rank over all groups laid out in index order."""
    if src.dim() != 1 or index.dim() != 1 or src.numel() != index.numel() or dim not in (0, -1):
        raise ValueError(f"group_argsort needs 1-D src and index of one length, got {list(src.shape)} and "
                         f"{list(index.shape)}")
    if src.numel() == 0:
        return torch.zeros_like(src)
    src = src - src.min()
    src = src / src.max()
    src = src - 2 * index if descending else src + 2 * index
    perm = src.argsort(descending=descending, stable=stable)
    out = torch.empty_like(index)
    out[perm] = torch.arange(index.numel(), device=index.device)
    if return_consecutive:
        return out
    count = scatter(torch.ones_like(index), index, dim=dim, dim_size=num_groups, reduce="sum")
    return out - cumsum(count)[index]


def group_cat(tensors: Sequence[Tensor], indices: Sequence[Tensor], dim: int = 0,
              return_index: bool = False) -> Union[Tensor, Tuple[Tensor, Tensor]]:
    """Concatenate tensors whose rows carry group ``indices``, rows of one group together
    (stable: each group's rows in input order)."""
    if len(tensors) != len(indices):
        raise ValueError(f"group_cat needs one index per tensor, got {len(tensors)} tensors and {len(indices)} indices")
    index, perm = torch.cat(list(indices)).sort(stable=True)
    out = torch.cat(list(tensors), dim=dim).index_select(dim, perm)
    return (out, index) if return_index else out


def mask_select(src: Tensor, dim: int, mask: Tensor) -> Tensor:
    """The entries of ``src`` along ``dim`` where the 1-D boolean ``mask`` is set."""
    if mask.dim() != 1 or src.size(dim) != mask.numel():
        raise ValueError(f"mask_select needs a 1-D mask of {src.size(dim)} entries, got shape {list(mask.shape)}")
    dim = dim + src.dim() if dim < 0 else dim
    src = src.transpose(0, dim) if dim != 0 else src
    out = src[mask]
    return out.transpose(0, dim) if dim != 0 else out


def select(src: Union[Tensor, List[Any]], index_or_mask: Tensor, dim: int) -> Union[Tensor, List[Any]]:
    """Entries of a tensor or list by indices or a boolean mask."""
    if isinstance(src, Tensor):
        if index_or_mask.dtype == torch.bool:
            return mask_select(src, dim, index_or_mask)
        return src.index_select(dim, index_or_mask)
    if isinstance(src, (tuple, list)):
        if dim != 0:
            raise ValueError("Cannot select along dimension other than 0")
        if index_or_mask.dtype == torch.bool:
            return [item for item, keep in zip(src, index_or_mask.tolist()) if keep]
        return [src[i] for i in index_or_mask.tolist()]
    raise ValueError(f"Encountered invalid input type (got '{type(src)}')")


def narrow(src: Union[Tensor, List[Any]], dim: int, start: int, length: int) -> Union[Tensor, List[Any]]:
    """``length`` entries from ``start`` along ``dim`` of a tensor (sparse ones too) or list."""
    if isinstance(src, Tensor) and src.layout != torch.strided:
        return src.index_select(dim, torch.arange(start, start + length, device=src.device))
    if isinstance(src, Tensor):
        return src.narrow(dim, start, length)
    if isinstance(src, list):
        if dim != 0:
            raise ValueError("Cannot narrow along dimension other than 0")
        return src[start:start + length]
    raise ValueError(f"Encountered invalid input type (got '{type(src)}')")


def segment(src: Tensor, ptr: Tensor, reduce: str = "sum") -> Tensor:
    """Reduce consecutive row ranges ``ptr[i]:ptr[i+1]`` of ``src`` (``sum``, ``mean``,
    ``min``, ``max``; an empty range gives 0)."""
    if ptr.dim() != 1:
        raise ValueError("segment takes a 1-D ptr")
    if reduce not in ("sum", "mean", "min", "max", "add"):
        raise ValueError(f"segment reduce must be sum/mean/min/max, got {reduce!r}")
    reduce = {"add": "sum", "min": "amin", "max": "amax"}.get(reduce, reduce)
    out = torch._segment_reduce(src, reduce, offsets=ptr, initial=0 if reduce == "mean" else None)
    if reduce in ("amin", "amax"):
        out = torch.where(out.isinf(), 0, out)
    return out


def segment_logsumexp(src: Tensor, ptr: Tensor, dim: int) -> Tensor:
    """``log sum exp`` over each range ``ptr[i]:ptr[i+1]`` along ``dim`` (stable: the range's
    maximum is taken out first; an empty range gives 0)."""
    src = src.transpose(0, dim)
    index = ptr_to_index(ptr, output_size=src.size(0))
    top = scatter(src, index, dim_size=ptr.numel() - 1, reduce="max")
    out = segment((src - top[index]).exp(), ptr, reduce="sum")
    return (out.log().nan_to_num(neginf=0.0) + top).transpose(0, dim)
