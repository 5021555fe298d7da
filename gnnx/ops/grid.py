r"""Exact k-nearest-neighbour search through a uniform grid (a cell list), for eager calls.

Brute force compares every query with every point, ``O(N^2)`` work. Here points of up to
four dimensions are binned into cubic cells of side ``h``: the median exact k-th neighbour
distance of a few sampled queries, so a cell holds about ``k / 4`` points around a typical
query whatever the layout (uniform, Gaussian, on a surface; k / 4 measured fastest on
200,000 uniform points, k = 16, against k / 2 and k / 8) (the graph id is the leading part
of the cell key, so clouds never mix). A query compares itself only with the points of the
``3^D`` cells around its own, ``O(N k)`` work and memory for spread points:

* candidates come from a sort of the points by cell key and two binary searches per row of
  neighbouring cells (cells consecutive along the last dimension are consecutive in key
  order; no Python loop over cells);
* the ``k`` nearest are selected with one ``topk`` over a key that packs the float32
  squared distance (whose bit pattern orders like the value) above the point index, so
  ties go to the smaller index, deterministically;
* a result is exact when the ``k``-th distance is within the query's margin to the edge of
  its ``3^D`` block (nothing outside can be closer). Queries that fail (sparse regions,
  fewer than ``k`` candidates) search the ``5^D`` block, then (kNN) grids of twice the side,
  up to ``COARSER_LEVELS`` times; the few left after that, and those whose block holds more
  than ``MAX_CANDIDATES`` points (crowded cells), are searched by brute force, each against
  its own cloud.
* queries are searched in blocks of similar candidate counts, each query's candidates laid
  end to end, so a block costs about the candidates its queries have (blocks of queries in
  cell order, each padded to its fullest run of cells, cost ~4x on Gaussian clouds:
  bench/results/cpu/knn_cpu_session27_before_after.md); the points' coordinates are gathered
  from copies in cell order, where a run's points lie together.

Distances are sums of squared coordinate differences (:func:`squared_distances`) here and in
the brute force the grid falls back to, so a query's answer does not depend on the path
that settled it. Traced (compiled, exported) calls keep the brute-force op, whose shapes are
static.
"""
from __future__ import annotations

import math
from typing import Callable, Optional, Tuple

import torch
from torch import Tensor

# A query whose block of cells holds more points goes to brute force (against its cloud): by
# then the grid saves little. A cap per run of cells (48 points a cell) sent Gaussian tails to
# brute force from the coarse grids, whose blocks reached the dense centre.
MAX_CANDIDATES = 8192
MAX_DIMS = 4
RUNS_CHUNK = 1 << 15  # queries whose runs of cells are found at a time (bounds the temporaries)
# Candidate slots per query block (about 50 bytes each in flight): small blocks stay in the CPU's
# caches; on a GPU each block costs a dozen launches and a sync, so blocks are large there.
CANDIDATES_PER_BLOCK = {"cpu": 1 << 20, "cuda": 1 << 25}  # cpu: 2^18-2^21 within noise on 200,000 points


def usable(x: Tensor, y: Tensor, k: int, cosine: bool) -> bool:
    """Whether the grid serves this search: Euclidean, 1-4 dimensions (GravNet's learnt space
    is 4-D; 50,000 points, k = 12, 2 CPU cores: 0.7-1.2 s against all pairs' 21 s; 5-D took
    2.8-5.9 s, 6-D 22-49 s), float, and enough points for the bins to pay off."""
    return (not cosine and 1 <= x.size(1) <= MAX_DIMS and x.is_floating_point() and k <= 64
            and x.size(0) * y.size(0) > min_pairs(x.is_cuda))


def min_pairs(cuda: bool) -> float:
    """The query-point pair count above which the grid beats the alternative.

    All pairs are faster below about 4M pairs on a CPU and 1G pairs on a GPU (H200: 10,000
    points, all pairs 3.8 ms against the grid's 17.6 ms; 100,000: 358 against 139 ms). The
    tiled Triton kernel (gnnx.ops.triton_knn), where it runs, takes every CUDA search: H200,
    k = 16, 1,000,000 points in one cloud 42 ms against the grid's 120 ms
    (bench/results/h200/knn_kernel_compare.json, knn_gpu_grid_vs_tiled.json)."""
    from gnnx.ops.dispatch import cuda_knn_kernels

    if not cuda:
        return 1 << 22
    if cuda_knn_kernels() is None:
        return 1 << 30
    return float("inf")


