"""The graph container: an edge list plus the sparse structure kernels need, built once.

A :class:`Graph` is made outside the model (in data loading), validated there, and then
handed to layers in place of a bare ``edge_index``. Layers accept either:

* ``edge_index`` (``Tensor [2, E]``): what exported/served models take, as in PyG. The
  reference kernels need no sorting, so nothing is prepared inside the forward.
* a :class:`Graph`: the same edges with their destination-sorted CSR (and the transposed
  CSR for backward) precomputed, which fast kernels use.

Convention (PyG's ``flow="source_to_target"``): ``edge_index[0]`` are sources ``j``,
``edge_index[1]`` destinations ``i``; messages flow ``j -> i`` and are reduced at ``i``.
"""
from __future__ import annotations

import contextlib
from typing import Any, Dict, Iterator, NamedTuple, Optional, Tuple

import numpy as np
import torch
from torch import Tensor

NODE_ATTRS = ("x", "y", "pos", "batch")
EDGE_ATTRS = ("edge_weight", "edge_attr")


class CSR(NamedTuple):
    """Destination-sorted compressed rows of a graph and of its transpose.

    ``rowptr[i]:rowptr[i+1]`` indexes the incoming edges of node ``i`` in sorted order;
    ``col`` holds their sources, ``row`` their destinations and ``perm`` their positions
    in the input ``edge_index``. The ``*_t`` fields are the same for the transposed graph
    (edges sorted by source; ``col_t`` holds destinations), used by backward passes.
    """

    rowptr: Tensor
    col: Tensor
    perm: Tensor
    row: Tensor
    rowptr_t: Tensor
    col_t: Tensor
    perm_t: Tensor

    def for_messages(self, dst: Tensor) -> "CSR":
        """The CSR that reduces per-edge rows (messages, in input edge order) at their
        destinations: row ``i`` gathers message ``perm[k]`` for its edges ``k``."""
        num_edges = self.col.numel()
        edges = torch.arange(num_edges, device=dst.device)
        return CSR(self.rowptr, self.perm, edges, self.row,
                   torch.arange(num_edges + 1, device=dst.device), dst, edges)


def _compressed(keys: Tensor, others: Tensor, num_rows):
    """Stable sort of edges by ``keys``: ``(rowptr, others in that order, permutation,
    keys in that order)``. Sync-free, so it also runs inside a traced forward."""
    perm = torch.argsort(keys, stable=True)
    sorted_keys = keys.index_select(0, perm)
    rowptr = torch.searchsorted(sorted_keys, torch.arange(num_rows + 1, device=keys.device))
    return rowptr, others.index_select(0, perm), perm, sorted_keys


def build_csr(edge_index: Tensor, num_nodes, num_src_nodes=None) -> CSR:
    """Destination-sorted CSR of ``edge_index`` and the source-sorted transpose."""
    src, dst = edge_index[0], edge_index[1]
    rowptr, col, perm, row = _compressed(dst, src, num_nodes)
    rowptr_t, col_t, perm_t, _ = _compressed(src, dst, num_nodes if num_src_nodes is None else num_src_nodes)
    return CSR(rowptr, col, perm, row, rowptr_t, col_t, perm_t)


def source_csr(edge_index: Tensor, num_src: int, num_dst: int) -> Tuple[Tensor, Tensor, Tensor]:
    """``(rowptr [num_src + 1], col, order)``: the edges by source, each row's neighbours in
    increasing order (duplicates in input order), for host-side walks and matchings that
    visit a node's neighbours in PyG's order; ``col = edge_index[1][order]``."""
    src, dst = edge_index[0], edge_index[1]
    order = torch.argsort(src * max(num_dst, 1) + dst, stable=True)
    counts = torch.bincount(src, minlength=num_src)
    return torch.cat([counts.new_zeros(1), counts.cumsum(0)]), dst.index_select(0, order), order


