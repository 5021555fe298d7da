"""Backward of the fused EdgeConv op (issue #17): variants of the kernel layout, timed on one
EdgeConv layer of the seed graph (10,000 nodes, 200,000 random edges, MLP [128, 64, 64]) and
checked against the shipped op (`gnnx.ops.triton_edge_mlp.edge_mlp_max_backward`).

Variants:
- ``shipped``: the persistent kernel (pre-activation gradient per edge + ``grad W`` partials
  per program), then the CSR and its transpose sum the edge gradients (two SpMM passes).
- ``shipped_*``: the same kernel at another precision / launch shape.
- ``split``: a non-persistent kernel for the edge gradients (high occupancy, no ``grad W``
  accumulator held) and a persistent one for ``grad W`` alone.
- ``rows``: one program per ``ROWS`` destination rows walks their edges: edge gradients
  stored in CSR order (for the transposed sum), ``grad a`` summed in the program through a
  one-hot product (no ``grad a`` SpMM, deterministic), ``grad W`` partials per program.
- ``atomics``: edge gradients added to ``grad a`` / ``grad b`` with atomics (no ``[E, H]``
  buffer, no SpMM passes), ``grad W`` persistent or atomic into slots (non-deterministic).
- ``bits``: the forward's winners and ReLU signs as one int64 bit mask per edge each, so the
  edge-gradient kernel loads 16 bytes per edge instead of gathering ``a``, ``b`` and winners.
``GROUP=layouts|atomics|bits`` picks the group (the shipped op and the best split run in each);
``KERNEL_TIMES=1`` adds GPU time per kernel (torch.profiler). Writes
$OUT/edge_mlp_backward_variants_<group>.json.
"""
import json
import os

import torch
import triton
import triton.language as tl

import gnnx
from gnnx.benchmark import harness
from gnnx.ops import triton_edge_mlp as tem
from gnnx.ops.triton_kernels import _launch_spmm

OUT = os.environ.get("OUT", "/tmp")
KERNEL_TIMES = os.environ.get("KERNEL_TIMES") == "1"
KERNELS = ("_bits_pre_kernel", "_bits_w_kernel", "_bits_fused_kernel", "_backward_kernel", "_grad_pre_kernel", "_grad_w_kernel", "_atomic_pre_kernel",
           "_atomic_persistent_kernel", "_spmm_kernel", "_rows_kernel")


@triton.jit
def _grad_pre_kernel(row, col, perm, a, b, w, grad, arg, grad_edge, num_edges, H, OUT,
                     H_PAD: tl.constexpr, O_PAD: tl.constexpr, EDGES: tl.constexpr, PRECISION: tl.constexpr,
                     STORE_POS: tl.constexpr):
    offs_h = tl.arange(0, H_PAD)
    offs_o = tl.arange(0, O_PAD)
    hmask, omask = offs_h < H, offs_o < OUT
    w_oh = tl.load(w + offs_o[:, None] * H + offs_h[None, :], mask=omask[:, None] & hmask[None, :],
                   other=0.0).to(tl.float32)
    pos = tl.program_id(0).to(tl.int64) * EDGES + tl.arange(0, EDGES)
    emask = pos < num_edges
    pre, dst = tem._pre_activation(row, col, a, b, pos, emask, hmask, offs_h, H, H)
    eo = emask[:, None] & omask[None, :]
    won = tl.load(arg + dst * OUT + offs_o[None, :], mask=eo, other=-1)
    g = tl.load(grad + dst * OUT + offs_o[None, :], mask=eo, other=0.0).to(tl.float32)
    grad_msg = tl.where(won == pos[:, None], g, 0.0)
    grad_pre = tl.where(pre > 0, tl.dot(grad_msg, w_oh, input_precision=PRECISION), 0.0)
    if STORE_POS:
        target = pos[:, None]
    else:
        target = tl.load(perm + pos[:, None], mask=emask[:, None], other=0)
    tl.store(grad_edge + target * H + offs_h[None, :], grad_pre, mask=emask[:, None] & hmask[None, :])


