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

A program walks its block's edges (one range of the CSR, consecutive slots) in steps of
``EDGES`` whatever the degrees, and sums them into their rows with a product by a one-hot
``[ROWS, EDGES]`` matrix, so a hub row costs its edges, not a serial loop.

Backward: one pass per destination block recomputes the sums and writes each edge's
``d alpha = (W^{r,h T} g_{i,h}) . x_j`` once, ``grad W`` as per-program partials summed in a
fixed order; ``grad x`` sums ``alpha g_i`` per (source, relation) slot with the CSR SpMM
kernel over the transposed CSR and multiplies each source type's slots by its relations'
weights in one product. No atomics: results repeat bitwise.
"""
from __future__ import annotations

from typing import List, Tuple

import torch
import triton
import triton.language as tl
from torch import Tensor
from torch.library import triton_op

from gnnx.ops.triton_kernels import _launch_spmm, _on_device, launcher

# Destination rows per program, edges per step, warps, and the backward's persistent programs
# per SM.
CONFIG = {"rows": 16, "edges": 32, "warps": 8, "programs_per_sm": 1, "fwd_programs_per_sm": 4,
          "precision": None}  # 8 warps: no spills (sm_90); precision None: by torch's TF32 flag
MAX_WIDTH = 256  # input channels held in registers per row


@triton.jit
def _edge_range(rowptr, slot_base, k, num_rows, first_row, ROWS: tl.constexpr):
    """The first slot of ``ROWS`` destinations from ``first_row`` in relation ``k`` and the CSR
    positions ``[lo, hi)`` of their edges (consecutive slots: one range)."""
    first_slot = slot_base + k * num_rows + first_row
    lo = tl.load(rowptr + first_slot)
    hi = tl.load(rowptr + first_slot + tl.minimum(ROWS, num_rows - first_row))
    return first_slot, lo, hi


@triton.jit
def _edge_step(col, perm, slots, alpha, x, e0, hi, first_slot, h, H, F, offs_f, fmask, ROWS: tl.constexpr,
               EDGES: tl.constexpr):
    """For CSR positions ``e0 + [0, EDGES)`` below ``hi``: ``(edge ids [EDGES, 1], mask,
    alpha [EDGES, 1], x_j [EDGES, F], one-hot [ROWS, EDGES] of each edge's row in the block)``.
    Index loads are ``[EDGES, 1]``/``[1, EDGES]``: 1-D ones trip a Triton 3.6 layout bug."""
    pos = e0 + tl.arange(0, EDGES)[:, None]
    emask = pos < hi
    j = tl.load(col + pos, mask=emask, other=0).to(tl.int64)
    edge = tl.load(perm + pos, mask=emask, other=0)
    a = tl.load(alpha + edge * H + h, mask=emask, other=0.0).to(tl.float32)
    xj = tl.load(x + j * F + offs_f[None, :], mask=emask & fmask[None, :], other=0.0).to(tl.float32)
    across = e0 + tl.arange(0, EDGES)[None, :]
    slot = tl.load(slots + across, mask=across < hi, other=-1)
    onehot = ((slot - first_slot) == tl.arange(0, ROWS)[:, None]).to(tl.float32)
    return edge, emask, a, xj, onehot


# sizes and offsets change with every batch: one compiled kernel for all of them
_VARYING = ["slot_base", "num_rows", "row_offset", "first_relation", "num_relations"]


@triton.jit(do_not_specialize=_VARYING)
def _forward_kernel(rowptr, col, perm, slots, alpha, x, weight, out, slot_base, num_rows, row_offset,
                    first_relation, num_relations, num_programs, F, C, H, F_PAD: tl.constexpr, C_PAD: tl.constexpr,
                    ROWS: tl.constexpr, EDGES: tl.constexpr, PRECISION: tl.constexpr):
    """``out[row_offset + i, h C : (h + 1) C]`` for blocks of ``ROWS`` destinations ``i`` and head
    ``h`` (persistent: a program takes every ``num_programs``-th block): per relation, the
    block's edges in steps of ``EDGES`` (whatever the degrees), summed into their rows by a
    one-hot product, then the head's weight rows."""
    h = tl.program_id(1)
    offs_f = tl.arange(0, F_PAD)
    offs_c = tl.arange(0, C_PAD)
    fmask = offs_f < F
    cmask = offs_c < C
    for block in range(tl.program_id(0), tl.cdiv(num_rows, ROWS), num_programs):
        first_row = block * ROWS
        rows = first_row + tl.arange(0, ROWS)[:, None]
        acc = tl.zeros((ROWS, C_PAD), dtype=tl.float32)
        for k in range(num_relations):
            first_slot, lo, hi = _edge_range(rowptr, slot_base, k, num_rows, first_row, ROWS)
            if hi > lo:  # rows without edges cost nothing
                agg = tl.zeros((ROWS, F_PAD), dtype=tl.float32)
                for e0 in range(lo, hi, EDGES):
                    _, _, a, xj, onehot = _edge_step(col, perm, slots, alpha, x, e0, hi, first_slot, h, H, F, offs_f,
                                                     fmask, ROWS, EDGES)
                    agg = tl.dot(onehot, a * xj, agg, input_precision=PRECISION)
                w_rows = (first_relation + k).to(tl.int64) * H * C + h * C + offs_c[None, :]
                w = tl.load(weight + w_rows * F + offs_f[:, None], mask=fmask[:, None] & cmask[None, :], other=0.0)
                acc = tl.dot(agg, w.to(tl.float32), acc, input_precision=PRECISION)  # [ROWS, F] @ [F, C]
        out_rows = (row_offset + rows).to(tl.int64)
        tl.store(out + out_rows * H * C + h * C + offs_c[None, :], acc, mask=(rows < num_rows) & cmask[None, :])


@triton.jit(do_not_specialize=_VARYING)
def _backward_kernel(rowptr, col, perm, slots, alpha, x, weight, grad, grad_alpha, partial, slot_base, num_rows,
                     row_offset, first_relation, num_relations, num_programs, num_weights, F, C, H,
                     F_PAD: tl.constexpr, C_PAD: tl.constexpr, ROWS: tl.constexpr, EDGES: tl.constexpr,
                     PRECISION: tl.constexpr):
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
            first_row = block * ROWS
            first_slot, lo, hi = _edge_range(rowptr, slot_base, k, num_rows, first_row, ROWS)
            if hi > lo:
                rows = (row_offset + first_row + tl.arange(0, ROWS)[:, None]).to(tl.int64)
                live = first_row + tl.arange(0, ROWS)[:, None] < num_rows
                g = tl.load(grad + rows * H * C + h * C + offs_c[None, :], mask=live & cmask[None, :], other=0.0)
                g = g.to(tl.float32)
                back = tl.dot(g, w, input_precision=PRECISION)  # [ROWS, F]: W^{r,h T} g_i per row
                agg = tl.zeros((ROWS, F_PAD), dtype=tl.float32)
                for e0 in range(lo, hi, EDGES):
                    edge, emask, a, xj, onehot = _edge_step(col, perm, slots, alpha, x, e0, hi, first_slot, h, H, F,
                                                            offs_f, fmask, ROWS, EDGES)
                    agg = tl.dot(onehot, a * xj, agg, input_precision=PRECISION)
                    back_e = tl.dot(tl.trans(onehot), back, input_precision=PRECISION)  # each edge's row
                    tl.store(grad_alpha + edge * H + h, tl.sum(back_e * xj, axis=1, keep_dims=True), mask=emask)
                part = tl.dot(tl.trans(g), agg, part, input_precision=PRECISION)  # [C, ROWS] @ [ROWS, F]
        target = ((pid * num_weights + relation) * H + h) * C + offs_c[:, None]
        tl.store(partial + target * F + offs_f[None, :], part, mask=cmask[:, None] & fmask[None, :])


def _precision() -> str:
    if CONFIG["precision"]:
        return CONFIG["precision"]
    return "tf32" if torch.backends.cuda.matmul.allow_tf32 else "tf32x3"


def _pads(in_channels: int, out_channels: int) -> dict:
    return {"F_PAD": max(16, triton.next_power_of_2(in_channels)),
            "C_PAD": max(16, triton.next_power_of_2(out_channels))}


def usable(x: Tensor, weight: Tensor) -> bool:
    """Whether the kernels take these widths (``x [N, F]``, ``weight [R, H C, F]``)."""
    return x.is_cuda and x.dim() == 2 and x.size(1) <= MAX_WIDTH


@triton_op("gnnx::aggregate_project", mutates_args={})
def aggregate_project(x: Tensor, weight: Tensor, alpha: Tensor, rowptr: Tensor, col: Tensor, perm: Tensor,
                      slots: Tensor, rowptr_t: Tensor, col_t: Tensor, perm_t: Tensor, plan: List[int],
                      plan_t: List[int], relations_t: List[int]) -> Tensor:
    """``out [N, H C]`` of the module docstring. ``plan`` holds, per destination node type,
    ``(first slot, rows, first row in x/out, first relation, relations)``; the transposed CSR,
    ``plan_t`` and ``relations_t`` (:func:`gnnx.ops.aggregate_project`) serve the backward."""
    x, weight, alpha = x.contiguous(), weight.contiguous(), alpha.contiguous()
    heads, width = alpha.size(1), weight.size(1)
    channels, features = width // heads, x.size(1)
    out = torch.zeros((x.size(0), width), dtype=x.dtype, device=x.device)  # rows of no destination type: 0
    programs = CONFIG["fwd_programs_per_sm"] * torch.cuda.get_device_properties(x.device).multi_processor_count
    with _on_device(x):
        for slot_base, num_rows, row_offset, first, count in zip(*[iter(plan)] * 5):
            launcher(_forward_kernel, x)[(programs, heads)](
                rowptr, col, perm, slots, alpha, x, weight, out, slot_base, num_rows, row_offset, first, count,
                programs, features, channels, heads, ROWS=CONFIG["rows"], EDGES=CONFIG["edges"], PRECISION=_precision(),
                num_warps=CONFIG["warps"], **_pads(features, channels))
    return out


@triton_op("gnnx::aggregate_project_backward", mutates_args={})
def aggregate_project_backward(x: Tensor, weight: Tensor, alpha: Tensor, rowptr: Tensor, col: Tensor, perm: Tensor,
                               slots: Tensor, rowptr_t: Tensor, col_t: Tensor, perm_t: Tensor, grad: Tensor,
                               plan: List[int], plan_t: List[int],
                               relations_t: List[int]) -> Tuple[Tensor, Tensor, Tensor]:
    """``(grad x, grad weight, grad alpha)`` of :func:`aggregate_project`. ``grad x``: the
    transposed CSR sums ``alpha grad_i`` per (source, relation) slot (the SpMM kernel), then
    one product per source type with its relations' weights side by side."""
    grad = grad.contiguous()
    heads, width = alpha.size(1), weight.size(1)
    channels, features = width // heads, x.size(1)
    programs = CONFIG["programs_per_sm"] * torch.cuda.get_device_properties(x.device).multi_processor_count
    grad_alpha = torch.empty_like(alpha)
    # every relation belongs to one destination type, so the launches below write all of it
    partial = torch.empty((programs, weight.size(0), width, features), dtype=torch.float32, device=x.device)
    with _on_device(x):
        for slot_base, num_rows, row_offset, first, count in zip(*[iter(plan)] * 5):
            launcher(_backward_kernel, x)[(programs, heads)](
                rowptr, col, perm, slots, alpha, x, weight, grad, grad_alpha, partial, slot_base, num_rows,
                row_offset, first, count, programs, weight.size(0), features, channels, heads, ROWS=CONFIG["rows"],
                EDGES=CONFIG["edges"], PRECISION=_precision(), num_warps=CONFIG["warps"],
                **_pads(features, channels))
    summed = _launch_spmm(rowptr_t, col_t, alpha.index_select(0, perm_t), grad, False)[0]
    grad_x = torch.zeros_like(x)
    for slot_base, num_rows, row_offset, first, count in zip(*[iter(plan_t)] * 5):
        weights = torch.cat([weight[r] for r in relations_t[first:first + count]])  # [count H C, F]
        block = summed[slot_base:slot_base + num_rows * count].view(num_rows, count * width)
        grad_x[row_offset:row_offset + num_rows] = block @ weights.to(block.dtype)
    return grad_x, partial.sum(0).to(weight.dtype), grad_alpha


def _setup(ctx, inputs, output):
    x, weight, alpha, rowptr, col, perm, slots, rowptr_t, col_t, perm_t, plan, plan_t, relations_t = inputs
    ctx.save_for_backward(x, weight, alpha, rowptr, col, perm, slots, rowptr_t, col_t, perm_t)
    ctx.plans = (plan, plan_t, relations_t)


def _backward(ctx, grad):
    grad_x, grad_weight, grad_alpha = aggregate_project_backward(*ctx.saved_tensors, grad, *ctx.plans)
    return (grad_x, grad_weight, grad_alpha) + (None,) * 10


aggregate_project.register_autograd(_backward, setup_context=_setup)