def csr_with_self_loops(csr: CSR, edge_index: Tensor, num_nodes) -> CSR:
    """``build_csr(cat([edge_index, loops]))`` (one loop ``i -> i`` per node appended, as
    :func:`gnnx.structure.with_fresh_self_loops` does) from ``csr`` without sorting.

    A stable sort puts each row's loop after its old edges, so an old entry at sorted
    position ``k`` of row ``r`` moves to ``k + r`` and row ``r``'s loop lands at
    ``rowptr[r + 1] + r``: O(E) scatters, sync-free (also inside traced code).
    Needs as many source as destination nodes (``num_nodes`` of each).
    """
    num_edges = csr.col.numel()
    device = csr.col.device
    loops = torch.arange(num_nodes, device=device)
    row_t = edge_index[0].index_select(0, csr.perm_t)  # sources in transposed order

    def grow(rowptr: Tensor, rows: Tensor, others: Tensor, perm: Tensor):
        old = torch.arange(num_edges, device=device) + rows
        new = rowptr[1:] + loops
        total = num_edges + loops.numel()

        def place(values: Tensor, loop_values: Tensor) -> Tensor:
            out = values.new_empty(total)
            return out.index_copy(0, old, values).index_copy(0, new, loop_values)

        return (rowptr + torch.arange(rowptr.numel(), device=device), place(others, loops),
                place(perm, loops + num_edges), place(rows, loops))

    rowptr, col, perm, row = grow(csr.rowptr, csr.row, csr.col, csr.perm)
    rowptr_t, col_t, perm_t, _ = grow(csr.rowptr_t, row_t, csr.col_t, csr.perm_t)
    return CSR(rowptr, col, perm, row, rowptr_t, col_t, perm_t)


# -- what caches of derived structure may keep (the structure cache, Graph.memo, CSR values) ------
def attribute_kind(name: str, value: Any, num_nodes: int, num_edges: int) -> Optional[str]:
    """``"node"`` or ``"edge"`` for a tensor with a row per node or per edge, ``None`` otherwise,
    read as PyG reads a ``Data`` attribute: by its name where the name says (``x``, ``pos``,
    ``batch``, ``y``; ``edge_attr``, ``edge_weight`` or anything with ``edge`` in it), by its
    first dimension otherwise, a node row winning when the two counts agree."""
    if not isinstance(value, Tensor) or value.dim() == 0:
        return None
    rows = value.size(0)
    if name in EDGE_ATTRS or "edge" in name:
        return "edge" if rows == num_edges else None
    if rows == num_nodes:
        return "node"
    return "edge" if rows == num_edges else None


def has_rows(value: Any, count: int) -> bool:
    """Whether ``value`` is a tensor or numpy array (a memory-mapped feature file, as PyG's
    loaders take) with ``count`` rows."""
    return isinstance(value, (Tensor, np.ndarray)) and value.ndim > 0 and value.shape[0] == count


def take_rows(value: Any, index: Tensor) -> Tensor:
    """Rows ``index`` of a tensor, or of a numpy array (only those rows read, as a tensor on
    ``index``'s device)."""
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(value[index.cpu().numpy()])).to(index.device)
    return value.index_select(0, index.to(value.device))


def version_of(tensor: Tensor) -> Optional[int]:
    """``tensor._version``, or ``None`` for an inference tensor (made under
    ``torch.inference_mode``): it has no version counter, so an in-place edit could not be
    seen, and nothing derived from it is cached."""
    return None if tensor.is_inference() else tensor._version


@contextlib.contextmanager
def storable() -> Iterator[None]:
    """Tensors made inside are ordinary ones even under ``torch.inference_mode``: a cached
    inference tensor would break the next training call with the same structure
    ("Inference tensors cannot be saved for backward")."""
    if not torch.is_inference_mode_enabled():
        yield
        return
    with torch.inference_mode(False), torch.no_grad():
        yield


class IndexRangeError(IndexError, ValueError, RuntimeError):
    """A node or edge index outside its range: an ``IndexError``, as PyG raises for one, a
    ``ValueError``, as gnnx's other input errors, and a ``RuntimeError``, as torch's scatter and
    gather raise ("index out of bounds") where PyG leaves the check to them, so handlers written
    for any of them catch it."""