@triton.jit
def _grad_w_kernel(row, col, a, b, grad, arg, grad_w_part, num_edges, H, OUT,
                   H_PAD: tl.constexpr, O_PAD: tl.constexpr, EDGES: tl.constexpr, PRECISION: tl.constexpr):
    pid = tl.program_id(0)
    offs_h = tl.arange(0, H_PAD)
    offs_o = tl.arange(0, O_PAD)
    hmask, omask = offs_h < H, offs_o < OUT
    grad_w = tl.zeros([O_PAD, H_PAD], tl.float32)
    for block in range(pid, tl.cdiv(num_edges, EDGES), tl.num_programs(0)):
        pos = (block + tl.zeros([], tl.int64)) * EDGES + tl.arange(0, EDGES)
        emask = pos < num_edges
        pre, dst = tem._pre_activation(row, col, a, b, pos, emask, hmask, offs_h, H, H)
        eo = emask[:, None] & omask[None, :]
        won = tl.load(arg + dst * OUT + offs_o[None, :], mask=eo, other=-1)
        g = tl.load(grad + dst * OUT + offs_o[None, :], mask=eo, other=0.0).to(tl.float32)
        grad_msg = tl.where(won == pos[:, None], g, 0.0)
        grad_w += tl.dot(tl.trans(grad_msg), tl.maximum(pre, 0.0), input_precision=PRECISION)
    tl.store(grad_w_part + pid * OUT * H + offs_o[:, None] * H + offs_h[None, :], grad_w,
             mask=omask[:, None] & hmask[None, :])


@triton.jit
def _rows_kernel(rowptr, row, col, a, b, w, grad, arg, grad_edge, grad_a, grad_w_part, num_rows, H, OUT,
                 ROWS: tl.constexpr, H_PAD: tl.constexpr, O_PAD: tl.constexpr, EDGES: tl.constexpr,
                 PRECISION: tl.constexpr):
    pid = tl.program_id(0)
    offs_h = tl.arange(0, H_PAD)
    offs_o = tl.arange(0, O_PAD)
    offs_r = tl.arange(0, ROWS)
    hmask, omask = offs_h < H, offs_o < OUT
    w_oh = tl.load(w + offs_o[:, None] * H + offs_h[None, :], mask=omask[:, None] & hmask[None, :],
                   other=0.0).to(tl.float32)
    first = pid * ROWS
    last = tl.minimum(first + ROWS, num_rows)
    start = tl.load(rowptr + first).to(tl.int64)
    end = tl.load(rowptr + last).to(tl.int64)
    grad_w = tl.zeros([O_PAD, H_PAD], tl.float32)
    acc_a = tl.zeros([ROWS, H_PAD], tl.float32)
    for s in range(start, end, EDGES):
        pos = s + tl.arange(0, EDGES)
        emask = pos < end
        pre, dst = tem._pre_activation(row, col, a, b, pos, emask, hmask, offs_h, H, H)
        eo = emask[:, None] & omask[None, :]
        won = tl.load(arg + dst * OUT + offs_o[None, :], mask=eo, other=-1)
        g = tl.load(grad + dst * OUT + offs_o[None, :], mask=eo, other=0.0).to(tl.float32)
        grad_msg = tl.where(won == pos[:, None], g, 0.0)
        grad_pre = tl.where(pre > 0, tl.dot(grad_msg, w_oh, input_precision=PRECISION), 0.0)
        tl.store(grad_edge + pos[:, None] * H + offs_h[None, :], grad_pre, mask=emask[:, None] & hmask[None, :])
        local = tl.reshape(dst, [EDGES]) - first
        onehot = tl.where((local[None, :] == offs_r[:, None]) & emask[None, :], 1.0, 0.0)  # [ROWS, EDGES]
        acc_a += tl.dot(onehot, grad_pre, input_precision=PRECISION)
        grad_w += tl.dot(tl.trans(grad_msg), tl.maximum(pre, 0.0), input_precision=PRECISION)
    rmask = (first + offs_r) < num_rows
    tl.store(grad_a + (first + offs_r)[:, None] * H + offs_h[None, :], acc_a, mask=rmask[:, None] & hmask[None, :])
    tl.store(grad_w_part + pid * OUT * H + offs_o[:, None] * H + offs_h[None, :], grad_w,
             mask=omask[:, None] & hmask[None, :])


