r"""Sparse-dense matrix multiplication: aggregate (weighted) neighbour rows.

.. math::
    \mathrm{out}_i = \bigoplus_{(j \to i) \in E} w_{ji} \, x_j

with :math:`\bigoplus` one of sum, mean, max, min. This is "copy ``x_j``, optionally
scale by an edge weight, reduce at ``i``" in one op, which is what GCN, GraphConv,
SAGE and GIN aggregate; with ``x`` = per-edge messages and ``col`` = edge ids it is also
the segment reduction of general messages. Fast kernels never build ``[E, F]``.

Which kernel runs (Triton on CUDA, MKL on CPU, or the reference) is decided in
:mod:`gnnx.ops.dispatch`, which also prepares the CSR of a bare ``edge_index``.
"""
from __future__ import annotations

import warnings
from typing import Optional, Tuple, Union

import torch
from torch import Tensor

from gnnx.graph import CSR, build_csr
from gnnx.ops import dispatch
from gnnx.ops.scatter import gather, resolve_reduce, scatter
from gnnx.ops.second_order import differentiating_backward


def _broadcast_weight(edge_weight: Tensor, messages: Tensor) -> Tensor:
    """``[E]`` or ``[E, heads]`` weights shaped to multiply ``[E, (heads,) F]`` messages."""
    return edge_weight.view(tuple(edge_weight.shape) + (1,) * (messages.dim() - edge_weight.dim()))


def spmm_reference(
    x: Tensor,
    edge_index: Tensor,
    num_nodes: Union[int, torch.SymInt],
    edge_weight: Optional[Tensor] = None,
    reduce: str = "sum",
) -> Tensor:
    """The plain-ATen definition of :func:`spmm` (materialises ``[E, F]`` messages)."""
    messages = gather(x, edge_index[0])
    if edge_weight is not None:
        messages = messages * _broadcast_weight(edge_weight, messages)
    return scatter(messages, edge_index[1], num_nodes, reduce)


# -- vendor sparse libraries: MKL (CPU, also behind an opaque custom op), cuSPARSE (CUDA, eager) ----
warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")

def _mkl_matmul(rowptr: Tensor, col: Tensor, values: Tensor, x: Tensor) -> Tensor:
    adj = torch.sparse_csr_tensor(rowptr, col, values, (rowptr.numel() - 1, x.size(0)), check_invariants=False)
    # An aggregation, not a learned product: it keeps x's dtype under autocast, as PyG's
    # scatter does (autocast would cast this matmul to bf16/fp16, which MKL does not take).
    with torch.autocast(x.device.type, enabled=False):
        return adj @ x


def _edge_products(row: Tensor, col: Tensor, grad: Tensor, x: Tensor) -> Tensor:
    """``grad[row[p]] . x[col[p]]`` per CSR position ``p``: the gradient of ``A @ x`` with
    respect to ``A``'s values (a sampled dense-dense product). Traced code spells it out for
    Inductor to fuse; eager code takes ~1 MiB of gathered rows at a time, which stay in cache
    (on the seed graph's 210,000 edges of 64 features: 5.8 ms against 66 ms in one piece)."""
    if dispatch.is_tracing() or differentiating_backward(grad, x):
        return (grad.index_select(0, row) * x.index_select(0, col)).sum(-1)  # (double backward: differentiable)
    out = grad.new_empty(row.shape)
    step = dispatch.edge_chunk(grad.size(1) * grad.element_size())
    for first in range(0, row.numel(), step):
        rows, cols = row[first:first + step], col[first:first + step]
        torch.sum(grad.index_select(0, rows) * x.index_select(0, cols), -1, out=out[first:first + step])
    return out


@torch.library.custom_op("gnnx::csr_spmm_cpu", mutates_args=(), device_types="cpu")
def csr_spmm_cpu(rowptr: Tensor, col: Tensor, row: Tensor, values: Tensor, x: Tensor,
                 rowptr_t: Tensor, col_t: Tensor, values_t: Tensor) -> Tensor:
    """``A @ x`` with ``A = CSR(rowptr, col, values)`` via MKL (``row``: each position's row;
    ``*_t``: ``A^T``, for backward)."""
    return _mkl_matmul(rowptr, col, values, x)


