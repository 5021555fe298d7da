r"""One linear projection per group of rows, computed only for the rows each group uses.

For groups of row indices into ``x`` (e.g. the source nodes of each relation of a
heterogeneous layer), :func:`row_groups` lists each group's distinct rows and
:func:`grouped_project` computes, per group :math:`g` with weight :math:`\mathbf{W}_g`,

.. math::
    \mathbf{Y}_{gP + r} = \mathbf{x}_{\rho_g(r)} \mathbf{W}_g^\top, \qquad 0 \le r < c_g,

where :math:`\rho_g(0) < \dots < \rho_g(c_g - 1)` are the :math:`c_g` distinct rows of group
:math:`g` and :math:`P` (``stride``) is a multiple of :data:`ROW_ALIGN` above ``x``'s row count, so
every shape is known without reading the indices (no host sync; ``torch.compile`` keeps it
symbolic). A sampled mini-batch lists each node under few of the relations it could take
part in (MLPerf's R-GAT batch: 35 % of the paper ``(node, relation)`` pairs, 52 % of the
author ones), so the product costs the pairs in use, not ``N x G``: on CUDA its Triton kernels
(:mod:`gnnx.ops.triton_grouped_project`) stop at :math:`c_g`; elsewhere the reference (a gather and a
batched product over all ``P`` rows) gives the same values. :func:`row_groups` itself runs as a
few Triton kernels on CUDA (marks, a blocked scan, slots), elsewhere as one opaque ATen op.

In training on sampled subgraphs most rows of a later layer's gradient are zero (its outputs
beyond the seeds' hops reach no loss); the CUDA backward's ``grad x`` skips them: an all-zero
chunk of the gradient costs its read and no product (NaN counts as nonzero; a skipped row whose
weights hold inf or NaN adds nothing rather than NaN). ``grad W`` keeps its dense loop: checking
its row blocks cost a dense gradient (a trimmed step's) more than it saved a sparse one
(``bench/results/h200/session25/``).

Groups ``[full, G)`` are *score-only*: they compute the tail columns ``[width, O)`` only (R-GAT's
destination scores, ``heads`` columns per relation, beside the sources' ``width + heads``).
Rows past a group's count are unspecified on CUDA (zero in the reference); nothing should read
them.
"""
from __future__ import annotations

from typing import List, NamedTuple, Sequence, Tuple, Union

import torch
from torch import Tensor

from gnnx.ops.dispatch import _load_cuda_module, check_index_range, triton_takes
from gnnx.ops.matmul import autocast_operands
from gnnx.ops.scatter import index_add_fp32
from gnnx.ops.second_order import differentiating_backward, reference_grads

ROW_ALIGN = 128  # P is a multiple of it: every kernel row tile divides it

_KERNELS = _load_cuda_module("triton_grouped_project")
Size = Union[int, torch.SymInt]


class RowGroups(NamedTuple):
    """The distinct rows of each group: group ``g``'s in ``rows[g, :counts[g]]`` (increasing),
    and ``slot_of[g, n]`` = ``g * stride +`` the rank of row ``n`` among them, or
    ``-1`` where ``n`` is not in the group."""

    rows: Tensor  # [G, stride] int64
    counts: Tensor  # [G] int64
    slot_of: Tensor  # [G, N] int64
    stride: Size


def row_groups(indices: Sequence[Tensor], num_rows: Size) -> RowGroups:
    """The :class:`RowGroups` of ``indices`` (one int tensor per group, values in
    ``[0, num_rows)``), with fixed-shape ops only."""
    indices = list(indices)
    if not indices:
        raise ValueError("row_groups: at least one group of indices needed")
    for g, index in enumerate(indices):
        if index.dim() != 1 or index.dtype not in (torch.int32, torch.int64):
            raise ValueError(f"row_groups: group {g}'s indices must be a 1-D int32 or int64 tensor, got "
                             f"{index.dtype} of shape {list(index.shape)}")
        if index.device != indices[0].device:
            raise ValueError(f"row_groups: group {g}'s indices are on {index.device}, group 0's on "
                             f"{indices[0].device}")
        check_index_range(index, num_rows, f"row_groups: group {g}'s indices", "{count} rows")
    stride = _stride(num_rows)
    if _KERNELS is not None and indices[0].is_cuda and not torch.jit.is_tracing():
        rows, counts, slot_of = _KERNELS.row_groups(indices, num_rows, stride)
    else:
        rows, counts, slot_of = _row_groups(indices, num_rows)
    return RowGroups(rows, counts, slot_of, stride)