@triton.jit
def _scatter_atomic(grad_a, grad_b, grad_pre, dst, src, emask, hmask, offs_h, H, WINDOW: tl.constexpr,
                    EDGES: tl.constexpr):
    """Add each edge's pre-activation gradient to its destination row (summed in the block
    over a window of WINDOW rows from the block's first, one atomic per row) and its source row."""
    dst1 = tl.reshape(dst, [EDGES])
    src1 = tl.reshape(src, [EDGES])
    eh = emask[:, None] & hmask[None, :]
    tl.atomic_add(grad_b + src1[:, None] * H + offs_h[None, :], grad_pre, mask=eh, sem="relaxed")
    first = tl.min(tl.where(emask, dst1, 2147483647), axis=0)
    local = dst1 - first
    inside = (local < WINDOW) & emask
    offs_r = tl.arange(0, WINDOW)
    onehot = tl.where((local[None, :] == offs_r[:, None]) & inside[None, :], 1.0, 0.0)
    rows = tl.dot(onehot, grad_pre, input_precision="ieee")
    has = tl.max(onehot, axis=1) > 0
    tl.atomic_add(grad_a + (first + offs_r)[:, None] * H + offs_h[None, :], rows, mask=has[:, None] & hmask[None, :],
                  sem="relaxed")
    tl.atomic_add(grad_a + dst1[:, None] * H + offs_h[None, :], grad_pre,
                  mask=(emask & ~inside)[:, None] & hmask[None, :], sem="relaxed")


@triton.jit
def _atomic_pre_kernel(row, col, a, b, w, grad, arg, grad_a, grad_b, grad_w_part, num_edges, H, OUT, SLOTS,
                       H_PAD: tl.constexpr, O_PAD: tl.constexpr, EDGES: tl.constexpr, PRECISION: tl.constexpr,
                       WITH_W: tl.constexpr):
    offs_h = tl.arange(0, H_PAD)
    offs_o = tl.arange(0, O_PAD)
    hmask, omask = offs_h < H, offs_o < OUT
    w_oh = tl.load(w + offs_o[:, None] * H + offs_h[None, :], mask=omask[:, None] & hmask[None, :],
                   other=0.0).to(tl.float32)
    pos = tl.program_id(0).to(tl.int64) * EDGES + tl.arange(0, EDGES)
    emask = pos < num_edges
    pre, dst = tem._pre_activation(row, col, a, b, pos, emask, hmask, offs_h, H, H)
    src = tl.load(col + pos[:, None], mask=emask[:, None], other=0)
    eo = emask[:, None] & omask[None, :]
    won = tl.load(arg + dst * OUT + offs_o[None, :], mask=eo, other=-1)
    g = tl.load(grad + dst * OUT + offs_o[None, :], mask=eo, other=0.0).to(tl.float32)
    grad_msg = tl.where(won == pos[:, None], g, 0.0)
    grad_pre = tl.where(pre > 0, tl.dot(grad_msg, w_oh, input_precision=PRECISION), 0.0)
    _scatter_atomic(grad_a, grad_b, grad_pre, dst, src, emask, hmask, offs_h, H, 32, EDGES)
    if WITH_W:
        part = tl.dot(tl.trans(grad_msg), tl.maximum(pre, 0.0), input_precision=PRECISION)
        slot = tl.program_id(0) % SLOTS
        tl.atomic_add(grad_w_part + slot * OUT * H + offs_o[:, None] * H + offs_h[None, :], part,
                      mask=omask[:, None] & hmask[None, :], sem="relaxed")


@triton.jit
def _atomic_persistent_kernel(row, col, a, b, w, grad, arg, grad_a, grad_b, grad_w_part, num_edges, H, OUT,
                              H_PAD: tl.constexpr, O_PAD: tl.constexpr, EDGES: tl.constexpr, PRECISION: tl.constexpr):
    pid = tl.program_id(0)
    offs_h = tl.arange(0, H_PAD)
    offs_o = tl.arange(0, O_PAD)
    hmask, omask = offs_h < H, offs_o < OUT
    w_oh = tl.load(w + offs_o[:, None] * H + offs_h[None, :], mask=omask[:, None] & hmask[None, :],
                   other=0.0).to(tl.float32)
    grad_w = tl.zeros([O_PAD, H_PAD], tl.float32)
    for block in range(pid, tl.cdiv(num_edges, EDGES), tl.num_programs(0)):
        pos = (block + tl.zeros([], tl.int64)) * EDGES + tl.arange(0, EDGES)
        emask = pos < num_edges
        pre, dst = tem._pre_activation(row, col, a, b, pos, emask, hmask, offs_h, H, H)
        src = tl.load(col + pos[:, None], mask=emask[:, None], other=0)
        eo = emask[:, None] & omask[None, :]
        won = tl.load(arg + dst * OUT + offs_o[None, :], mask=eo, other=-1)
        g = tl.load(grad + dst * OUT + offs_o[None, :], mask=eo, other=0.0).to(tl.float32)
        grad_msg = tl.where(won == pos[:, None], g, 0.0)
        grad_pre = tl.where(pre > 0, tl.dot(grad_msg, w_oh, input_precision=PRECISION), 0.0)
        _scatter_atomic(grad_a, grad_b, grad_pre, dst, src, emask, hmask, offs_h, H, 32, EDGES)
        grad_w += tl.dot(tl.trans(grad_msg), tl.maximum(pre, 0.0), input_precision=PRECISION)
    tl.store(grad_w_part + pid * OUT * H + offs_o[:, None] * H + offs_h[None, :], grad_w,
             mask=omask[:, None] & hmask[None, :])


