r"""fp32 matrix products on tensor cores (CUDA): ``C = A B`` as three TF32 products per
product (Triton's ``tf32x3``: each operand split into a TF32 head and a TF32 tail,
``A_h B_h + A_h B_t + A_t B_h`` accumulated in fp32), fp32 accuracy at tensor-core speed
where cuBLAS runs fp32 products on the CUDA cores. Registered with
``torch.library.triton_op`` so they compile into ``torch.compile`` graphs and AOTInductor
packages; :func:`gnnx.ops.matmul` picks them (module :mod:`gnnx.ops.matmul`).

Long reductions (``K`` much larger than ``M N`` has tiles, e.g. a weight gradient over
hundreds of thousands of rows) are split over ``K``: each split writes its own partial
product and the partials are summed in a fixed order, so results repeat bitwise.
"""
from __future__ import annotations

import torch
import triton
import triton.language as tl
from torch import Tensor
from torch.library import triton_op

from gnnx.ops.triton_kernels import _on_device, launcher

# Tiles per shape class, measured on an H100 (bench/matmul_tf32x3.py): "tall" products have
# many rows and a short reduction (a projection, or its input gradient), "long" ones a long
# reduction over rows (a weight gradient, split over K).
CONFIG = {
    "tall": {"BM": 128, "BN": 128, "BK": 32, "GROUP_M": 8, "num_warps": 8, "num_stages": 3},
    "long": {"BM": 128, "BN": 128, "BK": 32, "GROUP_M": 8, "num_warps": 8, "num_stages": 3},
}
PROGRAMS_PER_SM = 2  # split-K aims for this many programs per SM
MAX_SPLITS = 64
PRECISION = "tf32x3"


@triton.jit
def _matmul_kernel(a, b, b_lo, c, M, N, K, stride_am, stride_ak, stride_bk, stride_bn, stride_cs, stride_cm,
                   stride_cn, K_PER_SPLIT, BM: tl.constexpr, BN: tl.constexpr, BK: tl.constexpr,
                   GROUP_M: tl.constexpr, PRECISION: tl.constexpr):
    """``c[split] = a[:, ks] @ b[ks, :]`` for the ``split``-th range ``ks`` of ``K_PER_SPLIT``
    columns of ``a``; tiles ordered in groups of ``GROUP_M`` row tiles (the same ``b``
    columns stay in L2 while a group runs)."""
    pid = tl.program_id(0)
    split = tl.program_id(1)
    tiles_m = tl.cdiv(M, BM)
    tiles_n = tl.cdiv(N, BN)
    per_group = GROUP_M * tiles_n
    first_m = (pid // per_group) * GROUP_M
    group_rows = tl.minimum(tiles_m - first_m, GROUP_M)
    tile_m = first_m + (pid % per_group) % group_rows
    tile_n = (pid % per_group) // group_rows
    offs_m = tile_m * BM + tl.arange(0, BM)
    offs_n = tile_n * BN + tl.arange(0, BN)
    offs_k = tl.arange(0, BK)
    k_start = split * K_PER_SPLIT
    k_end = tl.minimum(K, k_start + K_PER_SPLIT)
    mmask = offs_m < M
    nmask = offs_n < N
    a_rows = a + offs_m.to(tl.int64)[:, None] * stride_am
    b_cols = offs_n.to(tl.int64)[None, :] * stride_bn
    acc = tl.zeros((BM, BN), dtype=tl.float32)
    for k in range(k_start, k_end, BK):
        ks = k + offs_k
        kmask = ks < k_end
        a_tile = tl.load(a_rows + ks.to(tl.int64)[None, :] * stride_ak, mask=mmask[:, None] & kmask[None, :], other=0.0)
        b_tile = tl.load(b + b_cols + ks.to(tl.int64)[:, None] * stride_bk, mask=kmask[:, None] & nmask[None, :], other=0.0)
        if PRECISION == "split":  # b given split (b_tile: head, b_tail: tail), a split here
            b_tail = tl.load(b_lo + b_cols + ks.to(tl.int64)[:, None] * stride_bk,
                             mask=kmask[:, None] & nmask[None, :], other=0.0)
            a_head = (a_tile.to(tl.int32, bitcast=True) & -8192).to(tl.float32, bitcast=True)
            a_tail = a_tile - a_head
            acc = tl.dot(a_tail, b_tile, acc, input_precision="tf32")
            acc = tl.dot(a_head, b_tail, acc, input_precision="tf32")
            acc = tl.dot(a_head, b_tile, acc, input_precision="tf32")
        else:
            acc = tl.dot(a_tile, b_tile, acc, input_precision=PRECISION)
    out = c + split.to(tl.int64) * stride_cs + offs_m.to(tl.int64)[:, None] * stride_cm + offs_n[None, :] * stride_cn
    tl.store(out, acc, mask=mmask[:, None] & nmask[None, :])


def _splits(tiles: int, device: torch.device) -> int:
    """Ranges a long reduction is split into: enough programs to fill the GPU. A function of
    the output's tile count only (for a weight gradient, the weight's shape), so a compiled
    graph does not specialise on the number of rows."""
    sms = torch.cuda.get_device_properties(device).multi_processor_count
    return max(1, min(MAX_SPLITS, (PROGRAMS_PER_SM * sms) // tiles))


@triton_op("gnnx::matmul_tf32x3", mutates_args={})
def matmul_tf32x3(a: Tensor, b: Tensor, split_k: bool) -> Tensor:
    """``a @ b`` for fp32 ``a [M, K]`` and ``b [K, N]`` (any strides) with fp32 accuracy on
    tensor cores; ``split_k`` for a reduction much longer than ``M`` and ``N`` (a weight
    gradient)."""
    M, K = a.shape
    N = b.size(1)
    config = CONFIG["long" if split_k else "tall"]
    tiles = triton.cdiv(M, config["BM"]) * triton.cdiv(N, config["BN"])
    splits = _splits(tiles, a.device) if split_k else 1
    per_split = triton.cdiv(triton.cdiv(K, splits), config["BK"]) * config["BK"]  # empty splits write zeros
    out = torch.empty((splits, M, N), dtype=torch.float32, device=a.device)
    if PRECISION == "split":
        b_head = (b.view(torch.int32) & -8192).view(torch.float32)
        b_tail = b - b_head
    else:
        b_head = b_tail = b
    grid = (tiles, splits)
    with _on_device(a):
        launcher(_matmul_kernel, a)[grid](
            a, b_head, b_tail, out, M, N, K, a.stride(0), a.stride(1), b.stride(0), b.stride(1), out.stride(0), out.stride(1),
            out.stride(2), per_split, BM=config["BM"], BN=config["BN"], BK=config["BK"], GROUP_M=config["GROUP_M"],
            PRECISION=PRECISION, num_warps=config["num_warps"], num_stages=config["num_stages"])
    return out[0] if splits == 1 else out.sum(0)
