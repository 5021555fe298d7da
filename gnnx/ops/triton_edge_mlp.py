r"""Fused EdgeConv on CUDA: gather, the two-layer message MLP and the max in Triton kernels
(issue #17), registered with ``torch.library.triton_op`` so they compile into
``torch.compile`` graphs and AOTInductor packages.

The first linear layer is applied per node by the caller (:class:`~gnnx.nn.EdgeConv`
splits it by linearity), so for an edge ``j -> i`` the message is

.. math::
    \mathbf{m}_{ij} = \mathbf{W}_2\,\mathrm{ReLU}(\mathbf{a}_i + \mathbf{b}_j) + \mathbf{c},
    \qquad \mathbf{x}'_i = \max_j \mathbf{m}_{ij}\ (0 \text{ without edges}).

Forward: one program per destination row loads its edges' ``b_j`` in blocks, applies the
ReLU and the product with ``W_2`` (``tl.dot``) in registers and keeps the running maximum
and the winning edge per output channel; only ``[N, F_out]`` outputs and winners are
written, never the ``[E, F]`` hidden or message rows. Ties go to the first edge in CSR
order. Backward recomputes the hidden rows: a pass over destination rows gives
``grad a`` and per-program partial sums of ``grad W_2`` (summed in a fixed order, no
atomics), a pass over the transposed CSR gives ``grad b``. Matrix products follow torch's
fp32 setting (TF32 only where ``torch.backends.cuda.matmul`` allows it).
"""
from __future__ import annotations

from typing import Optional, Tuple

import torch
import triton
import triton.language as tl
from torch import Tensor
from torch.library import triton_op

from gnnx.ops.triton_kernels import _on_device, launcher

MAX_WIDTH = 64  # hidden and output channels held in registers (wider: W spills; those go unfused)
# Launch shapes per matmul precision: edges per step (16 is tl.dot's smallest operand), rows
# per program (sharing one load of W), warps, persistent programs per SM of the backward's
# destination pass. Measured on an H200 with bench/tune_pointcloud.py (one EdgeConv layer of the
# seed graph, bench/results/h200/tune_pointcloud.json): forward 0.29 ms (ieee) / 0.19 ms (tf32)
# against 0.53 ms unfused; forward + backward 1.45-1.6 against 1.70 ms.
CONFIGS = {"ieee": {"BLOCK_E": 32, "ROWS": 1, "num_warps": 2, "programs_per_sm": 4},
           "tf32": {"BLOCK_E": 16, "ROWS": 4, "num_warps": 2, "programs_per_sm": 4}}


@triton.jit
def _forward_kernel(rowptr, col, perm, a, b, w, bias, out, arg, num_rows, H, OUT,
                    HAS_BIAS: tl.constexpr, H_PAD: tl.constexpr, O_PAD: tl.constexpr, BLOCK_E: tl.constexpr,
                    ROWS: tl.constexpr, PRECISION: tl.constexpr):
    offs_h = tl.arange(0, H_PAD)
    offs_o = tl.arange(0, O_PAD)
    hmask, omask = offs_h < H, offs_o < OUT
    w_t = tl.load(w + offs_o[None, :] * H + offs_h[:, None], mask=hmask[:, None] & omask[None, :],
                  other=0.0).to(tl.float32)  # [H, OUT], loaded once for ROWS rows
    if HAS_BIAS:
        bias_row = tl.load(bias + offs_o, mask=omask, other=0.0).to(tl.float32)
    for r in tl.static_range(ROWS):
        row = tl.program_id(0).to(tl.int64) * ROWS + r
        live_h = hmask & (offs_h * 0 + row < num_rows)  # vector masks (the interpreter takes no scalar ones)
        live_o = omask & (offs_o * 0 + row < num_rows)
        start = tl.load(rowptr + tl.minimum(row, num_rows))  # a row past the end: no edges
        end = tl.load(rowptr + tl.minimum(row + 1, num_rows))
        a_row = tl.load(a + row * H + offs_h, mask=live_h, other=0.0).to(tl.float32)
        acc = tl.full([O_PAD], float("-inf"), tl.float32)
        best = tl.full([O_PAD], -1, tl.int64)
        for e0 in range(start, end, BLOCK_E):
            offs_e = e0 + tl.arange(0, BLOCK_E)
            emask = offs_e < end
            src = tl.load(col + offs_e, mask=emask, other=0)
            b_e = tl.load(b + src[:, None] * H + offs_h[None, :], mask=emask[:, None] & hmask[None, :],
                          other=0.0).to(tl.float32)
            hidden = tl.maximum(a_row[None, :] + b_e, 0.0)
            msg = tl.dot(hidden, w_t, input_precision=PRECISION)
            msg = tl.where(emask[:, None], msg, float("-inf"))
            block_max = tl.max(msg, 0)
            block_arg = tl.argmax(msg, 0)
            better = block_max > acc
            acc = tl.where(better, block_max, acc)
            best = tl.where(better, e0 + block_arg, best)
        found = best >= 0
        edge = tl.load(perm + best, mask=found & omask, other=-1).to(tl.int32)  # winners as input edge ids
        if HAS_BIAS:
            acc += bias_row
        tl.store(out + row * OUT + offs_o, tl.where(found, acc, 0.0), mask=live_o)
        tl.store(arg + row * OUT + offs_o, edge, mask=live_o)


