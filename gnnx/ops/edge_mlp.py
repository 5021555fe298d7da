r"""Edge MLP with max aggregation, EdgeConv's inner loop as one op:

.. math::
    \mathbf{x}'_i = \max_{j \in \mathcal{N}(i)} \mathbf{W}\,\mathrm{ReLU}(\mathbf{a}_i + \mathbf{b}_j)
    + \mathbf{c} \qquad (0 \text{ for a node without incoming edges}),

where the caller has applied the MLP's first linear layer per node
(:class:`~gnnx.nn.EdgeConv`: :math:`\mathbf{a} = \mathbf{x}(\mathbf{W}_1 - \mathbf{W}_2)^\top
+ \mathbf{b}_1`, :math:`\mathbf{b} = \mathbf{x}\mathbf{W}_2^\top`).

On CUDA with a prepared CSR, the Triton kernels of :mod:`gnnx.ops.triton_edge_mlp` run it
with the second layer on tensor cores at fp32 accuracy and save nothing ``[E, F]``-sized for
the backward, which recomputes the hidden rows and passes gradient to each row's winners
only; elsewhere the reference gathers, applies the layer per edge and reduces with a
scatter-max (plain ATen: compiles and exports to C++). CPU calls take the reference's steps
over ~1 MiB of edges at a time, forward and backward (eager, or compiled behind opaque custom
ops; exported programs keep the reference), so nothing ``[E, F]``-sized is allocated: each
fresh ``[E, F]`` buffer cost more in first-touch page faults than its arithmetic (EdgeCNN's
seed-graph forward, 2 cores: 392 -> 60 ms).

:func:`edge_conv_max` is EdgeConv's whole layer over those steps (the first layer's per-node
halves, :func:`node_halves`, then this op); in eager calls it is one autograd node that calls
the kernels' bodies directly, since a small graph's eager step is bound by the host's time
per call (bench/results/h200/session29/).
"""
from __future__ import annotations

from typing import List, Optional, Tuple

import torch
from torch import Tensor

from gnnx.graph import CSR
from gnnx.ops.dispatch import (
    cuda_edge_mlp_kernels,
    edge_chunk,
    plain_eager_call,
    triton_takes,
    under_function_transforms,
)
from gnnx.ops.scatter import scatter
from gnnx.ops.second_order import differentiating_backward, reference_grads


def edge_mlp_max_reference(a: Tensor, b: Tensor, weight: Tensor, bias: Optional[Tensor], src: Tensor,
                           dst: Tensor, num_dst) -> Tensor:
    """The op in plain ATen over an edge list (``src``, ``dst``, any order)."""
    hidden = torch.relu(a.index_select(0, dst) + b.index_select(0, src))
    return scatter(torch.nn.functional.linear(hidden, weight, bias), dst, num_dst, reduce="max")


def fused_available(a: Tensor, weight: Tensor, hidden: Optional[int] = None) -> bool:
    """Whether :func:`edge_mlp_max` runs the fused kernels for these tensors (given a CSR;
    ``hidden``: the width of ``a`` where a node feature tensor stands in for it)."""
    kernels = cuda_edge_mlp_kernels()
    return (kernels is not None and kernels.usable(a, weight, hidden) and triton_takes(a, weight)
            and not torch.jit.is_tracing() and not under_function_transforms())


def chunked_available(a: Tensor) -> bool:
    """Whether :func:`edge_mlp_max` runs the CPU's chunked loops: a CPU call, eager or
    compiled (not exported: exported programs keep plain ATen for C++)."""
    return (a.device.type == "cpu" and not torch.compiler.is_exporting() and not torch.jit.is_tracing()
            and not under_function_transforms())


