"""``edge_index`` to and from torch's sparse layouts (PyG's ``to_torch_coo_tensor``,
``to_torch_csr_tensor``, ``to_torch_csc_tensor``, ``to_torch_sparse_tensor``,
``to_edge_index``, ``is_torch_sparse_tensor``, ``is_sparse``, ``spmm``) and scipy's
(``to_scipy_sparse_matrix``, ``from_scipy_sparse_matrix``). Every gnnx layer also takes a
``torch.sparse_csr`` adjacency (``adj_t``) directly."""
from __future__ import annotations

from typing import Any, Optional, Tuple, Union

import torch
from torch import Tensor

from gnnx.utils.edges import coalesce
from gnnx.utils.num_nodes import maybe_num_nodes
from gnnx.utils.tensors import ptr_to_index

Size = Optional[Union[int, Tuple[Optional[int], Optional[int]]]]


def is_torch_sparse_tensor(src: Any) -> bool:
    """Whether ``src`` is a torch COO, CSR or CSC tensor."""
    return isinstance(src, Tensor) and src.layout in (torch.sparse_coo, torch.sparse_csr, torch.sparse_csc)


def is_sparse(src: Any) -> bool:
    """Whether ``src`` is a sparse adjacency (torch's sparse layouts; torch_sparse's
    ``SparseTensor`` where that package is installed)."""
    return is_torch_sparse_tensor(src) or type(src).__name__ == "SparseTensor"


def _size(edge_index: Tensor, size: Size) -> Tuple[int, int]:
    if size is None:
        count = int(edge_index.max()) + 1
        return count, count
    if isinstance(size, (tuple, list)):
        rows = int(edge_index[0].max()) + 1 if size[0] is None else size[0]
        cols = int(edge_index[1].max()) + 1 if size[1] is None else size[1]
        return rows, cols
    return size, size


def _prepared(edge_index: Tensor, edge_attr: Optional[Tensor], size: Tuple[int, int], is_coalesced: bool,
              by_row: bool = True) -> Tuple[Tensor, Tensor]:
    if not is_coalesced:
        edge_index, edge_attr = coalesce(edge_index, edge_attr, max(size), sort_by_row=by_row)
    if edge_attr is None:
        edge_attr = torch.ones(edge_index.size(1), device=edge_index.device)
    return edge_index, edge_attr


def to_torch_coo_tensor(edge_index: Tensor, edge_attr: Optional[Tensor] = None, size: Size = None,
                        is_coalesced: bool = False) -> Tensor:
    """The ``[rows, cols(, ...)]`` COO adjacency with ``edge_attr`` values (ones without),
    duplicates summed."""
    size = _size(edge_index, size)
    edge_index, edge_attr = _prepared(edge_index, edge_attr, size, is_coalesced)
    return torch.sparse_coo_tensor(edge_index, edge_attr, size=tuple(size) + edge_attr.size()[1:],
                                   device=edge_index.device, is_coalesced=True)


def to_torch_csr_tensor(edge_index: Tensor, edge_attr: Optional[Tensor] = None, size: Size = None,
                        is_coalesced: bool = False) -> Tensor:
    """The adjacency as a CSR tensor (rows: ``edge_index[0]``)."""
    size = _size(edge_index, size)
    edge_index, edge_attr = _prepared(edge_index, edge_attr, size, is_coalesced)
    crow = torch._convert_indices_from_coo_to_csr(edge_index[0], size[0], out_int32=edge_index.dtype != torch.int64)
    return torch.sparse_csr_tensor(crow, edge_index[1], edge_attr, size=tuple(size) + edge_attr.size()[1:],
                                   device=edge_index.device)


def to_torch_csc_tensor(edge_index: Tensor, edge_attr: Optional[Tensor] = None, size: Size = None,
                        is_coalesced: bool = False) -> Tensor:
    """The adjacency as a CSC tensor (columns: ``edge_index[1]``)."""
    size = _size(edge_index, size)
    edge_index, edge_attr = _prepared(edge_index, edge_attr, size, is_coalesced, by_row=False)
    ccol = torch._convert_indices_from_coo_to_csr(edge_index[1], size[1], out_int32=edge_index.dtype != torch.int64)
    return torch.sparse_csc_tensor(ccol, edge_index[0], edge_attr, size=tuple(size) + edge_attr.size()[1:],
                                   device=edge_index.device)


def to_torch_sparse_tensor(edge_index: Tensor, edge_attr: Optional[Tensor] = None, size: Size = None,
                           is_coalesced: bool = False, layout: torch.layout = torch.sparse_coo) -> Tensor:
    """The adjacency in ``layout`` (COO, CSR or CSC)."""
    if layout == torch.sparse_coo:
        return to_torch_coo_tensor(edge_index, edge_attr, size, is_coalesced)
    if layout == torch.sparse_csr:
        return to_torch_csr_tensor(edge_index, edge_attr, size, is_coalesced)
    if layout == torch.sparse_csc:
        return to_torch_csc_tensor(edge_index, edge_attr, size, is_coalesced)
    raise ValueError(f"Unexpected sparse tensor layout (got '{layout}')")


