"""Fused graph attention for CUDA (GAT and GATv2), registered with ``torch.library.triton_op``.

Forward: one program per destination row and head walks the row's incoming edges in
blocks and keeps an online softmax (running maximum ``m``, running sum ``l``, rescaled
accumulator), as flash attention does, so the attention weights ``[E, H]`` and GATv2's
``[E, H, C]`` score inputs are never written. It stores ``m`` and ``r = 1 / (l + 1e-16)``
per row and head (the ``1e-16`` is :func:`gnnx.ops.segment_softmax`'s).

Backward, GAT (per-node score halves): two kernels, no atomics (deterministic).

* rows (CSR, one program per destination and head): recompute ``s``,
  ``alpha = exp(s - m) r``, ``d alpha_k = <grad out_i, x_j>``,
  ``d s_k = alpha_k (d alpha_k - <grad out_i, out_i>)``, ``d pre_k`` (through the LeakyReLU);
  writes ``alpha`` and ``d pre`` per edge and their row sum, the destination scores' gradient;
* columns (transposed CSR, one program per source and head): ``grad x_j = sum alpha_k grad out_i``
  and the source scores' gradient ``sum d pre_k``.

Backward, GATv2 (scores from ``[E, H, C]`` inputs): the scores recomputed with ATen, ``alpha``,
the SDDMM ``d alpha``, and the segment sums of ``d z`` with the SpMM kernel.

All edge arrays inside are in CSR (destination-sorted) order; ``t2c`` maps each
transposed position to its CSR position.

Eager calls on plain tensors take :class:`EagerAttention`, one autograd node that launches
the same kernels without the op dispatcher (whose host cost per call exceeded the kernels'
on the seed graph); traced calls take the registered ops, which Inductor sees through.
"""
from __future__ import annotations

from typing import Optional, Tuple

import torch
import torch.nn.functional as F
import triton
import triton.language as tl
from torch import Tensor
from torch.library import triton_op

from gnnx.graph import CSR
from gnnx.ops.second_order import differentiating_backward, reference_grads
from gnnx.ops.triton_kernels import _launch_sddmm, _launch_spmm, _on_device, csr_spmm_sum, launcher, sddmm


@triton.jit
def _attention_kernel(rowptr, col, x, score_src, score_dst, x_dst, att, bias, out, m_out, r_out,
                      H, C, slope, V2: tl.constexpr, HAS_BIAS: tl.constexpr,
                      BLOCK_E: tl.constexpr, BLOCK_C: tl.constexpr):
    row = tl.program_id(0)
    h = tl.program_id(1)
    slope = tl.cast(slope, tl.float32)  # Inductor passes Python floats as fp64: keep the math in fp32
    start = tl.load(rowptr + row)
    end = tl.load(rowptr + row + 1)
    offs_c = tl.arange(0, BLOCK_C)
    cmask = offs_c < C
    feat = h * C + offs_c
    if V2:
        x_i = tl.load(x_dst + row * H * C + feat, mask=cmask, other=0.0).to(tl.float32)
        a = tl.load(att + feat, mask=cmask, other=0.0).to(tl.float32)
    else:
        s_i = tl.load(score_dst + row * H + h).to(tl.float32)
    m = tl.max(tl.full([BLOCK_E], float("-inf"), tl.float32), axis=0)
    m_safe = tl.sum(tl.zeros([BLOCK_E], tl.float32), axis=0)
    total = tl.sum(tl.zeros([BLOCK_E], tl.float32), axis=0)
    acc = tl.zeros([BLOCK_C], tl.float32)
    for k in range(start, end, BLOCK_E):
        offs_e = k + tl.arange(0, BLOCK_E)
        emask = offs_e < end
        src = tl.load(col + offs_e, mask=emask, other=0)
        x_j = tl.load(x + src[:, None] * H * C + feat[None, :], mask=emask[:, None] & cmask[None, :],
                      other=0.0).to(tl.float32)
        if V2:
            z = x_j + x_i[None, :]
            z = tl.where(z > 0, z, z * slope)
            s = tl.sum(z * a[None, :], axis=1)
            if HAS_BIAS:
                s += tl.load(bias + offs_e * H + h, mask=emask, other=0.0).to(tl.float32)
        else:
            s = tl.load(score_src + src * H + h, mask=emask, other=0.0).to(tl.float32) + s_i
            if HAS_BIAS:
                s += tl.load(bias + offs_e * H + h, mask=emask, other=0.0).to(tl.float32)
            s = tl.where(s > 0, s, s * slope)
        s = tl.where(emask, s, float("-inf"))
        m_new = tl.maximum(m, tl.max(s, axis=0))
        m_new_safe = tl.where(m_new == float("-inf"), 0.0, m_new)  # all masked so far: nothing to scale
        scale = tl.exp(m_safe - m_new_safe)
        p = tl.exp(s - m_new_safe)
        total = total * scale + tl.sum(p, axis=0)
        acc = acc * scale + tl.sum(p[:, None] * x_j, axis=0)
        m = m_new
        m_safe = m_new_safe
    r = 1.0 / (total + 1e-16)
    tl.store(out + row * H * C + feat, (acc * r).to(out.dtype.element_ty), mask=cmask)
    tl.store(m_out + row * H + h, m_safe)
    tl.store(r_out + row * H + h, r)


