r"""Attention-weighted aggregation, then projection, on CUDA (issue #16): the kernels of
:func:`gnnx.ops.aggregate_project`, registered with ``torch.library.triton_op`` so they
compile into ``torch.compile`` graphs and AOTInductor packages.

For relations :math:`r` with weights :math:`\mathbf{W}^r` (``[H C, F]``, head :math:`h`'s
rows :math:`\mathbf{W}^{r,h}`) and coefficients :math:`\alpha` per edge and head,

.. math::
    \mathbf{o}_{i,h} = \sum_{r \to \mathrm{type}(i)} \mathbf{W}^{r,h}
        \sum_{j \to_r i} \alpha_{ij,h}\,\mathbf{x}_j ,

the projection applied *after* the sum, per destination row: a row without incoming edges
costs nothing, so on a sampled mini-batch (whose destinations are the first hops' nodes) the
products run over a few destination rows instead of every source row. Rows are "slots"
``(relation, destination)`` of one CSR; a program takes ``ROWS`` consecutive destinations
and one head, walks each relation's edges of its rows (skipping relations whose rows have
none), sums ``alpha x_j`` and multiplies by the head's weight rows on tensor cores
(``tf32x3``: fp32 accuracy; ``tf32`` where torch allows it).

Backward, same layout: one pass recomputes the sums and writes each edge's
``d alpha = (W^{r,h T} g_{i,h}) . x_j`` once (no atomics), ``grad W`` as per-program
partials summed in a fixed order; ``grad x`` runs the forward's walk over the transposed
CSR (sources as rows), gathering ``alpha g_i`` per head and multiplying by ``W^{r,h}``.
"""
from __future__ import annotations

from typing import List, Tuple

import torch
import triton
import triton.language as tl
from torch import Tensor
from torch.library import triton_op

from gnnx.ops.triton_kernels import _on_device, launcher

# Destination rows per program, warps, and the backward's persistent programs per SM.
CONFIG = {"rows": 16, "warps": 4, "programs_per_sm": 1}
MAX_WIDTH = 256  # input channels held in registers per row


@triton.jit
def _row_edges(rowptr, slot, rmask):
    """``(first CSR position [ROWS, 1], degree [ROWS, 1], the longest degree)`` of ``slot``."""
    start = tl.load(rowptr + slot, mask=rmask, other=0)
    deg = tl.load(rowptr + slot + 1, mask=rmask, other=0) - start
    return start, deg, tl.max(deg)


@triton.jit
def _forward_kernel(rowptr, col, perm, alpha, x, weight, out, slot_base, num_rows, row_offset, first_relation,
                    num_relations, F, C, H, F_PAD: tl.constexpr, C_PAD: tl.constexpr, ROWS: tl.constexpr,
                    PRECISION: tl.constexpr):
    """``out[row_offset + i, h C : (h + 1) C]`` for ``ROWS`` destinations ``i`` and head ``h``."""
    h = tl.program_id(1)
    rows = tl.program_id(0) * ROWS + tl.arange(0, ROWS)[:, None]  # [ROWS, 1]: 1-D index loads
    rmask = rows < num_rows                                         # trip a Triton 3.6 layout bug
    offs_f = tl.arange(0, F_PAD)
    offs_c = tl.arange(0, C_PAD)
    fmask = offs_f < F
    cmask = offs_c < C
    acc = tl.zeros((ROWS, C_PAD), dtype=tl.float32)
    for k in range(num_relations):
        start, deg, longest = _row_edges(rowptr, slot_base + k * num_rows + rows, rmask)
        if longest > 0:
            agg = tl.zeros((ROWS, F_PAD), dtype=tl.float32)
            for t in range(longest):
                emask = t < deg
                j = tl.load(col + start + t, mask=emask, other=0).to(tl.int64)
                a = tl.load(alpha + tl.load(perm + start + t, mask=emask, other=0) * H + h, mask=emask, other=0.0)
                xj = tl.load(x + j * F + offs_f[None, :], mask=emask & fmask[None, :], other=0.0)
                agg += a.to(tl.float32) * xj.to(tl.float32)
            w_rows = (first_relation + k).to(tl.int64) * H * C + h * C + offs_c[None, :]
            w = tl.load(weight + w_rows * F + offs_f[:, None], mask=fmask[:, None] & cmask[None, :], other=0.0)
            acc = tl.dot(agg, w.to(tl.float32), acc, input_precision=PRECISION)  # [ROWS, F] @ [F, C]
    out_rows = (row_offset + rows).to(tl.int64)
    tl.store(out + out_rows * H * C + h * C + offs_c[None, :], acc, mask=rmask & cmask[None, :])


