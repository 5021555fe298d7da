r"""PyG's point-set functions under PyG's names and return conventions, for ported
point-cloud code (PointNet++, DGCNN): ``torch_geometric.nn``'s ``knn``, ``knn_graph``,
``radius``, ``radius_graph``, ``fps``, ``nearest``, ``voxel_grid`` and ``knn_interpolate``.

They return what PyG's do: the edges that exist, a shape that depends on the data (a
graph with fewer points than ``k``, neighbours outside ``r``), so they read it on the host.
Compiled and exported models call :mod:`gnnx.ops`' versions with static shapes and a
mask instead (``gnnx.ops.knn(..., static=True)``, as :class:`~gnnx.nn.DynamicEdgeConv`
does). The searches are gnnx's (exact; grid on the CPU, tiled Triton kernel on CUDA), where
PyG's need ``torch-cluster`` or ``pyg-lib``, which have no wheels for current torch. Two
differences on purpose: ``radius`` and ``radius_graph`` keep the *nearest*
``max_num_neighbors`` points within ``r`` (``torch-cluster`` keeps the first ones it meets,
which depends on the device), and ties go to the smaller index. ``num_workers`` and
``batch_size`` are accepted and not needed.
"""
from __future__ import annotations

from typing import List, Optional, Sequence, Union

import torch
from torch import Tensor

from gnnx import ops
from gnnx.ops.dispatch import is_tracing
from gnnx.ops.fps import fps as _fps
from gnnx.ops.scatter import scatter
from gnnx.utils.edges import check_flow


def knn(x: Tensor, y: Tensor, k: int, batch_x: Optional[Tensor] = None, batch_y: Optional[Tensor] = None,
        cosine: bool = False, num_workers: int = 1, batch_size: Optional[int] = None) -> Tensor:
    """For each point of ``y`` its ``k`` nearest points of ``x`` in the same graph (fewer
    where the graph has fewer): ``[2, E]``, row 0 indexes ``y``, row 1 ``x``."""
    return ops.knn(x, y, k, batch_x, batch_y, cosine=cosine, static=False)


def approx_knn(x: Tensor, y: Tensor, k: int, batch_x: Optional[Tensor] = None,
               batch_y: Optional[Tensor] = None) -> Tensor:
    """PyG's approximate :func:`knn` (pynndescent there), answered exactly: the neighbours an
    ideal approximate index would return, with no extra dependency (``x``, ``y`` may be 1-D)."""
    return knn(x.view(-1, 1) if x.dim() == 1 else x, y.view(-1, 1) if y.dim() == 1 else y, k, batch_x, batch_y)


def approx_knn_graph(x: Tensor, k: int, batch: Optional[Tensor] = None, loop: bool = False,
                     flow: str = "source_to_target") -> Tensor:
    """PyG's approximate :func:`knn_graph`, answered exactly (:func:`approx_knn`)."""
    return knn_graph(x.view(-1, 1) if x.dim() == 1 else x, k, batch, loop=loop, flow=flow)


def knn_graph(x: Tensor, k: int, batch: Optional[Tensor] = None, loop: bool = False,
              flow: str = "source_to_target", cosine: bool = False, num_workers: int = 1,
              batch_size: Optional[int] = None) -> Tensor:
    """Edges from each point's ``k`` nearest neighbours in its graph: ``[2, E]``."""
    check_flow(flow)
    return ops.knn_graph(x, k, batch, loop=loop, flow=flow, cosine=cosine, static=False)


def radius(x: Tensor, y: Tensor, r: float, batch_x: Optional[Tensor] = None, batch_y: Optional[Tensor] = None,
           max_num_neighbors: int = 32, num_workers: int = 1, batch_size: Optional[int] = None) -> Tensor:
    """For each point of ``y`` the points of ``x`` within ``r`` in the same graph (the
    nearest ``max_num_neighbors``): ``[2, E]``, row 0 indexes ``y``, row 1 ``x``."""
    return ops.radius(x, y, r, batch_x, batch_y, max_num_neighbors=max_num_neighbors, static=False)


def radius_graph(x: Tensor, r: float, batch: Optional[Tensor] = None, loop: bool = False,
                 max_num_neighbors: int = 32, flow: str = "source_to_target", num_workers: int = 1,
                 batch_size: Optional[int] = None) -> Tensor:
    """Edges to each point from the points within ``r`` in its graph (the nearest
    ``max_num_neighbors``): ``[2, E]``."""
    check_flow(flow)
    return ops.radius_graph(x, r, batch, loop=loop, max_num_neighbors=max_num_neighbors, flow=flow, static=False)