def atomic_split_variant(edges, warps, w_edges, w_warps, per_sm, precision):
    def run(csr, a, b, w, grad, arg):
        num_edges, hidden, out_ch = csr.col.numel(), a.size(1), w.size(0)
        pads = tem._pads(hidden, out_ch)
        grad_a = torch.zeros_like(a)
        grad_b = torch.zeros_like(b)
        _atomic_pre_kernel[(triton.cdiv(num_edges, edges),)](
            csr.row, csr.col, a, b, w, grad, arg, grad_a, grad_b, grad_a, num_edges, hidden, out_ch, 1, EDGES=edges,
            PRECISION=precision, WITH_W=False, num_warps=warps, num_stages=1, **pads)
        sms = torch.cuda.get_device_properties(a.device).multi_processor_count
        programs = max(1, min(triton.cdiv(num_edges, w_edges), per_sm * sms))
        partial = torch.empty((programs, out_ch, hidden), dtype=torch.float32, device=a.device)
        _grad_w_kernel[(programs,)](csr.row, csr.col, a, b, grad, arg, partial, num_edges, hidden, out_ch,
                                    EDGES=w_edges, PRECISION=precision, num_warps=w_warps, num_stages=3, **pads)
        return grad_a, grad_b, partial.sum(0)
    return run


def atomic_fused_variant(edges, warps, slots, precision):
    def run(csr, a, b, w, grad, arg):
        num_edges, hidden, out_ch = csr.col.numel(), a.size(1), w.size(0)
        grad_a = torch.zeros_like(a)
        grad_b = torch.zeros_like(b)
        partial = torch.zeros((slots, out_ch, hidden), dtype=torch.float32, device=a.device)
        _atomic_pre_kernel[(triton.cdiv(num_edges, edges),)](
            csr.row, csr.col, a, b, w, grad, arg, grad_a, grad_b, partial, num_edges, hidden, out_ch, slots,
            EDGES=edges, PRECISION=precision, WITH_W=True, num_warps=warps, num_stages=1, **tem._pads(hidden, out_ch))
        return grad_a, grad_b, partial.sum(0)
    return run


def atomic_persistent_variant(edges, warps, stages, per_sm, precision):
    def run(csr, a, b, w, grad, arg):
        num_edges, hidden, out_ch = csr.col.numel(), a.size(1), w.size(0)
        sms = torch.cuda.get_device_properties(a.device).multi_processor_count
        programs = max(1, min(triton.cdiv(num_edges, edges), per_sm * sms))
        grad_a = torch.zeros_like(a)
        grad_b = torch.zeros_like(b)
        partial = torch.empty((programs, out_ch, hidden), dtype=torch.float32, device=a.device)
        _atomic_persistent_kernel[(programs,)](
            csr.row, csr.col, a, b, w, grad, arg, grad_a, grad_b, partial, num_edges, hidden, out_ch, EDGES=edges,
            PRECISION=precision, num_warps=warps, num_stages=stages, **tem._pads(hidden, out_ch))
        return grad_a, grad_b, partial.sum(0)
    return run


