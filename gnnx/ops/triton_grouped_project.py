r"""Triton kernels of :func:`gnnx.ops.grouped_project` (registered with
``torch.library.triton_op``, so they compile into ``torch.compile`` graphs and AOTInductor
packages).

Group ``g`` owns rows ``[g P, g P + counts[g])`` of the output; a program takes ``BM`` of
them (``P`` is a multiple of every ``BM``, so a tile never straddles two groups) and returns
at once past ``counts[g]``: the launch is sized by the symbolic ``G P`` rows, the work by the
rows in use, with no host sync. Groups ``[0, full)`` compute every column, the others
(score-only groups) the tail columns ``[width, O)`` only, into an output of their own.

* ``row_groups``: each group's rows in use marked in a mask of whole blocks per group, the
  marks counted per block, the block counts scanned per group, then each block's ranks (an
  in-block scan plus the block's prefix) turned into slots and row lists: ``G + 5`` launches
  where ATen's version takes ~30, each a gap in a captured step (Inductor lowers a flat
  ``cumsum`` inside a ``triton_op`` as one program, too slow for millions of marks, so the
  scan is done here in blocks);
* forward: ``out[p] = x[rows[p]] @ W_g^T``, the tail columns by the column tile 0 beside its
  main tile, from the same loads of ``x``;
* ``grad rows``: ``g[p] @ W_g`` for the rows in use (the caller sums them per row of ``x``),
  without the products of a row tile's 32-column chunks of all-zero gradient (a sampled
  batch's outputs beyond the seeds' hops carry none);
* ``grad W``: per group, the rows in use cut into ``splits`` equal ranges, one program per
  range and tile, each partial sum stored and the partials summed in a fixed order (no
  atomics: repeatable). It skips nothing: checking each block of rows for zeros cost a dense
  gradient 57 % more and saved a sparse one 27 % (``bench/grouped_skip_ab.py``);
* ``add_rows_in_use`` adds no zero values (an untrimmed last layer's edges mostly carry none).

``CONFIG["skip_zero_grad"] = False`` turns both skips off: R-GAT's untrimmed step took 18.9 ms with
them and 19.8 without on the H200, its ``trim_to_layer`` step (nearly every row carries gradient)
8.6 and 8.0 (``bench/results/h200/session26``), so trimmed models train faster without them.

fp32 products run on tensor cores as three TF32 products (``tf32x3``, fp32 accuracy), or one
where ``torch.backends.cuda.matmul.allow_tf32`` allows TF32; fp16 and bf16 as such, summed in
fp32.
"""
from __future__ import annotations

from typing import List, Tuple

import torch
import triton
import triton.language as tl
from torch import Tensor
from torch.library import triton_op

from gnnx.ops.triton_kernels import _on_device, launcher
from gnnx.ops.triton_matmul import _dot, _precision

# Launch shapes. "rows" is the row tile of the forward and of ``grad rows`` (it must divide
# gnnx.ops.grouped_projection.ROW_ALIGN); ``grad W`` steps "w_rows" rows at a time.
# grad W: 128 output columns a program and 8 programs per SM took R-GAT's paper table from 1.84 to
# 0.74 ms on the H100 (bench/tune_grouped_project.py, bench/results/h100/rgat_compact_rows/).
CONFIG = {"rows": 64, "cols": 64, "k": 32, "warps": 4, "stages": 3,
          "w_cols": 128, "w_features": 64, "w_rows": 32, "w_warps": 4, "w_stages": 2, "w_programs_per_sm": 8,
          "skip_zero_grad": True}  # the backward's zero-gradient skipping (bench/rgat.py's "(no skip)" rows)


SCAN_BLOCK = 1024  # marks per block of row_groups' scan (a group's marks take whole blocks)


@triton.jit(do_not_specialize=["base", "n", "N"])
def _mark_kernel(index, used, base, n, N, BLOCK: tl.constexpr):
    """``used[base + index[i]] = 1`` for ``i < n`` (indices outside ``[0, N)`` are skipped
    rather than written out of bounds)."""
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    valid = offs < n
    row = tl.load(index + offs, mask=valid, other=0).to(tl.int64)
    valid = valid & (row >= 0) & (row < N)
    tl.store(used + base + row, tl.full([BLOCK], 1, used.dtype.element_ty), mask=valid)