def edge_mlp_max(a: Tensor, b: Tensor, weight: Tensor, bias: Optional[Tensor],
                 edge_index: Optional[Tensor] = None, csr: Optional[CSR] = None) -> Tensor:
    """``max_j weight @ relu(a_i + b_j) + bias`` over the edges ``j -> i``: ``[N_dst, O]``
    with ``N_dst = a.size(0)``. Give ``edge_index`` (``[2, E]``, row 0 sources) or its
    prepared :class:`~gnnx.graph.CSR` (destination rows ``a``, sources ``b``; the fused
    CUDA kernels need it)."""
    if csr is None and edge_index is None:
        raise ValueError("edge_mlp_max needs edge_index or csr")
    if csr is not None and fused_available(a, weight):
        if csr.rowptr.numel() != a.size(0) + 1 or csr.rowptr_t.numel() != b.size(0) + 1:
            raise ValueError(f"edge_mlp_max: the CSR has {csr.rowptr.numel() - 1} destination and "
                             f"{csr.rowptr_t.numel() - 1} source rows, a and b {a.size(0)} and {b.size(0)}")
        out, _ = cuda_edge_mlp_kernels().edge_mlp_max(csr.rowptr, csr.col, csr.perm, csr.row, csr.rowptr_t,
                                                      csr.perm_t, a, b, weight, bias)
        return out
    src, dst = (csr.col, csr.row) if csr is not None else (edge_index[0], edge_index[1])
    if chunked_available(a):
        if csr is not None:
            return edge_mlp_max_cpu(a, b, weight, bias, src, dst, csr.rowptr.diff(), csr.rowptr)
        degree = torch.zeros_like(a[:, 0], dtype=torch.long).index_add_(0, dst, torch.ones_like(dst))
        return edge_mlp_max_cpu(a, b, weight, bias, src, dst, degree, None)
    return edge_mlp_max_reference(a, b, weight, bias, src, dst, a.size(0))


def _edge_ranges(a: Tensor, weight: Tensor, num_edges: int,
                 rowptr: Optional[Tensor]) -> List[Tuple[int, int, int, int]]:
    """``(first edge, end edge, first row, end row)`` of ~1 MiB of edges at a time. With
    ``rowptr`` (edges sorted by destination) each range ends at the first row boundary at or
    past a multiple of the step, so a row's edges are in one range (at most a step plus one
    row); without it the rows are unknown (-1)."""
    step = edge_chunk(max(a.size(1), weight.size(0)) * a.element_size())
    if rowptr is None:
        return [(first, min(first + step, num_edges), -1, -1) for first in range(0, num_edges, step)]
    cuts = torch.searchsorted(rowptr, torch.arange(step, max(step, num_edges), step, dtype=rowptr.dtype))
    rows = torch.cat([cuts.new_zeros(1), cuts, cuts.new_full((1,), rowptr.numel() - 1)]).unique_consecutive()
    row_cuts, edge_cuts = rows.tolist(), rowptr.index_select(0, rows).tolist()
    return [(edge_cuts[i], edge_cuts[i + 1], row_cuts[i], row_cuts[i + 1]) for i in range(len(row_cuts) - 1)
            if edge_cuts[i + 1] > edge_cuts[i]]


def _edge_chunks(a: Tensor, b: Tensor, weight: Tensor, bias: Optional[Tensor], src: Tensor, dst: Tensor,
                 ranges: List[Tuple[int, int, int, int]]):
    """Per range of :func:`_edge_ranges`: its edges' destinations and sources, hidden rows and
    messages."""
    for first, end, _, _ in ranges:
        rows, cols = dst[first:end], src[first:end]
        hidden = torch.relu_(a.index_select(0, rows).add_(b.index_select(0, cols)))
        yield rows, cols, hidden, torch.nn.functional.linear(hidden, weight, bias)


