"""Triton kernels for CUDA, registered with ``torch.library.triton_op``.

``triton_op`` makes the kernels visible to ``torch.compile`` and AOTInductor, which
compile them into the generated code (and into ``.pt2`` packages). Imported only where
Triton and a CUDA device are present; :mod:`gnnx.ops.spmm` falls back to the reference
everywhere else.

Kernels (all over a destination-sorted CSR: ``rowptr [N+1]``, ``col [E]``):

* ``csr_spmm_sum``: ``out[i] = sum_k w[k] * x[col[k]]`` for ``k`` in row ``i``; ``w`` absent,
  ``[E]`` or ``[E, H]`` (per head, ``x`` viewed as ``[N, H * C]``). Backward: the same
  kernel over the transposed CSR for ``grad x``; :func:`_sddmm_kernel` for ``grad w``.
* ``csr_spmm_max``: running maximum with the position of the winner; backward scatters
  the gradient to the winners (ties go to the first in CSR order).
"""
from __future__ import annotations

import contextlib
import math
from typing import Optional, Tuple

import torch
import triton
import triton.language as tl
from torch import Tensor
from torch.library import triton_op, wrap_triton

from gnnx.ops.second_order import differentiating_backward, reference_grads


def rows_of(t: Tensor) -> Tensor:
    """``t`` as ``[rows, features]``, with the width spelled out: ``reshape(0, -1)`` of an
    empty tensor (a node type with no nodes) is ambiguous."""
    return t.reshape(t.size(0), math.prod(t.shape[1:]))


def _on_device(t: Tensor):
    """Eager launches go to the current CUDA device: make it the tensors' (e.g. cuda:1
    under DDP without set_device). Compiled code places its launches itself."""
    if torch.compiler.is_compiling() or t.device.type != "cuda" or t.device.index == torch.cuda.current_device():
        return contextlib.nullcontext()
    return torch.cuda.device(t.device)


def launcher(kernel, like: Tensor):
    """``kernel`` itself for an eager launch on real tensors, ``wrap_triton(kernel)`` while
    the op is traced (fake or functional tensors, Dynamo): the wrapper is what Inductor
    needs, but its eager path costs hundreds of microseconds of host time per launch."""
    if type(like) is torch.Tensor and not torch.compiler.is_compiling():
        return kernel
    return wrap_triton(kernel)


def _block_f(num_features: int) -> int:
    return min(triton.next_power_of_2(max(num_features, 1)), 128)


@triton.jit
def _spmm_kernel(rowptr, col, weight, x, out, arg, num_rows, F, HEAD_C, W_HEADS,
                 HAS_W: tl.constexpr, SCALAR_W: tl.constexpr, IS_MAX: tl.constexpr, ROWS: tl.constexpr,
                 BLOCK_E: tl.constexpr, BLOCK_F: tl.constexpr, HAS_COL: tl.constexpr = True):
    # ROWS consecutive rows per program, unrolled, so their loads overlap. Without HAS_COL,
    # row k of x is CSR position k's (x already in CSR order).
    offs_f = tl.program_id(1) * BLOCK_F + tl.arange(0, BLOCK_F)
    fmask = offs_f < F
    for r in tl.static_range(ROWS):
        row = tl.program_id(0) * ROWS + r
        live = row < num_rows
        start = tl.load(rowptr + row, mask=live, other=0)
        end = tl.load(rowptr + row + 1, mask=live, other=0)
        if IS_MAX:
            acc = tl.full([BLOCK_F], float("-inf"), tl.float32)
            best = tl.full([BLOCK_F], -1, tl.int64)
        else:
            acc = tl.zeros([BLOCK_F], tl.float32)
        for k in range(start, end, BLOCK_E):
            offs_e = k + tl.arange(0, BLOCK_E)
            emask = offs_e < end
            mask = emask[:, None] & fmask[None, :]
            src = tl.load(col + offs_e, mask=emask, other=0) if HAS_COL else offs_e
            vals = tl.load(x + src[:, None] * F + offs_f[None, :], mask=mask, other=0.0).to(tl.float32)
            if HAS_W:
                if SCALAR_W:  # one weight per edge: load it once, broadcast over features
                    w = tl.load(weight + offs_e, mask=emask, other=0.0)
                    vals = vals * w.to(tl.float32)[:, None]
                else:
                    head = offs_f // HEAD_C
                    w = tl.load(weight + offs_e[:, None] * W_HEADS + head[None, :], mask=mask, other=0.0)
                    vals = vals * w.to(tl.float32)
            if IS_MAX:
                vals = tl.where(mask, vals, float("-inf"))
                block_max, block_arg = tl.max(vals, axis=0, return_indices=True)
                take = block_max > acc
                acc = tl.where(take, block_max, acc)
                best = tl.where(take, k + block_arg.to(tl.int64), best)
            else:
                acc += tl.sum(vals, axis=0)
        if IS_MAX:
            acc = tl.where(best < 0, 0.0, acc)
            tl.store(arg + row * F + offs_f, best.to(arg.dtype.element_ty), mask=fmask & live)
        tl.store(out + row * F + offs_f, acc.to(out.dtype.element_ty), mask=fmask & live)


