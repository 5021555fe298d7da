r"""Sparse-dense matrix multiplication: aggregate (weighted) neighbour rows.

.. math::
    \mathrm{out}_i = \bigoplus_{(j \to i) \in E} w_{ji} \, x_j

with :math:`\bigoplus` one of sum, mean, max, min. This is "copy ``x_j``, optionally
scale by an edge weight, reduce at ``i``" in one op, which is what GCN, GraphConv,
SAGE and GIN aggregate. Fast kernels never build the ``[E, F]`` message tensor.

Dispatch (one point, :func:`spmm`):

* reference (always correct, traceable, exportable to C++): gather + scatter in ATen;
* CPU, eager, sum/mean, a prepared :class:`~gnnx.graph.CSR` at hand: MKL sparse CSR
  matmul with the precomputed transpose for the backward pass;
* CUDA kernels plug in here too (see ``_fast_path``).
"""
from __future__ import annotations

from typing import Optional, Union

import torch
from torch import Tensor

from gnnx.ops._mode import is_tracing
from gnnx.ops.scatter import gather, resolve_reduce, scatter


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


class _CSRMatmul(torch.autograd.Function):
    """``A @ x`` with MKL sparse CSR in both directions (``A^T`` prepared once)."""

    @staticmethod
    def forward(ctx, x: Tensor, adj: Tensor, adj_t: Tensor) -> Tensor:  # type: ignore[override]
        ctx.adj_t = adj_t
        return adj @ x

    @staticmethod
    def backward(ctx, grad_out: Tensor):  # type: ignore[override]
        return ctx.adj_t @ grad_out, None, None


def _fast_path(x, csr, num_nodes, edge_weight, reduce) -> Optional[Tensor]:
    """A faster kernel for this call, or ``None`` to use the reference."""
    if csr is None or is_tracing() or x.dim() != 2 or reduce not in ("sum", "mean"):
        return None
    if x.device.type != "cpu" or x.dtype not in (torch.float32, torch.float64):
        return None
    if edge_weight is not None and (edge_weight.requires_grad or edge_weight.dim() != 1):
        return None
    adj, adj_t = csr.matrices(num_nodes, x.size(0), edge_weight, x.dtype, reduce == "mean")
    return _CSRMatmul.apply(x, adj, adj_t)


def spmm(
    x: Tensor,
    edge_index: Tensor,
    num_nodes: Union[int, torch.SymInt],
    edge_weight: Optional[Tensor] = None,
    reduce: str = "sum",
    csr=None,
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
    out = _fast_path(x, csr, num_nodes, edge_weight, reduce)
    if out is not None:
        return out
    return spmm_reference(x, edge_index, num_nodes, edge_weight, reduce)
