r"""Fused EdgeConv on CUDA: gather, the two-layer message MLP and the max in Triton kernels
(issue #17), registered with ``torch.library.triton_op`` so they compile into
``torch.compile`` graphs and AOTInductor packages.

The first linear layer is applied per node by the caller (:class:`~gnnx.nn.EdgeConv`
splits it by linearity), so for an edge ``j -> i`` the message is

.. math::
    \mathbf{m}_{ij} = \mathbf{W}_2\,\mathrm{ReLU}(\mathbf{a}_i + \mathbf{b}_j) + \mathbf{c},
    \qquad \mathbf{x}'_i = \max_j \mathbf{m}_{ij}\ (0 \text{ without edges}).

Forward: blocks of edges in CSR order gather ``a_i + b_j``, apply the ReLU and the product
with ``W_2`` (``tl.dot``) and write the messages; the CSR max kernel of
:mod:`gnnx.ops.triton_kernels` reduces them per row and keeps each channel's winner (its CSR
position; ties go to the first edge in CSR order). Nothing ``[E, F]``-sized is saved for the
backward: it recomputes the hidden rows in one pass over the edges, where only a row's
winners carry gradient (``grad W_2`` from per-program partial sums), and writes each edge's
pre-activation gradient, which the CSR and its transpose sum per destination (``grad a``) and
per source (``grad b``): fixed order throughout, no atomics. Matrix products run on tensor
cores: three TF32 products per fp32 product (Triton's ``tf32x3``, fp32 accuracy), or one
where ``torch.backends.cuda.matmul.allow_tf32`` allows TF32.
"""
from __future__ import annotations

from typing import Optional, Tuple

import torch
import triton
import triton.language as tl
from torch import Tensor
from torch.library import triton_op

from gnnx.ops.triton_kernels import _launch_spmm, _on_device, launcher

MAX_WIDTH = 64  # hidden and output channels held in registers (wider: W spills; those go unfused)
# Launch shape: edges per block, warps and pipeline stages of the forward's message kernel and
# of the backward, and the backward's persistent programs per SM. Measured on an H100 with
# bench/tune_pointcloud.py (one EdgeConv layer of the seed graph, both precisions won with the
# same shape: bench/results/h100/tune_pointcloud.json).
CONFIG = {"fwd_edges": 64, "fwd_warps": 4, "fwd_stages": 3, "bwd_edges": 32, "bwd_warps": 4, "bwd_stages": 3,
          "programs_per_sm": 4}


@triton.jit
def _pre_activation(row, col, a, b, pos, emask, hmask, offs_h, H):
    """``(a[row[p]] + b[col[p]], row[p])`` for the CSR positions ``pos`` (``[EDGES, H_PAD]`` in
    fp32, ``[EDGES, 1]``)."""
    dst = tl.load(row + pos[:, None], mask=emask[:, None], other=0)  # [EDGES, 1] (a 1-D load here
    src = tl.load(col + pos[:, None], mask=emask[:, None], other=0)  # trips a Triton layout bug)
    eh = emask[:, None] & hmask[None, :]
    pre = (tl.load(a + dst * H + offs_h[None, :], mask=eh, other=0.0).to(tl.float32)
           + tl.load(b + src * H + offs_h[None, :], mask=eh, other=0.0).to(tl.float32))
    return pre, dst


@triton.jit
def _messages_kernel(row, col, a, b, w, bias, msg, num_edges, H, OUT, HAS_BIAS: tl.constexpr, H_PAD: tl.constexpr,
                     O_PAD: tl.constexpr, EDGES: tl.constexpr, PRECISION: tl.constexpr):
    """``msg[p] = W relu(a[row[p]] + b[col[p]]) + c`` for a block of ``EDGES`` CSR positions."""
    offs_h = tl.arange(0, H_PAD)
    offs_o = tl.arange(0, O_PAD)
    hmask, omask = offs_h < H, offs_o < OUT
    w_t = tl.load(w + offs_o[None, :] * H + offs_h[:, None], mask=hmask[:, None] & omask[None, :],
                  other=0.0).to(tl.float32)  # [H, OUT]
    pos = tl.program_id(0).to(tl.int64) * EDGES + tl.arange(0, EDGES)
    emask = pos < num_edges
    pre, _ = _pre_activation(row, col, a, b, pos, emask, hmask, offs_h, H)
    out = tl.dot(tl.maximum(pre, 0.0), w_t, input_precision=PRECISION)
    if HAS_BIAS:
        out += tl.load(bias + offs_o, mask=omask, other=0.0).to(tl.float32)[None, :]
    tl.store(msg + pos[:, None] * OUT + offs_o[None, :], out, mask=emask[:, None] & omask[None, :])