@triton.jit
def _block_sums_kernel(used, sums, BLOCK: tl.constexpr):
    """``sums[b]``: the marks in block ``b`` of ``used``."""
    block = tl.program_id(0).to(tl.int64)
    tl.store(sums + block, tl.sum(tl.load(used + block * BLOCK + tl.arange(0, BLOCK)), 0))


@triton.jit(do_not_specialize=["NB"])
def _group_scan_kernel(sums, prefix, counts, NB, BLOCK: tl.constexpr):
    """Per group (one program): ``prefix[g, b]``, the marks in the group's blocks before
    ``b``, and ``counts[g]``, all its marks."""
    group = tl.program_id(0).to(tl.int64)
    carry = tl.zeros([], tl.int64)
    for first in range(0, NB, BLOCK):
        offs = first + tl.arange(0, BLOCK)
        valid = offs < NB
        block_sums = tl.load(sums + group * NB + offs, mask=valid, other=0).to(tl.int64)
        inclusive = tl.cumsum(block_sums, 0)
        tl.store(prefix + group * NB + offs, carry + inclusive - block_sums, mask=valid)
        carry += tl.sum(block_sums, 0)
    tl.store(counts + group, carry)


@triton.jit(do_not_specialize=["N", "NB", "P"])
def _slots_kernel(used, prefix, rows, slot_of, N, NB, P, BLOCK: tl.constexpr):
    """Block ``b`` of the marks: each marked row's rank (the block's prefix plus an in-block
    scan) into ``slot_of`` (``g P + rank``, ``-1`` where unmarked) and ``rows[g, rank]``."""
    block = tl.program_id(0).to(tl.int64)
    group = block // NB
    node = (block - group * NB) * BLOCK + tl.arange(0, BLOCK)
    marks = tl.load(used + block * BLOCK + tl.arange(0, BLOCK))
    rank = tl.load(prefix + block) + tl.cumsum(marks.to(tl.int64), 0) - 1
    present = marks != 0
    tl.store(slot_of + group * N + node, tl.where(present, group * P + rank, -1), mask=node < N)
    tl.store(rows + group * P + rank, node, mask=present)