@triton.jit
def _sddmm_kernel(row, col, a, b, out, num_edges, F, HEAD_C, H,
                  BLOCK_E: tl.constexpr, BLOCK_C: tl.constexpr):
    """``out[k, h] = <a[row[k], h, :], b[col[k], h, :]>`` (a dot per edge and head)."""
    offs_e = tl.program_id(0) * BLOCK_E + tl.arange(0, BLOCK_E)
    h = tl.program_id(1)
    emask = offs_e < num_edges
    r = tl.load(row + offs_e, mask=emask, other=0)
    c = tl.load(col + offs_e, mask=emask, other=0)
    acc = tl.zeros([BLOCK_E], tl.float32)
    for f0 in range(0, HEAD_C, BLOCK_C):
        offs_c = f0 + tl.arange(0, BLOCK_C)
        mask = emask[:, None] & (offs_c < HEAD_C)[None, :]
        feat = h * HEAD_C + offs_c
        va = tl.load(a + r[:, None] * F + feat[None, :], mask=mask, other=0.0).to(tl.float32)
        vb = tl.load(b + c[:, None] * F + feat[None, :], mask=mask, other=0.0).to(tl.float32)
        acc += tl.sum(va * vb, axis=1)
    tl.store(out + offs_e * H + h, acc.to(out.dtype.element_ty), mask=emask)


def spmm_config(num_features: int) -> dict:
    """Launch shape, tuned on an H100 with bench/tune_spmm.py (seed graph: 10k rows, ~21
    edges a row; results in bench/results/h100/tune_spmm.json): one warp per row, small
    edge blocks, so many rows are in flight at once."""
    return {"ROWS": 1, "BLOCK_E": 8 if num_features >= 32 else 16, "num_warps": 1}


def _launch_spmm(rowptr: Tensor, col: Optional[Tensor], weight: Optional[Tensor], x: Tensor, is_max: bool,
                 config: Optional[dict] = None, arg_dtype: torch.dtype = torch.long):
    """``(out, arg)``: the rows' sums or maxima (``arg``: the winners' CSR positions, ``-1``
    for an empty row); ``col=None`` reads ``x``'s rows in CSR order."""
    num_rows = rowptr.numel() - 1
    x2 = rows_of(x).contiguous()
    num_features = x2.size(1)
    out = torch.empty((num_rows, num_features), dtype=x.dtype, device=x.device)
    arg = torch.empty((num_rows, num_features) if is_max else (1,), dtype=arg_dtype, device=x.device)
    heads = 1 if weight is None or weight.dim() == 1 else weight.size(1)
    block_f = _block_f(num_features)
    cfg = config or spmm_config(num_features)
    grid = (triton.cdiv(num_rows, cfg["ROWS"]), triton.cdiv(num_features, block_f))
    with _on_device(x):
        launcher(_spmm_kernel, x2)[grid](
            rowptr, col if col is not None else rowptr, weight if weight is not None else x2, x2, out, arg,
            num_rows, num_features, num_features // heads, heads,
            HAS_W=weight is not None, SCALAR_W=heads == 1, IS_MAX=is_max, ROWS=cfg["ROWS"], BLOCK_E=cfg["BLOCK_E"],
            BLOCK_F=block_f, HAS_COL=col is not None, num_warps=cfg["num_warps"],
        )
    return out.view((num_rows,) + tuple(x.shape[1:])), arg