@triton.jit
def _input_grad_kernel(rowptr, col, perm, alpha, grad, weight, relations, out, slot_base, num_rows, row_offset,
                       first_relation, num_relations, F, C, H, F_PAD: tl.constexpr, C_PAD: tl.constexpr,
                       ROWS: tl.constexpr, PRECISION: tl.constexpr):
    """``out[row_offset + j] = sum_r sum_h W^{r,h T} sum_i alpha_{ij,h} grad_{i,h}`` for ``ROWS``
    sources ``j`` (slots of the transposed CSR; ``relations`` maps them to weight indices)."""
    rows = tl.program_id(0) * ROWS + tl.arange(0, ROWS)[:, None]
    rmask = rows < num_rows
    offs_f = tl.arange(0, F_PAD)
    offs_c = tl.arange(0, C_PAD)
    fmask = offs_f < F
    cmask = offs_c < C
    acc = tl.zeros((ROWS, F_PAD), dtype=tl.float32)
    for k in range(num_relations):
        start, deg, longest = _row_edges(rowptr, slot_base + k * num_rows + rows, rmask)
        if longest > 0:
            relation = tl.load(relations + first_relation + k).to(tl.int64)
            for h in range(H):
                agg = tl.zeros((ROWS, C_PAD), dtype=tl.float32)
                for t in range(longest):
                    emask = t < deg
                    i = tl.load(col + start + t, mask=emask, other=0).to(tl.int64)
                    a = tl.load(alpha + tl.load(perm + start + t, mask=emask, other=0) * H + h, mask=emask, other=0.0)
                    gi = tl.load(grad + i * H * C + h * C + offs_c[None, :], mask=emask & cmask[None, :], other=0.0)
                    agg += a.to(tl.float32) * gi.to(tl.float32)
                w_rows = relation * H * C + h * C + offs_c[:, None]
                w = tl.load(weight + w_rows * F + offs_f[None, :], mask=cmask[:, None] & fmask[None, :], other=0.0)
                acc = tl.dot(agg, w.to(tl.float32), acc, input_precision=PRECISION)  # [ROWS, C] @ [C, F]
    out_rows = (row_offset + rows).to(tl.int64)
    tl.store(out + out_rows * F + offs_f[None, :], acc, mask=rmask & fmask[None, :])


@triton.jit
def _backward_kernel(rowptr, col, perm, alpha, x, weight, grad, grad_alpha, partial, slot_base, num_rows,
                     row_offset, first_relation, num_relations, num_programs, num_weights, F, C, H,
                     F_PAD: tl.constexpr, C_PAD: tl.constexpr, ROWS: tl.constexpr, PRECISION: tl.constexpr):
    """Persistent over blocks of ``ROWS`` destinations, one head per program column:
    ``grad_alpha[e, h] = (W^{r,h T} grad_{i,h}) . x_j`` for each edge ``e = j -> i`` and this
    program's share of ``grad W^{r,h} = sum_i grad_{i,h} (sum_j alpha_{ij,h} x_j)^T``."""
    pid = tl.program_id(0)
    h = tl.program_id(1)
    offs_f = tl.arange(0, F_PAD)
    offs_c = tl.arange(0, C_PAD)
    fmask = offs_f < F
    cmask = offs_c < C
    blocks = tl.cdiv(num_rows, ROWS)
    for k in range(num_relations):
        relation = (first_relation + k).to(tl.int64)
        w_rows = relation * H * C + h * C + offs_c[:, None]
        w = tl.load(weight + w_rows * F + offs_f[None, :], mask=cmask[:, None] & fmask[None, :], other=0.0)
        w = w.to(tl.float32)  # [C, F]
        part = tl.zeros((C_PAD, F_PAD), dtype=tl.float32)
        for block in range(pid, blocks, num_programs):
            rows = block * ROWS + tl.arange(0, ROWS)[:, None]
            rmask = rows < num_rows
            start, deg, longest = _row_edges(rowptr, slot_base + k * num_rows + rows, rmask)
            if longest > 0:
                out_rows = (row_offset + rows).to(tl.int64)
                g = tl.load(grad + out_rows * H * C + h * C + offs_c[None, :], mask=rmask & cmask[None, :], other=0.0)
                g = g.to(tl.float32)
                back = tl.dot(g, w, input_precision=PRECISION)  # [ROWS, F]: W^{r,h T} g_i per row
                agg = tl.zeros((ROWS, F_PAD), dtype=tl.float32)
                for t in range(longest):
                    emask = t < deg
                    j = tl.load(col + start + t, mask=emask, other=0).to(tl.int64)
                    e = tl.load(perm + start + t, mask=emask, other=0)
                    a = tl.load(alpha + e * H + h, mask=emask, other=0.0)
                    xj = tl.load(x + j * F + offs_f[None, :], mask=emask & fmask[None, :], other=0.0).to(tl.float32)
                    agg += a.to(tl.float32) * xj
                    tl.store(grad_alpha + e * H + h, tl.sum(back * xj, axis=1, keep_dims=True), mask=emask)
                part = tl.dot(tl.trans(g), agg, part, input_precision=PRECISION)  # [C, ROWS] @ [ROWS, F]
        target = ((pid * num_weights + relation) * H + h) * C + offs_c[:, None]
        tl.store(partial + target * F + offs_f[None, :], part, mask=cmask[:, None] & fmask[None, :])


def _precision() -> str:
    return "tf32" if torch.backends.cuda.matmul.allow_tf32 else "tf32x3"