@triton.jit
def _bits_pre_kernel(row, winbits, relubits, w, grad, grad_edge, perm, num_edges, H, OUT,
                     H_PAD: tl.constexpr, O_PAD: tl.constexpr, EDGES: tl.constexpr, PRECISION: tl.constexpr):
    offs_h = tl.arange(0, H_PAD)
    offs_o = tl.arange(0, O_PAD)
    hmask, omask = offs_h < H, offs_o < OUT
    w_oh = tl.load(w + offs_o[:, None] * H + offs_h[None, :], mask=omask[:, None] & hmask[None, :],
                   other=0.0).to(tl.float32)
    pos = tl.program_id(0).to(tl.int64) * EDGES + tl.arange(0, EDGES)
    emask = pos < num_edges
    dst = tl.load(row + pos[:, None], mask=emask[:, None], other=0)
    wb = tl.load(winbits + pos[:, None], mask=emask[:, None], other=0)
    rb = tl.load(relubits + pos[:, None], mask=emask[:, None], other=0)
    eo = emask[:, None] & omask[None, :]
    g = tl.load(grad + dst * OUT + offs_o[None, :], mask=eo, other=0.0).to(tl.float32)
    grad_msg = tl.where(((wb >> offs_o[None, :]) & 1) != 0, g, 0.0)
    grad_pre = tl.where(((rb >> offs_h[None, :]) & 1) != 0, tl.dot(grad_msg, w_oh, input_precision=PRECISION), 0.0)
    edge = tl.load(perm + pos[:, None], mask=emask[:, None], other=0)
    tl.store(grad_edge + edge * H + offs_h[None, :], grad_pre, mask=emask[:, None] & hmask[None, :])


@triton.jit
def _bits_w_kernel(row, col, a, b, winbits, grad, grad_w_part, num_edges, H, OUT,
                   H_PAD: tl.constexpr, O_PAD: tl.constexpr, EDGES: tl.constexpr, PRECISION: tl.constexpr):
    pid = tl.program_id(0)
    offs_h = tl.arange(0, H_PAD)
    offs_o = tl.arange(0, O_PAD)
    hmask, omask = offs_h < H, offs_o < OUT
    grad_w = tl.zeros([O_PAD, H_PAD], tl.float32)
    for block in range(pid, tl.cdiv(num_edges, EDGES), tl.num_programs(0)):
        pos = (block + tl.zeros([], tl.int64)) * EDGES + tl.arange(0, EDGES)
        emask = pos < num_edges
        pre, dst = tem._pre_activation(row, col, a, b, pos, emask, hmask, offs_h, H, H)
        wb = tl.load(winbits + pos[:, None], mask=emask[:, None], other=0)
        g = tl.load(grad + dst * OUT + offs_o[None, :], mask=emask[:, None] & omask[None, :], other=0.0).to(tl.float32)
        grad_msg = tl.where(((wb >> offs_o[None, :]) & 1) != 0, g, 0.0)
        grad_w += tl.dot(tl.trans(grad_msg), tl.maximum(pre, 0.0), input_precision=PRECISION)
    tl.store(grad_w_part + pid * OUT * H + offs_o[:, None] * H + offs_h[None, :], grad_w,
             mask=omask[:, None] & hmask[None, :])


@triton.jit
def _bits_fused_kernel(row, col, perm, a, b, w, winbits, grad, grad_edge, grad_w_part, num_edges, H, OUT,
                       H_PAD: tl.constexpr, O_PAD: tl.constexpr, EDGES: tl.constexpr, PRECISION: tl.constexpr):
    pid = tl.program_id(0)
    offs_h = tl.arange(0, H_PAD)
    offs_o = tl.arange(0, O_PAD)
    hmask, omask = offs_h < H, offs_o < OUT
    w_oh = tl.load(w + offs_o[:, None] * H + offs_h[None, :], mask=omask[:, None] & hmask[None, :],
                   other=0.0).to(tl.float32)
    grad_w = tl.zeros([O_PAD, H_PAD], tl.float32)
    for block in range(pid, tl.cdiv(num_edges, EDGES), tl.num_programs(0)):
        pos = (block + tl.zeros([], tl.int64)) * EDGES + tl.arange(0, EDGES)
        emask = pos < num_edges
        pre, dst = tem._pre_activation(row, col, a, b, pos, emask, hmask, offs_h, H, H)
        wb = tl.load(winbits + pos[:, None], mask=emask[:, None], other=0)
        g = tl.load(grad + dst * OUT + offs_o[None, :], mask=emask[:, None] & omask[None, :], other=0.0).to(tl.float32)
        grad_msg = tl.where(((wb >> offs_o[None, :]) & 1) != 0, g, 0.0)
        grad_pre = tl.where(pre > 0, tl.dot(grad_msg, w_oh, input_precision=PRECISION), 0.0)
        edge = tl.load(perm + pos[:, None], mask=emask[:, None], other=0)
        tl.store(grad_edge + edge * H + offs_h[None, :], grad_pre, mask=emask[:, None] & hmask[None, :])
        grad_w += tl.dot(tl.trans(grad_msg), tl.maximum(pre, 0.0), input_precision=PRECISION)
    tl.store(grad_w_part + pid * OUT * H + offs_o[:, None] * H + offs_h[None, :], grad_w,
             mask=omask[:, None] & hmask[None, :])