@csr_spmm_cpu.register_fake
def _(rowptr, col, row, values, x, rowptr_t, col_t, values_t):
    return x.new_empty((rowptr.numel() - 1, x.size(1)))


def _cpu_setup(ctx, inputs, output):
    ctx.save_for_backward(*inputs)


def _cpu_backward(ctx, grad):
    rowptr, col, row, values, x, rowptr_t, col_t, values_t = ctx.saved_tensors
    grad = grad.contiguous()
    grad_values = _edge_products(row, col, grad, x) if ctx.needs_input_grad[3] else None
    grad_x = _transposed_product(rowptr, col, values, rowptr_t, col_t, values_t, grad) \
        if ctx.needs_input_grad[4] else None
    return None, None, None, grad_values, grad_x, None, None, None


csr_spmm_cpu.register_autograd(_cpu_backward, setup_context=_cpu_setup)


def _transposed_product(rowptr: Tensor, col: Tensor, values: Tensor, rowptr_t: Tensor, col_t: Tensor,
                        values_t: Tensor, grad: Tensor) -> Tensor:
    """``A^T @ grad`` through :func:`csr_spmm_cpu` (whose transpose is ``A``). Each position's
    row in the transpose, which only that call's own backward reads, is built where it can
    run (a double backward); else ``col`` stands in."""
    if differentiating_backward(grad, values, values_t):
        from gnnx.utils.tensors import ptr_to_index  # (gnnx.utils imports gnnx.ops)

        row_t = ptr_to_index(rowptr_t, output_size=col_t.numel())
    else:
        row_t = col
    return csr_spmm_cpu(rowptr_t, col_t, row_t, values_t, grad, rowptr, col, values)


class _EagerSparseMatmul(torch.autograd.Function):
    """``A @ x`` through the vendor library (MKL on CPU, cuSPARSE on CUDA) for eager calls,
    without an op dispatcher's host cost; backward through the prepared transpose, and to
    ``A``'s values (graph attention's weights on the CPU) by :func:`_edge_products`."""

    @staticmethod
    def forward(ctx, rowptr, col, row, values, x, rowptr_t, col_t, values_t):
        ctx.save_for_backward(rowptr, col, row, values, x if ctx.needs_input_grad[3] else None, rowptr_t, col_t,
                              values_t)
        return _mkl_matmul(rowptr, col, values, x)

    @staticmethod
    def backward(ctx, grad):
        rowptr, col, row, values, x, rowptr_t, col_t, values_t = ctx.saved_tensors
        grad = grad.contiguous()
        grad_values = _edge_products(row, col, grad, x) if ctx.needs_input_grad[3] else None
        grad_x = None
        if ctx.needs_input_grad[4] and differentiating_backward(values_t):
            # a double backward through learnt weights (a gradient penalty on GAT, CPU: cuSPARSE
            # takes constant weights only): a sparse tensor's values cannot take a gradient where
            # edges repeat, the op's own backward can
            grad_x = _transposed_product(rowptr, col, values, rowptr_t, col_t, values_t, grad)
        elif ctx.needs_input_grad[4]:
            grad_x = _mkl_matmul(rowptr_t, col_t, values_t, grad)
        return None, None, None, grad_values, grad_x, None, None, None


def _in_degree(csr: CSR, dtype: torch.dtype) -> Tensor:
    return (csr.rowptr[1:] - csr.rowptr[:-1]).clamp(min=1).to(dtype)


def _csr_values(csr: CSR, edge_weight: Optional[Tensor], reduce: str, dtype: torch.dtype):
    """CSR values (for MKL, or Triton's weights) and those of the transpose (for backward);
    ``mean`` divides each edge by its destination's in-degree. Eager calls reuse them per
    structure and weights."""

    def compute():
        if edge_weight is None:
            values = values_t = torch.ones(csr.col.shape, dtype=dtype, device=csr.col.device)
        else:
            values = edge_weight.to(dtype).index_select(0, csr.perm)
            values_t = edge_weight.to(dtype).index_select(0, csr.perm_t)
        if reduce == "mean":
            deg = _in_degree(csr, dtype)
            values = values / deg.index_select(0, csr.row)
            values_t = values_t / deg.index_select(0, csr.col_t)
        return values, values_t

    return dispatch.csr_values(csr, edge_weight, ("csr_values", reduce, dtype), compute)