def _max_in_chunks(a: Tensor, b: Tensor, weight: Tensor, bias: Optional[Tensor], src: Tensor, dst: Tensor,
                   degree: Tensor) -> Tensor:
    """The forward over chunks: a running scatter-max, 0 where a node has no incoming edge."""
    out = a.new_full((a.size(0), weight.size(0)), float("-inf"))
    for rows, _, _, messages in _edge_chunks(a, b, weight, bias, src, dst, _edge_ranges(a, weight, src.numel(), None)):
        out.scatter_reduce_(0, rows.view(-1, 1).expand_as(messages), messages, "amax", include_self=True)
    return out.masked_fill_((degree == 0).view(-1, 1), 0.0)  # no incoming edge: 0, as the reference


def _max_in_chunks_backward(grad: Tensor, a: Tensor, b: Tensor, weight: Tensor, bias: Optional[Tensor], src: Tensor,
                            dst: Tensor, out: Tensor, rowptr: Optional[Tensor]):
    """``(grad a, grad b, grad weight, grad bias)`` (the last two summed in at least fp32; ``None``
    without a bias). Each edge's message gets its row's gradient where it equals the row's
    maximum, shared among the messages tied there (as the reference's scatter-max shares it).
    With ``rowptr`` a row's ties are counted within its range, so each chunk is recomputed
    once; edges in any order need a first pass to count them (EdgeCNN's seed-graph training
    step on 2 cores, both ways in one process: 285 -> 239 ms,
    ``bench/results/cpu/edge_mlp_cpu_backward_ab.txt``)."""
    ranges = _edge_ranges(a, weight, src.numel(), rowptr)
    chunks = (a, b, weight, bias, src, dst, ranges)
    share = None
    if rowptr is None:
        tied = torch.zeros_like(out)
        for rows, _, _, messages in _edge_chunks(*chunks):
            tied.index_add_(0, rows, _winners(messages, out, rows))
        share = grad / tied.clamp_(min=1)
    grad_a, grad_b = torch.zeros_like(a), torch.zeros_like(b)
    sums = torch.promote_types(weight.dtype, torch.float32)  # (bf16/fp16 weights: fp32 sums; fp64 stays)
    grad_weight = torch.zeros_like(weight, dtype=sums)
    grad_bias = torch.zeros_like(bias, dtype=sums) if bias is not None else None
    for (_, _, first_row, end_row), (rows, cols, hidden, messages) in zip(ranges, _edge_chunks(*chunks)):
        won = _winners(messages, out, rows)
        if share is None:  # this range holds its rows' every edge
            local = rows - first_row
            tied = out.new_zeros((end_row - first_row, out.size(1))).index_add_(0, local, won)
            shares = (grad[first_row:end_row] / tied.clamp_(min=1)).index_select(0, local)
        else:
            shares = share.index_select(0, rows)
        won = shares.mul_(won)  # (a product, as the reference's scatter-max backward)
        grad_weight += won.t() @ hidden
        if grad_bias is not None:
            grad_bias += won.sum(0)
        grad_hidden = torch.ops.aten.threshold_backward(won @ weight, hidden, 0)  # ReLU's backward
        grad_a.index_add_(0, rows, grad_hidden)
        grad_b.index_add_(0, cols, grad_hidden)
    return grad_a, grad_b, grad_weight, grad_bias


def _winners(messages: Tensor, out: Tensor, rows: Tensor) -> Tensor:
    """1.0 where a message equals its row's maximum, else 0.0 (written as floats at once)."""
    return torch.eq(messages, out.index_select(0, rows), out=torch.empty_like(messages))