def fps(x: Tensor, batch: Optional[Tensor] = None, ratio: float = 0.5, random_start: bool = True,
        batch_size: Optional[int] = None) -> Tensor:
    """Farthest point sampling: per graph ``ceil(ratio * n)`` point indices
    (:mod:`gnnx.ops.fps`)."""
    return _fps(x, batch, ratio, random_start)


def nearest(x: Tensor, y: Tensor, batch_x: Optional[Tensor] = None, batch_y: Optional[Tensor] = None) -> Tensor:
    """For each point of ``x`` the index of its nearest point of ``y`` in the same graph
    (a cluster assignment): ``[N_x]``."""
    (query, found), valid = ops.knn(y, x, 1, batch_y, batch_x, static=True)
    if not is_tracing() and not bool(valid.all()):  # eager on any device: a sync, as the edge lists here
        missing = int((~valid).nonzero()[0])
        raise ValueError(f"nearest: point {missing} of x has no point of y in its graph")
    return found


def knn_interpolate(x: Tensor, pos_x: Tensor, pos_y: Tensor, batch_x: Optional[Tensor] = None,
                    batch_y: Optional[Tensor] = None, k: int = 3, num_workers: int = 1) -> Tensor:
    r"""PointNet++'s k-NN interpolation of features at new points,

    .. math::
        \mathbf{f}(y) = \frac{\sum_{i=1}^k w(x_i)\, \mathbf{f}(x_i)}{\sum_{i=1}^k w(x_i)},
        \qquad w(x_i) = \frac{1}{\max(d(\mathbf{p}(y), \mathbf{p}(x_i))^2, 10^{-16})},

    over the ``k`` nearest ``x_i`` of each ``y`` in its graph. Static shapes (the masked
    slots of a graph with fewer than ``k`` points weigh nothing), so it compiles and exports;
    gradients reach ``x``, not the positions (as PyG's)."""
    with torch.no_grad():
        (y_index, x_index), valid = ops.knn(pos_x, pos_y, k, batch_x, batch_y, static=True)
        squared = (pos_x.index_select(0, x_index) - pos_y.index_select(0, y_index)).square().sum(-1, keepdim=True)
        weights = torch.where(valid.unsqueeze(1), 1.0 / squared.clamp(min=1e-16), torch.zeros_like(squared)).to(x.dtype)
    num_y = pos_y.size(0)
    total = scatter(x.index_select(0, x_index) * weights, y_index, num_y, "sum")
    return total / scatter(weights, y_index, num_y, "sum")


def _per_dimension(value: Union[float, Sequence[float], Tensor], dims: int, like: Tensor) -> Tensor:
    """One value per dimension (a shorter list repeats its last entry, as PyG's ``repeat``)."""
    values: List[float] = [float(v) for v in (value.flatten().tolist() if isinstance(value, Tensor) else
                                              value if isinstance(value, (list, tuple)) else [value])]
    values = (values + values[-1:] * dims)[:dims]
    return torch.tensor(values, dtype=like.dtype, device=like.device)


def voxel_grid(pos: Tensor, size: Union[float, Sequence[float], Tensor], batch: Optional[Tensor] = None,
               start: Optional[Union[float, Sequence[float], Tensor]] = None,
               end: Optional[Union[float, Sequence[float], Tensor]] = None) -> Tensor:
    r"""The voxel of each point in a grid of cells of side ``size`` (a number or one per
    dimension) from ``start`` to ``end`` (default: the points' extent), the graph of
    ``batch`` as one more, slowest axis:

    .. math::
        c_i = \sum_d \Big\lfloor \frac{p_{i,d} - s_d}{h_d} \Big\rfloor \prod_{d' < d} n_{d'}, \qquad
        n_d = \Big\lfloor \frac{e_d - s_d}{h_d} \Big\rfloor + 1

    (``torch-cluster``'s ``grid_cluster``, which PyG's needs). Ids need not be consecutive:
    :func:`~gnnx.nn.pool.max_pool_x` / ``avg_pool_x`` renumber them. Plain torch, static shape."""
    pos = pos.unsqueeze(-1) if pos.dim() == 1 else pos
    dims = pos.size(1)
    if batch is None:
        batch = torch.zeros(pos.size(0), dtype=torch.long, device=pos.device)
    coords = torch.cat([pos, batch.view(-1, 1).to(pos.dtype)], dim=-1)
    cell = torch.cat([_per_dimension(size, dims, pos), pos.new_ones(1)])
    low = coords.min(0).values if start is None else torch.cat([_per_dimension(start, dims, pos), pos.new_zeros(1)])
    high = coords.max(0).values if end is None else torch.cat([_per_dimension(end, dims, pos),
                                                                batch.max().to(pos.dtype).view(1)])
    cells = ((high - low) / cell).long() + 1
    stride = torch.cat([cells.new_ones(1), cells.cumprod(0)[:-1]])
    return (((coords - low) / cell).long() * stride).sum(1)
