r"""Exact k-nearest-neighbour search on CUDA in Triton kernels (issue #17).

Points and queries are first put in a spatial order: a Morton (Z-order) code of their
coordinates, ``BITS_TOTAL`` bits interleaved over the ``D`` dimensions, below the graph id,
one sort. Then each program takes ``BLOCK_M`` consecutive queries and visits tiles of
``BLOCK_N`` consecutive points, starting at the tile where its queries fall in the order
and moving outward, holding every query's ``k`` nearest so far in registers. A tile whose
bounding box is farther from the query block's box than the block's worst ``k``-th distance
is skipped unread, so spread or clustered points cost ``O(N k)``-like work in any number of
dimensions (the exact result never depends on the pruning); nothing of size ``N_y x N_x``
is written, and the kernels compile into ``torch.compile`` graphs and AOTInductor packages
(``torch.library.triton_op``).

Candidates are int64 keys that pack the float32 squared distance (whose bit pattern orders
like the value, distances being ``>= 0``) above the point's original index, as the grid
search does (:func:`gnnx.ops.grid.smallest_with_index_ties`): keys are unique, so ties go to
the smaller index whatever the visiting order. Per tile, the candidates that beat a query's
current ``k``-th key move in one at a time, smallest first, each replacing the worst.
Distances are ``sum((y - x)^2)`` over ``D <= MAX_DIMS`` coordinates (wider features go to the
all-pairs matrix product).
"""
from __future__ import annotations

from typing import Optional, Tuple

import torch
import triton
import triton.language as tl
from torch import Tensor
from torch.library import triton_op

from gnnx.ops.triton_kernels import _on_device, launcher

MAX_DIMS = 16  # coordinates unrolled in the kernel; beyond this a matrix product is faster
MAX_K = 64     # neighbours held in registers per query
BITS_TOTAL = 40  # Morton code bits (the graph id goes above them)
_EMPTY = 0x7FFFFFFFFFFFFFFF  # a key above every real one (distance bits < 2^31, index < 2^32)
_EMPTY_KEY = tl.constexpr(_EMPTY)  # the same, readable inside kernels