# The loops as opaque custom ops, eager and compiled alike (a traced loop cannot run over a
# symbolic edge count, and Inductor's fused reference took longer than the eager loops: EdgeCNN's
# seed-graph forward 89-124 ms against 55-66). The loops give first-order gradients; a double
# backward differentiates the reference (gnnx.ops.second_order). Products in ``a``'s dtype,
# so a call under autocast computes as the reference's autocast linear layer does.
@torch.library.custom_op("gnnx::edge_mlp_max_cpu", mutates_args=(), device_types="cpu")
def edge_mlp_max_cpu(a: Tensor, b: Tensor, weight: Tensor, bias: Optional[Tensor], src: Tensor, dst: Tensor,
                     degree: Tensor, rowptr: Optional[Tensor]) -> Tensor:
    """:func:`_max_in_chunks` as an op (``weight``/``bias`` taken in ``a``'s dtype; ``rowptr``:
    the destination CSR's, where the edges are in its order, for the backward)."""
    return _max_in_chunks(a.contiguous(), b.contiguous(), weight.to(a.dtype), _as(bias, a), src, dst, degree)


@edge_mlp_max_cpu.register_fake
def _(a, b, weight, bias, src, dst, degree, rowptr):
    return a.new_empty((a.size(0), weight.size(0)))


@torch.library.custom_op("gnnx::edge_mlp_max_cpu_backward", mutates_args=(), device_types="cpu")
def edge_mlp_max_cpu_backward(grad: Tensor, a: Tensor, b: Tensor, weight: Tensor, bias: Optional[Tensor], src: Tensor,
                              dst: Tensor, out: Tensor, rowptr: Optional[Tensor]) -> List[Tensor]:
    """:func:`_max_in_chunks_backward` as an op: grads of ``a``, ``b``, ``weight``, ``bias``
    (empty without one)."""
    grads = _max_in_chunks_backward(grad.to(a.dtype), a.contiguous(), b.contiguous(), weight.to(a.dtype),
                                    _as(bias, a), src, dst, out, rowptr)
    grad_bias = grads[3].to(bias.dtype) if bias is not None else weight.new_empty(0)
    return [grads[0], grads[1], grads[2].to(weight.dtype), grad_bias]


@edge_mlp_max_cpu_backward.register_fake
def _(grad, a, b, weight, bias, src, dst, out, rowptr):
    return [torch.empty_like(a), torch.empty_like(b), torch.empty_like(weight),
            torch.empty_like(bias) if bias is not None else weight.new_empty(0)]


def _as(bias: Optional[Tensor], a: Tensor) -> Optional[Tensor]:
    return None if bias is None else bias.to(a.dtype)


def _op_setup(ctx, inputs, output):
    a, b, weight, bias, src, dst, _, rowptr = inputs
    ctx.has_bias = bias is not None
    ctx.save_for_backward(a, b, weight, bias, src, dst, output, rowptr)


def _op_backward(ctx, grad):
    a, b, weight, bias, src, dst, out, rowptr = ctx.saved_tensors
    if differentiating_backward(grad, a, b, weight, bias):  # create_graph=True, e.g. a gradient penalty
        grads = reference_grads(lambda *t: edge_mlp_max_reference(*t, src, dst, a.size(0)), (a, b, weight, bias),
                                (grad,), ctx.needs_input_grad[:4])
        return (*grads, None, None, None, None)
    grad_a, grad_b, grad_weight, grad_bias = edge_mlp_max_cpu_backward(grad, a, b, weight, bias, src, dst, out,
                                                                       rowptr)
    return grad_a, grad_b, grad_weight, grad_bias if ctx.has_bias else None, None, None, None, None


edge_mlp_max_cpu.register_autograd(_op_backward, setup_context=_op_setup)


def node_halves(x_src: Tensor, x_dst: Tensor, weight: Tensor, bias: Optional[Tensor]) -> Tuple[Tensor, Tensor]:
    r"""EdgeConv's first linear layer on :math:`[\mathbf{x}_i \Vert \mathbf{x}_j - \mathbf{x}_i]`
    split by linearity into per-node halves: ``(x_dst (W_1 - W_2)^T + bias, x_src W_2^T)`` for
    ``weight = [W_1 | W_2]`` (``[H, 2F]``). One product ``x [W_1 - W_2; W_2]^T`` when both
    sides are the same nodes (the halves are then its column halves, strided views)."""
    half = x_src.size(-1)
    w_dst, w_src = weight[:, :half], weight[:, half:]
    if x_src is not x_dst:
        return (torch.nn.functional.linear(x_dst, w_dst - w_src, bias), torch.nn.functional.linear(x_src, w_src))
    both_bias = None if bias is None else torch.nn.functional.pad(bias, (0, bias.size(0)))
    both = torch.nn.functional.linear(x_src, torch.cat([w_dst - w_src, w_src]), both_bias)
    return both.split(weight.size(0), dim=-1)


