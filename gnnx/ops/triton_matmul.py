r"""Matrix products that skip the zero row blocks of their left operand, on CUDA (Triton,
registered with ``torch.library.triton_op`` so they compile into ``torch.compile`` graphs).

They serve the backward of :func:`gnnx.ops.project`: for ``y = x W^T`` with output gradient
``g``, ``grad x = g W`` and ``grad W = g^T x``, and in a sampled mini-batch most rows of ``g``
are zero (a layer's outputs at the outer hops reach no seed), so blocks of :data:`ROWS` rows
whose gradient is all zero cost a read of ``g`` and nothing else:

1. one pass marks the row blocks of ``g`` holding any nonzero (NaN counts as nonzero);
2. ``g @ W``: a tile of output rows is a product over the block's columns, or zeros;
3. ``g^T @ x``: the nonzero blocks listed in order (one program), the list cut into equal
   ranges, one per program (the work spreads evenly whatever the pattern; a loop without
   branches, so its loads pipeline), each program's partial sum stored, the partials summed in
   a fixed order (no atomics: repeatable).

fp32 products run on tensor cores as three TF32 products (Triton's ``tf32x3``, fp32
accuracy), or one where ``torch.backends.cuda.matmul.allow_tf32`` allows TF32; fp16 and bf16
ones as such, summed in fp32.
"""
from __future__ import annotations

from typing import Tuple, Union

import torch
import triton
import triton.language as tl
from torch import Tensor
from torch.library import triton_op

from gnnx.ops.triton_kernels import _on_device, launcher

ROWS = 32  # rows per flag: the unit that is skipped
# Sizes are not specialised (``do_not_specialize``): a sampled batch's row counts change every
# step, and an eager call would otherwise compile a variant per divisibility by 16.
# Launch shapes (bench/tune_project.py on an H100: bench/results/h100/tune_project.json); the
# row tile of g @ W (mm_m) is a multiple of ROWS, g^T @ x steps ROWS rows at a time.
CONFIG = {"mm_m": 128, "mm_n": 64, "mm_k": 32, "mm_warps": 4, "mm_stages": 3,
          "tmm_c": 128, "tmm_f": 64, "tmm_warps": 4, "tmm_stages": 3, "tmm_programs_per_sm": 2}


@triton.jit
def _dot(a, b, acc, HALF: tl.constexpr, PRECISION: tl.constexpr):
    """``acc + a @ b``: fp16/bf16 as such, fp32 at ``PRECISION`` (``tf32x3`` or ``tf32``)."""
    if HALF:
        return tl.dot(a, b, acc)
    return tl.dot(a, b, acc, input_precision=PRECISION)


@triton.jit(do_not_specialize=["M", "K"])
def _nonzero_blocks_kernel(a, flags, M, K, COLS: tl.constexpr, ROWS: tl.constexpr):
    """``flags[b] = 1`` where rows ``[b * ROWS, (b + 1) * ROWS)`` of ``a [M, K]`` hold a nonzero."""
    block = tl.program_id(0)
    rows = block.to(tl.int64) * ROWS + tl.arange(0, ROWS)
    nonzero = tl.zeros([ROWS, COLS], tl.int32)
    for k0 in range(0, K, COLS):
        cols = k0 + tl.arange(0, COLS)
        v = tl.load(a + rows[:, None] * K + cols[None, :], mask=(rows[:, None] < M) & (cols[None, :] < K), other=0.0)
        nonzero |= (v != 0).to(tl.int32)
    tl.store(flags + block, tl.max(tl.max(nonzero, 1), 0).to(tl.int8), mask=block * ROWS < M)