def _mean_by_division(reduce: str) -> bool:
    """Traced code takes a mean as a sum divided by the in-degree (which Inductor fuses);
    eager code folds the division into per-edge values cached with the structure."""
    return reduce == "mean" and dispatch.is_tracing()


def _divide_by_in_degree(out: Tensor, csr: CSR) -> Tensor:
    return out / _in_degree(csr, out.dtype).view((-1,) + (1,) * (out.dim() - 1))


def _spmm_vendor(x: Tensor, csr: CSR, edge_weight: Optional[Tensor], reduce: str) -> Tensor:
    """MKL (CPU; eager, or traced behind the opaque ``gnnx::csr_spmm_cpu``) or cuSPARSE
    (CUDA, eager only). ``x [N, heads, F]`` takes one product over the heads side by side
    (:func:`_head_expanded`) where the weights are per head (``[E, heads]``, graph
    attention's), else one over ``[N, heads * F]``."""
    if _mean_by_division(reduce):
        return _divide_by_in_degree(_spmm_vendor(x, csr, edge_weight, "sum"), csr)
    if x.dim() == 3 and (edge_weight is None or edge_weight.dim() == 1):
        out = _spmm_vendor(x.flatten(1), csr, edge_weight, reduce)
        return out.view(out.size(0), *x.shape[1:])
    values, values_t = _csr_values(csr, edge_weight, reduce, x.dtype)
    matmul = csr_spmm_cpu if dispatch.is_tracing() else _EagerSparseMatmul.apply
    if x.dim() == 2:
        return matmul(csr.rowptr, csr.col, csr.row, values, x.contiguous(), csr.rowptr_t, csr.col_t, values_t)
    heads, channels = x.size(1), x.size(2)
    rowptr, col, row, order, rowptr_t, col_t, order_t = _head_expanded(csr, heads)
    out = matmul(rowptr, col, row, values.reshape(-1).index_select(0, order), x.reshape(-1, channels),
                 rowptr_t, col_t, values_t.reshape(-1).index_select(0, order_t))
    return out.view(-1, heads, channels)