def bits_of(arg, a, b, csr):
    """Per CSR position: the channels it wins (bit o) and its hidden units' ReLU signs."""
    num_edges, out_ch = csr.col.numel(), arg.size(1)
    powers = torch.ones((), dtype=torch.int64, device=arg.device) << torch.arange(out_ch, device=arg.device)
    has = arg >= 0
    win = torch.zeros(num_edges, dtype=torch.int64, device=arg.device)
    win.scatter_add_(0, arg[has].long(), powers.expand_as(arg)[has])
    pre = a[csr.row] + b[csr.col] > 0
    hpowers = torch.ones((), dtype=torch.int64, device=arg.device) << torch.arange(a.size(1), device=arg.device)
    relu = (pre.long() * hpowers).sum(1)
    return win, relu


def bits_split_variant(edges, warps, w_edges, w_warps, per_sm, precision):
    def run(csr, a, b, w, grad, arg):
        num_edges, hidden, out_ch = csr.col.numel(), a.size(1), w.size(0)
        pads = tem._pads(hidden, out_ch)
        grad_edge = torch.empty((num_edges, hidden), dtype=torch.float32, device=a.device)
        _bits_pre_kernel[(triton.cdiv(num_edges, edges),)](
            csr.row, WINBITS, RELUBITS, w, grad, grad_edge, csr.perm, num_edges, hidden, out_ch, EDGES=edges,
            PRECISION=precision, num_warps=warps, num_stages=1, **pads)
        sms = torch.cuda.get_device_properties(a.device).multi_processor_count
        programs = max(1, min(triton.cdiv(num_edges, w_edges), per_sm * sms))
        partial = torch.empty((programs, out_ch, hidden), dtype=torch.float32, device=a.device)
        _bits_w_kernel[(programs,)](csr.row, csr.col, a, b, WINBITS, grad, partial, num_edges, hidden, out_ch,
                                    EDGES=w_edges, PRECISION=precision, num_warps=w_warps, num_stages=3, **pads)
        return (_launch_spmm(csr.rowptr, csr.perm, None, grad_edge, False)[0],
                _launch_spmm(csr.rowptr_t, csr.perm_t, None, grad_edge, False)[0], partial.sum(0))
    return run


def bits_fused_variant(edges, warps, stages, per_sm, precision):
    def run(csr, a, b, w, grad, arg):
        num_edges, hidden, out_ch = csr.col.numel(), a.size(1), w.size(0)
        sms = torch.cuda.get_device_properties(a.device).multi_processor_count
        programs = max(1, min(triton.cdiv(num_edges, edges), per_sm * sms))
        grad_edge = torch.empty((num_edges, hidden), dtype=torch.float32, device=a.device)
        partial = torch.empty((programs, out_ch, hidden), dtype=torch.float32, device=a.device)
        _bits_fused_kernel[(programs,)](csr.row, csr.col, csr.perm, a, b, w, WINBITS, grad, grad_edge, partial,
                                        num_edges, hidden, out_ch, EDGES=edges, PRECISION=precision,
                                        num_warps=warps, num_stages=stages, **tem._pads(hidden, out_ch))
        return (_launch_spmm(csr.rowptr, csr.perm, None, grad_edge, False)[0],
                _launch_spmm(csr.rowptr_t, csr.perm_t, None, grad_edge, False)[0], partial.sum(0))
    return run


def shipped_variant(edges, warps, stages, per_sm, precision):
    def run(csr, a, b, w, grad, arg):
        num_edges, hidden, out_ch = csr.col.numel(), a.size(1), w.size(0)
        sms = torch.cuda.get_device_properties(a.device).multi_processor_count
        programs = max(1, min(triton.cdiv(num_edges, edges), per_sm * sms))
        grad_edge = torch.empty((num_edges, hidden), dtype=torch.float32, device=a.device)
        partial = torch.zeros((programs, out_ch, hidden), dtype=torch.float32, device=a.device)
        tem._backward_kernel[(programs,)](csr.row, csr.col, csr.perm, a, b, w, grad, arg, grad_edge, partial,
                                          num_edges, hidden, out_ch, EDGES=edges, PRECISION=precision,
                                          num_warps=warps, num_stages=stages, **tem._pads(hidden, out_ch))
        return (_launch_spmm(csr.rowptr, csr.perm, None, grad_edge, False)[0],
                _launch_spmm(csr.rowptr_t, csr.perm_t, None, grad_edge, False)[0], partial.sum(0))
    return run


