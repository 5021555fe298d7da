"""PyG's rules for joining one attribute of several graphs into a mini-batch.

Shared by :class:`gnnx.data.Batch` (homogeneous graphs) and :class:`gnnx.data.HeteroBatch`
(each node or edge store). They are ``Data.__cat_dim__`` / ``Data.__inc__`` written once:

* a sparse tensor named ``*adj*`` or ``*edge_index*`` (an adjacency) is joined block-diagonally,
  any other sparse tensor (sparse features) concatenated along dimension 0;
* a tensor named ``*index*`` (an edge store's, in a heterogeneous graph) or ``face`` is joined
  along its last dimension and shifted by the nodes before it;
* a tensor named ``*batch*`` is shifted past the previous graph's largest value;
* any other tensor is concatenated along dimension 0 (0-dim ones stacked);
* numbers (bools included) become a tensor, anything else a list.
"""
from __future__ import annotations

from typing import Any, List, NamedTuple, Optional, Sequence, Tuple

import torch
from torch import Tensor


def is_index(name: str) -> bool:
    """Whether a homogeneous graph's attribute holds node indices along its last dimension."""
    return "index" in name or name == "face"


def join(name: str, values: Sequence[Any], index_offsets: Optional[Sequence[Tensor]] = None) -> Any:
    """``values`` (one per graph) joined as one attribute of the batch.

    ``index_offsets`` (one per graph, each broadcastable against the value: a node count, or a
    ``[2, 1]`` column of source and destination counts) marks an index attribute: it is
    shifted by the offsets and joined along its last dimension.
    """
    first = values[0]
    if isinstance(first, Tensor):
        if not all(isinstance(v, Tensor) for v in values):
            raise ValueError(f"batching: '{name}' is a tensor in some graphs and not in others")
        if first.layout != torch.strided:
            return block_diagonal(name, values) if is_adjacency(name) else sparse_rows(values)
        if first.dim() == 0:
            return torch.stack(values)
        if index_offsets is not None:
            return torch.cat([v + offset.to(v.device) for v, offset in zip(values, index_offsets)], dim=-1)
        if "batch" in name:
            shift, shifted = 0, []
            for v in values:
                shifted.append(v + shift)
                shift += int(v.max()) + 1 if v.numel() else 0
            values = shifted
        for i, value in enumerate(values):
            if value.shape[1:] != first.shape[1:] or value.dtype != first.dtype:
                raise ValueError(f"batching: '{name}' of graph {i} is {value.dtype} {list(value.shape)}, of graph 0 "
                                 f"{first.dtype} {list(first.shape)}: all but the first dimension must agree")
        return torch.cat(values, 0)
    if isinstance(first, (int, float)):  # bools too, as PyG
        return torch.tensor(values)
    return list(values)


def is_adjacency(name: str) -> bool:
    """Whether a sparse attribute is an adjacency matrix (joined block-diagonally), by PyG's name rule."""
    return "adj" in name or "edge_index" in name


def sparse_rows(values: Sequence[Tensor]) -> Tensor:
    """Sparse feature matrices stacked along their rows (CSR stays CSR, others become COO)."""
    out = torch.cat([v.to_sparse_coo() if v.layout != torch.sparse_coo else v for v in values], 0).coalesce()
    return out.to_sparse_csr() if values[0].layout == torch.sparse_csr else out


def block_diagonal(name: str, values: Sequence[Tensor]) -> Tensor:
    """Sparse matrices joined along the diagonal (PyG's ``__cat_dim__ == (0, 1)``), in the
    first one's layout."""
    layout = values[0].layout
    coo = [v.to_sparse_coo().coalesce() if v.layout != torch.sparse_coo else v.coalesce() for v in values]
    if any(v.sparse_dim() != 2 for v in coo):
        raise ValueError(f"batching: '{name}' must be a 2-D sparse matrix in every graph")
    rows = torch.tensor([v.size(0) for v in coo]).cumsum(0) - torch.tensor([v.size(0) for v in coo])
    cols = torch.tensor([v.size(1) for v in coo]).cumsum(0) - torch.tensor([v.size(1) for v in coo])
    indices = torch.cat([v.indices() + torch.stack([rows[i], cols[i]]).view(2, 1).to(v.device)
                         for i, v in enumerate(coo)], 1)
    size = (int(sum(v.size(0) for v in coo)), int(sum(v.size(1) for v in coo))) + tuple(coo[0].shape[2:])
    out = torch.sparse_coo_tensor(indices, torch.cat([v.values() for v in coo]), size).coalesce()
    if layout == torch.sparse_csr:
        return out.to_sparse_csr()
    if layout == torch.sparse_csc:
        return out.to_sparse_csc()
    return out