@triton.jit
def _attention_rows_backward_kernel(rowptr, col, x, score_src, score_dst, bias, grad_out, out, m_in, r_in,
                                    alpha_out, d_pre_out, grad_dst, H, C, slope, HAS_BIAS: tl.constexpr,
                                    BLOCK_E: tl.constexpr, BLOCK_C: tl.constexpr):
    row = tl.program_id(0)
    h = tl.program_id(1)
    slope = tl.cast(slope, tl.float32)
    start = tl.load(rowptr + row)
    end = tl.load(rowptr + row + 1)
    offs_c = tl.arange(0, BLOCK_C)
    cmask = offs_c < C
    feat = h * C + offs_c
    g = tl.load(grad_out + row * H * C + feat, mask=cmask, other=0.0).to(tl.float32)
    d_row = tl.sum(g * tl.load(out + row * H * C + feat, mask=cmask, other=0.0).to(tl.float32), axis=0)
    m = tl.load(m_in + row * H + h)
    r = tl.load(r_in + row * H + h)
    s_i = tl.load(score_dst + row * H + h).to(tl.float32)
    total = tl.sum(tl.zeros([BLOCK_E], tl.float32), axis=0)
    for k in range(start, end, BLOCK_E):
        offs_e = k + tl.arange(0, BLOCK_E)
        emask = offs_e < end
        src = tl.load(col + offs_e, mask=emask, other=0)
        pre = tl.load(score_src + src * H + h, mask=emask, other=0.0).to(tl.float32) + s_i
        if HAS_BIAS:
            pre += tl.load(bias + offs_e * H + h, mask=emask, other=0.0).to(tl.float32)
        alpha = tl.exp(tl.where(pre > 0, pre, pre * slope) - m) * r
        x_j = tl.load(x + src[:, None] * H * C + feat[None, :], mask=emask[:, None] & cmask[None, :],
                      other=0.0).to(tl.float32)
        d_s = alpha * (tl.sum(x_j * g[None, :], axis=1) - d_row)
        d_pre = tl.where(emask, tl.where(pre > 0, d_s, d_s * slope), 0.0)
        tl.store(alpha_out + offs_e * H + h, alpha, mask=emask)
        tl.store(d_pre_out + offs_e * H + h, d_pre, mask=emask)
        total += tl.sum(d_pre, axis=0)
    tl.store(grad_dst + row * H + h, total.to(grad_dst.dtype.element_ty))


@triton.jit
def _attention_cols_backward_kernel(rowptr_t, col_t, t2c, grad_out, alpha, d_pre, grad_x, grad_src, H, C,
                                    BLOCK_E: tl.constexpr, BLOCK_C: tl.constexpr):
    node = tl.program_id(0)
    h = tl.program_id(1)
    start = tl.load(rowptr_t + node)
    end = tl.load(rowptr_t + node + 1)
    offs_c = tl.arange(0, BLOCK_C)
    cmask = offs_c < C
    feat = h * C + offs_c
    acc = tl.zeros([BLOCK_C], tl.float32)
    total = tl.sum(tl.zeros([BLOCK_E], tl.float32), axis=0)
    for k in range(start, end, BLOCK_E):
        offs_e = k + tl.arange(0, BLOCK_E)
        emask = offs_e < end
        pos = tl.load(t2c + offs_e, mask=emask, other=0)
        dst = tl.load(col_t + offs_e, mask=emask, other=0)
        a = tl.load(alpha + pos * H + h, mask=emask, other=0.0)
        g = tl.load(grad_out + dst[:, None] * H * C + feat[None, :], mask=emask[:, None] & cmask[None, :],
                    other=0.0).to(tl.float32)
        acc += tl.sum(a[:, None] * g, axis=0)
        total += tl.sum(tl.load(d_pre + pos * H + h, mask=emask, other=0.0), axis=0)
    tl.store(grad_x + node * H * C + feat, acc.to(grad_x.dtype.element_ty), mask=cmask)
    tl.store(grad_src + node * H + h, total.to(grad_src.dtype.element_ty))