def grid_nearest(x: Tensor, y: Tensor, k: int, batch_x: Optional[Tensor], batch_y: Optional[Tensor],
                 same_set_no_loop: bool, brute_force: Callable[..., Tuple[Tensor, Tensor]],
                 radius: Optional[float] = None) -> Tuple[Tensor, Tensor]:
    """``(values, index)``: the ``k`` nearest points of ``x`` to each ``y`` (same graph),
    squared distances nearest first, ``inf`` / 0 where a graph has fewer than ``k`` points.
    With ``radius``, only the neighbours within it need be exact (the rest are masked by
    the caller). ``brute_force(x, y_rows, k, batch_x, batch_y_rows, own)`` (``own``: each
    query's own index, excluded, or ``None``) serves the queries the grid cannot settle."""
    points, queries = x.float(), y.float()
    if batch_x is None:
        batch_x = torch.zeros(x.size(0), dtype=torch.long, device=x.device)
        batch_y = torch.zeros(y.size(0), dtype=torch.long, device=y.device)
    lo = torch.minimum(points.amin(0), queries.amin(0))
    hi = torch.maximum(points.amax(0), queries.amax(0))
    extent = (hi - lo).tolist()
    graphs = int(max(int(batch_x.max()), int(batch_y.max()))) + 1
    spread = [e for e in extent if e > 0]
    if radius is not None:  # cells of side r: the 3^D block holds every neighbour within r
        side = radius
    elif spread:
        side = _sampled_side(points, queries, batch_x, batch_y, k)
        if side is None:  # no sampled query has k points in its graph: the bounding box's mean density
            per_graph = max(1.0, x.size(0) / graphs)
            side = (math.prod(spread) * max(1.0, k / 4.0) / per_graph) ** (1.0 / len(spread))
    else:
        side = 1.0
    side = max(side, 1e-12)
    own = torch.arange(y.size(0), device=y.device) if same_set_no_loop else None
    values = torch.empty(y.size(0), k, device=x.device)
    index = torch.empty(y.size(0), k, dtype=torch.long, device=x.device)
    pending = torch.arange(y.size(0), device=x.device)
    crowded = []
    # kNN: queries no block settles (sparse regions) try a grid of twice the side, up to
    # COARSER_LEVELS times, before brute force; a radius search's cells are already its radius
    for _ in range(1 if radius is not None else 1 + COARSER_LEVELS):
        counts = [int(e / side) + 1 for e in extent]
        if graphs * math.prod(counts) >= 2 ** 62:  # cell keys would overflow int64
            break
        pending, too_many = _search_grid(points, queries, batch_x, batch_y, k, own, radius, lo, side, counts, pending,
                                         values, index)
        crowded.append(too_many)
        if pending.numel() == 0:
            break
        side *= 2.0
    pending = torch.cat(crowded + [pending])
    if pending.numel():
        v, i = brute_force(x, y[pending], k, batch_x, batch_y[pending], None if own is None else pending)
        values[pending], index[pending] = v.to(values.dtype), i
    return values.to(x.dtype), index


COARSER_LEVELS = 3