def split_variant(pre_edges, pre_warps, w_edges, w_warps, per_sm, precision, store_pos):
    def run(csr, a, b, w, grad, arg):
        num_edges, hidden, out_ch = csr.col.numel(), a.size(1), w.size(0)
        pads = tem._pads(hidden, out_ch)
        grad_edge = torch.empty((num_edges, hidden), dtype=torch.float32, device=a.device)
        _grad_pre_kernel[(triton.cdiv(num_edges, pre_edges),)](
            csr.row, csr.col, csr.perm, a, b, w, grad, arg, grad_edge, num_edges, hidden, out_ch, EDGES=pre_edges,
            PRECISION=precision, STORE_POS=store_pos, num_warps=pre_warps, num_stages=1, **pads)
        sms = torch.cuda.get_device_properties(a.device).multi_processor_count
        programs = max(1, min(triton.cdiv(num_edges, w_edges), per_sm * sms))
        partial = torch.empty((programs, out_ch, hidden), dtype=torch.float32, device=a.device)
        _grad_w_kernel[(programs,)](csr.row, csr.col, a, b, grad, arg, partial, num_edges, hidden, out_ch,
                                    EDGES=w_edges, PRECISION=precision, num_warps=w_warps, num_stages=3, **pads)
        if store_pos:
            grad_a = _launch_spmm(csr.rowptr, POSITIONS, None, grad_edge, False)[0]
            grad_b = _launch_spmm(csr.rowptr_t, POS_T, None, grad_edge, False)[0]
        else:
            grad_a = _launch_spmm(csr.rowptr, csr.perm, None, grad_edge, False)[0]
            grad_b = _launch_spmm(csr.rowptr_t, csr.perm_t, None, grad_edge, False)[0]
        return grad_a, grad_b, partial.sum(0)
    return run


def rows_variant(rows, edges, warps, stages, precision):
    def run(csr, a, b, w, grad, arg):
        num_edges, hidden, out_ch = csr.col.numel(), a.size(1), w.size(0)
        num_rows = a.size(0)
        programs = triton.cdiv(num_rows, rows)
        grad_edge = torch.empty((num_edges, hidden), dtype=torch.float32, device=a.device)
        grad_a = torch.empty((num_rows, hidden), dtype=torch.float32, device=a.device)
        partial = torch.empty((programs, out_ch, hidden), dtype=torch.float32, device=a.device)
        _rows_kernel[(programs,)](csr.rowptr, csr.row, csr.col, a, b, w, grad, arg, grad_edge, grad_a, partial,
                                  num_rows, hidden, out_ch, ROWS=rows, EDGES=edges, PRECISION=precision,
                                  num_warps=warps, num_stages=stages, **tem._pads(hidden, out_ch))
        grad_b = _launch_spmm(csr.rowptr_t, POS_T, None, grad_edge, False)[0]
        return grad_a, grad_b, partial.sum(0)
    return run


def time_us(fn, repeats=50):
    return round(harness.cuda_event_ms(fn, repeats) * 1000, 1)


torch.manual_seed(0)
N, E, F = 10_000, 200_000, 64
graph = gnnx.Graph(torch.randint(N, (2, E), device="cuda"), N)
csr = graph.csr
POSITIONS = torch.arange(E, device="cuda")
inverse = torch.empty_like(csr.perm)
inverse[csr.perm] = POSITIONS
POS_T = inverse[csr.perm_t]
a = torch.randn(N, F, device="cuda")
b = torch.randn(N, F, device="cuda")
w = torch.randn(F, F, device="cuda") / 8
bias = torch.randn(F, device="cuda")
grad = torch.randn(N, F, device="cuda")

results = {"device": torch.cuda.get_device_name(), "torch": torch.__version__, "triton": triton.__version__,
           "graph": {"nodes": N, "edges": E, "hidden": F, "out": F}, "rows": []}