def _config(channels: int) -> dict:
    block_c = triton.next_power_of_2(max(channels, 1))
    return {"BLOCK_C": block_c, "BLOCK_E": max(1, min(16, 2048 // block_c)), "num_warps": 1 if block_c <= 64 else 4}


def _launch_attention(rowptr: Tensor, col: Tensor, x: Tensor, score_src: Optional[Tensor],
                      score_dst: Optional[Tensor], x_dst: Optional[Tensor], att: Optional[Tensor],
                      bias: Optional[Tensor], negative_slope: float) -> Tuple[Tensor, Tensor, Tensor]:
    num_dst = rowptr.numel() - 1
    heads, channels = x.size(1), x.size(2)
    out = torch.empty((num_dst, heads, channels), dtype=x.dtype, device=x.device)
    m = torch.empty((num_dst, heads), dtype=torch.float32, device=x.device)
    r = torch.empty((num_dst, heads), dtype=torch.float32, device=x.device)
    v2 = att is not None
    cfg = _config(channels)
    with _on_device(x):
        launcher(_attention_kernel, x)[(num_dst, heads)](
            rowptr, col, x, x if v2 else score_src, x if v2 else score_dst, x_dst if v2 else x, att if v2 else x,
            bias if bias is not None else x, out, m, r, heads, channels, negative_slope,
            V2=v2, HAS_BIAS=bias is not None, BLOCK_E=cfg["BLOCK_E"], BLOCK_C=cfg["BLOCK_C"],
            num_warps=cfg["num_warps"],
        )
    return out, m, r


@triton_op("gnnx::gat_attention", mutates_args={})
def gat_attention(rowptr: Tensor, col: Tensor, row: Tensor, rowptr_t: Tensor, col_t: Tensor, t2c: Tensor,
                  x: Tensor, score_src: Optional[Tensor], score_dst: Optional[Tensor], x_dst: Optional[Tensor],
                  att: Optional[Tensor], bias: Optional[Tensor], negative_slope: float
                  ) -> Tuple[Tensor, Tensor, Tensor]:
    """Fused attention over a destination-sorted CSR: ``(out [N_dst, H, C], m [N_dst, H], r [N_dst, H])``.
    ``row``, ``rowptr_t``, ``col_t``, ``t2c`` serve the backward."""
    return _launch_attention(rowptr, col, x, score_src, score_dst, x_dst, att, bias, negative_slope)


def _launch_gat_backward(rowptr: Tensor, col: Tensor, rowptr_t: Tensor, col_t: Tensor, t2c: Tensor, x: Tensor,
                         score_src: Tensor, score_dst: Tensor, bias: Optional[Tensor], out: Tensor, m: Tensor,
                         r: Tensor, grad_out: Tensor, negative_slope: float
                         ) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
    num_dst, num_src, num_edges = rowptr.numel() - 1, rowptr_t.numel() - 1, col.numel()
    heads, channels = x.size(1), x.size(2)
    alpha = torch.empty((num_edges, heads), dtype=torch.float32, device=x.device)
    d_pre = torch.empty((num_edges, heads), dtype=torch.float32, device=x.device)
    grad_dst = torch.empty((num_dst, heads), dtype=score_dst.dtype, device=x.device)
    grad_x = torch.empty((num_src, heads, channels), dtype=x.dtype, device=x.device)
    grad_src = torch.empty((num_src, heads), dtype=score_src.dtype, device=x.device)
    cfg = _config(channels)
    with _on_device(x):
        launcher(_attention_rows_backward_kernel, x)[(num_dst, heads)](
            rowptr, col, x, score_src, score_dst, bias if bias is not None else x, grad_out, out, m, r, alpha, d_pre,
            grad_dst, heads, channels, negative_slope, HAS_BIAS=bias is not None, BLOCK_E=cfg["BLOCK_E"],
            BLOCK_C=cfg["BLOCK_C"], num_warps=cfg["num_warps"])
        launcher(_attention_cols_backward_kernel, x)[(num_src, heads)](
            rowptr_t, col_t, t2c, grad_out, alpha, d_pre, grad_x, grad_src, heads, channels,
            BLOCK_E=cfg["BLOCK_E"], BLOCK_C=cfg["BLOCK_C"], num_warps=cfg["num_warps"])
    return grad_x, grad_src, grad_dst, d_pre


@triton_op("gnnx::gat_attention_backward", mutates_args={})
def gat_attention_backward(rowptr: Tensor, col: Tensor, rowptr_t: Tensor, col_t: Tensor, t2c: Tensor, x: Tensor,
                           score_src: Tensor, score_dst: Tensor, bias: Optional[Tensor], out: Tensor, m: Tensor,
                           r: Tensor, grad_out: Tensor, negative_slope: float
                           ) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
    """GAT's first-order gradients (module docstring): ``(grad x, grad score_src, grad score_dst,
    d pre [E, H])``, the last in CSR order (the bias's gradient)."""
    return _launch_gat_backward(rowptr, col, rowptr_t, col_t, t2c, x, score_src, score_dst, bias, out, m, r,
                                grad_out, negative_slope)


def _setup(ctx, inputs, output):
    rowptr, col, row, rowptr_t, col_t, t2c, x, score_src, score_dst, x_dst, att, bias, slope = inputs
    out, m, r = output
    ctx.save_for_backward(rowptr, col, row, rowptr_t, col_t, t2c, x, score_src, score_dst, x_dst, att, bias, out, m,
                          r)
    ctx.slope = slope


def _reference(rowptr: Tensor, col: Tensor, row: Tensor, x: Tensor, score_src: Optional[Tensor],
               score_dst: Optional[Tensor], x_dst: Optional[Tensor], att: Optional[Tensor], bias: Optional[Tensor],
               slope: float) -> Tensor:
    """ATen's ``out`` of :func:`gat_attention` (edges in CSR order), for second derivatives."""
    # (imported here: gnnx.ops.dispatch imports this module while those modules import dispatch)
    from gnnx.ops.attention import attention_scores
    from gnnx.ops.scatter import scatter, segment_softmax

    num_dst = rowptr.numel() - 1
    score = attention_scores(x, col, row, score_src, score_dst, x_dst, att, bias, slope)
    alpha = segment_softmax(score, row, num_dst)
    return scatter(x.index_select(0, col) * alpha.unsqueeze(-1).to(x.dtype), row, num_dst, "sum")


def _attention_grads(saved, grad_out: Tensor, slope: float, needed, gat_backward, spmm, dots) -> list:
    """The gradients of ``(x, score_src, score_dst, x_dst, att, bias)``; ``gat_backward``,
    ``spmm(rowptr, col, weight, x)`` and ``dots`` (SDDMM) are the registered ops in traced
    calls and the kernels' launchers in eager ones."""
    rowptr, col, row, rowptr_t, col_t, t2c, x, score_src, score_dst, x_dst, att, bias, out, m, r = saved
    learnt = (x, score_src, score_dst, x_dst, att, bias)
    if differentiating_backward(grad_out, *learnt):
        # create_graph=True: the kernel's backward treats the softmax statistics m, r as constants
        return reference_grads(lambda *t: _reference(rowptr, col, row, *t, slope), learnt, (grad_out,), needed)
    grad_out = grad_out.contiguous()
    if att is None:
        grad_x, grad_src, grad_dst, d_pre = gat_backward(rowptr, col, rowptr_t, col_t, t2c, x, score_src, score_dst,
                                                         bias, out, m, r, grad_out, slope)
        grad_bias = d_pre.to(bias.dtype) if bias is not None and needed[5] else None
        return [grad_x, grad_src, grad_dst, None, None, grad_bias]
    # GATv2: recompute the scores in CSR order (src = col, dst = row)
    z = x.index_select(0, col).float() + x_dst.index_select(0, row).float()
    lz = F.leaky_relu(z, slope)
    s = (lz * att.float()).sum(-1)
    if bias is not None:
        s = s + bias.float()
    alpha = torch.exp(s - m.index_select(0, row)) * r.index_select(0, row)  # [E, H]
    grad_x = spmm(rowptr_t, col_t, alpha.to(x.dtype).index_select(0, t2c).contiguous(), grad_out)
    d_alpha = dots(row, col, grad_out, x, x.size(1)).float()
    d_row = (grad_out.float() * out.float()).sum(-1)  # <grad out_i, out_i> per head
    d_s = alpha * (d_alpha - d_row.index_select(0, row))
    d_z = d_s.unsqueeze(-1) * att.float() * torch.where(z > 0, 1.0, slope)  # [E, H, C]
    grad_x = grad_x + spmm(rowptr_t, t2c, None, d_z.to(x.dtype).contiguous())
    grad_x_dst = spmm(rowptr, torch.arange(col.numel(), device=col.device), None, d_z.to(x_dst.dtype).contiguous())
    grad_att = (d_s.unsqueeze(-1) * lz).sum(0).to(att.dtype)
    grad_bias = d_s.to(bias.dtype) if bias is not None else None
    return [grad_x, None, None, grad_x_dst, grad_att, grad_bias]


def _op_spmm(rowptr: Tensor, col: Tensor, weight: Optional[Tensor], x: Tensor) -> Tensor:
    return csr_spmm_sum(rowptr, col, weight, col, rowptr, col, None, x)


def _backward(ctx, grad_out, _grad_m, _grad_r):
    grads = _attention_grads(ctx.saved_tensors, grad_out, ctx.slope, ctx.needs_input_grad[6:12],
                             gat_attention_backward, _op_spmm, sddmm)
    return (None,) * 6 + tuple(grads) + (None,)


gat_attention.register_autograd(_backward, setup_context=_setup)


def _eager_spmm(rowptr: Tensor, col: Tensor, weight: Optional[Tensor], x: Tensor) -> Tensor:
    return _launch_spmm(rowptr, col, weight, x, False)[0]


class EagerAttention(torch.autograd.Function):
    """:func:`gat_attention` for eager calls on plain tensors: the same kernels, forward and
    backward, in one autograd node without the op dispatcher (on the seed graph the registered
    op's forward and its backward's four ops cost more host time than the kernels GPU time)."""

    @staticmethod
    def forward(ctx, rowptr, col, row, rowptr_t, col_t, t2c, x, score_src, score_dst, x_dst, att, bias, slope):
        out, m, r = _launch_attention(rowptr, col, x, score_src, score_dst, x_dst, att, bias, slope)
        ctx.save_for_backward(rowptr, col, row, rowptr_t, col_t, t2c, x, score_src, score_dst, x_dst, att, bias, out,
                              m, r)
        ctx.slope = slope
        return out

    @staticmethod
    def backward(ctx, grad_out):
        grads = _attention_grads(ctx.saved_tensors, grad_out, ctx.slope, ctx.needs_input_grad[6:12],
                                 _launch_gat_backward, _eager_spmm, _launch_sddmm)
        return (None,) * 6 + tuple(grads) + (None,)


def _runs_eagerly(*tensors: Optional[Tensor]) -> bool:
    """Whether a call takes :class:`EagerAttention`: plain tensors, outside tracing and autocast."""
    from gnnx.ops.dispatch import plain_eager_call  # (gnnx.ops.dispatch imports this module)

    return plain_eager_call("cuda", *tensors)


def _transposed_to_csr(csr: CSR) -> Tensor:
    """The CSR position of each transposed-CSR position (``t2c``)."""
    positions = torch.arange(csr.col.numel(), device=csr.col.device)
    return torch.empty_like(csr.perm).scatter_(0, csr.perm, positions).index_select(0, csr.perm_t)


def fused_attention(x: Tensor, csr: CSR, score_src: Optional[Tensor], score_dst: Optional[Tensor],
                    x_dst: Optional[Tensor], att: Optional[Tensor], edge_bias: Optional[Tensor],
                    negative_slope: float) -> Tensor:
    """:func:`gnnx.ops.attention` on CUDA: edge arrays to CSR order, then one kernel. The
    transposed-to-CSR position map is structure, and a bias that needs no gradient (the -inf
    of a graph's old self loops) is too: both are computed once per CSR in eager calls."""
    from gnnx.ops.dispatch import csr_values  # (gnnx.ops.dispatch imports this module)

    t2c = csr_values(csr, None, "attention_t2c", lambda: _transposed_to_csr(csr))
    heads = x.size(1)

    def ready(t: Optional[Tensor]) -> Optional[Tensor]:
        return t.contiguous() if t is not None else None

    bias = None if edge_bias is None else csr_values(
        csr, edge_bias, "attention_bias", lambda: edge_bias.index_select(0, csr.perm).contiguous())
    att2 = att.reshape(heads, -1).contiguous() if att is not None else None
    args = (csr.rowptr, csr.col, csr.row, csr.rowptr_t, csr.col_t, t2c, x.contiguous(), ready(score_src),
            ready(score_dst), ready(x_dst), att2, bias, float(negative_slope))
    if _runs_eagerly(*args[6:12]):
        if not (torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in args[6:12])):
            return _launch_attention(*args[:2], *args[6:])[0]  # nothing to differentiate: no node at all
        return EagerAttention.apply(*args)
    return gat_attention(*args)[0]