def _head_expanded(csr: CSR, heads: int) -> Tuple[Tensor, ...]:
    """``(rowptr, col, row, order)`` of the graph's ``heads`` copies as one block-diagonal
    matrix (row ``i * heads + h`` holds row ``i``'s edges to columns ``j * heads + h``), then
    the same of the transpose: per-head weights ``[E, heads]`` aggregate ``x [N, heads, C]``,
    viewed ``[N * heads, C]``, in one vendor product, where one per head copied every head's
    features and weights out and stacked the results (R-GAT's relations on the CPU:
    ``bench/heads_spmm_cpu.py``). ``order``: each expanded position's index into the flat
    ``[E, heads]`` values in CSR order; the transpose's ``row`` is not built (no backward
    reads it). Eager calls keep it with the structure (3 E heads int64 for the matrix, 2 for
    the transpose)."""

    def expand(rowptr: Tensor, col: Tensor, row: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        """``(rowptr, col, order)`` of the expanded matrix (``row``: each position's row)."""
        head = torch.arange(heads, device=col.device)
        degree = rowptr[1:] - rowptr[:-1]
        start = rowptr.index_select(0, row)  # each position's row start; its row's copy h starts h * degree later
        position = torch.arange(col.numel(), device=col.device)
        target = ((start * (heads - 1) + position).unsqueeze(1) + head * degree.index_select(0, row).unsqueeze(1)).view(-1)
        order = torch.empty_like(target).scatter_(0, target, torch.arange(target.numel(), device=col.device))
        rowptr_h = torch.cat([(rowptr[:-1].unsqueeze(1) * heads + head * degree.unsqueeze(1)).view(-1), rowptr[-1:] * heads])
        return rowptr_h, (col.unsqueeze(1) * heads + head).view(-1).index_select(0, order), order

    def compute() -> Tuple[Tensor, ...]:
        from gnnx.utils.tensors import ptr_to_index  # (gnnx.utils imports gnnx.ops)

        rowptr, col, order = expand(csr.rowptr, csr.col, csr.row)
        row = (csr.row.unsqueeze(1) * heads + torch.arange(heads, device=col.device)).view(-1).index_select(0, order)
        # (only the forward's rows are kept: the backward's edge products read those)
        return (rowptr, col, row, order) + expand(csr.rowptr_t, csr.col_t,
                                                   ptr_to_index(csr.rowptr_t, output_size=csr.col_t.numel()))

    return dispatch.csr_values(csr, None, ("heads", heads), compute)


# -- CUDA: Triton ---------------------------------------------------------------------------------
def _spmm_cuda(kernels, x: Tensor, csr: CSR, edge_weight: Optional[Tensor], reduce: str) -> Tensor:
    weight = weight_t = None
    if _mean_by_division(reduce):
        return _divide_by_in_degree(_spmm_cuda(kernels, x, csr, edge_weight, "sum"), csr)
    if reduce == "mean" and (edge_weight is None or (edge_weight.dim() == 1 and not edge_weight.requires_grad)):
        # Fold 1 / in-degree into per-edge weights (once per structure and weights): the
        # mean is then one weighted-sum launch, forward and backward.
        weight, weight_t = _csr_values(csr, edge_weight, "mean", x.dtype)
        reduce = "sum"
    elif edge_weight is not None:
        weight, weight_t = dispatch.csr_values(csr, edge_weight, "triton", lambda: (
            edge_weight.index_select(0, csr.perm).contiguous(), edge_weight.index_select(0, csr.perm_t).contiguous()))
    if reduce in ("sum", "mean"):
        spmm_sum = kernels.csr_spmm_sum if dispatch.is_tracing() else kernels._eager_sum
        out = spmm_sum(csr.rowptr, csr.col, weight, csr.row, csr.rowptr_t, csr.col_t, weight_t, x.contiguous())
        return _divide_by_in_degree(out, csr) if reduce == "mean" else out
    if reduce == "max":
        return kernels.csr_spmm_max(csr.rowptr, csr.col, weight, x.contiguous())[0]
    return -kernels.csr_spmm_max(csr.rowptr, csr.col, weight, (-x).contiguous())[0]


def spmm(
    x: Tensor,
    edge_index: Tensor,
    num_nodes: Union[int, torch.SymInt],
    edge_weight: Optional[Tensor] = None,
    reduce: str = "sum",
    csr: Optional[CSR] = None,
) -> Tensor:
    r"""Aggregate ``edge_weight * x[src]`` at ``dst`` for every edge ``src -> dst``.

    Args:
        x: source node features ``[N_src, F]`` (or ``[N_src, heads, F]``).
        edge_index: int64 ``[2, E]``, row 0 the sources, row 1 the destinations.
        num_nodes: number of destination nodes (output rows).
        edge_weight: optional ``[E]`` (or ``[E, heads]``) weights in ``edge_index`` order.
        reduce: ``"sum"``/``"add"``, ``"mean"``, ``"max"`` or ``"min"``.
        csr: optional :class:`gnnx.graph.CSR` of the same edges, enabling fast kernels.
    Returns:
        ``[num_nodes, F]``; nodes without incoming edges get 0.
    """
    reduce = resolve_reduce(reduce)
    if csr is None:
        csr = dispatch.cached_csr(edge_index, num_nodes, x.size(0))
    kernel = dispatch.spmm_kernel(x, csr, edge_weight, reduce)
    if kernel == "triton":
        if csr is None:
            csr = build_csr(edge_index, num_nodes, x.size(0))
        return _spmm_cuda(dispatch.cuda_kernels(), x, csr, edge_weight, reduce)
    if kernel in ("mkl", "cusparse"):
        return _spmm_vendor(x, csr, edge_weight, reduce)
    return spmm_reference(x, edge_index, num_nodes, edge_weight, reduce)


def segment(messages: Tensor, dst: Tensor, num_nodes: Union[int, torch.SymInt], reduce: str = "sum",
            csr: Optional[CSR] = None) -> Tensor:
    """Reduce per-edge ``messages [E, ...]`` at their destinations ``dst``.

    On CUDA with a CSR of the edges this is a CSR SpMM whose "columns" are edge ids (no
    atomics, deterministic); elsewhere :func:`gnnx.ops.scatter`.
    """
    reduce = resolve_reduce(reduce)
    if dispatch.segment_kernel(messages, csr) == "triton":
        return _spmm_cuda(dispatch.cuda_kernels(), messages, csr.for_messages(dst), None, reduce)
    return scatter(messages, dst, num_nodes, reduce)
