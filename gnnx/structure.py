r"""Sync-free structure functions: self loops and symmetric GCN normalisation.

These run inside a traced forward (``GCNConv(normalize=True)``) as well as once on data
(:class:`gnnx.transforms.GCNNorm`), so they keep static shapes: instead of removing the
existing self loops (a data-dependent shape), :func:`add_remaining_self_loops` gives
them weight 0 and appends one loop per node carrying the old loop's weight. A
zero-weight edge adds nothing to a sum, so the result equals PyG's.
"""
from __future__ import annotations

from typing import Optional, Tuple, Union

import torch
from torch import Tensor

from gnnx import ops

NumNodes = Union[int, torch.SymInt]


def self_loop_index(num_nodes: NumNodes, device: torch.device) -> Tensor:
    loop = torch.arange(num_nodes, device=device)
    return torch.stack([loop, loop])


def add_self_loops(
    edge_index: Tensor, edge_weight: Optional[Tensor], fill_value: float, num_nodes: NumNodes
) -> Tuple[Tensor, Optional[Tensor]]:
    """Append a loop ``i -> i`` for every node (existing loops are kept as they are)."""
    edge_index = torch.cat([edge_index, self_loop_index(num_nodes, edge_index.device)], 1)
    if edge_weight is not None:
        fill = edge_weight.new_full((num_nodes,) + tuple(edge_weight.shape[1:]), fill_value)
        edge_weight = torch.cat([edge_weight, fill], 0)
    return edge_index, edge_weight


def add_remaining_self_loops(
    edge_index: Tensor, edge_weight: Optional[Tensor], fill_value: float, num_nodes: NumNodes
) -> Tuple[Tensor, Tensor]:
    """Exactly one weighted loop per node, equal in effect to PyG's function of this name.

    Returns ``E + num_nodes`` edges: the input edges (former self loops now weighted 0)
    followed by one loop per node, weighted with the node's existing loop weight or
    ``fill_value`` if it had none.
    """
    src, dst = edge_index[0], edge_index[1]
    if edge_weight is None:
        edge_weight = torch.ones(src.shape, device=src.device)
    is_loop = src == dst
    # Slot num_nodes is a sink for the edges that are not loops.
    slot = torch.where(is_loop, src, torch.full_like(src, num_nodes))
    loop_weight = edge_weight.new_full((num_nodes + 1,), fill_value).index_put((slot,), edge_weight)
    edge_weight = torch.where(is_loop, torch.zeros_like(edge_weight), edge_weight)
    edge_index = torch.cat([edge_index, self_loop_index(num_nodes, src.device)], 1)
    return edge_index, torch.cat([edge_weight, loop_weight[:num_nodes]], 0)


def gcn_norm(
    edge_index: Tensor,
    edge_weight: Optional[Tensor],
    num_nodes: NumNodes,
    improved: bool = False,
    add_self_loops: bool = True,
    flow: str = "source_to_target",
    dtype: Optional[torch.dtype] = None,
) -> Tuple[Tensor, Tensor]:
    r"""Symmetric normalisation :math:`\hat{D}^{-1/2} \hat{A} \hat{D}^{-1/2}` as edge weights.

    :math:`\hat{A} = A + I` (or :math:`A + 2I` when ``improved``), :math:`\hat{D}` its
    weighted in-degree. As in PyG 2.8, ``improved`` takes effect only when an ``edge_weight``
    is given (unweighted graphs get loops of weight 1), so ported models give PyG's numbers.
    """
    improved = improved and edge_weight is not None
    if edge_weight is None:
        edge_weight = torch.ones(edge_index.size(1), dtype=dtype, device=edge_index.device)
    elif dtype is not None:
        edge_weight = edge_weight.to(dtype)
    if add_self_loops:
        edge_index, edge_weight = add_remaining_self_loops(
            edge_index, edge_weight, 2.0 if improved else 1.0, num_nodes
        )
    row, col = edge_index[0], edge_index[1]
    deg = ops.scatter(edge_weight, col if flow == "source_to_target" else row, num_nodes, "sum")
    deg_inv_sqrt = deg.pow(-0.5)
    deg_inv_sqrt = torch.where(torch.isinf(deg_inv_sqrt), torch.zeros_like(deg_inv_sqrt), deg_inv_sqrt)
    return edge_index, deg_inv_sqrt[row] * edge_weight * deg_inv_sqrt[col]