def _eager_node_halves(x_src: Tensor, x_dst: Tensor, weight: Tensor, bias: Optional[Tensor]) -> Tuple[Tensor, Tensor]:
    """:func:`node_halves` in fewer eager calls where both sides are the same nodes:
    ``b = x W_2^T``, ``a = x W_1^T + bias - b`` (three kernels, where the weights' difference,
    their concatenation, the padded bias and the split cost six calls)."""
    if x_src is not x_dst:
        return node_halves(x_src, x_dst, weight, bias)
    half = x_src.size(-1)
    b = torch.mm(x_src, weight[:, half:].t())
    a = torch.mm(x_src, weight[:, :half].t()) if bias is None else torch.addmm(bias, x_src, weight[:, :half].t())
    return a.sub_(b), b


def _node_halves_backward(grad_a: Tensor, grad_b: Tensor, x_src: Tensor, x_dst: Tensor, weight: Tensor, same: bool,
                          needed: Tuple[bool, ...]) -> List[Optional[Tensor]]:
    """Gradients of :func:`node_halves` for ``x_src``, ``x_dst``, ``weight``, ``bias`` (those
    ``needed``); with ``same`` (one tensor for both sides) ``x_src``'s holds the whole."""
    half = x_src.size(-1)
    w_dst, w_src = weight[:, :half], weight[:, half:]
    grads: List[Optional[Tensor]] = [None] * 4
    if same:  # a = x W_1^T + bias - x W_2^T, b = x W_2^T
        grad_src = grad_b - grad_a
        if needed[0]:
            grads[0] = torch.addmm(grad_a.mm(w_dst), grad_src, w_src)
        if needed[2]:
            grads[2] = torch.cat([grad_a.t().mm(x_src), grad_src.t().mm(x_src)], 1)
    else:
        grads[0] = grad_b @ w_src if needed[0] else None
        grads[1] = grad_a @ (w_dst - w_src) if needed[1] else None
        if needed[2]:
            by_dst = grad_a.t() @ x_dst
            grads[2] = torch.cat([by_dst, grad_b.t() @ x_src - by_dst], 1)
    if needed[3]:
        grads[3] = grad_a.sum(0)
    return grads


def edge_conv_max_reference(x_src: Tensor, x_dst: Tensor, weight1: Tensor, bias1: Optional[Tensor], weight2: Tensor,
                            bias2: Optional[Tensor], csr: CSR) -> Tensor:
    """:func:`edge_conv_max` in plain ATen."""
    return edge_mlp_max_reference(*node_halves(x_src, x_dst, weight1, bias1), weight2, bias2, csr.col, csr.row,
                                  x_dst.size(0))


def _runs_eagerly(x_src: Tensor, x_dst: Tensor, weight1: Tensor, weight2: Tensor, *rest: Optional[Tensor]) -> bool:
    """Whether :func:`edge_conv_max` takes its eager node: plain tensors outside tracing,
    function transforms and autocast, on the CPU or where the fused kernels serve."""
    return plain_eager_call(x_dst.device.type, x_src, x_dst, weight1, weight2, *rest) and (
        chunked_available(x_dst) or fused_available(x_dst, weight2, weight1.size(0)))