@triton.jit
def _backward_dst_kernel(rowptr, col, perm, a, b, w, grad, arg, grad_a, grad_w_part, num_rows, H, OUT,
                         H_PAD: tl.constexpr, O_PAD: tl.constexpr, BLOCK_E: tl.constexpr,
                         PRECISION: tl.constexpr):
    pid = tl.program_id(0)
    offs_h = tl.arange(0, H_PAD)
    offs_o = tl.arange(0, O_PAD)
    hmask, omask = offs_h < H, offs_o < OUT
    w_oh = tl.load(w + offs_o[:, None] * H + offs_h[None, :], mask=omask[:, None] & hmask[None, :],
                   other=0.0).to(tl.float32)  # [OUT, H]
    grad_w = tl.zeros([O_PAD, H_PAD], tl.float32)
    for r in range(pid, num_rows, tl.num_programs(0)):
        row = r + tl.zeros([], tl.int64)  # 64-bit offsets
        start = tl.load(rowptr + row)
        end = tl.load(rowptr + row + 1)
        a_row = tl.load(a + row * H + offs_h, mask=hmask, other=0.0).to(tl.float32)
        g = tl.load(grad + row * OUT + offs_o, mask=omask, other=0.0).to(tl.float32)
        won = tl.load(arg + row * OUT + offs_o, mask=omask, other=-1)
        grad_a_row = tl.zeros([H_PAD], tl.float32)
        for e0 in range(start, end, BLOCK_E):
            offs_e = e0 + tl.arange(0, BLOCK_E)
            emask = offs_e < end
            src = tl.load(col + offs_e, mask=emask, other=0)
            edge = tl.load(perm + offs_e, mask=emask, other=-2).to(tl.int32)
            b_e = tl.load(b + src[:, None] * H + offs_h[None, :], mask=emask[:, None] & hmask[None, :],
                          other=0.0).to(tl.float32)
            pre = a_row[None, :] + b_e
            hidden = tl.maximum(pre, 0.0)
            grad_msg = tl.where(won[None, :] == edge[:, None], g[None, :], 0.0)  # [E, OUT]
            grad_hidden = tl.dot(grad_msg, w_oh, input_precision=PRECISION)
            grad_a_row += tl.sum(tl.where((pre > 0) & emask[:, None], grad_hidden, 0.0), 0)
            grad_w += tl.dot(tl.trans(grad_msg), hidden, input_precision=PRECISION)
        tl.store(grad_a + row * H + offs_h, grad_a_row, mask=hmask)
    tl.store(grad_w_part + pid * OUT * H + offs_o[:, None] * H + offs_h[None, :], grad_w,
             mask=omask[:, None] & hmask[None, :])


