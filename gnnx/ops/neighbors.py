r"""Graph construction from point sets: k nearest neighbours and radius neighbourhoods.

Plain torch, batch-aware (points connect only within their own graph, given ``batch``),
with static output shapes so the ops export with a dynamic number of points:

* :func:`knn_graph` gives exactly ``N * k`` edges. A point whose graph has too few other
  points gets self loops in the missing slots (documented, so ``N * k`` stays static).
* :func:`radius_graph` gives ``N * max_num_neighbors`` candidate edges and a mask of the
  ones within ``r``; the masked-out slots are self loops. With ``static=False`` it returns
  only the valid edges (a data-dependent shape, as PyG/torch_cluster do).
* :func:`knn` and :func:`radius` search a second set: for each point of ``y``, its
  neighbours in ``x`` (same graph). They return ``(edge_index [2, N_y * k], mask)``; row 0
  indexes ``y``, row 1 ``x``, as in ``torch_cluster``; masked-out slots point at ``x[0]``.
  ``static=False`` returns the valid edges only.

Where the search runs: on CUDA, the tiled Triton kernel of :mod:`gnnx.ops.triton_knn`
(eager, compiled and exported calls; ``O(N k)`` memory, boxes of Morton-ordered tiles
pruned); eager CPU searches of 1-4-D points take the grid of :mod:`gnnx.ops.grid`.
Elsewhere (CPU traced calls, wide features) distances come from one matrix product,
``|a|^2 + |b|^2 - 2 a.b`` (``torch.cdist`` adds a size guard under export), or ``1 - cos``
with ``cosine=True``: traced calls build the ``N_y x N_x`` matrix in one piece, eager calls
go through queries in blocks of :data:`BLOCK_ELEMENTS` distances.
Graph edges follow PyG's ``flow="source_to_target"``: ``edge_index[0]`` are the
neighbours, ``edge_index[1]`` the centre points.
"""
from __future__ import annotations

import operator
from typing import Optional, Tuple, Union

import torch
from torch import Tensor

from gnnx.ops import grid
from gnnx.ops.dispatch import can_check_on_host, cuda_knn_kernels, is_tracing

BLOCK_ELEMENTS = 1 << 24  # distances per block in eager mode (64 MiB of float32)


def _distances(x: Tensor, y: Tensor, batch_x: Optional[Tensor], batch_y: Optional[Tensor], cosine: bool,
               exclude_self_offset: Optional[int]) -> Tensor:
    """``[N_y, N_x]`` squared Euclidean (or cosine) distances; other graphs and, for a graph
    of ``x`` with itself, the diagonal (``exclude_self_offset`` = first row's index) at ``inf``."""
    if cosine:
        dist = 1.0 - torch.nn.functional.normalize(y, dim=-1) @ torch.nn.functional.normalize(x, dim=-1).t()
    else:
        dist = ((y * y).sum(-1).unsqueeze(1) + (x * x).sum(-1).unsqueeze(0) - 2.0 * y @ x.t()).clamp(min=0.0)
    if batch_x is not None:
        dist = dist.masked_fill(batch_y.unsqueeze(1) != batch_x.unsqueeze(0), float("inf"))
    if exclude_self_offset is not None:
        rows = torch.arange(y.size(0), device=x.device) + exclude_self_offset
        dist = dist.masked_fill(rows.unsqueeze(1) == torch.arange(x.size(0), device=x.device), float("inf"))
    return dist


def _nearest(x: Tensor, y: Tensor, k: int, batch_x: Optional[Tensor], batch_y: Optional[Tensor], cosine: bool,
             same_set_no_loop: bool, radius: Optional[float] = None) -> Tuple[Tensor, Tensor]:
    """``(values, index)`` of the ``k`` nearest ``x`` of every ``y``, ``[N_y, k]`` each, nearest first.

    Eager Euclidean searches in 1-4 dimensions on large inputs go through the grid
    (:mod:`gnnx.ops.grid`, ``O(N k)``; on CUDA only without the tiled kernel,
    :func:`gnnx.ops.grid.min_pairs`); on CUDA the rest (traced calls too) run the tiled
    Triton kernel (:mod:`gnnx.ops.triton_knn`, ``O(N k)`` memory); elsewhere all pairs are
    compared by a matrix product."""
    eager = not is_tracing() and not torch.jit.is_tracing()
    if eager and grid.usable(x, y, k, cosine):
        return grid.grid_nearest(x, y, k, batch_x, batch_y, same_set_no_loop, _brute_rows, radius)
    tiles = cuda_knn_kernels()
    if tiles is not None and tiles.usable(x, k) and not torch.jit.is_tracing():
        return tiles.nearest(x, y, k, batch_x, batch_y, cosine, same_set_no_loop, radius)
    if (eager and x.device.type == "cpu" and batch_x is not None and batch_y is not None
            and x.size(0) * y.size(0) > grid.min_pairs(False)):
        # each graph against its own points: all pairs of a batch of G graphs compare G times the
        # pairs that count (16 clouds of 512 in 64-D: 0.78 -> 0.035 s; 5,000 graphs of 20 in 16-D:
        # 108 -> 0.57 s, bench/results/cpu/knn_highdim_cpu.md). The CPU only: on a GPU the loop's
        # host syncs cost more (H200: 16 clouds 9.2 ms against one masked product's 3.8)
        own = torch.arange(y.size(0), device=y.device) if same_set_no_loop else None
        return _per_graph(lambda xs, ys, kk, mine: _all_pairs(xs, ys, kk, None, None, cosine, mine is not None),
                          x, y, k, batch_x, batch_y, own)
    return _all_pairs(x, y, k, batch_x, batch_y, cosine, same_set_no_loop, radius is not None)