@triton.jit
def _any_flag(flags, first_row, M, TILE: tl.constexpr, ROWS: tl.constexpr):
    """Whether rows ``[first_row, first_row + TILE)`` hold a nonzero (``TILE`` a multiple of ``ROWS``)."""
    if TILE == ROWS:
        return tl.load(flags + first_row // ROWS, mask=first_row < M, other=0) != 0
    index = first_row // ROWS + tl.arange(0, TILE // ROWS)
    return tl.max(tl.load(flags + index, mask=index * ROWS < M, other=0), 0) != 0


@triton.jit(do_not_specialize=["M", "N", "K"])
def _mm_kernel(a, b, c, flags, M, N, K, ROWS: tl.constexpr, BM: tl.constexpr, BN: tl.constexpr, BK: tl.constexpr,
               HALF: tl.constexpr, PRECISION: tl.constexpr):
    """``c = a @ b`` (``a [M, K]``, ``b [K, N]``), a tile of ``BM`` rows zero where its rows of
    ``a`` are."""
    first = tl.program_id(0).to(tl.int64) * BM
    rows = first + tl.arange(0, BM)
    cols = tl.program_id(1) * BN + tl.arange(0, BN)
    acc = tl.zeros([BM, BN], tl.float32)
    if _any_flag(flags, first, M, BM, ROWS):
        for k0 in range(0, K, BK):
            ks = k0 + tl.arange(0, BK)
            x = tl.load(a + rows[:, None] * K + ks[None, :], mask=(rows[:, None] < M) & (ks[None, :] < K), other=0.0)
            y = tl.load(b + ks[:, None] * N + cols[None, :], mask=(ks[:, None] < K) & (cols[None, :] < N), other=0.0)
            acc = _dot(x, y, acc, HALF, PRECISION)
    tl.store(c + rows[:, None] * N + cols[None, :], acc.to(c.dtype.element_ty),
             mask=(rows[:, None] < M) & (cols[None, :] < N))


@triton.jit(do_not_specialize=["num_flags"])
def _compact_kernel(flags, tiles, count, num_flags, BLOCK: tl.constexpr):
    """One program: ``tiles[:n]`` the indices ``b`` with ``flags[b] != 0`` in increasing order,
    ``count[0] = n``."""
    total = tl.zeros([], tl.int32)
    for start in range(0, num_flags, BLOCK):
        index = start + tl.arange(0, BLOCK)
        flag = (tl.load(flags + index, mask=index < num_flags, other=0) != 0).to(tl.int32)
        tl.store(tiles + total + tl.cumsum(flag, 0) - 1, index, mask=flag != 0)
        total += tl.sum(flag, 0)
    tl.store(count, total)


@triton.jit(do_not_specialize=["M", "KA", "N"])
def _tmm_kernel(a, b, partial, tiles, count, M, KA, N, ROWS: tl.constexpr, BC: tl.constexpr, BF: tl.constexpr,
                HALF: tl.constexpr, PRECISION: tl.constexpr):
    """This program's part of ``a^T @ b`` (``a [M, KA]``, ``b [M, N]``): its range of the
    list of nonzero row tiles of ``a``, into ``partial[split]``."""
    split = tl.program_id(2)
    cs = tl.program_id(0) * BC + tl.arange(0, BC)
    fs = tl.program_id(1) * BF + tl.arange(0, BF)
    count_all = tl.load(count)
    per_split = tl.cdiv(count_all, tl.num_programs(2))
    acc = tl.zeros([BC, BF], tl.float32)
    for i in range(split * per_split, tl.minimum(count_all, (split + 1) * per_split)):
        rows = tl.load(tiles + i).to(tl.int64) * ROWS + tl.arange(0, ROWS)
        x_t = tl.load(a + rows[None, :] * KA + cs[:, None], mask=(rows[None, :] < M) & (cs[:, None] < KA), other=0.0)
        y = tl.load(b + rows[:, None] * N + fs[None, :], mask=(rows[:, None] < M) & (fs[None, :] < N), other=0.0)
        acc = _dot(x_t, y, acc, HALF, PRECISION)
    tl.store(partial + split.to(tl.int64) * KA * N + cs[:, None] * N + fs[None, :], acc,
             mask=(cs[:, None] < KA) & (fs[None, :] < N))


def _precision() -> str:
    return "tf32" if torch.backends.cuda.matmul.allow_tf32 else "tf32x3"


def _blocks(rows: Union[int, torch.SymInt], block: int) -> Union[int, torch.SymInt]:
    """Programs for ``rows`` in blocks of ``block``: one more than whole blocks, so at least
    one (a launch of none fails) without ``max``, whose symbolic form compiled code guards on;
    the kernels mask rows past the end."""
    return rows // block + 1


def _nonzero_blocks(a: Tensor) -> Tensor:
    """``flags[b]`` for the ``cdiv(M, ROWS)`` row blocks of ``a``; entries past them are
    unset. Two longer than whole blocks: a size that may be 1 makes compiled code guard on
    it (``is_contiguous``), a recompile as a trimmed layer grows past ``ROWS`` rows."""
    M, K = a.shape
    flags = torch.empty(M // ROWS + 2, dtype=torch.int8, device=a.device)
    launcher(_nonzero_blocks_kernel, a)[(_blocks(M, ROWS),)](
        a, flags, M, K, COLS=min(128, max(16, triton.next_power_of_2(K))), ROWS=ROWS, num_warps=4)
    return flags


@triton_op("gnnx::sparse_rows_grads", mutates_args={})
def sparse_rows_grads(grad: Tensor, x: Tensor, weight: Tensor, need_x: bool, need_weight: bool
                      ) -> Tuple[Tensor, Tensor]:
    """``(grad @ weight, grad^T @ x)`` for ``y = x @ weight^T`` (``grad [M, O]``, ``x [M, I]``,
    ``weight [O, I]``), skipping the all-zero row blocks of ``grad``; an output not asked for
    comes back empty."""
    grad, x, weight = grad.contiguous(), x.contiguous(), weight.contiguous()
    (rows, outs), ins = grad.shape, x.size(1)
    half, precision = grad.dtype != torch.float32, _precision()
    grad_x = grad.new_empty((rows, ins) if need_x else (0,))
    grad_w = weight.new_empty((outs, ins) if need_weight else (0,))
    def fit(width, key):  # a tile no wider than the matrix (at least 16 for tl.dot)
        return min(CONFIG[key], max(16, triton.next_power_of_2(width)))

    bn, bk, bc, bf = fit(ins, "mm_n"), fit(outs, "mm_k"), fit(outs, "tmm_c"), fit(ins, "tmm_f")
    with _on_device(grad):
        flags = _nonzero_blocks(grad)
        if need_x:
            launcher(_mm_kernel, grad)[(_blocks(rows, CONFIG["mm_m"]), triton.cdiv(ins, bn))](
                grad, weight, grad_x, flags, rows, ins, outs, ROWS=ROWS, BM=CONFIG["mm_m"], BN=bn, BK=bk, HALF=half,
                PRECISION=precision, num_warps=CONFIG["mm_warps"], num_stages=CONFIG["mm_stages"])
        if need_weight:
            tiles = triton.cdiv(outs, bc) * triton.cdiv(ins, bf)
            sms = torch.cuda.get_device_properties(grad.device).multi_processor_count
            # A fixed count, not capped by the row blocks: a symbolic min of the row count in a
            # shape invites guards on it (see _nonzero_blocks); splits past the nonzero tiles
            # store zeros (at most about programs_per_sm x SMs tile-sized partials in all).
            splits = triton.cdiv(CONFIG["tmm_programs_per_sm"] * sms, tiles)
            nonzero = torch.empty(flags.numel(), dtype=torch.int32, device=grad.device)
            count = torch.empty(1, dtype=torch.int32, device=grad.device)
            launcher(_compact_kernel, grad)[(1,)](flags, nonzero, count, triton.cdiv(rows, ROWS), BLOCK=1024,
                                                  num_warps=4)
            partial = torch.empty((splits, outs, ins), dtype=torch.float32, device=grad.device)
            launcher(_tmm_kernel, grad)[(triton.cdiv(outs, bc), triton.cdiv(ins, bf), splits)](
                grad, x, partial, nonzero, count, rows, outs, ins, ROWS=ROWS, BC=bc, BF=bf, HALF=half,
                PRECISION=precision, num_warps=CONFIG["tmm_warps"], num_stages=CONFIG["tmm_stages"])
            grad_w = partial.sum(0).to(weight.dtype)
    return grad_x, grad_w