@triton_op("gnnx::csr_spmm_sum", mutates_args={})
def csr_spmm_sum(rowptr: Tensor, col: Tensor, weight: Optional[Tensor], row: Tensor,
                 rowptr_t: Tensor, col_t: Tensor, weight_t: Optional[Tensor], x: Tensor) -> Tensor:
    """``A @ x`` over a destination-sorted CSR (the ``*_t`` arguments serve the backward)."""
    return _launch_spmm(rowptr, col, weight, x, False)[0]


def _launch_sddmm(row: Tensor, col: Tensor, a: Tensor, b: Tensor, heads: int) -> Tensor:
    a2 = rows_of(a).contiguous()
    b2 = rows_of(b).contiguous()
    num_edges, num_features = row.numel(), a2.size(1)
    out = torch.empty((num_edges, heads), dtype=a.dtype, device=a.device)
    head_c = num_features // heads
    block_c = min(triton.next_power_of_2(max(head_c, 1)), 64)
    grid = (triton.cdiv(num_edges, 128), heads)
    with _on_device(a):
        launcher(_sddmm_kernel, a2)[grid](row, col, a2, b2, out, num_edges, num_features, head_c, heads,
                                         BLOCK_E=128, BLOCK_C=block_c)
    return out


@triton_op("gnnx::sddmm", mutates_args={})
def sddmm(row: Tensor, col: Tensor, a: Tensor, b: Tensor, heads: int) -> Tensor:
    """Per-edge, per-head dot products ``<a[row[k]], b[col[k]]>``: ``[E, heads]``."""
    return _launch_sddmm(row, col, a, b, heads)


def _sum_setup(ctx, inputs, output):
    rowptr, col, weight, row, rowptr_t, col_t, weight_t, x = inputs
    ctx.save_for_backward(rowptr, col, weight, row, rowptr_t, col_t, weight_t, x)
    ctx.has_weight = weight is not None