def check_edge_index(edge_index: Any, num_nodes: Optional[int] = None, name: str = "edge_index") -> None:
    """Raise ``TypeError``/``ValueError`` (:class:`IndexRangeError` for a value out of range)
    naming the problem if ``edge_index`` is not valid.

    Checks type, dtype (int64), shape ``[2, E]`` and, when the values can be read,
    that every index lies in ``[0, num_nodes)``.
    """
    if not isinstance(edge_index, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(edge_index).__name__}")
    if edge_index.dtype != torch.long:
        raise TypeError(f"{name} must have dtype torch.int64, got {edge_index.dtype}")
    if edge_index.dim() != 2 or edge_index.size(0) != 2:
        raise ValueError(f"{name} must have shape [2, num_edges], got {list(edge_index.shape)}")
    if num_nodes is None or edge_index.numel() == 0:
        return
    low = edge_index.min()
    if low < 0:
        edge = int((edge_index < 0).any(0).nonzero()[0])
        raise IndexRangeError(f"{name} contains negative node index {int(low)} (edge {edge}); valid indices lie in "
                              f"the interval [0, {num_nodes})")
    high = edge_index.max()
    if high >= num_nodes:
        edge = int((edge_index >= num_nodes).any(0).nonzero()[0])
        raise IndexRangeError(
            f"{name} contains node index {int(high)} (edge {edge}) but num_nodes is {num_nodes}; "
            f"valid indices lie in the interval [0, {num_nodes})"
        )


def _integer_codes(value: Tensor) -> bool:
    """Whether ``value`` holds integer category codes (a molecule's bond types, embedded by
    the model), as PyG's molecular datasets keep ``edge_attr``."""
    return not value.is_floating_point() and not value.is_complex() and value.dtype != torch.bool


def _check_finite(name: str, value: Tensor) -> None:
    if value.layout != torch.strided:  # a sparse matrix: its stored values
        if value.is_floating_point() and not bool(torch.isfinite(value.to_sparse_coo().coalesce().values()).all()):
            raise ValueError(f"{name} contains NaN or infinite values")
        return
    if value.is_floating_point() and not bool(torch.isfinite(value).all()):
        bad = (~torch.isfinite(value)).reshape(value.size(0), -1).any(1).nonzero()[0].item()
        raise ValueError(f"{name} contains NaN or infinite values (first at row {bad})")