@triton.jit
def _backward_src_kernel(rowptr_t, col_t, perm_t, a, b, w, grad, arg, grad_b, num_src, H, OUT,
                         H_PAD: tl.constexpr, O_PAD: tl.constexpr, BLOCK_E: tl.constexpr, ROWS: tl.constexpr,
                         PRECISION: tl.constexpr):
    offs_h = tl.arange(0, H_PAD)
    offs_o = tl.arange(0, O_PAD)
    hmask, omask = offs_h < H, offs_o < OUT
    w_oh = tl.load(w + offs_o[:, None] * H + offs_h[None, :], mask=omask[:, None] & hmask[None, :],
                   other=0.0).to(tl.float32)
    for r in tl.static_range(ROWS):
        node = tl.program_id(0).to(tl.int64) * ROWS + r
        live_h = hmask & (offs_h * 0 + node < num_src)
        start = tl.load(rowptr_t + tl.minimum(node, num_src))
        end = tl.load(rowptr_t + tl.minimum(node + 1, num_src))
        b_row = tl.load(b + node * H + offs_h, mask=live_h, other=0.0).to(tl.float32)
        grad_b_row = tl.zeros([H_PAD], tl.float32)
        for e0 in range(start, end, BLOCK_E):
            offs_e = e0 + tl.arange(0, BLOCK_E)
            emask = offs_e < end
            dst = tl.load(col_t + offs_e, mask=emask, other=0)
            edge = tl.load(perm_t + offs_e, mask=emask, other=-2).to(tl.int32)
            a_e = tl.load(a + dst[:, None] * H + offs_h[None, :], mask=emask[:, None] & hmask[None, :],
                          other=0.0).to(tl.float32)
            eo = emask[:, None] & omask[None, :]
            g = tl.load(grad + dst[:, None] * OUT + offs_o[None, :], mask=eo, other=0.0).to(tl.float32)
            won = tl.load(arg + dst[:, None] * OUT + offs_o[None, :], mask=eo, other=-1)
            grad_msg = tl.where(won == edge[:, None], g, 0.0)
            grad_hidden = tl.dot(grad_msg, w_oh, input_precision=PRECISION)
            pre = a_e + b_row[None, :]
            grad_b_row += tl.sum(tl.where((pre > 0) & emask[:, None], grad_hidden, 0.0), 0)
        tl.store(grad_b + node * H + offs_h, grad_b_row, mask=live_h)


def _pads(hidden: int, out: int) -> dict:
    return {"H_PAD": max(16, triton.next_power_of_2(hidden)), "O_PAD": max(16, triton.next_power_of_2(out))}


def _precision() -> str:
    return "tf32" if torch.backends.cuda.matmul.allow_tf32 else "ieee"


def usable(a: Tensor, weight: Tensor) -> bool:
    """Whether the kernels take these widths (``a [N, H]``, ``weight [OUT, H]``); winners are
    kept as int32 edge ids (graphs below 2^31 edges)."""
    return a.is_cuda and a.dim() == 2 and max(a.size(1), weight.size(0)) <= MAX_WIDTH