def _loop_attr(edge_attr: Tensor, dst: Tensor, is_loop: Tensor, num_nodes, fill_value) -> Tensor:
    """Features of the appended loops: a constant, or a reduction of each node's incoming
    non-loop edge features (PyG's ``fill_value`` semantics; nodes with none get 0)."""
    if not isinstance(fill_value, str):
        return edge_attr.new_full((num_nodes,) + tuple(edge_attr.shape[1:]), float(fill_value))
    keep = (~is_loop).view((-1,) + (1,) * (edge_attr.dim() - 1))
    reduce = ops.resolve_reduce(fill_value)
    if reduce in ("sum", "mean"):
        total = ops.scatter(edge_attr * keep, dst, num_nodes, "sum")
        if reduce == "sum":
            return total
        count = ops.scatter(keep.to(edge_attr.dtype).view(-1), dst, num_nodes, "sum")
        return total / count.clamp(min=1).view((-1,) + (1,) * (edge_attr.dim() - 1))
    sentinel = float("-inf") if reduce == "max" else float("inf")
    out = ops.scatter(torch.where(keep, edge_attr, torch.full_like(edge_attr, sentinel)), dst, num_nodes, reduce)
    return torch.where(torch.isinf(out), torch.zeros_like(out), out)


def with_fresh_self_loops(
    edge_index: Tensor, edge_attr: Optional[Tensor], num_nodes, fill_value
) -> Tuple[Tensor, Optional[Tensor], Tensor]:
    """Append one loop per node; return ``(edge_index, edge_attr, stale)`` where ``stale``
    marks the pre-existing loops, whose attention must be masked out."""
    src, dst = edge_index[0], edge_index[1]
    is_loop = src == dst
    if edge_attr is not None:
        loops = _loop_attr(edge_attr, dst, is_loop, num_nodes, fill_value)
        edge_attr = torch.cat([edge_attr, loops], 0)
    edge_index = torch.cat([edge_index, self_loop_index(num_nodes, src.device)], 1)
    stale = torch.cat([is_loop, torch.zeros(num_nodes, dtype=torch.bool, device=src.device)])
    return edge_index, edge_attr, stale


def without_stale_loops(edge_index: Tensor, alpha: Tensor, stale: Optional[Tensor]) -> Tuple[Tensor, Tensor]:
    """``(edge_index, alpha)`` over PyG's remove-then-add edge list, for a layer's
    ``return_attention_weights``: the old loops that :func:`with_fresh_self_loops` kept (weight
    0) are dropped, which leaves PyG's edges in PyG's order. Eager calls only (the result's size
    depends on the data: one host sync, as in PyG); traced calls return them with weight 0."""
    if stale is None or ops.dispatch.is_tracing() or torch.jit.is_tracing():
        return edge_index, alpha
    keep = ~stale
    return edge_index[:, keep], alpha[keep]


def memoised_fresh_self_loops(graph, num_nodes) -> Tuple[Tensor, Tensor]:
    """``(edge_index, stale)`` of :func:`with_fresh_self_loops` for a prepared
    :class:`~gnnx.Graph`, computed once per graph and shared by the layers that attend over
    loops (GAT, AGNN)."""
    looped, _, stale = graph.memo("fresh_self_loops", lambda: with_fresh_self_loops(
        graph.edge_index, None, num_nodes, 0.0))
    return looped, stale
