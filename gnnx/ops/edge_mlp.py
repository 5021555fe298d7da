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
scatter-max (plain ATen: compiles and exports to C++).
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from gnnx.graph import CSR
from gnnx.ops.dispatch import cuda_edge_mlp_kernels, triton_takes
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
    return edge_mlp_max_reference(a, b, weight, bias, src, dst, a.size(0))