def variant_table(group, precision):
    """The variants of one group (``GROUP``: layouts, atomics or bits), beside the shipped op."""
    table = {"shipped": shipped_variant(32, 4, 3, 4, precision),
             "split_pre32w2_w32w4p8_perm": split_variant(32, 2, 32, 4, 8, precision, False)}
    if group == "layouts":
        if precision != "tf32":
            table.update({"shipped_w8_e32": shipped_variant(32, 8, 3, 4, precision),
                          "shipped_w8_e32_p2": shipped_variant(32, 8, 3, 2, precision),
                          "shipped_e16_w4": shipped_variant(16, 4, 3, 8, precision)})
        for pe, pw, we, ww, ps in ((64, 4, 32, 4, 4), (32, 4, 32, 4, 4), (64, 4, 64, 4, 4), (32, 2, 32, 4, 8),
                                   (64, 8, 32, 8, 4)):
            for store_pos in (False, True):
                table[f"split_pre{pe}w{pw}_w{we}w{ww}p{ps}_{'pos' if store_pos else 'perm'}"] = split_variant(
                    pe, pw, we, ww, ps, precision, store_pos)
        for rows, edges, warps, stages in ((16, 32, 4, 1), (16, 32, 4, 3), (32, 32, 4, 3), (16, 64, 4, 3),
                                           (16, 32, 8, 3), (32, 64, 8, 3)):
            table[f"rows{rows}_e{edges}_w{warps}_s{stages}"] = rows_variant(rows, edges, warps, stages, precision)
    elif group == "atomics":
        for edges, warps in ((32, 2), (32, 4), (64, 4)):
            table[f"atomic_split_e{edges}w{warps}"] = atomic_split_variant(edges, warps, 32, 4, 8, precision)
        for edges, warps, slots in ((32, 4, 64), (64, 4, 64), (32, 2, 128)):
            table[f"atomic_fused_e{edges}w{warps}_s{slots}"] = atomic_fused_variant(edges, warps, slots, precision)
        for edges, warps, stages, per_sm in ((32, 4, 3, 4), (32, 4, 1, 4), (32, 4, 3, 8)):
            table[f"atomic_persistent_e{edges}w{warps}s{stages}p{per_sm}"] = atomic_persistent_variant(
                edges, warps, stages, per_sm, precision)
    else:
        for edges, warps, w_edges, w_warps, per_sm in ((32, 2, 32, 4, 8), (64, 4, 32, 4, 8), (32, 4, 32, 4, 4),
                                                       (64, 4, 64, 4, 4), (128, 4, 32, 4, 8)):
            table[f"bits_split_e{edges}w{warps}_we{w_edges}w{w_warps}p{per_sm}"] = bits_split_variant(
                edges, warps, w_edges, w_warps, per_sm, precision)
        for edges, warps, stages, per_sm in ((32, 4, 3, 4), (32, 4, 1, 4), (32, 4, 3, 8), (64, 4, 3, 4)):
            table[f"bits_fused_e{edges}w{warps}s{stages}p{per_sm}"] = bits_fused_variant(edges, warps, stages,
                                                                                         per_sm, precision)
    return table


GROUP = os.environ.get("GROUP", "bits")
results["group"] = GROUP
for precision in ("tf32x3", "tf32", "ieee") if GROUP == "layouts" else ("tf32x3", "tf32"):
    torch.backends.cuda.matmul.allow_tf32 = precision == "tf32"
    _, arg = tem.edge_mlp_max(csr.rowptr, csr.col, csr.perm, csr.row, csr.rowptr_t, csr.perm_t, a, b, w, bias)
    exact = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    ref = tem.edge_mlp_max_backward(csr.rowptr, csr.col, csr.perm, csr.row, csr.rowptr_t, csr.perm_t, a, b, w,
                                    grad, arg)
    torch.backends.cuda.matmul.allow_tf32 = exact
    WINBITS, RELUBITS = bits_of(arg, a, b, csr)
    variants = variant_table(GROUP, precision)
    for name, fn in variants.items():
        row = {"variant": name, "precision": precision}
        try:
            got = fn(csr, a, b, w, grad, arg)
            row["max_rel_err"] = [float((g - r).abs().max() / r.abs().max()) for g, r in zip(got, ref)]
            row["us"] = time_us(lambda: fn(csr, a, b, w, grad, arg))
        except Exception as exc:  # noqa: BLE001
            row["error"] = f"{type(exc).__name__}: {str(exc)[:300]}"
        if "us" in row and KERNEL_TIMES:
            row["kernels_us"] = harness.kernel_times_us(lambda: fn(csr, a, b, w, grad, arg), KERNELS)
        results["rows"].append(row)
        print(json.dumps(row), flush=True)
torch.backends.cuda.matmul.allow_tf32 = False
with open(os.path.join(OUT, f"edge_mlp_backward_variants_{GROUP}.json"), "w") as f:
    json.dump(results, f, indent=1)