class Graph:
    """A graph: edges, node count, optional features, and its CSR built once.

    Args:
        edge_index: int64 ``[2, E]``, sources in row 0, destinations in row 1.
        num_nodes: node count; inferred from ``x`` or ``edge_index.max() + 1`` if omitted.
        x, y, pos, batch: optional node-level tensors (first dimension ``num_nodes``); ``y``
            may also be a 0-dim graph-level label.
        edge_weight, edge_attr: optional edge-level tensors (first dimension ``E``).
        validate: check everything above (types, shapes, index range, finiteness).
        **attrs: any other tensors or values (e.g. ``train_mask``), kept as attributes.

    Attributes:
        csr: :class:`CSR`, destination-sorted structure and its transpose.
        in_degree, out_degree: ``[num_nodes]`` int64.
    """

    def __init__(
        self,
        edge_index: Tensor,
        num_nodes: Optional[int] = None,
        *,
        x: Optional[Tensor] = None,
        y: Optional[Tensor] = None,
        pos: Optional[Tensor] = None,
        batch: Optional[Tensor] = None,
        edge_weight: Optional[Tensor] = None,
        edge_attr: Optional[Tensor] = None,
        validate: bool = True,
        csr: Optional[CSR] = None,
        **attrs: Any,
    ) -> None:
        if num_nodes is None:
            num_nodes = _infer_num_nodes(edge_index, x if x is not None else pos)
        if not isinstance(num_nodes, torch.SymInt):  # keep a traced size symbolic
            if isinstance(num_nodes, bool) or (isinstance(num_nodes, float) and not num_nodes.is_integer()):
                raise TypeError(f"num_nodes must be an int, got {num_nodes!r}")
            num_nodes = int(num_nodes)
        self.edge_index = edge_index
        self.num_nodes = num_nodes
        self.x, self.y, self.pos, self.batch = x, y, pos, batch
        self.edge_weight, self.edge_attr = edge_weight, edge_attr
        self.attrs: Dict[str, Any] = dict(attrs)
        if validate:
            self.validate()
        self.csr = build_csr(edge_index, num_nodes) if csr is None else csr
        self._memo: Dict[Any, Any] = {}

    def memo(self, key: Any, compute):
        """A result derived from this graph's structure alone (e.g. GCN weights, the CSR
        grown by self loops), computed once per graph and reused by every layer and call.

        Eager calls store it; traced code reads a stored result (a graph input) and
        otherwise computes it in-graph without storing (a traced forward must not
        mutate its inputs). ``compute`` must depend only on the structure.
        """
        cached = self._memo.get(key)
        if cached is not None:
            return cached
        if torch.compiler.is_compiling() or torch.compiler.is_exporting():
            return compute()
        with storable():
            value = compute()
        self._memo[key] = value
        return value

    def validate(self) -> None:
        """Raise ``TypeError``/``ValueError`` naming the first invalid field."""
        if self.num_nodes <= 0:
            raise ValueError(f"a graph needs at least one node, got num_nodes={self.num_nodes}")
        check_edge_index(self.edge_index, self.num_nodes)
        for name in NODE_ATTRS:
            value = getattr(self, name)
            if value is None:
                continue
            if not isinstance(value, Tensor):
                raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
            if name == "y" and value.dim() == 0:
                continue  # a graph-level label
            if value.dim() == 0 or value.size(0) != self.num_nodes:
                raise ValueError(
                    f"{name} must have num_nodes={self.num_nodes} rows, got shape {list(value.shape)}"
                )
            _check_finite(name, value)
        if self.batch is not None and self.batch.dtype != torch.long:
            raise TypeError(f"batch must have dtype torch.int64, got {self.batch.dtype}")
        for name in EDGE_ATTRS:
            value = getattr(self, name)
            if value is None:
                continue
            if not isinstance(value, Tensor):
                raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
            if name == "edge_weight" and not value.is_floating_point():
                raise TypeError(f"edge_weight must be a floating-point tensor, got {value.dtype}")
            if name == "edge_attr" and not (value.is_floating_point() or _integer_codes(value)):
                raise TypeError(f"edge_attr must be a floating-point tensor or integer category codes, got {value.dtype}")
            if value.dim() == 0 or value.size(0) != self.num_edges:
                raise ValueError(
                    f"{name} must have num_edges={self.num_edges} rows, got shape {list(value.shape)}"
                )
            _check_finite(name, value)

    @property
    def num_edges(self) -> int:
        return self.edge_index.size(1)

    @property
    def in_degree(self) -> Tensor:
        return self.csr.rowptr[1:] - self.csr.rowptr[:-1]

    @property
    def out_degree(self) -> Tensor:
        return self.csr.rowptr_t[1:] - self.csr.rowptr_t[:-1]

    @property
    def num_features(self) -> int:
        return 0 if self.x is None else (self.x.size(-1) if self.x.dim() > 1 else 1)

    @property
    def num_node_features(self) -> int:
        """PyG's name for :attr:`num_features`."""
        return self.num_features

    @property
    def num_edge_features(self) -> int:
        """The width of ``edge_attr`` (0 without one, 1 for a 1-D one), as PyG's."""
        value = self.edge_attr
        return 0 if value is None else (value.size(-1) if value.dim() > 1 else 1)

    def __delattr__(self, name: str) -> None:
        """``del graph.train_mask`` removes an extra attribute, as on PyG's ``Data``."""
        if name in self.__dict__.get("attrs", {}):
            del self.attrs[name]
        else:
            object.__delattr__(self, name)

    def keys(self) -> list:
        """The attributes set on this graph (PyG's ``Data.keys()``): ``edge_index``, the
        standard fields that are not ``None`` and every extra attribute."""
        standard = [name for name in NODE_ATTRS + EDGE_ATTRS if getattr(self, name) is not None]
        return ["edge_index"] + standard + list(self.attrs)

    def __len__(self) -> int:
        return len(self.keys())

    def __contains__(self, name: str) -> bool:
        return name in self.keys()

    def __getitem__(self, name: str) -> Any:
        """``graph["x"]``, as PyG's ``data["x"]``."""
        if name not in self.keys():
            raise KeyError(name)
        return getattr(self, name)

    def __getattr__(self, name: str) -> Any:
        attrs = self.__dict__.get("attrs", {})
        if name in attrs:
            return attrs[name]
        raise AttributeError(f"Graph has no attribute {name!r}")

    def replace(self, *, validate: bool = False, **changes: Any) -> "Graph":
        """A new graph with some fields changed (the CSR is rebuilt if edges change). ``None``
        clears a standard field (``x``, ``edge_attr``, ...) and removes an extra attribute, as
        setting one to ``None`` does in PyG."""
        fields = dict(
            edge_index=self.edge_index,
            num_nodes=self.num_nodes,
            x=self.x,
            y=self.y,
            pos=self.pos,
            batch=self.batch,
            edge_weight=self.edge_weight,
            edge_attr=self.edge_attr,
            **self.attrs,
        )
        fields.update(changes)
        for name in [k for k, v in changes.items() if v is None and k in self.attrs]:
            del fields[name]
        return Graph(validate=validate, **fields)

    @classmethod
    def from_pyg(cls, data: Any, validate: bool = True) -> "Graph":
        """A graph from a ``torch_geometric.data.Data`` (tensors shared, not copied): its
        ``edge_index``, ``num_nodes`` and every other attribute (``x``, ``y``, masks, ...).
        A PyG ``Batch`` converts the same way (``batch`` and ``ptr`` come along). A ``Data``
        without ``edge_index`` (points before a kNN graph, or a sparse ``adj_t`` kept as an
        attribute) gets an empty one."""
        fields = dict(data.to_dict()) if hasattr(data, "to_dict") else dict(data)
        edge_index = fields.pop("edge_index", None)
        if edge_index is None:  # no edges yet (a point cloud), or only a sparse adjacency (``adj_t``)
            device = next((v.device for v in fields.values() if isinstance(v, Tensor)), None)
            edge_index = torch.zeros(2, 0, dtype=torch.long, device=device)
        elif not isinstance(edge_index, Tensor):
            raise ValueError(f"Graph.from_pyg needs 'edge_index' as a tensor, got {type(edge_index).__name__} "
                             "(convert a SparseTensor back with .coo() first)")
        fields.pop("num_nodes", None)
        num_nodes = data.num_nodes if hasattr(data, "num_nodes") else None
        if num_nodes is None:
            raise ValueError("Graph.from_pyg: the number of nodes cannot be inferred from this Data; set data.num_nodes")
        return cls(edge_index, int(num_nodes), validate=validate, **fields)

    def to_heterogeneous(self, node_type: Optional[Tensor] = None, edge_type: Optional[Tensor] = None,
                         node_type_names: Optional[list] = None, edge_type_names: Optional[list] = None) -> Any:
        """This graph split by node and edge type into a :class:`~gnnx.HeteroGraph` (PyG's
        ``Data.to_heterogeneous``; :func:`gnnx.hetero_subgraph.heterogeneous`)."""
        from gnnx.hetero_subgraph import heterogeneous  # it builds on this module

        return heterogeneous(self, node_type, edge_type, node_type_names, edge_type_names)

    def to_pyg(self) -> Any:
        """This graph as a ``torch_geometric.data.Data`` (tensors shared, not copied)."""
        from torch_geometric.data import Data

        fields = {name: getattr(self, name) for name in NODE_ATTRS + EDGE_ATTRS if getattr(self, name) is not None}
        return Data(edge_index=self.edge_index, num_nodes=self.num_nodes, **fields, **self.attrs)

    def to(self, device: Any, non_blocking: bool = False) -> "Graph":
        """A copy with every tensor moved to ``device`` (``non_blocking`` as ``Tensor.to``)."""
        out = object.__new__(Graph)
        for key, value in self.__dict__.items():
            if key == "_memo":
                value = {}
            elif isinstance(value, Tensor):
                value = value.to(device, non_blocking=non_blocking)
            elif isinstance(value, CSR):
                value = CSR(*(t.to(device, non_blocking=non_blocking) for t in value))
            elif key == "attrs":
                value = {k: v.to(device, non_blocking=non_blocking) if isinstance(v, Tensor) else v
                         for k, v in value.items()}
            out.__dict__[key] = value
        return out

    def __repr__(self) -> str:
        parts = [f"num_nodes={self.num_nodes}", f"num_edges={self.num_edges}"]
        for name in NODE_ATTRS + EDGE_ATTRS:
            value = getattr(self, name)
            if value is not None:
                parts.append(f"{name}={list(value.shape)}")
        parts += [f"{k}={list(v.shape) if isinstance(v, Tensor) else v}" for k, v in self.attrs.items()]
        return f"Graph({', '.join(parts)})"


def _infer_num_nodes(edge_index: Tensor, x: Optional[Tensor]) -> int:
    if x is not None:
        return x.size(0)
    check_edge_index(edge_index)
    if edge_index.numel() == 0:
        raise ValueError("num_nodes cannot be inferred from an empty edge_index; pass num_nodes")
    return int(edge_index.max()) + 1


# torch.load's default (weights_only=True) unpickles only allowlisted classes: a saved Graph
# loads without arbitrary unpickling, as PyG registers its Data.
torch.serialization.add_safe_globals([Graph, CSR])
