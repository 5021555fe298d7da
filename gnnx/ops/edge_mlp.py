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
"""
from __future__ import annotations

from typing import List, Optional

import torch
from torch import Tensor

from gnnx.graph import CSR
from gnnx.ops.dispatch import cuda_edge_mlp_kernels, edge_chunk, triton_takes
from gnnx.ops.scatter import scatter


def edge_mlp_max_reference(a: Tensor, b: Tensor, weight: Tensor, bias: Optional[Tensor], src: Tensor,
                           dst: Tensor, num_dst) -> Tensor:
    """The op in plain ATen over an edge list (``src``, ``dst``, any order)."""
    hidden = torch.relu(a.index_select(0, dst) + b.index_select(0, src))
    return scatter(torch.nn.functional.linear(hidden, weight, bias), dst, num_dst, reduce="max")


def fused_available(a: Tensor, weight: Tensor) -> bool:
    """Whether :func:`edge_mlp_max` runs the fused kernels for these tensors (given a CSR)."""
    kernels = cuda_edge_mlp_kernels()
    return (kernels is not None and kernels.usable(a, weight) and triton_takes(a, weight)
            and not torch.jit.is_tracing())


def chunked_available(a: Tensor) -> bool:
    """Whether :func:`edge_mlp_max` runs the CPU's chunked loops: a CPU call, eager or
    compiled (not exported: exported programs keep plain ATen for C++)."""
    return a.device.type == "cpu" and not torch.compiler.is_exporting() and not torch.jit.is_tracing()


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
        degree = csr.rowptr.diff() if csr is not None else torch.zeros_like(a[:, 0], dtype=torch.long).index_add_(
            0, dst, torch.ones_like(dst))
        return edge_mlp_max_cpu(a, b, weight, bias, src, dst, degree)
    return edge_mlp_max_reference(a, b, weight, bias, src, dst, a.size(0))


def _edge_chunks(a: Tensor, b: Tensor, weight: Tensor, bias: Optional[Tensor], src: Tensor, dst: Tensor):
    """Per ~1 MiB of edges: their destinations and sources, hidden rows and messages."""
    step = edge_chunk(max(a.size(1), weight.size(0)) * a.element_size())
    for first in range(0, src.numel(), step):
        rows, cols = dst[first:first + step], src[first:first + step]
        hidden = torch.relu_(a.index_select(0, rows).add_(b.index_select(0, cols)))
        yield rows, cols, hidden, torch.nn.functional.linear(hidden, weight, bias)


def _max_in_chunks(a: Tensor, b: Tensor, weight: Tensor, bias: Optional[Tensor], src: Tensor, dst: Tensor,
                   degree: Tensor) -> Tensor:
    """The forward over chunks: a running scatter-max, 0 where a node has no incoming edge."""
    out = a.new_full((a.size(0), weight.size(0)), float("-inf"))
    for rows, _, _, messages in _edge_chunks(a, b, weight, bias, src, dst):
        out.scatter_reduce_(0, rows.view(-1, 1).expand_as(messages), messages, "amax", include_self=True)
    return out.masked_fill_((degree == 0).view(-1, 1), 0.0)  # no incoming edge: 0, as the reference


def _max_in_chunks_backward(grad: Tensor, a: Tensor, b: Tensor, weight: Tensor, bias: Optional[Tensor], src: Tensor,
                            dst: Tensor, out: Tensor):
    """``(grad a, grad b, grad weight, grad bias)`` (the last two summed in fp32; ``None``
    without a bias), recomputing each chunk twice: to count the messages tied at each maximum (the reference's
    scatter-max shares the gradient among them) and to pass the gradient on."""
    chunks = (a, b, weight, bias, src, dst)
    winners = torch.zeros_like(out)
    for rows, _, _, messages in _edge_chunks(*chunks):
        winners.index_add_(0, rows, (messages == out.index_select(0, rows)).to(out.dtype))
    share = grad / winners.clamp(min=1)
    grad_a, grad_b = torch.zeros_like(a), torch.zeros_like(b)
    grad_weight = torch.zeros_like(weight, dtype=torch.float32)
    grad_bias = torch.zeros_like(bias, dtype=torch.float32) if bias is not None else None
    for rows, cols, hidden, messages in _edge_chunks(*chunks):
        won = torch.where(messages == out.index_select(0, rows), share.index_select(0, rows), 0.0)
        grad_weight += won.t() @ hidden
        if grad_bias is not None:
            grad_bias += won.sum(0)
        grad_hidden = (won @ weight).mul_(hidden > 0)
        grad_a.index_add_(0, rows, grad_hidden)
        grad_b.index_add_(0, cols, grad_hidden)
    return grad_a, grad_b, grad_weight, grad_bias


# The loops as opaque custom ops, eager and compiled alike (a traced loop cannot run over a
# symbolic edge count, and Inductor's fused reference took longer than the eager loops: EdgeCNN's
# seed-graph forward 89-124 ms against 55-66). First-order gradients. Products in ``a``'s dtype,
# so a call under autocast computes as the reference's autocast linear layer does.
@torch.library.custom_op("gnnx::edge_mlp_max_cpu", mutates_args=(), device_types="cpu")
def edge_mlp_max_cpu(a: Tensor, b: Tensor, weight: Tensor, bias: Optional[Tensor], src: Tensor, dst: Tensor,
                     degree: Tensor) -> Tensor:
    """:func:`_max_in_chunks` as an op (``weight``/``bias`` taken in ``a``'s dtype)."""
    return _max_in_chunks(a.contiguous(), b.contiguous(), weight.to(a.dtype), _as(bias, a), src, dst, degree)


@edge_mlp_max_cpu.register_fake
def _(a, b, weight, bias, src, dst, degree):
    return a.new_empty((a.size(0), weight.size(0)))


@torch.library.custom_op("gnnx::edge_mlp_max_cpu_backward", mutates_args=(), device_types="cpu")
def edge_mlp_max_cpu_backward(grad: Tensor, a: Tensor, b: Tensor, weight: Tensor, bias: Optional[Tensor], src: Tensor,
                              dst: Tensor, out: Tensor) -> List[Tensor]:
    """:func:`_max_in_chunks_backward` as an op: grads of ``a``, ``b``, ``weight``, ``bias``
    (empty without one)."""
    grads = _max_in_chunks_backward(grad.to(a.dtype), a.contiguous(), b.contiguous(), weight.to(a.dtype),
                                    _as(bias, a), src, dst, out)
    grad_bias = grads[3].to(bias.dtype) if bias is not None else weight.new_empty(0)
    return [grads[0], grads[1], grads[2].to(weight.dtype), grad_bias]


@edge_mlp_max_cpu_backward.register_fake
def _(grad, a, b, weight, bias, src, dst, out):
    return [torch.empty_like(a), torch.empty_like(b), torch.empty_like(weight),
            torch.empty_like(bias) if bias is not None else weight.new_empty(0)]


def _as(bias: Optional[Tensor], a: Tensor) -> Optional[Tensor]:
    return None if bias is None else bias.to(a.dtype)


def _op_setup(ctx, inputs, output):
    a, b, weight, bias, src, dst, _ = inputs
    ctx.has_bias = bias is not None
    ctx.save_for_backward(a, b, weight, bias, src, dst, output)


def _op_backward(ctx, grad):
    a, b, weight, bias, src, dst, out = ctx.saved_tensors
    grad_a, grad_b, grad_weight, grad_bias = edge_mlp_max_cpu_backward(grad, a, b, weight, bias, src, dst, out)
    return grad_a, grad_b, grad_weight, grad_bias if ctx.has_bias else None, None, None, None


edge_mlp_max_cpu.register_autograd(_op_backward, setup_context=_op_setup)