@triton.jit
def _backward_kernel(row, col, perm, a, b, w, grad, arg, grad_edge, grad_w_part, num_edges, H, OUT,
                     H_PAD: tl.constexpr, O_PAD: tl.constexpr, EDGES: tl.constexpr, PRECISION: tl.constexpr):
    """Persistent over blocks of ``EDGES`` CSR positions: each edge's pre-activation gradient
    (stored by input edge id, summed per destination and per source afterwards) and this
    program's part of ``grad W``. Only a row's winners carry gradient."""
    pid = tl.program_id(0)
    offs_h = tl.arange(0, H_PAD)
    offs_o = tl.arange(0, O_PAD)
    hmask, omask = offs_h < H, offs_o < OUT
    w_oh = tl.load(w + offs_o[:, None] * H + offs_h[None, :], mask=omask[:, None] & hmask[None, :],
                   other=0.0).to(tl.float32)  # [OUT, H]
    grad_w = tl.zeros([O_PAD, H_PAD], tl.float32)
    for block in range(pid, tl.cdiv(num_edges, EDGES), tl.num_programs(0)):
        pos = (block + tl.zeros([], tl.int64)) * EDGES + tl.arange(0, EDGES)  # 64-bit offsets
        emask = pos < num_edges
        pre, dst = _pre_activation(row, col, a, b, pos, emask, hmask, offs_h, H)
        eo = emask[:, None] & omask[None, :]
        won = tl.load(arg + dst * OUT + offs_o[None, :], mask=eo, other=-1)
        g = tl.load(grad + dst * OUT + offs_o[None, :], mask=eo, other=0.0).to(tl.float32)
        grad_msg = tl.where(won == pos[:, None], g, 0.0)  # [EDGES, OUT]
        grad_pre = tl.where(pre > 0, tl.dot(grad_msg, w_oh, input_precision=PRECISION), 0.0)
        edge = tl.load(perm + pos[:, None], mask=emask[:, None], other=0)
        tl.store(grad_edge + edge * H + offs_h[None, :], grad_pre, mask=emask[:, None] & hmask[None, :])
        grad_w += tl.dot(tl.trans(grad_msg), tl.maximum(pre, 0.0), input_precision=PRECISION)
    tl.store(grad_w_part + pid * OUT * H + offs_o[:, None] * H + offs_h[None, :], grad_w,
             mask=omask[:, None] & hmask[None, :])


def _pads(hidden: int, out: int) -> dict:
    return {"H_PAD": max(16, triton.next_power_of_2(hidden)), "O_PAD": max(16, triton.next_power_of_2(out))}


def _precision() -> str:
    """TF32 where torch allows it for fp32 matmuls, else three TF32 products per product
    (Triton's ``tf32x3``: fp32 accuracy, on tensor cores)."""
    return "tf32" if torch.backends.cuda.matmul.allow_tf32 else "tf32x3"


def usable(a: Tensor, weight: Tensor) -> bool:
    """Whether the kernels take these widths (``a [N, H]``, ``weight [OUT, H]``); winners are
    kept as int32 CSR positions (graphs below 2^31 edges)."""
    return a.is_cuda and a.dim() == 2 and max(a.size(1), weight.size(0)) <= MAX_WIDTH


