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
backward. Only a row's winners carry gradient, so the backward walks the destination rows and
recomputes one hidden row per output channel (its winner's), not one per edge: ``grad W`` and
``grad a`` come from fp32 FMAs over those ``[OUT, H]`` tiles, each edge's pre-activation
gradient from a one-hot product (the channels it won), and the transposed CSR sums those per
source (``grad b``): fixed order throughout, no atomics (by default). The forward's product runs on tensor
cores as three TF32 products per fp32 product (Triton's ``tf32x3``, fp32 accuracy), the
backward's one-hot product as two (its 0/1 operand is exact in TF32); one where
``torch.backends.cuda.matmul.allow_tf32`` allows TF32. ``a`` and ``b`` may be strided views
(the two halves of one node product, as :class:`~gnnx.nn.EdgeConv` makes them).
"""
from __future__ import annotations

import functools
from typing import Optional, Tuple

import torch
import triton
import triton.language as tl
from torch import Tensor
from torch.library import triton_op

from gnnx.ops.second_order import differentiating_backward, reference_grads
from gnnx.ops.triton_kernels import _launch_spmm, _on_device, launcher

MAX_WIDTH = 64  # hidden and output channels held in registers (wider: W spills; those go unfused)
# Launch shape: edges per block, warps and pipeline stages of the forward's message kernel; CSR
# positions per one-hot product, warps and persistent programs per SM of the backward. Measured
# on an H100 with bench/tune_pointcloud.py and bench/edge_mlp_winner_rows.py (one EdgeConv
# layer of the seed graph; bench/results/h100/tune_pointcloud.json, edge_mlp_winner_rows.json).
# "bwd_h_split": 2 takes the backward's hidden columns in two halves (fewer registers a row);
# "bwd_atomic_b" adds the edges' gradients into grad b with atomics (no [E, H] buffer, no
# transposed-CSR pass; summation order then varies between runs, and only where PyTorch's
# deterministic algorithms are off). Both off: on the H200 the split kernel is slower and the
# atomics saved nothing on the model (bench/results/h200/session23/README.md).
CONFIG = {"fwd_edges": 64, "fwd_warps": 4, "fwd_stages": 3, "bwd_chunk": 32, "bwd_warps": 2, "bwd_programs_per_sm": 4,
          "bwd_h_split": 1, "bwd_atomic_b": False}


@triton.jit
def _pre_activation(row, col, a, b, pos, emask, hmask, offs_h, A_STRIDE, B_STRIDE):
    """``(a[row[p]] + b[col[p]], row[p])`` for the CSR positions ``pos`` (``[EDGES, H_PAD]`` in
    fp32, ``[EDGES, 1]``)."""
    dst = tl.load(row + pos[:, None], mask=emask[:, None], other=0)  # [EDGES, 1] (a 1-D load here
    src = tl.load(col + pos[:, None], mask=emask[:, None], other=0)  # trips a Triton layout bug)
    eh = emask[:, None] & hmask[None, :]
    pre = (tl.load(a + dst * A_STRIDE + offs_h[None, :], mask=eh, other=0.0).to(tl.float32)
           + tl.load(b + src * B_STRIDE + offs_h[None, :], mask=eh, other=0.0).to(tl.float32))
    return pre, dst


@triton.jit
def _messages_kernel(row, col, a, b, w, bias, msg, num_edges, H, OUT, A_STRIDE, B_STRIDE, HAS_BIAS: tl.constexpr, H_PAD: tl.constexpr,
                     O_PAD: tl.constexpr, EDGES: tl.constexpr, PRECISION: tl.constexpr):
    """``msg[p] = W relu(a[row[p]] + b[col[p]]) + c`` for a block of ``EDGES`` CSR positions."""
    offs_h = tl.arange(0, H_PAD)
    offs_o = tl.arange(0, O_PAD)
    hmask, omask = offs_h < H, offs_o < OUT
    w_t = tl.load(w + offs_o[None, :] * H + offs_h[:, None], mask=hmask[:, None] & omask[None, :],
                  other=0.0).to(tl.float32)  # [H, OUT]
    pos = tl.program_id(0).to(tl.int64) * EDGES + tl.arange(0, EDGES)
    emask = pos < num_edges
    pre, _ = _pre_activation(row, col, a, b, pos, emask, hmask, offs_h, A_STRIDE, B_STRIDE)
    out = tl.dot(tl.maximum(pre, 0.0), w_t, input_precision=PRECISION)
    if HAS_BIAS:
        out += tl.load(bias + offs_o, mask=omask, other=0.0).to(tl.float32)[None, :]
    tl.store(msg + pos[:, None] * OUT + offs_o[None, :], out, mask=emask[:, None] & omask[None, :])


@triton.jit
def _tf32_parts(x):
    """``x`` as ``hi + lo`` with ``hi`` exact in TF32 (rounded to its 10 mantissa bits) and
    ``lo`` the rest: a product with an operand exact in TF32 (0/1) is fp32-accurate from two
    TF32 products."""
    hi = ((x.to(tl.uint32, bitcast=True) + 0x1000) & 0xFFFFE000).to(tl.float32, bitcast=True)
    return hi, x - hi


@triton.jit
def _winner_columns(node, rowptr, col, perm, a, b, w_oh, src, g, win, won, grad_a, grad_edge, offs_h, hmask, offs_c,
                    H, A_STRIDE, B_STRIDE, CHUNK: tl.constexpr, EXACT: tl.constexpr, ATOMIC_B: tl.constexpr):
    """One destination row over the hidden columns ``offs_h``: stores ``grad a`` and the edges'
    pre-activation gradients there (by edge id; with ``ATOMIC_B`` added into their sources'
    rows of ``grad_edge``, then ``grad b`` itself) and returns the row's ``grad W`` columns
    (``[OUT, cols]``)."""
    pre = (tl.load(a + node * A_STRIDE + offs_h, mask=hmask, other=0.0).to(tl.float32)[None, :]
           + tl.load(b + src[:, None] * B_STRIDE + offs_h[None, :], mask=won[:, None] & hmask[None, :],
                     other=0.0).to(tl.float32))  # [OUT, cols]: each channel's winning pre-activation
    contrib = tl.where(pre > 0, g[:, None] * w_oh, 0.0)
    tl.store(grad_a + node * H + offs_h, tl.sum(contrib, 0), mask=hmask)
    if EXACT:
        hi, lo = _tf32_parts(contrib)
    end = tl.load(rowptr + node + 1)
    for first in range(tl.load(rowptr + node), end, CHUNK):
        pos = first + offs_c
        cmask = pos < end
        onehot = tl.where(win[None, :] == pos[:, None], 1.0, 0.0)  # [CHUNK, OUT]
        if EXACT:
            grad_pre = tl.dot(onehot, hi, input_precision="tf32") + tl.dot(onehot, lo, input_precision="tf32")
        else:
            grad_pre = tl.dot(onehot, contrib, input_precision="tf32")
        if ATOMIC_B:
            source = tl.load(col + pos, mask=cmask, other=0)
            tl.atomic_add(grad_edge + source[:, None] * H + offs_h[None, :], grad_pre,
                          mask=cmask[:, None] & hmask[None, :], sem="relaxed")
        else:
            edge = tl.load(perm + pos, mask=cmask, other=0)
            tl.store(grad_edge + edge[:, None] * H + offs_h[None, :], grad_pre, mask=cmask[:, None] & hmask[None, :])
    return g[:, None] * tl.maximum(pre, 0.0)


@triton.jit
def _backward_kernel(rowptr, col, perm, a, b, w, grad, arg, grad_a, grad_edge, grad_w_part, num_rows, H, OUT,
                     A_STRIDE, B_STRIDE, H_PAD: tl.constexpr, O_PAD: tl.constexpr, CHUNK: tl.constexpr,
                     EXACT: tl.constexpr, H_SPLIT: tl.constexpr, ATOMIC_B: tl.constexpr):
    """Persistent over destination rows. A row's output channel ``o`` took its value from one
    edge, the winner ``e(o)``, so the gradient reaches the hidden layer through ``OUT`` rows
    only: ``h_o = relu(a_i + b[src e(o)])`` (``[OUT, H]``, gathered), ``grad W[o] += g_o h_o``
    (fp32 FMAs, summed over this program's rows), ``c_o = g_o W[o] [a_i + b[src e(o)] > 0]``;
    ``grad a_i`` is the sum of the ``c_o`` and an edge's pre-activation gradient the sum of the
    ``c_o`` it won: a one-hot product over the row's edges, ``CHUNK`` CSR positions at a time
    (fp32-accurate from two TF32 products where ``EXACT``), stored by input edge id for the
    transposed sum. ``H_SPLIT = 2`` takes the hidden columns in two halves, so a row's
    ``[OUT, H]`` tiles hold half as many registers (the whole-width kernel spills at 2 warps)."""
    pid = tl.program_id(0)
    HW: tl.constexpr = H_PAD // H_SPLIT
    offs_h0 = tl.arange(0, HW)
    offs_h1 = HW + tl.arange(0, HW)
    offs_o = tl.arange(0, O_PAD)
    offs_c = tl.arange(0, CHUNK)
    hmask0, hmask1, omask = offs_h0 < H, offs_h1 < H, offs_o < OUT
    w_oh0 = tl.load(w + offs_o[:, None] * H + offs_h0[None, :], mask=omask[:, None] & hmask0[None, :],
                    other=0.0).to(tl.float32)  # [OUT, HW]
    grad_w0 = tl.zeros([O_PAD, HW], tl.float32)
    if H_SPLIT == 2:
        w_oh1 = tl.load(w + offs_o[:, None] * H + offs_h1[None, :], mask=omask[:, None] & hmask1[None, :],
                        other=0.0).to(tl.float32)
        grad_w1 = tl.zeros([O_PAD, HW], tl.float32)
    for node in range(pid, num_rows, tl.num_programs(0)):
        node = node + tl.zeros([], tl.int64)  # 64-bit offsets
        win = tl.load(arg + node * OUT + offs_o, mask=omask, other=-1)  # CSR position per channel, -1: no edge
        won = win >= 0
        g = tl.load(grad + node * OUT + offs_o, mask=won, other=0.0).to(tl.float32)
        src = tl.load(col + win, mask=won, other=0)
        grad_w0 += _winner_columns(node, rowptr, col, perm, a, b, w_oh0, src, g, win, won, grad_a, grad_edge,
                                   offs_h0, hmask0, offs_c, H, A_STRIDE, B_STRIDE, CHUNK, EXACT, ATOMIC_B)
        if H_SPLIT == 2:
            grad_w1 += _winner_columns(node, rowptr, col, perm, a, b, w_oh1, src, g, win, won, grad_a, grad_edge,
                                       offs_h1, hmask1, offs_c, H, A_STRIDE, B_STRIDE, CHUNK, EXACT, ATOMIC_B)
    part = grad_w_part + pid * OUT * H + offs_o[:, None] * H
    tl.store(part + offs_h0[None, :], grad_w0, mask=omask[:, None] & hmask0[None, :])
    if H_SPLIT == 2:
        tl.store(part + offs_h1[None, :], grad_w1, mask=omask[:, None] & hmask1[None, :])


def _pads(hidden: int, out: int) -> dict:
    return {"H_PAD": max(16, triton.next_power_of_2(hidden)), "O_PAD": max(16, triton.next_power_of_2(out))}


def _unit_column_stride(t: Tensor) -> Tensor:
    """``t`` with unit column stride; rows may be strided (``a`` and ``b`` as the two halves of
    one node product)."""
    return t if t.stride(1) == 1 else t.contiguous()


def _precision() -> str:
    """TF32 where torch allows it for fp32 matmuls, else three TF32 products per product
    (Triton's ``tf32x3``: fp32 accuracy, on tensor cores)."""
    return "tf32" if torch.backends.cuda.matmul.allow_tf32 else "tf32x3"


def usable(a: Tensor, weight: Tensor, hidden: Optional[int] = None) -> bool:
    """Whether the kernels take these widths (``a [N, H]``, ``weight [OUT, H]``; ``hidden``: H
    where ``a`` is another ``[N, *]`` tensor of the call); winners are kept as int32 CSR
    positions (graphs below 2^31 edges)."""
    return a.is_cuda and a.dim() == 2 and max(a.size(1) if hidden is None else hidden, weight.size(0)) <= MAX_WIDTH


def launch_forward(row: Tensor, col: Tensor, rowptr: Tensor, a: Tensor, b: Tensor, weight: Tensor,
                   bias: Optional[Tensor]) -> Tuple[Tensor, Tensor]:
    """The kernels of :func:`edge_mlp_max` launched on real tensors or traced (its body; eager
    callers that own the autograd, :func:`gnnx.ops.edge_mlp.edge_conv_max`, call it directly)."""
    a, b, weight = _unit_column_stride(a), _unit_column_stride(b), weight.contiguous()
    hidden, out_channels, num_edges = a.size(1), weight.size(0), col.numel()
    precision = _precision()
    messages = torch.empty((num_edges, out_channels), dtype=torch.float32, device=a.device)
    with _on_device(a):
        launcher(_messages_kernel, a)[(torch.sym_max(1, triton.cdiv(num_edges, CONFIG["fwd_edges"])),)](
            row, col, a, b, weight, bias if bias is not None else weight, messages, num_edges, hidden, out_channels,
            a.stride(0), b.stride(0),
            HAS_BIAS=bias is not None, EDGES=CONFIG["fwd_edges"], PRECISION=precision, num_warps=CONFIG["fwd_warps"],
            num_stages=CONFIG["fwd_stages"], **_pads(hidden, out_channels))
    # the CSR's rows over the messages in CSR order: the max and its position (ties: the first)
    out, arg = _launch_spmm(rowptr, None, None, messages, True, arg_dtype=torch.int32)
    return out.to(a.dtype), arg


@triton_op("gnnx::edge_mlp_max", mutates_args={})
def edge_mlp_max(rowptr: Tensor, col: Tensor, perm: Tensor, row: Tensor, rowptr_t: Tensor, perm_t: Tensor,
                 a: Tensor, b: Tensor, weight: Tensor, bias: Optional[Tensor]) -> Tuple[Tensor, Tensor]:
    """``(out [N_dst, OUT], winner [N_dst, OUT])``: ``max_j W relu(a_i + b_j) + bias`` over the
    CSR's rows and the CSR position of each channel's winner (-1 for a row without edges).
    ``perm`` and the transposed CSR's ``rowptr_t`` and ``perm_t`` serve the backward."""
    return launch_forward(row, col, rowptr, a, b, weight, bias)


@functools.lru_cache(maxsize=None)
def _multiprocessors(device: torch.device) -> int:
    return torch.cuda.get_device_properties(device).multi_processor_count


def launch_backward(rowptr: Tensor, col: Tensor, perm: Tensor, rowptr_t: Tensor, perm_t: Tensor, a: Tensor,
                    b: Tensor, weight: Tensor, grad: Tensor, arg: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
    """The body of :func:`edge_mlp_max_backward` (as :func:`launch_forward` of the forward)."""
    a, b, weight, grad = _unit_column_stride(a), _unit_column_stride(b), weight.contiguous(), grad.contiguous()
    hidden = a.size(1)
    out_channels = weight.size(0)
    num_edges = col.numel()
    num_rows = rowptr.numel() - 1
    precision = _precision()
    programs = torch.sym_max(1, torch.sym_min(num_rows, CONFIG["bwd_programs_per_sm"] * _multiprocessors(a.device)))
    atomic_b = CONFIG["bwd_atomic_b"] and not torch.are_deterministic_algorithms_enabled()
    if atomic_b:  # grad b itself, summed by atomic adds
        grad_edge = torch.zeros((b.size(0), hidden), dtype=torch.float32, device=a.device)
    else:  # per edge, summed per source by the transposed CSR after the kernel
        grad_edge = torch.empty((num_edges, hidden), dtype=torch.float32, device=a.device)
    grad_a = torch.empty((num_rows, hidden), dtype=torch.float32, device=a.device)
    partial = torch.empty((programs, out_channels, hidden), dtype=torch.float32, device=a.device)
    with _on_device(a):
        launcher(_backward_kernel, a)[(programs,)](
            rowptr, col, perm, a, b, weight, grad, arg, grad_a, grad_edge, partial, num_rows, hidden, out_channels,
            a.stride(0), b.stride(0), CHUNK=CONFIG["bwd_chunk"], EXACT=precision == "tf32x3",
            H_SPLIT=CONFIG["bwd_h_split"] if _pads(hidden, out_channels)["H_PAD"] >= 32 else 1, ATOMIC_B=atomic_b,
            num_warps=CONFIG["bwd_warps"], **_pads(hidden, out_channels))
    grad_b = grad_edge if atomic_b else _launch_spmm(rowptr_t, perm_t, None, grad_edge, False)[0]
    return grad_a.to(a.dtype), grad_b.to(b.dtype), partial.sum(0).to(weight.dtype)


@triton_op("gnnx::edge_mlp_max_backward", mutates_args={})
def edge_mlp_max_backward(rowptr: Tensor, col: Tensor, perm: Tensor, rowptr_t: Tensor, perm_t: Tensor, a: Tensor,
                          b: Tensor, weight: Tensor, grad: Tensor, arg: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
    """``(grad a, grad b, grad weight)`` of :func:`edge_mlp_max`: one pass over the
    destination rows recomputes each channel's winning hidden row and gives ``grad a``,
    per-program parts of ``grad W`` and the edges' pre-activation gradients, which the
    transposed CSR sums per source (``grad b``). Fixed order throughout, no atomics (unless
    ``CONFIG["bwd_atomic_b"]``)."""
    return launch_backward(rowptr, col, perm, rowptr_t, perm_t, a, b, weight, grad, arg)


def _setup(ctx, inputs, output):
    rowptr, col, perm, row, rowptr_t, perm_t, a, b, weight, bias = inputs
    ctx.save_for_backward(rowptr, col, perm, row, rowptr_t, perm_t, a, b, weight, bias, output[1])
    ctx.has_bias = bias is not None


def _backward(ctx, grad, _grad_arg):
    rowptr, col, perm, row, rowptr_t, perm_t, a, b, weight, bias, arg = ctx.saved_tensors
    if differentiating_backward(grad, a, b, weight, bias):  # create_graph=True: the reference's gradients
        from gnnx.ops.edge_mlp import edge_mlp_max_reference  # (it imports gnnx.ops.dispatch, which imports us)

        grads = reference_grads(lambda *t: edge_mlp_max_reference(*t, col, row, a.size(0)), (a, b, weight, bias),
                                (grad,), ctx.needs_input_grad[6:10])
        return (None,) * 6 + tuple(grads)
    grad_a, grad_b, grad_w = edge_mlp_max_backward(rowptr, col, perm, rowptr_t, perm_t, a, b, weight, grad, arg)
    grad_bias = bias_grad(grad, arg) if ctx.has_bias else None
    return None, None, None, None, None, None, grad_a, grad_b, grad_w, grad_bias


def bias_grad(grad: Tensor, arg: Tensor) -> Tensor:
    """The second layer's bias gradient: rows without edges output 0, not the bias."""
    return torch.where(arg >= 0, grad, torch.zeros_like(grad)).sum(0)


edge_mlp_max.register_autograd(_backward, setup_context=_setup)