def _sum_reference(rowptr: Tensor, col: Tensor, weight: Optional[Tensor], x: Tensor) -> Tensor:
    """``csr_spmm_sum`` by :func:`gnnx.ops.spmm.spmm_reference` (each CSR position's row from
    ``rowptr``; ``[E, H]`` weights over ``x`` viewed as ``[N, H, C]``), for second derivatives."""
    # (imported here: gnnx.ops.dispatch imports this module while those modules import dispatch)
    from gnnx.ops.spmm import spmm_reference
    from gnnx.utils.tensors import ptr_to_index

    num_rows, num_edges = rowptr.numel() - 1, col.numel()
    x2 = rows_of(x)
    heads = 1 if weight is None or weight.dim() == 1 else weight.size(1)
    edge_index = torch.stack([col, ptr_to_index(rowptr, num_edges)])
    out = spmm_reference(x2.view(x2.size(0), heads, x2.size(1) // heads), edge_index, num_rows, weight, "sum")
    return out.view((num_rows,) + tuple(x.shape[1:]))


def _sum_grads(saved, grad, needs_x: bool, needs_w: bool, has_weight: bool, spmm, dots):
    rowptr, col, weight, row, rowptr_t, col_t, weight_t, x = saved
    if differentiating_backward(grad, weight, x):  # create_graph=True: the reference's own gradients
        grad_w, grad_x = reference_grads(lambda w, v: _sum_reference(rowptr, col, w, v), (weight, x), (grad,),
                                         (needs_w and has_weight, needs_x))
        return grad_x, grad_w
    grad = grad.contiguous()
    grad_x = grad_w = None
    if needs_x:
        grad_x = spmm(rowptr_t, col_t, weight_t, col_t, rowptr_t, col_t, weight_t, grad)
    if has_weight and needs_w:
        heads = 1 if weight.dim() == 1 else weight.size(1)
        grad_w = dots(row, col, grad, x, heads).view(weight.shape)
    return grad_x, grad_w


def _sum_backward(ctx, grad):
    grad_x, grad_w = _sum_grads(ctx.saved_tensors, grad, ctx.needs_input_grad[7], ctx.needs_input_grad[2],
                                ctx.has_weight, csr_spmm_sum, sddmm)
    return None, None, grad_w, None, None, None, None, grad_x


csr_spmm_sum.register_autograd(_sum_backward, setup_context=_sum_setup)


def _eager_sum(rowptr, col, weight, row, rowptr_t, col_t, weight_t, x):
    return EagerCSRSum.apply(rowptr, col, weight, row, rowptr_t, col_t, weight_t, x)


class EagerCSRSum(torch.autograd.Function):
    """``csr_spmm_sum`` for eager calls: the same kernels, launched without a pass through
    the op dispatcher (whose host cost per call exceeded the kernel's own on small graphs).
    Traced code uses the ``triton_op``, which Inductor sees through."""

    @staticmethod
    def forward(ctx, rowptr, col, weight, row, rowptr_t, col_t, weight_t, x):
        ctx.save_for_backward(rowptr, col, weight, row, rowptr_t, col_t, weight_t, x)
        ctx.has_weight = weight is not None
        return _launch_spmm(rowptr, col, weight, x, False)[0]

    @staticmethod
    def backward(ctx, grad):
        grad_x, grad_w = _sum_grads(ctx.saved_tensors, grad, ctx.needs_input_grad[7], ctx.needs_input_grad[2],
                                    ctx.has_weight, _eager_sum, _launch_sddmm)
        return None, None, grad_w, None, None, None, None, grad_x


@triton_op("gnnx::csr_spmm_max", mutates_args={})
def csr_spmm_max(rowptr: Tensor, col: Tensor, weight: Optional[Tensor], x: Tensor) -> Tuple[Tensor, Tensor]:
    """Row-wise maximum of ``w * x[col]`` and the CSR position of each winner (-1: empty row)."""
    out, arg = _launch_spmm(rowptr, col, weight, x, True)
    return out, arg


def _max_setup(ctx, inputs, output):
    rowptr, col, weight, x = inputs
    ctx.save_for_backward(col, weight, output[1], x if weight is not None else None)
    ctx.x_shape = x.shape
    ctx.has_weight = weight is not None


def _max_backward(ctx, grad, _grad_arg):
    col, weight, arg, x_saved = ctx.saved_tensors
    num_src = ctx.x_shape[0]
    grad2 = rows_of(grad)
    num_features = grad2.size(1)
    won = arg >= 0
    pos = arg.clamp(min=0)
    contrib = torch.where(won, grad2, torch.zeros_like(grad2))
    feature = torch.arange(num_features, device=grad.device).expand_as(pos)
    grad_x = grad_w = None
    if ctx.has_weight:
        heads = 1 if weight.dim() == 1 else weight.size(1)
        w = weight.view(-1, heads).repeat_interleave(num_features // heads, dim=1)  # [E, F]
        w_won = w.gather(0, pos)
        if ctx.needs_input_grad[2]:
            x2 = x_saved.reshape(num_src, -1)
            x_won = x2.gather(0, col[pos])
            per_feature = torch.zeros_like(w).scatter_add_(0, pos, contrib * x_won)
            grad_w = per_feature.view(-1, heads, num_features // heads).sum(-1).view(weight.shape)
        contrib = contrib * w_won
    if ctx.needs_input_grad[3]:
        flat = (col[pos] * num_features + feature).reshape(-1)
        grad_x = grad2.new_zeros(num_src * num_features).index_add_(0, flat, contrib.reshape(-1))
        grad_x = grad_x.view(ctx.x_shape)
    return None, None, grad_w, grad_x


csr_spmm_max.register_autograd(_max_backward, setup_context=_max_setup)
