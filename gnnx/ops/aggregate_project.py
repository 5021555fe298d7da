r"""Attention-weighted aggregation followed by a per-relation, per-head projection, as one op:

.. math::
    \mathbf{o}_{i,h} = \sum_{r \to \mathrm{type}(i)} \mathbf{W}^{r,h}
        \sum_{j \to_r i} \alpha_{ij,h}\,\mathbf{x}_j ,

GAT's output (before its bias) with the projection moved behind the sum, which linearity
allows. Relations are laid out as one CSR over *slots* ``(relation, destination)``: the
relations into one node type take consecutive blocks of that type's node count, described
by a ``plan`` of five integers per destination type (first slot, rows, first row of that
type in ``x``/``out``, first relation, relations); ``x`` and ``out`` hold every node type's
rows one after the other. The transposed CSR serves the input gradient: its slots are
``(source, relation)``, source-major (``first slot + j * relations + k`` for the ``k``-th
relation out of a source type), with ``plan_t`` per source type and ``relations_t`` listing
those relations (indices into ``weight``) in order.

On CUDA the Triton kernels of :mod:`gnnx.ops.triton_aggregate_project` run it with the
products behind the sums, per destination row: rows without edges cost nothing, so on a
sampled mini-batch the products cover the few destination rows (heterogeneous R-GAT:
:mod:`gnnx.nn.hetero_gat`). Elsewhere the reference sums ``alpha x_j`` per slot with a
scatter and multiplies per relation (plain ATen).
"""
from __future__ import annotations

from typing import List

import torch
from torch import Tensor

from gnnx.graph import CSR
from gnnx.ops.dispatch import cuda_aggregate_project_kernels
from gnnx.ops.scatter import scatter


def plan_groups(plan: List) -> List[tuple]:
    """``plan`` as ``(first slot, rows, first row, first relation, relations)`` tuples."""
    return list(zip(*[iter(plan)] * 5))


def aggregate_project_reference(x: Tensor, weight: Tensor, alpha: Tensor, src: Tensor, slot: Tensor,
                                plan: List) -> Tensor:
    """The op in plain ATen over an edge list (``src``: rows of ``x``, ``slot``: slots; any order)."""
    heads, width = alpha.size(1), weight.size(1)
    groups = plan_groups(plan)
    num_slots = sum(rows * count for _, rows, _, _, count in groups)
    summed = scatter(alpha.unsqueeze(-1) * x.index_select(0, src).unsqueeze(1), slot, num_slots, "sum")
    parts = []
    for slot_base, rows, row_offset, first, count in groups:
        block = summed[slot_base:slot_base + rows * count].view(count, rows, heads, -1)
        w = weight[first:first + count].view(count, heads, width // heads, -1)
        parts.append((row_offset, torch.einsum("krhf,khcf->rhc", block, w).reshape(rows, width)))
    out = x.new_zeros(x.size(0), width)
    for row_offset, part in parts:
        out = out.slice_scatter(part, 0, row_offset, row_offset + part.size(0))
    return out


def fused_available(x: Tensor, weight: Tensor) -> bool:
    """Whether :func:`aggregate_project` runs the Triton kernels for these tensors."""
    kernels = cuda_aggregate_project_kernels()
    return kernels is not None and kernels.usable(x, weight) and not torch.jit.is_tracing()


def aggregate_project(x: Tensor, weight: Tensor, alpha: Tensor, csr: CSR, plan: List, plan_t: List,
                      relations_t: List[int]) -> Tensor:
    """``out [N, H C]`` of the module docstring.

    Args:
        x: ``[N, F]``, every node type's rows (the ``plan``'s row offsets).
        weight: ``[R, H C, F]``, the relations' weights in slot order.
        alpha: ``[E, H]`` coefficients, in edge order.
        csr: the slots' CSR (``rowptr``, ``col`` = rows of ``x``, ``perm``, ``row`` = slots) and
            the transposed one (``rowptr_t``, ``col_t`` = rows of ``out``, ``perm_t``).
        plan, plan_t: five integers per destination / source node type (module docstring).
        relations_t: the relation (index into ``weight``) of each transposed slot block, in order.
    """
    if fused_available(x, weight):
        return cuda_aggregate_project_kernels().aggregate_project(
            x, weight, alpha, csr.rowptr, csr.col, csr.perm, csr.row, csr.rowptr_t, csr.col_t, csr.perm_t,
            list(plan), list(plan_t), list(relations_t))
    return aggregate_project_reference(x, weight, alpha.index_select(0, csr.perm), csr.col, csr.row, plan)