@triton.jit
def _morton_kernel(p, lo, scale, batch, out, n, D: tl.constexpr, BITS: tl.constexpr, HAS_BATCH: tl.constexpr,
                   BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    code = tl.zeros([BLOCK], tl.int64)
    for d in tl.static_range(D):
        coord = tl.load(p + offs * D + d, mask=mask, other=0.0)
        q = ((coord - tl.load(lo + d)) * tl.load(scale + d)).to(tl.int64)
        q = tl.minimum(tl.maximum(q, 0), (1 << BITS) - 1)
        for b in tl.static_range(BITS):
            code = code | (((q >> b) & 1) << (b * D + d))
    if HAS_BATCH:
        code = code | (tl.load(batch + offs, mask=mask, other=0).to(tl.int64) << (BITS * D))
    tl.store(out + offs, code, mask=mask)


@triton.jit
def _knn_kernel(x, y, x_index, y_index, lo, hi, tile_boxes, block_boxes, starts, out,
                num_y, k, max_dist, D: tl.constexpr, D_PAD: tl.constexpr, K_PAD: tl.constexpr,
                BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, CHUNK: tl.constexpr,
                EXCLUDE_OWN: tl.constexpr, HAS_MAX: tl.constexpr):
    pid = tl.program_id(0)
    offs_m = pid * BLOCK_M + tl.arange(0, BLOCK_M)
    mmask = offs_m < num_y
    row_lo = tl.load(lo + offs_m, mask=mmask, other=2147483647)
    row_hi = tl.load(hi + offs_m, mask=mmask, other=0)
    if EXCLUDE_OWN:
        row_own = tl.load(y_index + offs_m, mask=mmask, other=-1)
    first_tile = tl.min(row_lo, 0) // BLOCK_N
    end_tile = (tl.max(row_hi, 0) + BLOCK_N - 1) // BLOCK_N
    first = pid * BLOCK_M + tl.arange(0, 1)  # a one-element vector: masked loads need one
    start_tile = tl.sum(tl.load(starts + first, mask=first < num_y, other=0), 0) // BLOCK_N
    centre = tl.minimum(tl.maximum(start_tile, first_tile), end_tile - 1)
    dims = tl.arange(0, D_PAD)
    block_lo = tl.load(block_boxes + pid * 2 * D + dims, mask=dims < D, other=0.0)
    block_hi = tl.load(block_boxes + pid * 2 * D + D + dims, mask=dims < D, other=0.0)
    slots = tl.arange(0, K_PAD)
    # Empty slots hold distinct keys above every real key (so "the worst" is one slot);
    # padding slots beyond k hold negative keys, never the worst, never replaced.
    init = tl.where(slots < k, _EMPTY_KEY - slots.to(tl.int64), -1 - slots.to(tl.int64))
    best = tl.zeros([BLOCK_M, K_PAD], tl.int64) + init[None, :]
    worst = tl.max(best, 1)
    worst_dist = tl.zeros([BLOCK_M], tl.float32) + float("inf")  # each query's k-th distance so far
    reach = float("inf")  # the block's largest k-th distance: tiles farther away are skipped
    # Tiles go in chunks of CHUNK, the chunk of the block's own tile first, then outward;
    # inside a chunk, nearest box first. One vector test per chunk skips far tiles.
    num_chunks = (end_tile - first_tile + CHUNK - 1) // CHUNK
    centre_chunk = (centre - first_tile) // CHUNK
    for j in range(0, 2 * num_chunks):
        step = (j + 1) // 2
        c = tl.where(j % 2 == 1, centre_chunk + step, centre_chunk - step)
        if (c >= 0) & (c < num_chunks):
            tiles = first_tile + c * CHUNK + tl.arange(0, CHUNK)
            tmask = tiles < end_tile
            bmask = tmask[:, None] & (dims[None, :] < D)
            tile_lo = tl.load(tile_boxes + tiles[:, None] * 2 * D + dims[None, :], mask=bmask, other=0.0)
            tile_hi = tl.load(tile_boxes + tiles[:, None] * 2 * D + D + dims[None, :], mask=bmask, other=0.0)
            g = tl.maximum(tl.maximum(tile_lo - block_hi[None, :], block_lo[None, :] - tile_hi), 0.0)
            gap = tl.where(tmask, tl.sum(g * g, 1), float("inf"))
            gap = tl.where(gap <= reach, gap, float("inf"))
            for _ in range(tl.sum((gap < float("inf")).to(tl.int32), 0)):
                nearest_gap = tl.min(gap, 0)
                t = tl.min(tl.where(gap == nearest_gap, tiles, 2147483647), 0)
                gap = tl.where(tiles == t, float("inf"), gap)
                if nearest_gap <= reach:
                    offs_n = t * BLOCK_N + tl.arange(0, BLOCK_N)
                    nmask = offs_n < end_tile * BLOCK_N
                    dist = tl.zeros([BLOCK_M, BLOCK_N], tl.float32)
                    for d in tl.static_range(D):
                        yd = tl.load(y + offs_m * D + d, mask=mmask, other=0.0)
                        xd = tl.load(x + offs_n * D + d, mask=nmask, other=0.0)
                        diff = yd[:, None] - xd[None, :]
                        dist += diff * diff
                    # float test first: most tiles past the first few bring no candidate
                    cand = (offs_n[None, :] >= row_lo[:, None]) & (offs_n[None, :] < row_hi[:, None])
                    cand = cand & (dist <= worst_dist[:, None])
                    if HAS_MAX:
                        cand = cand & (dist <= max_dist)
                    index = tl.load(x_index + offs_n, mask=nmask, other=0)
                    if EXCLUDE_OWN:
                        cand = cand & (index[None, :] != row_own[:, None])
                    if tl.max(tl.sum(cand.to(tl.int32), 1), 0) > 0:
                        key = (dist.to(tl.int32, bitcast=True).to(tl.int64) << 32) | index[None, :].to(tl.int64)
                        key = tl.where(cand & (key < worst[:, None]), key, _EMPTY_KEY)
                        rounds = tl.minimum(tl.max(tl.sum((key < _EMPTY_KEY).to(tl.int32), 1), 0), k)
                        for _ in range(rounds):
                            smallest = tl.min(key, 1)
                            better = smallest < worst
                            best = tl.where((best == worst[:, None]) & better[:, None], smallest[:, None], best)
                            key = tl.where(key == smallest[:, None], _EMPTY_KEY, key)
                            worst = tl.max(best, 1)
                        worst_dist = tl.where(worst >= _EMPTY_KEY - 64, float("inf"),
                                              (worst >> 32).to(tl.int32).to(tl.float32, bitcast=True))
                        reach = tl.max(tl.where(mmask, worst_dist, float("-inf")), 0)
    omask = mmask[:, None] & (slots[None, :] < k)
    tl.store(out + offs_m[:, None] * k + slots[None, :], best, mask=omask)


@triton.jit
def _boxes_kernel(p, boxes, n, D: tl.constexpr, D_PAD: tl.constexpr, BLOCK: tl.constexpr):
    run = tl.program_id(0)
    offs = run * BLOCK + tl.arange(0, BLOCK)
    dims = tl.arange(0, D_PAD)
    mask = (offs[:, None] < n) & (dims[None, :] < D)
    coords = tl.load(p + offs[:, None] * D + dims[None, :], mask=mask, other=0.0)
    lo = tl.min(tl.where(mask, coords, float("inf")), 0)
    hi = tl.max(tl.where(mask, coords, float("-inf")), 0)
    live = (dims < D) & (dims * 0 + run * BLOCK < n)
    tl.store(boxes + run * 2 * D + dims, lo, mask=live)
    tl.store(boxes + run * 2 * D + D + dims, hi, mask=live)


def knn_config(dims: int, k: int) -> dict:
    """Launch shape, measured on an H200 (``bench/knn_kernel_compare.py``,
    ``bench/results/h200/knn_kernel_compare.json``, 9 shapes): one warp per 4 queries, tiles
    of 64 points, boxes tested 64 tiles at a time. Small query blocks have tight boxes and
    short insertion rounds. Against the earlier kernel (16 x 128, two warps, one box test per
    tile): GravNet's 50,000-hit 4-D spaces, k = 12, 2.0 / 2.0 ms against 2.5 / 2.6; 100,000
    uniform 3-D points, k = 16, 2.6 against 4.5; 1,000,000 in 4 clouds 23 against 64."""
    return {"BLOCK_M": 4, "BLOCK_N": 64, "CHUNK": 64, "num_warps": 1}


def _grid(count, block: int):
    return (torch.sym_max(1, triton.cdiv(count, block)),)  # a 0-size input still launches one no-op program


@triton_op("gnnx::morton_codes", mutates_args={})
def morton_codes(points: Tensor, lo: Tensor, scale: Tensor, batch: Optional[Tensor]) -> Tensor:
    """int64 sort keys: the graph id above the Morton code of ``(points - lo) * scale``
    (each coordinate quantised to ``BITS_TOTAL // D`` bits)."""
    num, dims = points.shape
    out = torch.empty(num, dtype=torch.long, device=points.device)
    with _on_device(points):
        launcher(_morton_kernel, points)[_grid(num, 1024)](
            points, lo, scale, batch if batch is not None else out, out, num, D=dims,
            BITS=max(1, BITS_TOTAL // dims), HAS_BATCH=batch is not None, BLOCK=1024)
    return out


@triton_op("gnnx::knn_keys", mutates_args={})
def knn_keys(x: Tensor, y: Tensor, x_index: Tensor, y_index: Tensor, lo: Tensor, hi: Tensor, tile_boxes: Tensor,
             block_boxes: Tensor, starts: Tensor, k: int, max_dist: float, exclude_own: bool) -> Tensor:
    """``[N_y, k]`` int64 keys (squared-distance bits << 32 | original index ``x_index``) of
    each query's ``k`` nearest points among ``x[lo[q]:hi[q]]``, unsorted; empty slots hold
    keys ``>= 2^63 - k``. ``x``, ``y``: points and queries in spatial order; ``tile_boxes`` /
    ``block_boxes``: bounding boxes of ``BLOCK_N`` points / ``BLOCK_M`` queries
    (:func:`run_boxes`); ``starts``: each query's position in the points' order (a query
    block starts its walk at its first query's tile). ``exclude_own`` leaves out the point whose
    original index is the query's (``y_index``); ``max_dist >= 0`` leaves out farther points."""
    num_y, dims = y.shape
    out = torch.empty((num_y, k), dtype=torch.long, device=y.device)
    cfg = knn_config(dims, k)
    with _on_device(y):
        launcher(_knn_kernel, y)[_grid(num_y, cfg["BLOCK_M"])](
            x, y, x_index, y_index, lo, hi, tile_boxes, block_boxes, starts, out, num_y, k,
            max_dist, D=dims, D_PAD=triton.next_power_of_2(dims), K_PAD=triton.next_power_of_2(k),
            BLOCK_M=cfg["BLOCK_M"], BLOCK_N=cfg["BLOCK_N"], CHUNK=cfg["CHUNK"],
            EXCLUDE_OWN=exclude_own, HAS_MAX=max_dist >= 0, num_warps=cfg["num_warps"],
        )
    return out


def usable(x: Tensor, k: int) -> bool:
    """CUDA, ``1 <= D <= MAX_DIMS``, ``1 <= k <= MAX_K`` (indices are packed in 32 bits:
    fewer than 2^31 points, which a GPU's memory bounds anyway)."""
    return x.is_cuda and 1 <= x.size(1) <= MAX_DIMS and 1 <= k <= MAX_K


@triton_op("gnnx::run_boxes", mutates_args={})
def run_boxes(points: Tensor, block: int) -> Tensor:
    """Per run of ``block`` consecutive points its bounding box, low then high corner:
    ``[runs * 2 * D]``, flat (an output dimension that may be 1 would cost a size guard
    under export)."""
    num, dims = points.shape
    runs = (num + block - 1) // block
    boxes = torch.empty(torch.sym_max(1, runs) * 2 * dims, dtype=points.dtype, device=points.device)
    with _on_device(points):
        launcher(_boxes_kernel, points)[(torch.sym_max(1, runs),)](
            points, boxes, num, D=dims, D_PAD=triton.next_power_of_2(dims), BLOCK=block)
    return boxes


def nearest(x: Tensor, y: Tensor, k: int, batch_x: Optional[Tensor], batch_y: Optional[Tensor], cosine: bool,
            same_set_no_loop: bool, radius: Optional[float] = None) -> Tuple[Tensor, Tensor]:
    """``(values, index)`` as :func:`gnnx.ops.neighbors._nearest`: the ``k`` nearest ``x`` of
    every ``y`` (same graph), squared distances (``1 - cos`` with ``cosine``) nearest first,
    ``inf`` / 0 in slots a graph cannot fill. No host sync; ``batch`` need not be sorted
    (graph ids below 2^23)."""
    same = x is y and batch_x is batch_y
    points = x.float()
    queries = points if same else y.float()
    if cosine:  # |a - b|^2 = 2 - 2 cos for unit vectors: the same order
        points = torch.nn.functional.normalize(points, dim=-1)
        queries = points if same else torch.nn.functional.normalize(queries, dim=-1)
    points, queries = points.contiguous(), queries.contiguous()
    dims = points.size(1)
    both = torch.cat([points if same else torch.cat([points, queries]), points.new_zeros(1, dims)])  # never empty
    low, high = both.amin(0), both.amax(0)
    extent = high - low
    scale = torch.where(extent > 0, ((1 << max(1, BITS_TOTAL // dims)) - 1) / extent.clamp(min=1e-30), 0.0)
    code_x = morton_codes(points, low, scale, batch_x)
    order_x = torch.argsort(code_x, stable=True)
    xs, code_xs = points[order_x], code_x[order_x]
    if same:
        order_y, ys, code_ys = order_x, xs, code_xs
    else:
        code_y = morton_codes(queries, low, scale, batch_y)
        order_y = torch.argsort(code_y, stable=True)
        ys, code_ys = queries[order_y], code_y[order_y]
    cfg = knn_config(dims, k)
    if batch_x is None:
        lo = torch.zeros(ys.size(0), dtype=torch.int32, device=y.device)
        hi = torch.full((ys.size(0),), xs.size(0), dtype=torch.int32, device=y.device)
    else:  # the sort put each graph's points together: their range per query
        bx, by = batch_x[order_x], batch_y[order_y]
        lo = torch.searchsorted(bx, by).int()
        hi = torch.searchsorted(bx, by, right=True).int()
    tile_boxes, block_boxes = run_boxes(xs, cfg["BLOCK_N"]), run_boxes(ys, cfg["BLOCK_M"])
    starts = torch.arange(ys.size(0), device=ys.device) if same else torch.searchsorted(code_xs, code_ys)
    max_dist = -1.0 if radius is None else float(radius) * float(radius)
    keys = knn_keys(xs, ys, order_x, order_y, lo, hi, tile_boxes, block_boxes, starts, k, max_dist,
                    same_set_no_loop)
    keys = keys.sort(dim=1).values
    keys = keys.new_empty(keys.shape).index_copy(0, order_y, keys)  # back to the queries' order
    empty = keys >= _EMPTY - 64
    values = torch.where(empty, float("inf"), (keys >> 32).to(torch.int32).view(torch.float32))
    index = torch.where(empty, 0, keys & 0xFFFFFFFF)
    return (values * 0.5 if cosine else values), index
