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
scatter-max (plain ATen: compiles and exports to C++). Eager CPU calls that need no gradient
(inference) take the reference's steps over ~1 MiB of edges at a time, so nothing
``[E, F]``-sized is allocated: each fresh ``[E, F]`` buffer cost more in first-touch page
faults than its arithmetic (EdgeCNN's seed-graph forward, 2 cores: 392 -> 60 ms).
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from gnnx.graph import CSR
from gnnx.ops.dispatch import cuda_edge_mlp_kernels, is_tracing, triton_takes
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


def chunked_available(a: Tensor, b: Tensor, weight: Tensor, bias: Optional[Tensor]) -> bool:
    """Whether :func:`edge_mlp_max` runs the CPU's chunked loop for these tensors: an eager
    CPU call that needs no gradient."""
    return a.device.type == "cpu" and not is_tracing() and not torch.jit.is_tracing() \
        and not _needs_grad(a, b, weight, bias)


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
    if chunked_available(a, b, weight, bias):
        return _edge_mlp_max_in_chunks(a, b, weight, bias, src, dst, csr)
    return edge_mlp_max_reference(a, b, weight, bias, src, dst, a.size(0))


def _needs_grad(*tensors: Optional[Tensor]) -> bool:
    return torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors)


def _edge_mlp_max_in_chunks(a: Tensor, b: Tensor, weight: Tensor, bias: Optional[Tensor], src: Tensor, dst: Tensor,
                            csr: Optional[CSR]) -> Tensor:
    """:func:`edge_mlp_max_reference`'s values, ~1 MiB of edges at a time (eager, no gradient)."""
    num_dst, out_channels = a.size(0), weight.size(0)
    a, b = a.contiguous(), b.contiguous()  # (EdgeConv's are column halves of one product)
    out = a.new_full((num_dst, out_channels), float("-inf"))
    step = max(64, (1 << 20) // (max(a.size(1), out_channels) * a.element_size()))
    for first in range(0, src.numel(), step):
        rows = dst[first:first + step]
        hidden = torch.relu_(a.index_select(0, rows).add_(b.index_select(0, src[first:first + step])))
        messages = torch.nn.functional.linear(hidden, weight, bias)
        out.scatter_reduce_(0, rows.view(-1, 1).expand_as(messages), messages, "amax", include_self=True)
    degree = csr.rowptr.diff() if csr is not None else torch.bincount(dst, minlength=num_dst)
    return out.masked_fill_((degree == 0).view(-1, 1), 0.0)  # no incoming edge: 0, as the reference