@triton_op("gnnx::edge_mlp_max", mutates_args={})
def edge_mlp_max(rowptr: Tensor, col: Tensor, perm: Tensor, row: Tensor, rowptr_t: Tensor, perm_t: Tensor,
                 a: Tensor, b: Tensor, weight: Tensor, bias: Optional[Tensor]) -> Tuple[Tensor, Tensor]:
    """``(out [N_dst, OUT], winner [N_dst, OUT])``: ``max_j W relu(a_i + b_j) + bias`` over the
    CSR's rows and the CSR position of each channel's winner (-1 for a row without edges).
    ``perm``, ``row`` and the transposed CSR's ``rowptr_t`` and ``perm_t`` serve the backward."""
    a, b, weight = a.contiguous(), b.contiguous(), weight.contiguous()
    hidden, out_channels, num_edges = a.size(1), weight.size(0), col.numel()
    precision = _precision()
    messages = torch.empty((num_edges, out_channels), dtype=torch.float32, device=a.device)
    with _on_device(a):
        launcher(_messages_kernel, a)[(torch.sym_max(1, triton.cdiv(num_edges, CONFIG["fwd_edges"])),)](
            row, col, a, b, weight, bias if bias is not None else weight, messages, num_edges, hidden, out_channels,
            HAS_BIAS=bias is not None, EDGES=CONFIG["fwd_edges"], PRECISION=precision, num_warps=CONFIG["fwd_warps"],
            num_stages=CONFIG["fwd_stages"], **_pads(hidden, out_channels))
    # the CSR's rows over the messages in CSR order: the max and its position (ties: the first)
    out, arg = _launch_spmm(rowptr, torch.arange(num_edges, device=a.device), None, messages, True)
    return out.to(a.dtype), arg.to(torch.int32)  # int32 winners: the backward gathers them per edge


@triton_op("gnnx::edge_mlp_max_backward", mutates_args={})
def edge_mlp_max_backward(rowptr: Tensor, col: Tensor, perm: Tensor, row: Tensor, rowptr_t: Tensor,
                          perm_t: Tensor, a: Tensor, b: Tensor, weight: Tensor, grad: Tensor,
                          arg: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
    """``(grad a, grad b, grad weight)`` of :func:`edge_mlp_max`, hidden rows recomputed: one
    pass over the edges writes their pre-activation gradients, which the CSR and its
    transpose sum per destination (``grad a``) and per source (``grad b``); ``grad W`` from
    per-program partial sums. Fixed order throughout, no atomics."""
    a, b, weight, grad = a.contiguous(), b.contiguous(), weight.contiguous(), grad.contiguous()
    hidden = a.size(1)
    out_channels = weight.size(0)
    num_edges = col.numel()
    precision = _precision()
    sms = torch.cuda.get_device_properties(a.device).multi_processor_count
    blocks = triton.cdiv(num_edges, CONFIG["bwd_edges"])
    programs = torch.sym_max(1, torch.sym_min(blocks, CONFIG["programs_per_sm"] * sms))
    grad_edge = torch.empty((num_edges, hidden), dtype=torch.float32, device=a.device)
    partial = torch.zeros((programs, out_channels, hidden), dtype=torch.float32, device=a.device)
    with _on_device(a):
        launcher(_backward_kernel, a)[(programs,)](
            row, col, perm, a, b, weight, grad, arg, grad_edge, partial, num_edges, hidden, out_channels,
            EDGES=CONFIG["bwd_edges"], PRECISION=precision, num_warps=CONFIG["bwd_warps"],
            num_stages=CONFIG["bwd_stages"], **_pads(hidden, out_channels))
    grad_a = _launch_spmm(rowptr, perm, None, grad_edge, False)[0]
    grad_b = _launch_spmm(rowptr_t, perm_t, None, grad_edge, False)[0]
    return grad_a.to(a.dtype), grad_b.to(b.dtype), partial.sum(0).to(weight.dtype)


def _setup(ctx, inputs, output):
    rowptr, col, perm, row, rowptr_t, perm_t, a, b, weight, bias = inputs
    ctx.save_for_backward(rowptr, col, perm, row, rowptr_t, perm_t, a, b, weight, output[1])
    ctx.has_bias = bias is not None


def _backward(ctx, grad, _grad_arg):
    rowptr, col, perm, row, rowptr_t, perm_t, a, b, weight, arg = ctx.saved_tensors
    grad_a, grad_b, grad_w = edge_mlp_max_backward(rowptr, col, perm, row, rowptr_t, perm_t, a, b, weight,
                                                   grad, arg)
    grad_bias = None
    if ctx.has_bias:  # rows without edges output 0, not the bias
        grad_bias = torch.where(arg >= 0, grad, torch.zeros_like(grad)).sum(0)
    return None, None, None, None, None, None, grad_a, grad_b, grad_w, grad_bias


edge_mlp_max.register_autograd(_backward, setup_context=_setup)