@triton_op("gnnx::row_groups_triton", mutates_args={})
def row_groups(indices: List[Tensor], num_rows: int, stride: int) -> Tuple[Tensor, Tensor, Tensor]:
    """``(rows [G, stride], counts [G], slot_of [G, num_rows])`` of
    :func:`gnnx.ops.row_groups` (int64; rows past a group's count are zero)."""
    groups, device = len(indices), indices[0].device
    blocks = torch.sym_max(1, (num_rows + SCAN_BLOCK - 1) // SCAN_BLOCK)  # per group
    used = torch.zeros(groups * blocks * SCAN_BLOCK, dtype=torch.int32, device=device)
    sums = torch.empty(groups * blocks, dtype=torch.int32, device=device)
    prefix = torch.empty(groups * blocks, dtype=torch.long, device=device)
    counts = torch.empty(groups, dtype=torch.long, device=device)
    rows = torch.zeros(groups, stride, dtype=torch.long, device=device)
    slot_of = torch.empty(groups, num_rows, dtype=torch.long, device=device)
    mark = 1024
    with _on_device(indices[0]):
        for g, index in enumerate(indices):
            n = index.numel()
            launcher(_mark_kernel, index)[(torch.sym_max(1, (n + mark - 1) // mark),)](
                index, used, g * blocks * SCAN_BLOCK, n, num_rows, BLOCK=mark)
        launcher(_block_sums_kernel, used)[(groups * blocks,)](used, sums, BLOCK=SCAN_BLOCK)
        launcher(_group_scan_kernel, used)[(groups,)](sums, prefix, counts, blocks, BLOCK=1024)
        launcher(_slots_kernel, used)[(groups * blocks,)](used, prefix, rows, slot_of, num_rows, blocks, stride,
                                                         BLOCK=SCAN_BLOCK)
    return rows, counts, slot_of


@triton.jit
def _row_tile(P, BM: tl.constexpr):
    """This program's row tile: its group and the tile's first row within the group. (No
    pointer goes in: Inductor's mutation analysis takes every pointer passed to a helper as
    written by a store whose address uses the helper's results, and would copy it each call.)"""
    first = tl.program_id(0).to(tl.int64) * BM
    group = first // P
    return group, first - group * P


@triton.jit
def _nonzero(tile):
    """1 where the 2-D ``tile`` holds a nonzero (NaN included: ``NaN != 0``), else 0 (int32).
    (Pointer-free for the reason given at :func:`_row_tile`.)"""
    return tl.max(tl.max((tile != 0).to(tl.int32), 1), 0)


@triton.jit(do_not_specialize=["P"])
def _zero_in_use_kernel(out, counts, P, COLS: tl.constexpr, BM: tl.constexpr, BC: tl.constexpr):
    """Zeros in the rows in use of a row tile of ``out [G P, COLS]``; the others are left as
    they are."""
    group, local = _row_tile(P, BM)
    count = tl.load(counts + group)
    if local < count:
        r = local + tl.arange(0, BM)
        row = group * P + r
        for first in range(0, COLS, BC):
            cols = first + tl.arange(0, BC)
            tl.store(out + row[:, None] * COLS + cols[None, :], tl.zeros([BM, BC], out.dtype.element_ty),
                     mask=(r < count)[:, None] & (cols < COLS)[None, :])


@triton.jit(do_not_specialize=["E", "STRIDE", "OFFSET"])
def _add_rows_kernel(out, index, values, E, STRIDE, OFFSET, COLS: tl.constexpr, WIDTH: tl.constexpr,
                     BE: tl.constexpr, BC: tl.constexpr, SKIP: tl.constexpr):
    """``out[index[e], OFFSET:OFFSET + WIDTH] += values[e]`` for a block of entries (atomic adds)."""
    e = tl.program_id(0).to(tl.int64) * BE + tl.arange(0, BE)
    cols = tl.program_id(1) * BC + tl.arange(0, BC)
    valid = (e < E)[:, None] & (cols < WIDTH)[None, :]
    row = tl.load(index + e, mask=e < E, other=0).to(tl.int64)
    value = tl.load(values + e[:, None] * STRIDE + cols[None, :], mask=valid, other=0.0)
    # adding a zero changes nothing: the edges whose messages carry no gradient (most of an
    # untrimmed last layer's) cost a read and no atomic
    if SKIP:
        valid = valid & (value != 0)
    tl.atomic_add(out + row[:, None] * COLS + OFFSET + cols[None, :], value, mask=valid, sem="relaxed")


@triton_op("gnnx::add_rows_in_use", mutates_args={})
def add_rows_in_use(index: Tensor, parts: List[Tensor], counts: Tensor, stride: int) -> Tensor:
    """``zeros([G stride, C]).index_add(0, index, cat(parts, 1))`` (``G = counts.numel()``, ``C``
    the parts' columns) in its rows in use, ``g stride + r`` for ``r < counts[g]``; the others
    are unspecified. Zeroing only the rows in use saves most of a full table's pass where few
    pairs are used (a compact R-GAT table is ``G`` node tables tall)."""
    parts = [part if part.stride(1) == 1 else part.contiguous() for part in parts]  # rows may be strided
    widths = [part.size(1) for part in parts]
    cols = sum(widths)
    out = torch.empty(counts.numel() * stride, cols, dtype=parts[0].dtype, device=index.device)
    rows_per_tile, cols_per_tile, entries = 64, 64, 64
    with _on_device(index):
        launcher(_zero_in_use_kernel, out)[(counts.numel() * stride // rows_per_tile,)](
            out, counts, stride, COLS=cols, BM=rows_per_tile, BC=cols_per_tile)
        offset, n = 0, index.numel()
        for part, width in zip(parts, widths):
            if width == 0:
                continue
            launcher(_add_rows_kernel, out)[(torch.sym_max(1, (n + entries - 1) // entries),
                                             (width + cols_per_tile - 1) // cols_per_tile)](
                out, index, part, n, part.stride(0), offset, COLS=cols, WIDTH=width, BE=entries, BC=cols_per_tile,
                SKIP=CONFIG["skip_zero_grad"])
            offset += width
    return out


@triton.jit(do_not_specialize=["P", "FULL"])
def _forward_kernel(x, rows, counts, w, out, out_tail, P, FULL, IN: tl.constexpr, OUT: tl.constexpr,
                    WIDTH: tl.constexpr, TAIL: tl.constexpr, BM: tl.constexpr, BN: tl.constexpr, BK: tl.constexpr,
                    HALF: tl.constexpr, PRECISION: tl.constexpr):
    group, local = _row_tile(P, BM)
    count = tl.load(counts + group)
    main = group < FULL
    col_tile = tl.program_id(1)
    if (local < count) & (main | (col_tile == 0)):
        r = local + tl.arange(0, BM)
        valid = r < count
        node = tl.load(rows + group * P + r, mask=valid, other=0).to(tl.int64)
        cols = col_tile * BN + tl.arange(0, BN)
        tails = WIDTH + tl.arange(0, TAIL)
        weights = w + group * (OUT * IN)
        acc = tl.zeros([BM, BN], tl.float32)
        tail = tl.zeros([BM, TAIL], tl.float32)
        for k0 in range(0, IN, BK):
            ks = k0 + tl.arange(0, BK)
            a = tl.load(x + node[:, None] * IN + ks[None, :], mask=valid[:, None] & (ks[None, :] < IN), other=0.0)
            if main:
                w_main = tl.load(weights + cols[None, :] * IN + ks[:, None],
                                 mask=(cols[None, :] < WIDTH) & (ks[:, None] < IN), other=0.0)
                acc = _dot(a, w_main, acc, HALF, PRECISION)
            if col_tile == 0:
                w_tail = tl.load(weights + tails[None, :] * IN + ks[:, None],
                                 mask=(tails[None, :] < OUT) & (ks[:, None] < IN), other=0.0)
                tail = _dot(a, w_tail, tail, HALF, PRECISION)
        if main:
            at = (group * P + r)[:, None] * OUT
            tl.store(out + at + cols[None, :], acc.to(out.dtype.element_ty), mask=valid[:, None] & (cols[None, :] < WIDTH))
            if col_tile == 0:
                tl.store(out + at + tails[None, :], tail.to(out.dtype.element_ty),
                         mask=valid[:, None] & (tails[None, :] < OUT))
        else:
            at = ((group - FULL) * P + r)[:, None] * (OUT - WIDTH)
            tl.store(out_tail + at + (tails - WIDTH)[None, :], tail.to(out.dtype.element_ty),
                     mask=valid[:, None] & (tails[None, :] < OUT))


@triton.jit(do_not_specialize=["P", "FULL"])
def _grad_rows_kernel(grad, grad_tail, counts, w, out, P, FULL, IN: tl.constexpr, OUT: tl.constexpr,
                      WIDTH: tl.constexpr, TAIL: tl.constexpr, BM: tl.constexpr, BN: tl.constexpr, BK: tl.constexpr,
                      SKIP: tl.constexpr, HALF: tl.constexpr, PRECISION: tl.constexpr):
    """``out[p] = grad[p] @ W_g`` (``[G P, IN]``) for the rows in use; with ``SKIP`` a
    ``[BM, BK]`` chunk of the gradient that is all zero (NaN counts as nonzero) adds no product."""
    group, local = _row_tile(P, BM)
    count = tl.load(counts + group)
    if local < count:
        r = local + tl.arange(0, BM)
        valid = r < count
        cols = tl.program_id(1) * BN + tl.arange(0, BN)
        tails = tl.arange(0, TAIL)
        main = group < FULL
        if main:
            at = (group * P + r)[:, None] * OUT
        else:
            at = ((group - FULL) * P + r)[:, None] * (OUT - WIDTH)
        acc = tl.zeros([BM, BN], tl.float32)
        weights = w + group * (OUT * IN)
        if main:
            for k0 in range(0, WIDTH, BK):
                ks = k0 + tl.arange(0, BK)
                g_main = tl.load(grad + at + ks[None, :], mask=valid[:, None] & (ks[None, :] < WIDTH), other=0.0)
                # a branch per chunk, not a check of the whole tile first: the tile is read once
                # (checking first cost a dense gradient 24 % more, this 9 %: grouped_skip_ab.py)
                if SKIP:
                    if _nonzero(g_main) != 0:
                        w_main = tl.load(weights + ks[:, None] * IN + cols[None, :],
                                         mask=(ks[:, None] < WIDTH) & (cols[None, :] < IN), other=0.0)
                        acc = _dot(g_main, w_main, acc, HALF, PRECISION)
                else:
                    w_main = tl.load(weights + ks[:, None] * IN + cols[None, :],
                                     mask=(ks[:, None] < WIDTH) & (cols[None, :] < IN), other=0.0)
                    acc = _dot(g_main, w_main, acc, HALF, PRECISION)
            a = tl.load(grad + at + WIDTH + tails[None, :], mask=valid[:, None] & (tails[None, :] < OUT - WIDTH),
                        other=0.0)
        else:
            a = tl.load(grad_tail + at + tails[None, :], mask=valid[:, None] & (tails[None, :] < OUT - WIDTH),
                        other=0.0)
        b = tl.load(weights + (WIDTH + tails)[:, None] * IN + cols[None, :],
                    mask=(tails[:, None] < OUT - WIDTH) & (cols[None, :] < IN), other=0.0)
        acc = _dot(a, b, acc, HALF, PRECISION)
        tl.store(out + (group * P + r)[:, None] * IN + cols[None, :], acc.to(out.dtype.element_ty),
                 mask=valid[:, None] & (cols[None, :] < IN))


@triton.jit(do_not_specialize=["P", "FULL", "SPLITS"])
def _grad_weight_kernel(grad, grad_tail, x, rows, counts, partial, P, FULL, SPLITS, IN: tl.constexpr, OUT: tl.constexpr,
                        WIDTH: tl.constexpr, TAIL: tl.constexpr, ROWS: tl.constexpr, BC: tl.constexpr,
                        BF: tl.constexpr, HALF: tl.constexpr, PRECISION: tl.constexpr):
    """``partial[g, split] = sum_p grad[p]^T x[rows[p]]`` (``[O, I]``) over this program's
    range of group ``g``'s rows in use; every entry is written (zeros where nothing adds)."""
    group = tl.program_id(2) // SPLITS
    split = tl.program_id(2) % SPLITS
    count = tl.load(counts + group)
    per_split = tl.cdiv(tl.cdiv(count, ROWS), SPLITS) * ROWS
    start = split * per_split
    stop = tl.minimum(count, start + per_split)
    main = group < FULL
    col_tile = tl.program_id(0)
    cs = col_tile * BC + tl.arange(0, BC)
    tails = tl.arange(0, TAIL)
    fs = tl.program_id(1) * BF + tl.arange(0, BF)
    acc = tl.zeros([BC, BF], tl.float32)
    tail = tl.zeros([TAIL, BF], tl.float32)
    if main | (col_tile == 0):
        for r0 in range(start, stop, ROWS):
            r = r0 + tl.arange(0, ROWS)
            valid = r < stop
            if main:
                main_at = (group * P + r)[None, :] * OUT
                g_main = tl.load(grad + main_at + cs[:, None], mask=valid[None, :] & (cs[:, None] < WIDTH), other=0.0)
                g_tail = tl.load(grad + main_at + WIDTH + tails[:, None],
                                 mask=valid[None, :] & (tails[:, None] < OUT - WIDTH) & (col_tile == 0), other=0.0)
            else:
                g_main = tl.zeros([BC, ROWS], grad.dtype.element_ty)
                tail_at = ((group - FULL) * P + r)[None, :] * (OUT - WIDTH)
                g_tail = tl.load(grad_tail + tail_at + tails[:, None],
                                 mask=valid[None, :] & (tails[:, None] < OUT - WIDTH), other=0.0)
            node = tl.load(rows + group * P + r, mask=valid, other=0).to(tl.int64)
            xs = tl.load(x + node[:, None] * IN + fs[None, :], mask=valid[:, None] & (fs[None, :] < IN), other=0.0)
            if main:
                acc = _dot(g_main, xs, acc, HALF, PRECISION)
            if col_tile == 0:
                tail = _dot(g_tail, xs, tail, HALF, PRECISION)
    base = partial + tl.program_id(2).to(tl.int64) * (OUT * IN)
    tl.store(base + cs[:, None] * IN + fs[None, :], acc, mask=(cs[:, None] < WIDTH) & (fs[None, :] < IN))
    if col_tile == 0:
        tl.store(base + (WIDTH + tails)[:, None] * IN + fs[None, :], tail,
                 mask=(tails[:, None] < OUT - WIDTH) & (fs[None, :] < IN))


def _tile(width: int, key: str) -> int:
    """A tile no wider than the matrix (at least 16, for ``tl.dot``)."""
    return min(CONFIG[key], max(16, triton.next_power_of_2(width)))


def _tail(outs: int, width: int) -> int:
    return max(16, triton.next_power_of_2(max(outs - width, 1)))


@triton_op("gnnx::grouped_project", mutates_args={})
def grouped_project(x: Tensor, weight: Tensor, rows: Tensor, counts: Tensor, stride: int, full: int,
                    width: int) -> Tuple[Tensor, Tensor]:
    """``(out [full * stride, O], tail [(G - full) * stride, O - width])``: the forward of
    :func:`gnnx.ops.grouped_project` (rows past a group's count left unwritten)."""
    x, weight = x.contiguous(), weight.contiguous()
    groups, outs, ins = weight.shape
    out = x.new_empty((full * stride, outs))
    tail = x.new_empty(((groups - full) * stride, outs - width))
    bm, bn, bk = CONFIG["rows"], _tile(width, "cols"), _tile(ins, "k")
    with _on_device(x):
        launcher(_forward_kernel, x)[(torch.sym_max(1, groups * stride // bm), triton.cdiv(width, bn))](
            x, rows, counts, weight, out, tail, stride, full, IN=ins, OUT=outs, WIDTH=width, TAIL=_tail(outs, width),
            BM=bm, BN=bn, BK=bk, HALF=x.dtype != torch.float32, PRECISION=_precision(), num_warps=CONFIG["warps"],
            num_stages=CONFIG["stages"])
    return out, tail


@triton_op("gnnx::grouped_project_grads", mutates_args={})
def grouped_project_grads(grad: Tensor, grad_tail: Tensor, x: Tensor, weight: Tensor, rows: Tensor, counts: Tensor,
                          stride: int, full: int, width: int, need_rows: bool) -> Tuple[Tensor, Tensor]:
    """``(grad of the gathered rows [G * stride, I] (empty unless need_rows; rows past a
    group's count unwritten), grad of weight [G, O, I])``."""
    grad, grad_tail, x, weight = grad.contiguous(), grad_tail.contiguous(), x.contiguous(), weight.contiguous()
    groups, outs, ins = weight.shape
    half, precision, tail = x.dtype != torch.float32, _precision(), _tail(outs, width)
    grad_rows = x.new_empty((groups * stride, ins) if need_rows else (0,))
    with _on_device(x):
        if need_rows:
            bm, bn, bk = CONFIG["rows"], _tile(ins, "cols"), _tile(width, "k")
            launcher(_grad_rows_kernel, x)[(torch.sym_max(1, groups * stride // bm), triton.cdiv(ins, bn))](
                grad, grad_tail, counts, weight, grad_rows, stride, full, IN=ins, OUT=outs, WIDTH=width, TAIL=tail,
                BM=bm, BN=bn, BK=bk, SKIP=CONFIG["skip_zero_grad"], HALF=half, PRECISION=precision,
                num_warps=CONFIG["warps"], num_stages=CONFIG["stages"])
        bc, bf = _tile(width, "w_cols"), _tile(ins, "w_features")
        tiles = triton.cdiv(width, bc) * triton.cdiv(ins, bf)
        sms = torch.cuda.get_device_properties(x.device).multi_processor_count
        splits = max(1, triton.cdiv(CONFIG["w_programs_per_sm"] * sms, tiles * groups))
        partial = torch.empty((groups * splits, outs, ins), dtype=torch.float32, device=x.device)
        launcher(_grad_weight_kernel, x)[(triton.cdiv(width, bc), triton.cdiv(ins, bf), groups * splits)](
            grad, grad_tail, x, rows, counts, partial, stride, full, splits, IN=ins, OUT=outs, WIDTH=width, TAIL=tail,
            ROWS=CONFIG["w_rows"], BC=bc, BF=bf, HALF=half, PRECISION=precision, num_warps=CONFIG["w_warps"],
            num_stages=CONFIG["w_stages"])
        grad_weight = partial.view(groups, splits, outs, ins).sum(1).to(weight.dtype)
    return grad_rows, grad_weight
