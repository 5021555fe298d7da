"""Edge-list structure with PyG's semantics: degrees, coalescing, undirected graphs.

``coalesce`` and ``to_undirected`` de-duplicate, so their output size depends on the data:
they prepare data, outside compiled code (:mod:`gnnx.transforms` wraps them for ``Graph``).
"""
from __future__ import annotations

from typing import List, Optional, Tuple, Union

import torch
from torch import Tensor

from gnnx import ops
from gnnx.utils.num_nodes import maybe_num_nodes

FLOWS = ("source_to_target", "target_to_source")


def check_flow(flow: str) -> None:
    """An error naming ``flow`` unless it is one of PyG's two message directions."""
    if flow not in FLOWS:
        raise ValueError(f"flow must be one of {FLOWS}, got {flow!r}")

_MISSING = "???"  # PyG's marker: edge_attr not given, so only edge_index is returned
Attr = Union[Tensor, None, List[Tensor], str]


def check_add_self_loops(module: torch.nn.Module, edge_types: List[Tuple[str, str, str]],
                         name: Optional[str] = None) -> None:
    """PyG's check: a layer that adds self loops (``add_self_loops=True``) must not serve a
    relation between two node types, where a node's "self" is in the other type."""
    bipartite = [edge_type for edge_type in edge_types if edge_type[0] != edge_type[-1]]
    if bipartite and getattr(module, "add_self_loops", False) is True:
        raise ValueError(f"'add_self_loops' attribute set to 'True' on module '{name or module}' for use with edge "
                         f"type(s) '{bipartite}'. This will lead to incorrect message passing results.")


def degree(index: Tensor, num_nodes: Optional[int] = None, dtype: Optional[torch.dtype] = None) -> Tensor:
    """How often each node appears in ``index`` (e.g. ``edge_index[1]``: in-degrees)."""
    count = maybe_num_nodes(index, num_nodes)
    out = torch.zeros(count, dtype=dtype, device=index.device)
    return out.scatter_add_(0, index, torch.ones(index.numel(), dtype=out.dtype, device=index.device))


def _stacked(edge_index: Union[Tensor, Tuple[Tensor, Tensor]]) -> Tuple[Tensor, bool]:
    """``edge_index`` as ``[2, E]``, and whether it came as PyG's other form, a ``(row, col)``
    pair, which the utilities then hand back as a pair."""
    if isinstance(edge_index, (tuple, list)):
        return torch.stack(list(edge_index)), True
    return edge_index, False


def _as_given(out: Tensor, pair: bool) -> Union[Tensor, Tuple[Tensor, Tensor]]:
    return (out[0], out[1]) if pair else out


def coalesce(edge_index: Union[Tensor, Tuple[Tensor, Tensor]], edge_attr: Attr = _MISSING,
             num_nodes: Optional[int] = None, reduce: str = "sum", is_sorted: bool = False, sort_by_row: bool = True):
    """Edges sorted (by source, then destination; or the reverse with ``sort_by_row=False``)
    with duplicates merged, their attributes reduced with ``reduce``. Returns ``edge_index``
    alone when ``edge_attr`` is not given, else ``(edge_index, edge_attr)`` (a list stays a
    list). ``edge_index`` may be a ``(row, col)`` pair, as in PyG; the result is one then."""
    edge_index, pair = _stacked(edge_index)
    count = maybe_num_nodes(edge_index, num_nodes)
    first, second = (edge_index[0], edge_index[1]) if sort_by_row else (edge_index[1], edge_index[0])
    key = first * count + second
    key, inverse = torch.unique(key, sorted=True, return_inverse=True)
    major, minor = key // max(count, 1), key % max(count, 1)
    out = _as_given(torch.stack([major, minor] if sort_by_row else [minor, major]).to(edge_index.dtype), pair)
    if isinstance(edge_attr, str):
        return out

    def merged(attr: Optional[Tensor]) -> Optional[Tensor]:
        if attr is None:
            return None
        return ops.scatter(attr, inverse, dim_size=key.numel(), reduce="sum" if reduce == "add" else reduce)

    if isinstance(edge_attr, (list, tuple)):
        return out, [merged(a) for a in edge_attr]
    return out, merged(edge_attr)


def to_undirected(edge_index: Tensor, edge_attr: Attr = _MISSING, num_nodes: Optional[int] = None,
                  reduce: str = "add"):
    """Every edge in both directions, coalesced (attributes of merged edges reduced)."""
    both = torch.cat([edge_index, edge_index.flip(0)], dim=1)
    if isinstance(edge_attr, str):
        return coalesce(both, num_nodes=num_nodes, reduce=reduce)
    if isinstance(edge_attr, (list, tuple)):
        attr = [torch.cat([a, a], dim=0) for a in edge_attr]
    else:
        attr = None if edge_attr is None else torch.cat([edge_attr, edge_attr], dim=0)
    return coalesce(both, attr, num_nodes, reduce)


def is_undirected(edge_index: Tensor, edge_attr: Union[Tensor, None, List[Tensor]] = None,
                  num_nodes: Optional[int] = None) -> bool:
    """Whether every edge ``(i, j)`` has its reverse ``(j, i)`` (with equal attributes)."""
    count = maybe_num_nodes(edge_index, num_nodes)
    attrs = [] if edge_attr is None else list(edge_attr) if isinstance(edge_attr, (list, tuple)) else [edge_attr]
    forward, forward_attrs = coalesce(edge_index, attrs, count, sort_by_row=True)
    backward, backward_attrs = coalesce(edge_index.flip(0), attrs, count, sort_by_row=True)
    if not torch.equal(forward, backward):
        return False
    return all(torch.equal(a, b) for a, b in zip(forward_attrs, backward_attrs))


def sort_edge_index(edge_index: Union[Tensor, Tuple[Tensor, Tensor]], edge_attr: Attr = _MISSING,
                    num_nodes: Optional[int] = None, sort_by_row: bool = True):
    """Edges sorted by source (or destination), duplicates kept; stable. ``edge_index`` may
    be a ``(row, col)`` pair, as in PyG; the result is one then."""
    edge_index, pair = _stacked(edge_index)
    count = maybe_num_nodes(edge_index, num_nodes)
    key = edge_index[0] * count + edge_index[1] if sort_by_row else edge_index[1] * count + edge_index[0]
    perm = torch.argsort(key, stable=True)
    out = _as_given(edge_index[:, perm], pair)
    if isinstance(edge_attr, str):
        return out
    if isinstance(edge_attr, (list, tuple)):
        return out, [a[perm] for a in edge_attr]
    return out, None if edge_attr is None else edge_attr[perm]