def _brute_rows(x: Tensor, y: Tensor, k: int, batch_x: Optional[Tensor], batch_y: Optional[Tensor],
                own: Optional[Tensor]) -> Tuple[Tensor, Tensor]:
    """All-pairs search for the queries the grid leaves (``own``: each query's own index in
    ``x``, excluded). With graph ids, each graph's queries against its own points only (the
    grid leaves a few queries in sparse regions; each is searched against its cloud, not
    against every cloud's points)."""
    if batch_x is not None and batch_y is not None:
        return _per_graph(lambda xs, ys, kk, mine: _brute_rows(xs, ys, kk, None, None, mine), x, y, k, batch_x,
                          batch_y, own)
    values, index = [], []
    rows = max(1, BLOCK_ELEMENTS // max(1, x.size(0) * x.size(1)))
    coordinates = x.t().contiguous()
    for start in range(0, y.size(0), rows):
        part = slice(start, start + rows)
        dist = grid.squared_distances(coordinates, y[part])  # as the grid's: the same answer on either path
        if own is not None:
            dist = dist.scatter(1, own[part].view(-1, 1), float("inf"))
        v, i = grid.smallest_with_index_ties(dist.float().abs(), torch.arange(x.size(0), device=x.device), k)  # abs: no -0.0
        values.append(v)
        index.append(i)
    return torch.cat(values), torch.cat(index)


def _per_graph(search, x: Tensor, y: Tensor, k: int, batch_x: Tensor, batch_y: Tensor,
               own: Optional[Tensor]) -> Tuple[Tensor, Tensor]:
    """``search(x_g, y_g, k_g, own_g)`` (``own_g``: each query's own index among ``x_g``, or
    ``None``; up to ``k_g`` columns back) one graph at a time (eager: graph ids read on the
    host). Slots past a graph's points come back ``inf`` / 0, as the grid's."""
    values = torch.full((y.size(0), k), float("inf"), device=y.device)
    index = torch.zeros(y.size(0), k, dtype=torch.long, device=y.device)
    order = torch.argsort(batch_x, stable=True)  # each graph's points in index order
    graphs = torch.arange(int(batch_x.max()) + 2, device=x.device)
    ptr = torch.searchsorted(batch_x.index_select(0, order), graphs).tolist()
    queries = torch.argsort(batch_y, stable=True)  # each graph's queries in index order
    ids, counts = torch.unique_consecutive(batch_y.index_select(0, queries), return_counts=True)
    for graph, start, count in zip(ids.tolist(), (counts.cumsum(0) - counts).tolist(), counts.tolist()):
        rows = queries[start:start + count]
        members = order[ptr[graph]:ptr[graph + 1]] if graph + 1 < len(ptr) else order[:0]
        if members.numel() == 0:
            continue
        mine = None if own is None else torch.searchsorted(members, own.index_select(0, rows))
        v, i = search(x.index_select(0, members), y.index_select(0, rows), min(k, members.numel()), mine)
        found = v.size(1)
        values[rows, :found] = v
        index[rows, :found] = torch.where(torch.isinf(v), 0, members[i])
    return values, index


def _all_pairs(x: Tensor, y: Tensor, k: int, batch_x: Optional[Tensor], batch_y: Optional[Tensor], cosine: bool,
               same_set_no_loop: bool, fill: bool = False) -> Tuple[Tensor, Tensor]:
    """``fill``: ``k`` may exceed the candidates (a traced radius search: ``max_num_neighbors``
    slots whatever ``N``); the slots beyond them come back ``inf`` / 0."""
    rows = max(1, BLOCK_ELEMENTS // max(1, x.size(0)))
    if is_tracing() or y.size(0) <= rows:
        dist = _distances(x, y, batch_x, batch_y, cosine, 0 if same_set_no_loop else None)
        if not fill:
            return dist.topk(k, dim=1, largest=False)
        values, index = torch.cat([dist, dist.new_full((dist.size(0), k), float("inf"))], 1).topk(k, dim=1, largest=False)
        return values, torch.where(index < x.size(0), index, torch.zeros_like(index))
    values, index = [], []
    for start in range(0, y.size(0), rows):
        part = slice(start, start + rows)
        dist = _distances(x, y[part], batch_x, None if batch_y is None else batch_y[part], cosine,
                          start if same_set_no_loop else None)
        v, i = dist.topk(k, dim=1, largest=False)
        values.append(v)
        index.append(i)
    return torch.cat(values), torch.cat(index)


def _check(x: Tensor, batch: Optional[Tensor], name: str = "points") -> None:
    if not isinstance(x, Tensor) or x.dim() != 2:
        raise ValueError(f"{name} must have shape [N, D], got {list(x.shape) if isinstance(x, Tensor) else type(x)}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be floating point, got {x.dtype}")
    if batch is not None and (batch.dim() != 1 or batch.size(0) != x.size(0)):
        raise ValueError(f"batch of {name} must have one entry per point ({x.size(0)}), "
                         f"got shape {list(batch.shape)}")
    if batch is not None and (batch.is_floating_point() or batch.is_complex() or batch.dtype == torch.bool):
        raise TypeError(f"batch of {name} must hold integer graph ids, got {batch.dtype}")
    if can_check_on_host(x) and x.numel() and not bool(torch.isfinite(x).all()):
        bad = int((~torch.isfinite(x)).any(1).nonzero()[0])
        raise ValueError(f"{name} must be finite: point {bad} is {x[bad].tolist()}")


def _check_non_negative(value: Union[int, float], name: str, integer: bool = True) -> None:
    if integer:
        try:
            count = operator.index(value)  # ints, numpy ints, SymInts
        except TypeError:
            raise ValueError(f"{name} must be a non-negative int, got {value!r}") from None
        if isinstance(value, bool) or count < 0:
            raise ValueError(f"{name} must be a non-negative int, got {value!r}")
    elif not value >= 0:  # also NaN
        raise ValueError(f"{name} must be a non-negative distance, got {value!r}")


def _padded(values: Tensor, index: Tensor, k: int) -> Tuple[Tensor, Tensor]:
    """``values``/``index`` widened to ``k`` columns with ``inf`` / 0 (a graph of fewer than
    ``k`` candidates: the missing slots read as empty, as a small graph's do)."""
    missing = k - values.size(1)
    if missing <= 0:
        return values, index
    return (torch.cat([values, values.new_full((values.size(0), missing), float("inf"))], 1),
            torch.cat([index, index.new_zeros(index.size(0), missing)], 1))


def _nearest_k(x: Tensor, y: Tensor, k: int, batch_x: Optional[Tensor], batch_y: Optional[Tensor], cosine: bool,
               same_set_no_loop: bool, radius: Optional[float] = None) -> Tuple[Tensor, Tensor]:
    """:func:`_nearest` for any ``k``: in eager calls ``k`` beyond the candidates (``x``'s
    points, less the point itself without loops) is searched as that many and padded."""
    if is_tracing() or torch.jit.is_tracing():
        # kNN: a named error at trace time (or an assertion in the exported program); a radius
        # search's slots beyond the candidates come back empty instead. The message has no
        # closure variables: torch 2.11's Dynamo cannot read those.
        if is_tracing() and radius is None:
            torch._check(x.size(0) >= k, lambda: "knn: k neighbours need at least k points in compiled or exported "
                                                  "calls (eager calls pad a smaller set)")
        return _nearest(x, y, k, batch_x, batch_y, cosine, same_set_no_loop, radius)
    available = max(0, x.size(0) - (1 if same_set_no_loop else 0))
    if min(k, available, y.size(0)) == 0:
        empty = torch.empty(y.size(0), 0, device=x.device)
        return _padded(empty, empty.long(), k)
    values, index = _nearest(x, y, min(k, available), batch_x, batch_y, cosine, same_set_no_loop, radius)
    return _padded(values, index, k)


def _check_pair(x: Tensor, y: Tensor, batch_x: Optional[Tensor], batch_y: Optional[Tensor]) -> None:
    _check(x, batch_x, "x")
    _check(y, batch_y, "y")
    if (batch_x is None) != (batch_y is None):
        raise ValueError("give batch_x and batch_y together, or neither")
    if x.size(1) != y.size(1):
        raise ValueError(f"x and y must have the same number of dimensions, got {x.size(1)} and {y.size(1)}")


def knn_graph(x: Tensor, k: int, batch: Optional[Tensor] = None, loop: bool = False,
              flow: str = "source_to_target", cosine: bool = False, static: bool = True) -> Tensor:
    """Edges from each point's ``k`` nearest neighbours (same graph only): ``[2, N * k]``
    (``static=True``; a graph of too few points fills the missing slots with self loops),
    or only the neighbours that exist (``static=False``, a data-dependent shape, as PyG's)."""
    _check(x, batch)
    _check_non_negative(k, "k")
    values, nbr = _nearest_k(x, x, k, batch, batch, cosine, not loop)
    centre = torch.arange(x.size(0), device=x.device).unsqueeze(1).expand(-1, k)
    missing = torch.isinf(values)  # too few points in the graph
    nbr = torch.where(missing, centre, nbr)
    edge_index = torch.stack([nbr.reshape(-1), centre.reshape(-1)])
    if not static:
        edge_index = edge_index[:, ~missing.reshape(-1)]
    return edge_index if flow == "source_to_target" else edge_index.flip(0)


def radius_graph(x: Tensor, r: float, batch: Optional[Tensor] = None, loop: bool = False,
                 max_num_neighbors: int = 32, flow: str = "source_to_target",
                 static: bool = True) -> Union[Tensor, Tuple[Tensor, Tensor]]:
    """Edges to each point from up to ``max_num_neighbors`` points within distance ``r``
    (nearest first). ``static=True``: ``(edge_index [2, N * max_num_neighbors], mask)``;
    ``static=False``: only the valid edges."""
    _check(x, batch)
    _check_non_negative(r, "r", integer=False)
    _check_non_negative(max_num_neighbors, "max_num_neighbors")
    k = max_num_neighbors
    values, nbr = _nearest_k(x, x, k, batch, batch, False, not loop, radius=r)
    centre = torch.arange(x.size(0), device=x.device).unsqueeze(1).expand(-1, k)
    valid = values <= r * r
    nbr = torch.where(valid, nbr, centre)
    edge_index = torch.stack([nbr.reshape(-1), centre.reshape(-1)])
    if flow != "source_to_target":
        edge_index = edge_index.flip(0)
    mask = valid.reshape(-1)
    if static:
        return edge_index, mask
    return edge_index[:, mask]


def _pairs(values: Tensor, nbr: Tensor, valid: Tensor, static: bool) -> Union[Tensor, Tuple[Tensor, Tensor]]:
    query = torch.arange(nbr.size(0), device=nbr.device).unsqueeze(1).expand_as(nbr)
    nbr = torch.where(valid, nbr, torch.zeros_like(nbr))
    edge_index = torch.stack([query.reshape(-1), nbr.reshape(-1)])
    mask = valid.reshape(-1)
    return (edge_index, mask) if static else edge_index[:, mask]


def knn(x: Tensor, y: Tensor, k: int, batch_x: Optional[Tensor] = None, batch_y: Optional[Tensor] = None,
        cosine: bool = False, static: bool = True) -> Union[Tensor, Tuple[Tensor, Tensor]]:
    """For each point of ``y`` its ``k`` nearest points of ``x`` (same graph): row 0 indexes
    ``y``, row 1 ``x``. ``static=True``: ``(edge_index [2, N_y * k], mask)`` (a slot is
    masked when the graph has fewer than ``k`` points in ``x``); else the valid pairs."""
    _check_pair(x, y, batch_x, batch_y)
    _check_non_negative(k, "k")
    values, nbr = _nearest_k(x, y, k, batch_x, batch_y, cosine, False)
    return _pairs(values, nbr, ~torch.isinf(values), static)


def radius(x: Tensor, y: Tensor, r: float, batch_x: Optional[Tensor] = None, batch_y: Optional[Tensor] = None,
           max_num_neighbors: int = 32, static: bool = True) -> Union[Tensor, Tuple[Tensor, Tensor]]:
    """For each point of ``y`` up to ``max_num_neighbors`` points of ``x`` within ``r``
    (nearest first): as :func:`knn`, ``(edge_index [2, N_y * max_num_neighbors], mask)``."""
    _check_pair(x, y, batch_x, batch_y)
    _check_non_negative(r, "r", integer=False)
    _check_non_negative(max_num_neighbors, "max_num_neighbors")
    values, nbr = _nearest_k(x, y, max_num_neighbors, batch_x, batch_y, False, False, radius=r)
    return _pairs(values, nbr, values <= r * r, static)