def count_along_join(name: str, value: Any, index: bool) -> int:
    """How many rows (entries along the joined dimension) one graph adds to ``name``: what
    PyG's ``follow_batch`` counts to build ``<name>_batch``."""
    if not isinstance(value, Tensor):
        return 1
    if value.dim() == 0:
        return 1
    return value.size(-1) if index and value.layout == torch.strided else value.size(0)


def batch_and_ptr(counts: List[int], device: Optional[torch.device] = None) -> Tuple[Tensor, Tensor]:
    """``(batch, ptr)`` for graphs of ``counts`` rows: each row's graph and the row offsets."""
    sizes = torch.tensor(counts, dtype=torch.long)
    batch = torch.repeat_interleave(torch.arange(len(counts)), sizes)
    ptr = torch.cat([sizes.new_zeros(1), sizes.cumsum(0)])
    return (batch, ptr) if device is None else (batch.to(device), ptr.to(device))


# -- the inverse: one graph's part of a joined attribute (PyG's ``Batch.get_example``) -----------
class Split(NamedTuple):
    """How an attribute was joined: ``how`` (``"cat"``, ``"index"``, ``"shift"``, ``"stack"``,
    ``"sparse"``, ``"list"``), each graph's extent along the joined dimension (``sizes``; a
    sparse matrix's ``(rows, cols)``) and the shifts added to ``*batch*`` values."""

    how: str
    sizes: List[Any]
    shifts: List[int]


def split_of(name: str, values: Sequence[Any], index: bool) -> Split:
    """The :class:`Split` that :func:`join` of ``values`` (with offsets if ``index``) makes."""
    first = values[0]
    if not isinstance(first, Tensor):
        return Split("stack" if isinstance(first, (int, float)) else "list", [], [])
    if first.layout != torch.strided:
        if not is_adjacency(name):
            return Split("sparse", [(v.size(0), 0) for v in values], [])  # rows only: stacked features
        return Split("sparse", [(v.size(0), v.size(1)) for v in values], [])
    if first.dim() == 0:
        return Split("stack", [], [])
    if index:
        return Split("index", [v.size(-1) for v in values], [])
    if "batch" in name:
        shifts, shift = [], 0
        for v in values:
            shifts.append(shift)
            shift += int(v.max()) + 1 if v.numel() else 0
        return Split("shift", [v.size(0) for v in values], shifts)
    return Split("cat", [v.size(0) for v in values], [])


def take(value: Any, split: Split, i: int, index_offset: Any = 0) -> Any:
    """Graph ``i``'s part of a joined ``value`` (index values shifted back by ``index_offset``)."""
    if split.how in ("stack", "list"):
        return value[i]
    if split.how == "sparse":
        rows = sum(s[0] for s in split.sizes[:i])
        cols = sum(s[1] for s in split.sizes[:i])
        coo = value.to_sparse_coo().coalesce() if value.layout != torch.sparse_coo else value.coalesce()
        r, c = coo.indices()
        keep = (r >= rows) & (r < rows + split.sizes[i][0])
        indices = torch.stack([r[keep] - rows, c[keep] - cols])
        size = (split.sizes[i][0], split.sizes[i][1] or coo.size(1))  # stacked features keep their width
        return torch.sparse_coo_tensor(indices, coo.values()[keep], size).coalesce()
    start = sum(split.sizes[:i])
    if split.how == "index":
        return value[..., start:start + split.sizes[i]] - index_offset
    part = value[start:start + split.sizes[i]]
    return part - split.shifts[i] if split.how == "shift" else part


torch.serialization.add_safe_globals([Split])  # saved batches keep how to split them (torch.load(weights_only=True))
