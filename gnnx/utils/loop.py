"""Self loops with PyG's semantics (``torch_geometric.utils.loop``).

``remove_self_loops`` and ``add_remaining_self_loops`` return data-dependent shapes (they
drop edges): use them on data, outside compiled code. ``remove_self_loops``, ``add_self_loops``
and ``add_remaining_self_loops`` also take a ``torch.sparse`` matrix, as PyG's. The sync-free forms that layers use
inside a compiled forward (old loops weighted 0 instead of removed) are in
:mod:`gnnx.structure`.
"""
from __future__ import annotations

import functools
import inspect
from typing import Any, Callable, Optional, Tuple, Union

import torch
from torch import Tensor

from gnnx import ops
from gnnx.utils.num_nodes import maybe_num_nodes
from gnnx.utils.sparse import to_edge_index, to_torch_sparse_tensor


def _on_sparse_matrices(fn: Callable) -> Callable:
    """``fn`` also for a ``torch.sparse`` adjacency (COO, CSR or CSC), as PyG's loop utilities:
    its entries become edges and values, ``fn`` runs on them, and the result is a matrix of the
    same layout and size (duplicate entries summed), returned as ``(matrix, None)``."""

    @functools.wraps(fn)
    def wrapper(edge_index: Tensor, edge_attr: Optional[Tensor] = None, *args: Any, **kwargs: Any):
        if not isinstance(edge_index, Tensor) or edge_index.layout == torch.strided:
            return fn(edge_index, edge_attr, *args, **kwargs)
        size = tuple(edge_index.shape[:2])
        if "num_nodes" in inspect.signature(fn).parameters:
            kwargs.setdefault("num_nodes", min(size))  # loops on the diagonal of a non-square one too
        edges, values = fn(*to_edge_index(edge_index), *args, **kwargs)
        return to_torch_sparse_tensor(edges, values, size, layout=edge_index.layout), None

    return wrapper


def contains_self_loops(edge_index: Tensor) -> bool:
    """Whether any edge joins a node to itself (one host sync)."""
    return bool((edge_index[0] == edge_index[1]).any())


@_on_sparse_matrices
def remove_self_loops(edge_index: Tensor, edge_attr: Optional[Tensor] = None) -> Tuple[Tensor, Optional[Tensor]]:
    """``edge_index`` (and ``edge_attr``) without the edges ``i -> i``. Data-dependent shape."""
    keep = edge_index[0] != edge_index[1]
    return edge_index[:, keep], None if edge_attr is None else edge_attr[keep]


def _loop_values(edge_index: Tensor, edge_attr: Tensor, fill_value, num_loops: int) -> Tensor:
    """Attributes of the new loops: ``fill_value`` (a number, a tensor, or a reduction of
    each node's incoming attributes: ``"add"``, ``"mean"``, ``"max"``, ...), as PyG."""
    shape = (num_loops,) + tuple(edge_attr.shape[1:])
    if fill_value is None:
        return edge_attr.new_ones(shape)
    if isinstance(fill_value, (int, float)):
        return edge_attr.new_full(shape, fill_value)
    if isinstance(fill_value, Tensor):
        value = fill_value.to(edge_attr.device, edge_attr.dtype)
        if edge_attr.dim() != value.dim():
            value = value.unsqueeze(0)
        return value.expand(shape).clone()
    if isinstance(fill_value, str):
        reduce = "sum" if fill_value == "add" else fill_value
        return ops.scatter(edge_attr, edge_index[1], dim_size=num_loops, reduce=reduce)
    raise ValueError(f"fill_value must be None, a number, a tensor or a reduction name, got {fill_value!r}")


@_on_sparse_matrices
def add_self_loops(edge_index: Tensor, edge_attr: Optional[Tensor] = None,
                   fill_value: Union[float, Tensor, str, None] = None,
                   num_nodes: Union[int, Tuple[int, int], None] = None) -> Tuple[Tensor, Optional[Tensor]]:
    """Append a loop ``i -> i`` for every node (existing loops stay); for a bipartite size
    ``(N_src, N_dst)`` loops up to ``min`` of them. Static shape: ``E + N``."""
    if isinstance(num_nodes, (tuple, list)):
        count = min(num_nodes)
    else:
        count = maybe_num_nodes(edge_index, num_nodes)
    loop = torch.arange(count, device=edge_index.device, dtype=edge_index.dtype)
    full = torch.cat([edge_index, loop.repeat(2, 1)], dim=1)
    if edge_attr is None:
        return full, None
    return full, torch.cat([edge_attr, _loop_values(edge_index, edge_attr, fill_value, count)], dim=0)


@_on_sparse_matrices
def add_remaining_self_loops(edge_index: Tensor, edge_attr: Optional[Tensor] = None,
                             fill_value: Union[float, Tensor, str, None] = None,
                             num_nodes: Optional[int] = None) -> Tuple[Tensor, Optional[Tensor]]:
    """One loop per node: existing loops are dropped and re-added at the end, keeping their
    attribute; nodes without one get ``fill_value``. Data-dependent shape (see
    :func:`gnnx.structure.add_remaining_self_loops` for the static form)."""
    count = maybe_num_nodes(edge_index, num_nodes)
    keep = edge_index[0] != edge_index[1]
    loop = torch.arange(count, device=edge_index.device, dtype=edge_index.dtype)
    out = torch.cat([edge_index[:, keep], loop.repeat(2, 1)], dim=1)
    if edge_attr is None:
        return out, None
    loop_attr = _loop_values(edge_index, edge_attr, fill_value, count)
    old = ~keep
    loop_attr[edge_index[0][old]] = edge_attr[old]
    return out, torch.cat([edge_attr[keep], loop_attr], dim=0)


def segregate_self_loops(edge_index: Tensor, edge_attr: Optional[Tensor] = None
                         ) -> Tuple[Tensor, Optional[Tensor], Tensor, Optional[Tensor]]:
    """``(edges without loops, their attrs, the loops, their attrs)``. Data-dependent shapes."""
    keep = edge_index[0] != edge_index[1]
    loops = ~keep
    return (edge_index[:, keep], None if edge_attr is None else edge_attr[keep],
            edge_index[:, loops], None if edge_attr is None else edge_attr[loops])


def get_self_loop_attr(edge_index: Tensor, edge_attr: Optional[Tensor] = None,
                       num_nodes: Optional[int] = None) -> Tensor:
    """Per node, the attribute of its self loop (1 without ``edge_attr``), 0 where it has
    none."""
    is_loop = edge_index[0] == edge_index[1]
    loop_index = edge_index[0][is_loop]
    loop_attr = edge_attr[is_loop] if edge_attr is not None else torch.ones(loop_index.numel(),
                                                                              device=edge_index.device)
    count = maybe_num_nodes(edge_index, num_nodes)
    out = loop_attr.new_zeros((count,) + loop_attr.size()[1:])
    out[loop_index] = loop_attr
    return out