@triton_op("gnnx::edge_mlp_max", mutates_args={})
def edge_mlp_max(rowptr: Tensor, col: Tensor, perm: Tensor, rowptr_t: Tensor, col_t: Tensor, perm_t: Tensor,
                 a: Tensor, b: Tensor, weight: Tensor, bias: Optional[Tensor]) -> Tuple[Tensor, Tensor]:
    """``(out [N_dst, OUT], winner [N_dst, OUT])``: ``max_j W relu(a_i + b_j) + bias`` over the
    CSR's rows and the input edge id of each channel's winner (-1 for a row without edges).
    The ``*_t`` arguments (the transposed CSR) serve the backward."""
    a, b, weight = a.contiguous(), b.contiguous(), weight.contiguous()
    num_rows, hidden = a.shape
    out_channels = weight.size(0)
    out = torch.empty((num_rows, out_channels), dtype=a.dtype, device=a.device)
    arg = torch.empty((num_rows, out_channels), dtype=torch.int32, device=a.device)
    precision = _precision()
    config = CONFIGS[precision]
    with _on_device(a):
        launcher(_forward_kernel, a)[(torch.sym_max(1, triton.cdiv(num_rows, config["ROWS"])),)](
            rowptr, col, perm, a, b, weight, bias if bias is not None else weight, out, arg, num_rows, hidden,
            out_channels, HAS_BIAS=bias is not None, BLOCK_E=config["BLOCK_E"], ROWS=config["ROWS"],
            PRECISION=precision, num_warps=config["num_warps"], **_pads(hidden, out_channels))
    return out, arg


@triton_op("gnnx::edge_mlp_max_backward", mutates_args={})
def edge_mlp_max_backward(rowptr: Tensor, col: Tensor, perm: Tensor, rowptr_t: Tensor, col_t: Tensor,
                          perm_t: Tensor, a: Tensor, b: Tensor, weight: Tensor, grad: Tensor,
                          arg: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
    """``(grad a, grad b, grad weight)`` of :func:`edge_mlp_max`, hidden rows recomputed."""
    a, b, weight, grad = a.contiguous(), b.contiguous(), weight.contiguous(), grad.contiguous()
    num_rows, hidden = a.shape
    num_src = b.size(0)
    out_channels = weight.size(0)
    precision = _precision()
    config = CONFIGS[precision]
    sms = torch.cuda.get_device_properties(a.device).multi_processor_count
    programs = torch.sym_max(1, torch.sym_min(num_rows, config["programs_per_sm"] * sms))
    grad_a = torch.empty((num_rows, hidden), dtype=torch.float32, device=a.device)
    grad_b = torch.empty((num_src, hidden), dtype=torch.float32, device=a.device)
    partial = torch.zeros((programs, out_channels, hidden), dtype=torch.float32, device=a.device)
    pads = _pads(hidden, out_channels)
    with _on_device(a):
        launcher(_backward_dst_kernel, a)[(programs,)](
            rowptr, col, perm, a, b, weight, grad, arg, grad_a, partial, num_rows, hidden, out_channels,
            BLOCK_E=config["BLOCK_E"], PRECISION=precision, num_warps=config["num_warps"], **pads)
        launcher(_backward_src_kernel, a)[(torch.sym_max(1, triton.cdiv(num_src, config["ROWS"])),)](
            rowptr_t, col_t, perm_t, a, b, weight, grad, arg, grad_b, num_src, hidden, out_channels,
            BLOCK_E=config["BLOCK_E"], ROWS=config["ROWS"], PRECISION=precision, num_warps=config["num_warps"],
            **pads)
    return grad_a.to(a.dtype), grad_b.to(b.dtype), partial.sum(0).to(weight.dtype)


def _setup(ctx, inputs, output):
    rowptr, col, perm, rowptr_t, col_t, perm_t, a, b, weight, bias = inputs
    ctx.save_for_backward(rowptr, col, perm, rowptr_t, col_t, perm_t, a, b, weight, output[1])
    ctx.has_bias = bias is not None


def _backward(ctx, grad, _grad_arg):
    rowptr, col, perm, rowptr_t, col_t, perm_t, a, b, weight, arg = ctx.saved_tensors
    grad_a, grad_b, grad_w = edge_mlp_max_backward(rowptr, col, perm, rowptr_t, col_t, perm_t, a, b, weight,
                                                   grad, arg)
    grad_bias = None
    if ctx.has_bias:  # rows without edges output 0, not the bias
        grad_bias = torch.where(arg >= 0, grad, torch.zeros_like(grad)).sum(0)
    return None, None, None, None, None, None, grad_a, grad_b, grad_w, grad_bias


edge_mlp_max.register_autograd(_backward, setup_context=_setup)