def _pads(in_channels: int, out_channels: int) -> dict:
    return {"F_PAD": max(16, triton.next_power_of_2(in_channels)),
            "C_PAD": max(16, triton.next_power_of_2(out_channels))}


def usable(x: Tensor, weight: Tensor) -> bool:
    """Whether the kernels take these widths (``x [N, F]``, ``weight [R, H C, F]``)."""
    return x.is_cuda and x.dim() == 2 and x.size(1) <= MAX_WIDTH


@triton_op("gnnx::aggregate_project", mutates_args={})
def aggregate_project(x: Tensor, weight: Tensor, alpha: Tensor, rowptr: Tensor, col: Tensor, perm: Tensor,
                      rowptr_t: Tensor, col_t: Tensor, perm_t: Tensor, relations_t: Tensor, plan: List[int],
                      plan_t: List[int]) -> Tensor:
    """``out [N, H C]`` of the module docstring. ``plan`` holds, per destination node type,
    ``(first slot, its rows, its first row in x/out, first relation, relations)``; the
    transposed CSR, ``relations_t`` and ``plan_t`` (per source type) serve the backward."""
    heads, width = alpha.size(1), weight.size(1)
    channels, features = width // heads, x.size(1)
    out = torch.zeros((x.size(0), width), dtype=x.dtype, device=x.device)
    precision = _precision()
    x, weight, alpha = x.contiguous(), weight.contiguous(), alpha.contiguous()
    with _on_device(x):
        for slot_base, num_rows, row_offset, first, count in zip(*[iter(plan)] * 5):
            launcher(_forward_kernel, x)[(triton.cdiv(num_rows, CONFIG["rows"]), heads)](
                rowptr, col, perm, alpha, x, weight, out, slot_base, num_rows, row_offset, first, count, features,
                channels, heads, ROWS=CONFIG["rows"], PRECISION=precision, num_warps=CONFIG["warps"],
                **_pads(features, channels))
    return out


@triton_op("gnnx::aggregate_project_backward", mutates_args={})
def aggregate_project_backward(x: Tensor, weight: Tensor, alpha: Tensor, rowptr: Tensor, col: Tensor, perm: Tensor,
                               rowptr_t: Tensor, col_t: Tensor, perm_t: Tensor, relations_t: Tensor, grad: Tensor,
                               plan: List[int], plan_t: List[int]) -> Tuple[Tensor, Tensor, Tensor]:
    """``(grad x, grad weight, grad alpha)`` of :func:`aggregate_project`; ``plan_t`` is
    ``plan`` for the transposed CSR (per source node type), whose relations ``relations_t``
    lists in slot order."""
    grad = grad.contiguous()
    heads, width = alpha.size(1), weight.size(1)
    channels, features = width // heads, x.size(1)
    precision = _precision()
    sms = torch.cuda.get_device_properties(x.device).multi_processor_count
    programs = CONFIG["programs_per_sm"] * sms
    grad_alpha = torch.empty_like(alpha)
    partial = torch.empty((programs, weight.size(0), width, features), dtype=torch.float32, device=x.device)
    grad_x = torch.zeros_like(x)
    pads = _pads(features, channels)
    with _on_device(x):
        for slot_base, num_rows, row_offset, first, count in zip(*[iter(plan)] * 5):
            launcher(_backward_kernel, x)[(programs, heads)](
                rowptr, col, perm, alpha, x, weight, grad, grad_alpha, partial, slot_base, num_rows, row_offset,
                first, count, programs, weight.size(0), features, channels, heads, ROWS=CONFIG["rows"],
                PRECISION=precision, num_warps=CONFIG["warps"], **pads)
        for slot_base, num_rows, row_offset, first, count in zip(*[iter(plan_t)] * 5):
            launcher(_input_grad_kernel, x)[(triton.cdiv(num_rows, CONFIG["rows"]),)](
                rowptr_t, col_t, perm_t, alpha, grad, weight, relations_t, grad_x, slot_base, num_rows, row_offset,
                first, count, features, channels, heads, ROWS=CONFIG["rows"], PRECISION=precision,
                num_warps=CONFIG["warps"], **pads)
    return grad_x, partial.sum(0).to(weight.dtype), grad_alpha


def _setup(ctx, inputs, output):
    x, weight, alpha, rowptr, col, perm, rowptr_t, col_t, perm_t, relations_t, plan, plan_t = inputs
    ctx.save_for_backward(x, weight, alpha, rowptr, col, perm, rowptr_t, col_t, perm_t, relations_t)
    ctx.plans = (plan, plan_t)


def _backward(ctx, grad):
    x, weight, alpha, rowptr, col, perm, rowptr_t, col_t, perm_t, relations_t = ctx.saved_tensors
    grad_x, grad_weight, grad_alpha = aggregate_project_backward(
        x.contiguous(), weight.contiguous(), alpha.contiguous(), rowptr, col, perm, rowptr_t, col_t, perm_t,
        relations_t, grad, *ctx.plans)
    return grad_x, grad_weight, grad_alpha, None, None, None, None, None, None, None, None, None


aggregate_project.register_autograd(_backward, setup_context=_setup)
