r"""Gather and scatter: the two halves of message passing.

``gather(x, index)`` reads one row of ``x`` per edge; ``scatter(src, index, dim_size, reduce)``
reduces rows of ``src`` that share an ``index`` into ``dim_size`` output rows:

.. math::
    \mathrm{out}_i = \bigoplus_{e \,:\, \mathrm{index}_e = i} \mathrm{src}_e,
    \qquad \bigoplus \in \{\sum, \mathrm{mean}, \max, \min\}

Rows that receive nothing are 0 for every reduction, as in PyG. Everything here is
plain ATen (``index_select``, ``index_add``, ``scatter_reduce``): no host sync, static
output shape ``[dim_size, ...]``, differentiable (max/min share the gradient among
tied maxima), compilable with ``fullgraph=True, dynamic=True`` and exportable.
"""
from __future__ import annotations

from typing import Any, Optional, Union

import torch
from torch import Tensor

from gnnx.ops.dispatch import check_index_range

REDUCTIONS = ("sum", "mean", "max", "min")
_ALIASES = {"add": "sum", "sum": "sum", "mean": "mean", "max": "max", "min": "min"}


def resolve_reduce(reduce: str) -> str:
    """Map PyG's names (``"add"`` included) onto ``sum``/``mean``/``max``/``min``."""
    try:
        return _ALIASES[reduce]
    except KeyError:
        raise ValueError(f"unknown reduction {reduce!r}; expected one of {sorted(_ALIASES)}") from None


def infer_size(index: Optional[Tensor], size: Any, empty_index: int = 1) -> Any:
    """The number of segments ``index`` addresses: ``size`` when given, else ``index.max() + 1``.

    Inferring it reads ``index`` on the host (a sync, and a data-dependent shape under
    ``torch.compile``): layers take ``batch_size``/``dim_size`` so callers can avoid it.
    ``index is None`` means one segment (``empty_index``).
    """
    if size is not None:
        return size
    if index is None:
        return empty_index
    return int(index.max()) + 1 if index.numel() > 0 else 0


def gather(x: Tensor, index: Tensor, dim: int = 0) -> Tensor:
    """``x`` indexed along ``dim`` by ``index`` (one row per edge)."""
    return x.index_select(dim, index)


HALF_DTYPES = (torch.float16, torch.bfloat16)


def index_add_fp32(shape, index: Tensor, src: Tensor) -> Tensor:
    """``zeros(shape).index_add(0, index, src)`` in ``src``'s dtype, summed in fp32 for
    fp16/bf16: exact past 256 additions (bf16: 256 + 1 == 256), and fast on CUDA, where
    half-precision atomics are slow and Inductor leaves a bf16 ``index_add`` to ATen (R-GAT
    under bf16 autocast spent a quarter of its step there)."""
    values = src.float() if src.dtype in HALF_DTYPES else src
    return values.new_zeros(shape).index_add(0, index, values).to(src.dtype)


def scatter(
    src: Tensor,
    index: Tensor,
    dim_size: Union[int, torch.SymInt],
    reduce: str = "sum",
    dim: int = 0,
    mask: Optional[Tensor] = None,
) -> Tensor:
    """Reduce slices of ``src`` along ``dim`` into ``dim_size`` slots given by ``index``.

    Args:
        src: values, ``[E, *]`` (with ``dim=0``).
        index: int64 ``[E]``, each in ``[0, dim_size)``.
        dim_size: number of output slots (pass it: inferring it would sync with the host).
        reduce: ``"sum"`` (or ``"add"``), ``"mean"``, ``"max"`` or ``"min"``.
        dim: the dimension of ``src`` that ``index`` runs along.
        mask: optional bool ``[E]``: entries that take part (the others are ignored, as
            if removed, without a data-dependent shape).
    Returns:
        ``[dim_size, *]``; slots that receive no value are 0.
    """
    reduce = resolve_reduce(reduce)
    if index.dim() != 1:
        raise ValueError(f"scatter: index must be 1-D, got shape {list(index.shape)}")
    if mask is None:
        check_index_range(index, dim_size, "scatter: index", "{count} output slots")
    dim = dim % src.dim() if src.dim() > 0 else 0
    if dim != 0:
        # contiguous, as PyG's result is (callers .view() it)
        return scatter(src.movedim(dim, 0), index, dim_size, reduce, mask=mask).movedim(0, dim).contiguous()
    if mask is not None:
        return _masked_scatter(src, index, dim_size, reduce, mask)
    shape = (dim_size,) + tuple(src.shape[1:])
    if not isinstance(dim_size, torch.SymInt) and dim_size == 1 and reduce in ("sum", "mean"):
        # One slot (every valid index is 0): a plain reduction. Also sidesteps an Inductor
        # CPU codegen assertion on index_add into a one-row buffer (a traced 1-node graph).
        out = src.sum(0, keepdim=True)
        if reduce == "sum":
            return out
        # The row count as a tensor: a Python max over the size would not survive jit.trace.
        count = torch.ones_like(index, dtype=src.dtype).sum().clamp(min=1)
        return out / count
    if reduce == "sum":
        return index_add_fp32(shape, index, src)
    if reduce == "mean":  # sum and count in fp32 for half precision, as index_add_fp32
        values = src.float() if src.dtype in HALF_DTYPES else src
        out = values.new_zeros(shape).index_add(0, index, values)
        count = values.new_zeros(dim_size).index_add(0, index, values.new_ones(index.shape))
        return (out / count.clamp(min=1).view((-1,) + (1,) * (src.dim() - 1))).to(src.dtype)
    expanded = index.view((-1,) + (1,) * (src.dim() - 1)).expand_as(src)
    op = "amax" if reduce == "max" else "amin"
    # include_self=False: slots that receive values ignore the zero they start from,
    # and slots that receive none keep it.
    return src.new_zeros(shape).scatter_reduce(0, expanded, src, op, include_self=False)


def _masked_scatter(src: Tensor, index: Tensor, dim_size, reduce: str, mask: Tensor) -> Tensor:
    # Masked-out entries go to a sink slot past the end, which is then dropped.
    sink = torch.where(mask, index, torch.full_like(index, dim_size))
    return scatter(src, sink, dim_size + 1, reduce)[:dim_size]


def segment_softmax(src: Tensor, index: Tensor, num_segments: Union[int, torch.SymInt],
                    dim: int = 0) -> Tensor:
    r"""Softmax of ``src`` within groups of equal ``index`` (e.g. over a node's incoming edges).

    .. math::
        \mathrm{out}_e = \frac{\exp(s_e - m_{i})}{\sum_{e' : \mathrm{index}_{e'} = i} \exp(s_{e'} - m_i)},
        \quad m_i = \max_{e : \mathrm{index}_e = i} s_e

    ``src`` is ``[E, *]`` (groups along ``dim``); entries equal to ``-inf`` get weight 0.
    """
    dim = dim % src.dim()
    if dim != 0:
        return segment_softmax(src.movedim(dim, 0), index, num_segments).movedim(0, dim)
    if src.size(0) != index.size(0):
        raise ValueError(
            f"segment_softmax: src has {src.size(0)} rows but index has {index.size(0)} entries"
        )
    src_max = scatter(src.detach(), index, num_segments, "max")
    out = (src - src_max.index_select(0, index)).exp()
    out_sum = scatter(out, index, num_segments, "sum") + 1e-16
    return out / out_sum.index_select(0, index)