def _search_grid(points: Tensor, queries: Tensor, batch_x: Tensor, batch_y: Tensor, k: int, own: Optional[Tensor],
                 radius: Optional[float], lo: Tensor, side: float, counts, pending: Tensor, values: Tensor,
                 index: Tensor) -> Tuple[Tensor, Tensor]:
    """One grid of cells of ``side``: the ``pending`` queries searched in the 3^D block around
    their cell, then the 5^D block for those it did not settle; results written into
    ``values``/``index``. Returns the queries still unsettled and those whose block held more
    than ``MAX_CANDIDATES`` points (for brute force)."""
    dims = points.size(1)
    crowded = []
    limit = torch.tensor(counts, device=points.device)

    def cell_of(p: Tensor, batch: Tensor) -> Tuple[Tensor, Tensor]:
        coords = torch.minimum(((p - lo) / side).floor().long().clamp(min=0), limit - 1)
        return coords, _key(coords, batch, counts)

    _, key_x = cell_of(points, batch_x)
    key_x, order = torch.sort(key_x, stable=True)  # equal keys keep index order
    sorted_coords = points.t()[:, order].contiguous()  # [D, N] in key order: a run's points lie together
    coords_y, key_y = cell_of(queries[pending], batch_y[pending])
    coords_of = torch.full((queries.size(0), dims), -1, dtype=torch.long, device=queries.device)
    coords_of[pending] = coords_y
    pending = pending[torch.sort(key_y, stable=True).indices]  # cell order: nearby queries share caches
    budget = CANDIDATES_PER_BLOCK.get(points.device.type, CANDIDATES_PER_BLOCK["cpu"])
    for reach in (1, 2):  # the 3^D block around each query, then 5^D for those it did not settle
        runs = [_runs(coords_of[part], batch_y[part], key_x, limit, reach) for part in pending.split(RUNS_CHUNK)]
        first, size = torch.cat([run[0] for run in runs]), torch.cat([run[1] for run in runs])
        total = size.sum(1)
        too_many = total > MAX_CANDIDATES
        crowded.append(pending[too_many])
        unsettled = [pending[:0]]  # (every query may be crowded)
        searched = (~too_many).nonzero().squeeze(1)
        total = total.index_select(0, searched)
        # blocks of queries with similar candidate counts (stable: cell order kept among equals),
        # each as wide as its widest query (module docstring)
        total, by_total = torch.sort(total, stable=True)
        searched = searched[by_total]
        totals = total.tolist()
        begin = 0
        while begin < len(totals):
            stop = min(len(totals), begin + max(1, budget // max(1, totals[begin])))
            stop = begin + max(1, budget // max(1, totals[stop - 1]))  # the block's widest sets its size
            at = searched[begin:stop]
            rows = pending[at]
            v, i, done = _search_block(sorted_coords, queries[rows], coords_of[rows], first[at], size[at], order, limit, lo,
                                       side, k, None if own is None else rows, radius, reach)
            values[rows[done]], index[rows[done]] = v[done], i[done]
            unsettled.append(rows[~done])
            begin = stop
        pending = torch.cat(unsettled)
        if pending.numel() == 0:
            break
    return pending, torch.cat(crowded)


SIDE_SAMPLES = 32  # queries whose exact k-th neighbour distance sets the cell side
SIDE_PER_KTH = 1.0  # the side as a multiple of their median k-th distance


def _sampled_side(points: Tensor, queries: Tensor, batch_x: Tensor, batch_y: Tensor, k: int) -> Optional[float]:
    """The cell side from the data: the median k-th nearest distance of ``SIDE_SAMPLES``
    evenly spaced queries (exact, against every point of their graph; ``SIDE_SAMPLES * N``
    pairs). A side from the bounding box's mean density fails where the density varies:
    Gaussian clouds crowded their central cells past the 48 points a cell then allowed, so
    nearly every query went to brute force (8,192 points in 4 clouds, k = 20, 1.8 s; 200,000
    did not finish in 60 s; bench/results/cpu/knn_cpu_gaussian_before_after.md). A cell then
    holds about ``k / 4`` points around a typical query."""
    rows = torch.linspace(0, queries.size(0) - 1, min(SIDE_SAMPLES, queries.size(0)), device=queries.device).long()
    kth, coordinates = [], points.t().contiguous()
    for block in rows.split(8):  # [8, N] distances at a time
        dist = squared_distances(coordinates, queries[block])
        dist = dist.masked_fill(batch_x.unsqueeze(0) != batch_y[block].unsqueeze(1), float("inf"))
        kth.append(dist.kthvalue(min(k + 1, dist.size(1)), dim=1).values)  # (+1: the query itself, if a point)
    kth = torch.cat(kth)
    kth = kth[torch.isfinite(kth)]
    if kth.numel() == 0 or float(kth.median()) <= 0:
        return None
    return SIDE_PER_KTH * float(kth.median()) ** 0.5


def smallest_with_index_ties(dist: Tensor, index: Tensor, k: int) -> Tuple[Tensor, Tensor]:
    """The ``k`` smallest float32 distances ``>= 0`` per row and their indices, ties to the
    smaller index: one ``topk`` over int64 keys packing the distance's bits (which order like
    the values) above the index, so every key is unique and the result deterministic."""
    packed = (dist.view(torch.int32).long() << 32) | index.expand_as(dist)
    chosen = packed.topk(min(k, packed.size(1)), dim=1, largest=False).values
    return (chosen >> 32).to(torch.int32).view(torch.float32), chosen & 0xFFFFFFFF


def squared_distances(coordinates: Tensor, queries: Tensor, candidate: Optional[Tensor] = None) -> Tensor:
    """``sum_d (p_d - q_d)^2`` between ``queries [Q, D]`` and the points of ``coordinates
    [D, N]`` (one row per dimension): the ``candidate [Q, C]`` ones, or all (``[Q, N]``). Summed
    one coordinate at a time in order, in every search path, so a query's answer does not
    depend on which path settled it (``|x|^2 + |y|^2 - 2 x.y`` loses digits far from the origin)."""
    total = None
    for d in range(coordinates.size(0)):
        if candidate is None:
            column = coordinates[d].unsqueeze(0)
        else:  # (index_select: ~2x faster than indexing here)
            column = coordinates[d].index_select(0, candidate.view(-1)).view_as(candidate)
        diff = column - queries[:, d:d + 1]
        total = diff * diff if total is None else total.addcmul_(diff, diff)
    return total


def _key(coords: Tensor, batch: Tensor, counts) -> Tensor:
    key = batch.clone()
    for d, n in enumerate(counts):
        key = key * n + coords[:, d]
    return key


def _runs(coords: Tensor, batch: Tensor, key_x: Tensor, limit: Tensor, reach: int) -> Tuple[Tensor, Tensor]:
    """``(first, size)`` ``[Q, (2 reach + 1)^(D-1)]``: where each row of the ``(2 reach + 1)^D``
    cells around each query starts among the points sorted by key, and how many points it holds
    (0 outside the grid). Cells consecutive along the last dimension are consecutive in key
    order, so each row of cells is one run of the sorted points: two binary searches."""
    device, dims = coords.device, coords.size(1)
    counts = limit.tolist()
    # A cell's key is linear in its coordinates (_key), so a neighbour row's key is the query's
    # own row key plus a fixed step per offset: no [Q, R, D] cells are built.
    strides = [math.prod(counts[d + 1:]) for d in range(dims)]
    steps = torch.arange(-reach, reach + 1, device=device)
    if dims > 1:
        offsets = torch.cartesian_prod(*[steps] * (dims - 1)).view(-1, dims - 1)  # [R, D-1]
        near = coords[:, None, :-1] + offsets[None]                                # [Q, R, D-1]
        inside = ((near >= 0) & (near < limit[:-1])).all(-1)                       # [Q, R]
        step = (offsets * torch.tensor(strides[:-1], device=device)).sum(1)       # [R] (no integer matmul on CUDA)
    else:
        inside = torch.ones(coords.size(0), 1, dtype=torch.bool, device=device)
        step = torch.zeros(1, dtype=torch.long, device=device)
    last = coords[:, -1]
    low_last, high_last = (last - reach).clamp(min=0), (last + reach).clamp(max=counts[-1] - 1)
    row_key = _key(coords, batch, counts) - last                                    # the row's cell 0
    low_key = (row_key + low_last).unsqueeze(1) + step                               # [Q, R]
    high_key = (row_key + high_last).unsqueeze(1) + step
    first = torch.searchsorted(key_x, low_key)
    end = torch.where(inside, torch.searchsorted(key_x, high_key, right=True), first)
    return first, end - first


def _search_block(sorted_coords: Tensor, queries: Tensor, coords: Tensor, first: Tensor, size: Tensor,
                  order: Tensor, limit: Tensor, lo: Tensor, side: float, k: int, own: Optional[Tensor],
                  radius: Optional[float], reach: int) -> Tuple[Tensor, Tensor, Tensor]:
    """Search the runs of cells (:func:`_runs`) around each query: its candidates laid end to
    end, run after run, in ``max(size.sum(1))`` slots; whether each result is exact."""
    device = queries.device
    ends = size.cumsum(1)                                                           # [Q, R]
    width = max(1, int(ends[:, -1].max())) if ends.numel() else 1
    # slot s of a query lies in its run r where ends[r-1] <= s < ends[r], at sorted position
    # s + first[r] - ends[r-1]: that offset, set where each run starts and summed along the row
    shift = first - (ends - size)
    step = torch.cat([shift[:, :1], shift[:, 1:] - shift[:, :-1]], 1)
    offset = torch.zeros(queries.size(0), width + 1, dtype=torch.long, device=device)
    offset.scatter_add_(1, (ends - size).clamp(max=width), step)
    slot = torch.arange(width, device=device)
    position = (offset[:, :width].cumsum(1) + slot).clamp(max=order.numel() - 1)   # [Q, C]
    valid = slot < ends[:, -1:]
    candidate = order.index_select(0, position.view(-1)).view_as(position)
    if own is not None:  # a point is not its own neighbour
        valid = valid & (candidate != own.view(-1, 1))
    dist = squared_distances(sorted_coords, queries, position).masked_fill_(~valid, float("inf"))
    values, index = smallest_with_index_ties(dist, candidate, k)
    if values.size(1) < k:  # fewer candidate slots than k: pad, and let the check send it on
        pad = k - values.size(1)
        values = torch.cat([values, values.new_full((values.size(0), pad), float("inf"))], 1)
        index = torch.cat([index, index.new_zeros(index.size(0), pad)], 1)
    index = torch.where(torch.isinf(values), torch.zeros_like(index), index)
    # Exact where nothing outside the searched cells can be closer than what was found.
    inf = torch.full_like(queries, float("inf"))
    low = torch.where(coords - reach - 1 >= 0, queries - (lo + (coords - reach) * side), inf)
    high = torch.where(coords + reach + 1 <= limit - 1, (lo + (coords + reach + 1) * side) - queries, inf)
    margin = torch.minimum(low, high).amin(1).clamp(min=0)
    needed = values[:, -1]
    if radius is not None:
        needed = torch.clamp(needed, max=radius * radius)
    return values, index, needed <= margin * margin