class _EdgeConvMax(torch.autograd.Function):
    """:func:`edge_conv_max` as one autograd node: the per-node halves and the kernels' bodies
    (CUDA's fused kernels, the CPU's chunked loops) called directly, the backward of both in
    one function. In eager steps on small graphs the host's time is the step's: the registered
    op's dispatch and the split layer's seven autograd nodes cost more than the kernels."""

    @staticmethod
    def forward(ctx, x_src, x_dst, weight1, bias1, weight2, bias2, csr):
        a, b = _eager_node_halves(x_src, x_dst, weight1, bias1)
        if a.is_cuda:
            out, kept = cuda_edge_mlp_kernels().launch_forward(csr.row, csr.col, csr.rowptr, a, b, weight2, bias2)
        else:
            out = kept = _max_in_chunks(a.contiguous(), b.contiguous(), weight2.to(a.dtype), _as(bias2, a), csr.col,
                                        csr.row, csr.rowptr.diff())
        ctx.csr, ctx.same = csr, x_src is x_dst
        ctx.save_for_backward(x_src, x_dst, weight1, bias1, weight2, bias2, a, b, kept)
        return out

    @staticmethod
    def backward(ctx, grad):
        x_src, x_dst, weight1, bias1, weight2, bias2, a, b, kept = ctx.saved_tensors
        csr = ctx.csr
        inputs = (x_src, x_dst, weight1, bias1, weight2, bias2)
        if differentiating_backward(grad, *inputs):  # create_graph=True: the reference's gradients
            return (*reference_grads(lambda *t: edge_conv_max_reference(*t, csr), inputs, (grad,),
                                     ctx.needs_input_grad[:6]), None)
        if a.is_cuda:
            kernels = cuda_edge_mlp_kernels()
            grad_a, grad_b, grad_w2 = kernels.launch_backward(csr.rowptr, csr.col, csr.perm, csr.rowptr_t, csr.perm_t,
                                                              a, b, weight2, grad, kept)
            grad_b2 = kernels.bias_grad(grad, kept) if bias2 is not None else None
        else:
            grad_a, grad_b, grad_w2, grad_b2 = _max_in_chunks_backward(
                grad.to(a.dtype), a.contiguous(), b.contiguous(), weight2.to(a.dtype), _as(bias2, a), csr.col,
                csr.row, kept, csr.rowptr)
            grad_w2 = grad_w2.to(weight2.dtype)
            grad_b2 = grad_b2.to(bias2.dtype) if bias2 is not None else None
        first = _node_halves_backward(grad_a, grad_b, x_src, x_dst, weight1, ctx.same, ctx.needs_input_grad[:4])
        return (*first, grad_w2, grad_b2, None)


def edge_conv_max(x_src: Tensor, x_dst: Tensor, weight1: Tensor, bias1: Optional[Tensor], weight2: Tensor,
                  bias2: Optional[Tensor], csr: CSR) -> Tensor:
    r"""EdgeConv's layer for a ``Linear -> ReLU -> Linear`` network with max aggregation over a
    prepared CSR (destination rows ``x_dst``, sources ``x_src``):

    .. math::
        \mathbf{x}'_i = \max_{j \in \mathcal{N}(i)} \mathbf{W}_2\,\mathrm{ReLU}\big(
        \mathbf{W}_1 [\mathbf{x}_i \Vert \mathbf{x}_j - \mathbf{x}_i] + \mathbf{b}_1\big) + \mathbf{b}_2,

    :func:`node_halves` then :func:`edge_mlp_max`. Eager calls where those run the fused CUDA
    kernels or the CPU's chunked loops are one autograd node calling the kernels directly
    (:class:`_EdgeConvMax`); compiled, exported and traced calls the registered ops."""
    if _runs_eagerly(x_src, x_dst, weight1, weight2, bias1, bias2):
        return _EdgeConvMax.apply(x_src, x_dst, weight1, bias1, weight2, bias2, csr)
    a, b = node_halves(x_src, x_dst, weight1, bias1)
    return edge_mlp_max(a, b, weight2, bias2, csr=csr)