def to_edge_index(adj: Tensor) -> Tuple[Tensor, Tensor]:
    """``(edge_index, values)`` of a sparse adjacency (COO, CSR, CSC, or a ``SparseTensor``)."""
    if type(adj).__name__ == "SparseTensor":
        row, col, value = adj.coo()
        value = torch.ones(row.size(0), device=row.device) if value is None else value
        return torch.stack([row, col], dim=0).long(), value
    if adj.layout == torch.sparse_coo:
        if not adj.is_coalesced():  # PyG reads the entries as they are; one needing grad is merged
            adj = adj.coalesce() if adj.requires_grad else adj._coalesced_(True)  # (no in-place op on it)
        return adj.indices().detach().long(), adj.values()
    if adj.layout == torch.sparse_csr:
        row = ptr_to_index(adj.crow_indices().detach())
        return torch.stack([row, adj.col_indices().detach()], dim=0).long(), adj.values()
    if adj.layout == torch.sparse_csc:
        col = ptr_to_index(adj.ccol_indices().detach())
        return torch.stack([adj.row_indices().detach(), col], dim=0).long(), adj.values()
    raise ValueError(f"Unexpected sparse tensor layout (got '{adj.layout}')")


def spmm(src: Any, other: Tensor, reduce: str = "sum") -> Tensor:
    """``src @ other`` for a sparse ``src`` (torch's COO, CSR or CSC; a ``SparseTensor``; PyG's
    ``EdgeIndex``, whose entries are ones), each row's entries reduced by ``reduce``: ``"sum"``,
    ``"mean"`` (the sum over the row's entry count), ``"max"`` or ``"min"`` (of
    ``value * other[col]``; 0 for a row without entries). Every reduction runs on every device
    (PyG's ``max``/``min`` run on the CPU only)."""
    from gnnx import ops
    from gnnx.nn.sparse_input import is_edge_index_subclass

    reduce = "sum" if reduce == "add" else reduce
    if reduce not in ("sum", "mean", "max", "min"):
        raise ValueError(f"spmm reduce must be 'sum', 'mean', 'max' or 'min' (got {reduce!r})")
    if is_edge_index_subclass(src):
        edge_index, values = src.as_tensor(), None
        rows = src.sparse_size(0)
        rows = int(edge_index[0].max()) + 1 if rows is None else rows
    elif is_sparse(src):
        if type(src).__name__ == "SparseTensor":
            src = src.to_torch_sparse_csr_tensor()
        if reduce in ("sum", "mean"):  # torch's product (MKL on the CPU), then the mean's entry count
            out = torch.sparse.mm(src, other)
            if reduce == "mean":
                count = torch.bincount(to_edge_index(src)[0][0], minlength=src.size(0)).clamp(min=1)
                out = out / count.view(-1, *([1] * (out.dim() - 1))).to(out.dtype)
            return out
        (edge_index, values), rows = to_edge_index(src), src.size(0)
    else:
        raise ValueError(f"spmm needs a sparse 'src' (got layout {getattr(src, 'layout', type(src))})")
    messages = other.index_select(0, edge_index[1])
    if values is not None:
        messages = messages * values.view(-1, *([1] * (messages.dim() - 1))).to(messages.dtype)
    return ops.scatter(messages, edge_index[0], rows, reduce)


def to_scipy_sparse_matrix(edge_index: Tensor, edge_attr: Optional[Tensor] = None,
                           num_nodes: Optional[int] = None) -> Any:
    """The adjacency as ``scipy.sparse.coo_matrix`` (needs scipy)."""
    import scipy.sparse as sp

    row, col = edge_index.cpu()
    values = torch.ones(row.size(0)) if edge_attr is None else edge_attr.view(-1).cpu()
    if values.size(0) != row.size(0):
        raise ValueError(f"to_scipy_sparse_matrix: edge_attr has {values.size(0)} values for {row.size(0)} edges")
    count = maybe_num_nodes(edge_index, num_nodes)
    return sp.coo_matrix((values.numpy(), (row.numpy(), col.numpy())), (count, count))


def from_scipy_sparse_matrix(A: Any) -> Tuple[Tensor, Tensor]:
    """``(edge_index, edge_weight)`` of a scipy sparse matrix."""
    A = A.tocoo()
    edge_index = torch.stack([torch.from_numpy(A.row).long(), torch.from_numpy(A.col).long()], dim=0)
    return edge_index, torch.from_numpy(A.data)