def _stride(num_rows: Size) -> Size:
    return (num_rows // ROW_ALIGN + 1) * ROW_ALIGN  # > num_rows, and > 0 even for no rows (the kernels divide by it)


# One opaque op for the compiler: Inductor fused its [G, N] pieces into the cumsum's
# (G, N)-tiled kernel and, where N is a trimmed size such as ``s1 - s2`` (no lower bound it
# can prove), failed to split their flattened ranges (torch 2.11 on CUDA, ``CantSplit``).
@torch.library.custom_op("gnnx::row_groups", mutates_args=())
def _row_groups(indices: List[Tensor], num_rows: int) -> Tuple[Tensor, Tensor, Tensor]:
    groups = len(indices)
    device = indices[0].device
    stride = _stride(num_rows)
    group_of = torch.cat([torch.full_like(index, g, dtype=torch.long) for g, index in enumerate(indices)])
    row = torch.cat([index.long() for index in indices])
    small = torch.int32 if groups * num_rows < 2**31 else torch.long  # the scan's running count fits
    used = torch.zeros(groups, num_rows, dtype=small, device=device)
    used.index_put_((group_of, row), torch.ones((), dtype=small, device=device))  # in place: no copy of the mask
    counts = used.sum(1)  # int64
    # One scan over the flattened mask: a scan along each of the G rows (torch's innermost-dim
    # kernel, int64) took ~115 us a call on R-GAT's paper table, most of this op's time.
    before = (counts.cumsum(0) - counts).unsqueeze(1)  # rows in use in the groups before g
    rank = used.view(-1).cumsum(0, dtype=small).view(groups, num_rows) - before - 1
    present = used.bool()
    slot_of = torch.where(present, rank + torch.arange(groups, device=device).unsqueeze(1) * stride, -1)
    # rows absent from a group go to the group's last slot, which no row reaches (stride > num_rows)
    local = torch.where(present, rank, stride - 1)
    node = torch.arange(num_rows, device=device).expand(groups, num_rows)
    rows = torch.zeros(groups, stride, dtype=torch.long, device=device)
    rows.scatter_(1, local, node)
    return rows, counts, slot_of


@_row_groups.register_fake
def _(indices: List[Tensor], num_rows: int) -> Tuple[Tensor, Tensor, Tensor]:
    like = indices[0]
    groups = len(indices)
    return (like.new_empty(groups, _stride(num_rows), dtype=torch.long), like.new_empty(groups, dtype=torch.long),
            like.new_empty(groups, num_rows, dtype=torch.long))


def grouped_project(x: Tensor, weight: Tensor, groups: RowGroups, full: int, width: int) -> Tuple[Tensor, Tensor]:
    """``(out [full * stride, O], tail [(G - full) * stride, O - width])`` of the module
    docstring (``x [N, I]``, ``weight [G, O, I]``): groups below ``full`` in ``out``, the
    score-only groups' tail columns in ``tail``."""
    if x.dim() != 2 or weight.dim() != 3 or x.size(1) != weight.size(2):
        raise ValueError(f"grouped_project: x [N, I] and weight [G, O, I] needed, got {list(x.shape)} and "
                         f"{list(weight.shape)}")
    if groups.counts.numel() != weight.size(0) or not 0 <= full <= weight.size(0) or not 0 <= width <= weight.size(1):
        raise ValueError(f"grouped_project: {groups.counts.numel()} row groups for {weight.size(0)} weights, "
                         f"full={full}, width={width} of {weight.size(1)} columns")
    x, weight = autocast_operands(x, weight)
    if (_KERNELS is not None and x.is_cuda and triton_takes(x) and x.dtype == weight.dtype
            and not torch.jit.is_tracing()):
        return _GroupedProject.apply(x, weight, groups.rows, groups.counts, groups.slot_of, groups.stride, full, width)
    return grouped_project_reference(x, weight, groups, full, width)


def add_rows_in_use(index: Tensor, parts: Sequence[Tensor], counts: Tensor, stride: Size) -> Tensor:
    """``zeros([G stride, C]).index_add(0, index, cat(parts, 1))`` for ``G`` groups of
    ``stride`` rows with ``counts`` rows in use (e.g. a :func:`grouped_project` output's
    gradient, built from gathers of its rows): on CUDA (fp32) only the rows in use are zeroed
    and the others left unspecified, which the CUDA kernels never read and the reference masks.
    Summed by atomic adds there, as ATen's ``index_add``; under
    ``torch.use_deterministic_algorithms`` ATen's deterministic one, and ATen's where the parts
    need a gradient (a backward under ``create_graph``)."""
    if (_KERNELS is not None and index.is_cuda and all(part.dtype == torch.float32 for part in parts)
            and not torch.jit.is_tracing() and not torch.are_deterministic_algorithms_enabled()
            and not differentiating_backward(*parts)):
        return _KERNELS.add_rows_in_use(index, list(parts), counts, stride)
    values = parts[0] if len(parts) == 1 else torch.cat(list(parts), dim=1)
    return index_add_fp32((counts.numel() * stride, values.size(1)), index, values)


def grouped_project_reference(x: Tensor, weight: Tensor, groups: RowGroups, full: int,
                              width: int) -> Tuple[Tensor, Tensor]:
    """ATen's :func:`grouped_project` over all ``stride`` rows of every group (zeros past
    the counts)."""
    count, outs, ins = weight.shape
    if x.size(0) == 0:  # nothing to gather from (sizes 0 and 1 are specialised when compiled anyway)
        gathered = x.new_zeros(count, groups.stride, ins)
    else:
        gathered = x.index_select(0, groups.rows.flatten()).view(count, groups.stride, ins)
    in_use = (torch.arange(groups.stride, device=x.device) < groups.counts.unsqueeze(1)).unsqueeze(-1)
    out = torch.bmm(gathered[:full], weight[:full].transpose(1, 2))
    tail = torch.bmm(gathered[full:], weight[full:, width:].transpose(1, 2))
    out = torch.where(in_use[:full], out, 0).reshape(-1, outs)
    return out, torch.where(in_use[full:], tail, 0).reshape(-1, outs - width)


def _sum_rows(grad_rows: Tensor, slot_of: Tensor) -> Tensor:
    """Per row ``n`` of ``x``, the sum over groups of ``grad_rows[slot_of[g, n]]`` where it is
    in use, in group order (repeatable)."""
    total = None
    for slots in slot_of:
        part = torch.where((slots >= 0).unsqueeze(1), grad_rows.index_select(0, slots.clamp(min=0)), 0)
        total = part if total is None else total + part
    return total


class _GroupedProject(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, rows: Tensor, counts: Tensor, slot_of: Tensor, stride: Size,
                full: int, width: int) -> Tuple[Tensor, Tensor]:
        ctx.save_for_backward(x, weight, rows, counts, slot_of)
        ctx.layout = (stride, full, width)
        return _KERNELS.grouped_project(x, weight, rows, counts, stride, full, width)

    @staticmethod
    def backward(ctx, grad: Tensor, grad_tail: Tensor):
        x, weight, rows, counts, slot_of = ctx.saved_tensors
        stride, full, width = ctx.layout
        if differentiating_backward(grad, grad_tail, x, weight):  # create_graph=True: the reference's gradients
            groups = RowGroups(rows, counts, slot_of, stride)
            grad_x, grad_weight = reference_grads(lambda v, w: grouped_project_reference(v, w, groups, full, width),
                                                  (x, weight), (grad, grad_tail), ctx.needs_input_grad[:2])
            return grad_x, grad_weight, None, None, None, None, None, None
        need_x = ctx.needs_input_grad[0]
        grad_rows, grad_weight = _KERNELS.grouped_project_grads(grad, grad_tail, x, weight, rows, counts, stride, full,
                                                                width, need_x)
        grad_x = _sum_rows(grad_rows, slot_of) if need_x else None
        return grad_x, grad_weight, None, None, None, None, None, None
