"""Mini-batches of many small graphs: a disjoint union, optionally padded to size buckets.

:meth:`Batch.from_graphs` concatenates node and edge tensors, offsets each graph's edge
indices by the nodes before it, and records ``batch`` (graph id of every node), ``ptr``
(node offsets, ``[num_graphs + 1]``) and ``num_graphs`` as a Python int, so a readout can
be given ``size=batch.num_graphs`` without a host sync.

**Padding to buckets** (:func:`pad_to_buckets`) makes a compiled model see a handful of
shapes instead of one per batch: node and edge counts are rounded up to the next bucket,
and the padding lives in one extra *padding graph* (as jraph's ``pad_with_graphs``): padded
nodes have zero features and belong to graph ``num_graphs``; padded edges are self loops
on the first padded node. Nothing flows between real and padded nodes, so every
aggregation over real nodes is unchanged; readouts sized ``num_graphs + 1`` put the
padding in the last row, which ``graph_mask`` drops. ``node_mask`` marks real nodes (use it
for losses). Layers that mix statistics across nodes (``BatchNorm``) do see the padded
nodes; mask them or use a per-graph norm.
"""
from __future__ import annotations

import bisect
from collections.abc import Mapping
from typing import Any, Dict, Optional, Sequence

import numpy as np
import torch
from torch import Tensor

from gnnx.data import collate_rules as rules
from gnnx.data.hetero_batch import HeteroBatch
from gnnx.graph import EDGE_ATTRS, Graph, attribute_kind
from gnnx.hetero_graph import HeteroGraph

NODE_FIELDS = ("x", "y", "pos")


class Batch(Graph):
    """A :class:`~gnnx.Graph` made of several graphs, with ``batch``, ``ptr``, ``num_graphs``.

    Graph-level labels (a 0-dim ``y`` per graph, e.g. a class) are stacked to ``[num_graphs]``;
    node-level tensors are concatenated.
    """

    num_graphs: int
    ptr: Tensor

    @classmethod
    def from_graphs(cls, graphs: Sequence[Graph], follow_batch: Optional[Sequence[str]] = None,
                    exclude_keys: Optional[Sequence[str]] = None) -> "Batch":
        """The disjoint union of ``graphs``, every attribute joined by PyG's rules
        (:mod:`gnnx.data.collate_rules`). ``follow_batch`` names attributes that get a
        ``<name>_batch`` vector (the graph of each row) and ``<name>_ptr``, ``exclude_keys``
        attributes left out, as PyG's ``Batch.from_data_list``."""
        if len(graphs) == 0:
            raise ValueError("Batch.from_graphs needs at least one graph")
        if not isinstance(graphs[0], Graph):  # PyG objects and heterogeneous graphs: by their kind, as PyG's Batch
            return collate(graphs, follow_batch, exclude_keys)
        follow, exclude = set(follow_batch or ()), set(exclude_keys or ())
        sizes = [g.num_nodes for g in graphs]
        ptr = torch.zeros(len(graphs) + 1, dtype=torch.long)
        ptr[1:] = torch.cumsum(torch.tensor(sizes), 0)
        offsets = [ptr[i] for i in range(len(graphs))]
        splits: Dict[str, rules.Split] = {}  # how each attribute was joined, to take graphs apart again
        if "edge_index" in exclude:
            edge_index = graphs[0].edge_index.new_zeros(2, 0)
        else:
            edge_index = rules.join("edge_index", [g.edge_index for g in graphs], offsets)
            splits["edge_index"] = rules.split_of("edge_index", [g.edge_index for g in graphs], index=True)
        fields: Dict[str, Any] = {}
        for name in NODE_FIELDS + EDGE_ATTRS:
            values = [getattr(g, name) for g in graphs]
            if name in exclude or all(v is None for v in values):
                continue
            if any(v is None for v in values):
                raise ValueError(f"Batch.from_graphs: some graphs have '{name}' and some do not")
            fields[name] = rules.join(name, values)
            splits[name] = rules.split_of(name, values, index=False)
        for name in graphs[0].attrs:
            if name in exclude:
                continue
            if any(name not in g.attrs for g in graphs):
                raise ValueError(f"Batch.from_graphs: some graphs have '{name}' and some do not")
            values = [g.attrs[name] for g in graphs]
            fields[name] = rules.join(name, values, offsets if rules.is_index(name) else None)
            splits[name] = rules.split_of(name, values, rules.is_index(name))
        device = edge_index.device
        for name in sorted(follow):
            values = [g.edge_index if name == "edge_index" else getattr(g, name) for g in graphs]
            counts = [rules.count_along_join(name, v, rules.is_index(name)) for v in values]
            fields[f"{name}_batch"], fields[f"{name}_ptr"] = rules.batch_and_ptr(counts, device)
        if all(isinstance(g, Batch) for g in graphs):  # a batch of batches keeps the inner graphs apart, as PyG's
            batch = rules.join("batch", [g.batch for g in graphs]).to(device)
        else:
            batch = torch.repeat_interleave(torch.arange(len(graphs)), torch.tensor(sizes)).to(device)
        out = cls(edge_index, int(ptr[-1]), batch=batch, validate=False, **fields)
        out.ptr, out.num_graphs = ptr.to(device), len(graphs)
        out.y_is_graph_level = "y" in fields and all(not isinstance(g.y, Tensor) or g.y.dim() == 0 for g in graphs)
        out._splits = splits
        return out

    from_data_list = from_graphs  # PyG's name

    def __len__(self) -> int:
        return self.num_graphs

    def get_example(self, index: int) -> Graph:
        """Graph ``index`` as it was batched (PyG's ``get_example``): its attributes cut out,
        its indices shifted back."""
        splits = self.__dict__.get("_splits")
        if splits is None:
            raise RuntimeError("this Batch was not made by Batch.from_graphs (e.g. it was padded to buckets), so it "
                               "cannot be taken apart into its graphs")
        if not -self.num_graphs <= index < self.num_graphs:
            raise IndexError(f"graph {index} of a batch of {self.num_graphs}")
        index %= self.num_graphs
        offset = self.ptr[index].to(self.edge_index.device)
        fields = {name: rules.take(self.edge_index if name == "edge_index" else getattr(self, name), split, index,
                                   offset if split.how == "index" else 0)
                  for name, split in splits.items()}
        edge_index = fields.pop("edge_index", self.edge_index.new_zeros(2, 0))
        return Graph(edge_index, int(self.ptr[index + 1] - self.ptr[index]), validate=False, **fields)

    def to_data_list(self) -> list:
        """Every graph of the batch (PyG's ``to_data_list``)."""
        return [self.get_example(i) for i in range(self.num_graphs)]

    def index_select(self, index: Any) -> list:
        """The graphs at ``index``: a slice, integer ids or a boolean mask (tensor, numpy or
        list), as PyG's."""
        if isinstance(index, slice):
            positions = list(range(self.num_graphs))[index]
        else:
            index = torch.as_tensor(np.asarray(index) if not isinstance(index, Tensor) else index)
            positions = (index.nonzero().view(-1) if index.dtype == torch.bool else index.view(-1)).tolist()
        return [self.get_example(i) for i in positions]

    def __getitem__(self, index: Any) -> Any:
        """``batch[i]`` a graph, ``batch[1:3]`` / ``batch[ids]`` a list of them, ``batch["x"]`` an attribute."""
        if isinstance(index, str):
            return super().__getitem__(index)
        if isinstance(index, (int, np.integer)):
            return self.get_example(int(index))
        return self.index_select(index)

    def to(self, device: Any, non_blocking: bool = False) -> "Batch":
        moved = super().to(device, non_blocking=non_blocking)
        moved.__class__ = Batch
        moved.ptr = self.ptr.to(device, non_blocking=non_blocking)
        moved.num_graphs, moved.y_is_graph_level = self.num_graphs, self.y_is_graph_level
        return moved

    def __repr__(self) -> str:
        return f"Batch(num_graphs={self.num_graphs}, " + super().__repr__()[len("Graph("):]


def as_graph(item: Any) -> Graph:
    """A :class:`~gnnx.Graph` as it is; a ``torch_geometric.data.Data`` converted
    (:meth:`Graph.from_pyg`), so loaders take a list of PyG ``Data`` unchanged."""
    if isinstance(item, Graph):
        return item
    if pyg_base(item) == "Data":
        return Graph.from_pyg(item, validate=False)
    raise TypeError(f"expected a gnnx.Graph or a torch_geometric Data, got {type(item).__name__}")


def pyg_base(item: Any) -> Optional[str]:
    """``"Data"`` or ``"HeteroData"`` for PyG's graph objects (subclasses included), else ``None``."""
    for cls in type(item).__mro__:
        if cls.__module__.startswith("torch_geometric.data") and cls.__name__ in ("Data", "HeteroData"):
            return cls.__name__
    return None


def _needs_pyg_rules(item: Any, base: str) -> bool:
    """Whether PyG objects must be batched by PyG itself: their class defines its own
    ``__inc__``/``__cat_dim__`` (a pair of graphs in one ``Data``, ...), or they hold PyG's or
    torch-sparse's own types (``EdgeIndex``, ``Index``, ``SparseTensor``), whose metadata
    only PyG's collation keeps. gnnx's rules would join such attributes differently."""
    import torch_geometric.data as pyg_data

    reference = getattr(pyg_data, base)
    if type(item).__inc__ is not reference.__inc__ or type(item).__cat_dim__ is not reference.__cat_dim__:
        return True
    values = [v for store in item.stores for v in store.values()]
    return any(type(v).__module__.split(".")[0] in ("torch_geometric", "torch_sparse", "torch_frame") for v in values)


def collate(items: Sequence[Any], follow_batch: Optional[Sequence[str]] = None,
            exclude_keys: Optional[Sequence[str]] = None) -> Any:
    """``collate_fn`` for :class:`torch.utils.data.DataLoader`, PyG's ``Collater``: graphs (gnnx
    or PyG ``Data``) -> :class:`Batch`; heterogeneous graphs (``HeteroGraph``, ``HeteroData``)
    -> :class:`~gnnx.data.HeteroBatch`; PyG objects whose class batches by its own rules ->
    PyG's ``Batch``; tensors, numbers, strings, mappings and sequences as PyG batches them."""
    elem = items[0]
    base = pyg_base(elem)
    if base is not None and _needs_pyg_rules(elem, base):
        from torch_geometric.data import Batch as PyGBatch

        return PyGBatch.from_data_list(list(items), follow_batch=follow_batch, exclude_keys=exclude_keys)
    if isinstance(elem, Graph) or base == "Data":
        return Batch.from_graphs([as_graph(g) for g in items], follow_batch, exclude_keys)
    if isinstance(elem, HeteroGraph) or base == "HeteroData":
        graphs = [g if isinstance(g, HeteroGraph) else HeteroGraph.from_pyg(g, validate=False) for g in items]
        return HeteroBatch.from_graphs(graphs, follow_batch, exclude_keys)
    if isinstance(elem, Tensor):
        return torch.utils.data.default_collate(items)
    if isinstance(elem, float):
        return torch.tensor(items, dtype=torch.float)
    if isinstance(elem, int):
        return torch.tensor(items)
    if isinstance(elem, str):
        return list(items)
    if isinstance(elem, Mapping):
        return {key: collate([item[key] for item in items], follow_batch, exclude_keys) for key in elem}
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):
        return type(elem)(*(collate(column, follow_batch, exclude_keys) for column in zip(*items)))
    if isinstance(elem, Sequence):
        return [collate(column, follow_batch, exclude_keys) for column in zip(*items)]
    raise TypeError(f"DataLoader cannot batch items of type {type(elem).__name__}: it batches graphs (gnnx or PyG), "
                    "tensors, numbers, strings, and mappings or sequences of them")


def _bucket(value: int, buckets: Sequence[int], what: str) -> int:
    i = bisect.bisect_left(buckets, value)
    if i == len(buckets):
        raise ValueError(f"{what} {value} exceeds the largest bucket {buckets[-1]}; add a larger bucket")
    return buckets[i]


def pad_to_buckets(batch: Batch, node_buckets: Sequence[int], edge_buckets: Sequence[int],
                   graph_buckets: Optional[Sequence[int]] = None) -> Batch:
    """Pad ``batch`` to the smallest bucket sizes that fit, with one padding graph.

    Node buckets must exceed the real node count by at least one (the padding graph needs a
    node); likewise graphs. Adds ``node_mask``, ``edge_mask`` and ``graph_mask`` attributes;
    ``num_graphs`` becomes the padded graph count (padding graphs included).
    """
    node_buckets, edge_buckets = sorted(node_buckets), sorted(edge_buckets)
    num_nodes = _bucket(batch.num_nodes + 1, node_buckets, "node count (+1 padding node)")
    num_edges = _bucket(batch.num_edges, edge_buckets, "edge count")
    num_graphs = batch.num_graphs + 1
    if graph_buckets is not None:
        num_graphs = _bucket(num_graphs, sorted(graph_buckets), "graph count (+1 padding graph)")
    pad_nodes, pad_edges = num_nodes - batch.num_nodes, num_edges - batch.num_edges
    # Padded edges are self loops spread over the padding nodes: one node holding them all
    # would be a single CSR row of up to ~pad_edges entries, which row-parallel kernels
    # process serially.
    loops = batch.num_nodes + torch.arange(pad_edges) % pad_nodes
    edge_index = torch.cat([batch.edge_index, torch.stack([loops, loops])], 1)
    fields: Dict[str, Any] = {}
    for name in NODE_FIELDS:
        value = getattr(batch, name)
        if value is None:
            continue
        if name == "y" and value.size(0) == batch.num_graphs and batch.y_is_graph_level:
            fields[name] = torch.cat([value, value.new_zeros((num_graphs - batch.num_graphs,) + value.shape[1:])])
        else:
            fields[name] = torch.cat([value, value.new_zeros((pad_nodes,) + value.shape[1:])])
    for name in EDGE_ATTRS:
        value = getattr(batch, name)
        if value is not None:
            fields[name] = torch.cat([value, value.new_zeros((pad_edges,) + value.shape[1:])])
    for name, value in batch.attrs.items():  # the batch's other attributes, by what their rows are
        kind = attribute_kind(name, value, batch.num_nodes, batch.num_edges)
        if "index" in name or name == "face" or not isinstance(value, Tensor) or value.dim() == 0:
            fields[name] = value  # indices point at real rows; objects and scalars stay
        elif kind is not None:
            fields[name] = _zero_rows(value, pad_nodes if kind == "node" else pad_edges)
        elif value.size(0) == batch.num_graphs:
            fields[name] = _zero_rows(value, num_graphs - batch.num_graphs)
        else:
            fields[name] = value
    graph_of_pad = torch.full((pad_nodes,), batch.num_graphs, dtype=torch.long)
    padded_batch = torch.cat([batch.batch, graph_of_pad])
    out = Batch(edge_index, num_nodes, batch=padded_batch, validate=False, **fields)
    out.ptr = torch.cat([batch.ptr, torch.full((num_graphs - batch.num_graphs,), num_nodes, dtype=torch.long)])
    out.num_graphs, out.y_is_graph_level = num_graphs, batch.y_is_graph_level
    out.attrs.update(
        node_mask=torch.arange(num_nodes) < batch.num_nodes,
        edge_mask=torch.arange(num_edges) < batch.num_edges,
        graph_mask=torch.arange(num_graphs) < batch.num_graphs,
    )
    return out


def _zero_rows(value: Tensor, rows: int) -> Tensor:
    """``value`` followed by ``rows`` rows of zeros (``False`` for a mask)."""
    return torch.cat([value, value.new_zeros((rows,) + tuple(value.shape[1:]))])


class DataLoader(torch.utils.data.DataLoader):
    """A :class:`torch.utils.data.DataLoader` over graphs that yields :class:`Batch` es
    (PyG's ``DataLoader``: same arguments and batches).

    Args:
        dataset: a sequence of :class:`~gnnx.Graph` or PyG ``Data`` (converted per batch), of
            :class:`~gnnx.HeteroGraph` or ``HeteroData`` (batched as
            :class:`~gnnx.data.HeteroBatch`), or of anything :func:`collate` batches.
        batch_size, shuffle, num_workers, ...: as for torch's loader.
        follow_batch: attributes that get a ``<name>_batch`` vector, as PyG's.
        exclude_keys: attributes left out of the batches, as PyG's.
        node_buckets, edge_buckets, graph_buckets: if given, pad every batch to buckets
            (see :func:`pad_to_buckets`), so a compiled model sees few shapes.
    """

    def __init__(self, dataset, batch_size: int = 1, shuffle: bool = False,
                 follow_batch: Optional[Sequence[str]] = None, exclude_keys: Optional[Sequence[str]] = None,
                 node_buckets: Optional[Sequence[int]] = None, edge_buckets: Optional[Sequence[int]] = None,
                 graph_buckets: Optional[Sequence[int]] = None, **kwargs: Any) -> None:
        if (node_buckets is None) != (edge_buckets is None):
            raise ValueError("give both node_buckets and edge_buckets, or neither")
        kwargs.pop("collate_fn", None)  # as PyG's loader (PyTorch Lightning passes one)
        self.follow_batch, self.exclude_keys = follow_batch, exclude_keys
        self.buckets = (node_buckets, edge_buckets, graph_buckets) if node_buckets is not None else None
        super().__init__(dataset, batch_size=batch_size, shuffle=shuffle, collate_fn=self._collate, **kwargs)

    def _collate(self, items: Sequence[Any]) -> Any:
        batch = collate(items, self.follow_batch, self.exclude_keys)
        if self.buckets is not None:
            if not isinstance(batch, Batch):
                raise TypeError(f"DataLoader pads batches of graphs to buckets; these items batch as "
                                f"{type(batch).__name__}")
            batch = pad_to_buckets(batch, *self.buckets)
        return batch


torch.serialization.add_safe_globals([Batch])  # torch.load(weights_only=True), as Graph


class DenseBatch(dict):
    """A batch of dense graphs: each attribute stacked on a new first dimension (``x [B, N,
    F]``, ``adj [B, N, N]``, ``mask [B, N]``, ``y``), read as ``batch.x`` or ``batch["x"]``."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"DenseBatch has no attribute {name!r}") from None

    @property
    def num_graphs(self) -> int:
        return len(next(iter(self.values())))


def _dense_fields(graph: Any) -> dict:
    if isinstance(graph, Graph):
        fields = {"x": graph.x, "y": graph.y, "pos": graph.pos, **graph.attrs}
        return {k: v for k, v in fields.items() if v is not None}
    return {key: graph[key] for key in graph.keys()}  # a PyG Data


def dense_collate(graphs: Sequence[Any]) -> DenseBatch:
    """Stack every attribute of graphs of one shape (after :class:`~gnnx.transforms.ToDense`)."""
    fields = [_dense_fields(graph) for graph in graphs]
    names = list(fields[0])
    for index, item in enumerate(fields[1:], start=1):
        if list(item) != names:
            raise ValueError(f"DenseDataLoader: graph {index} has attributes {sorted(item)}, graph 0 {sorted(names)}")
    out = DenseBatch()
    for name in names:
        values = [item[name] for item in fields]
        if isinstance(values[0], Tensor) and any(v.shape != values[0].shape for v in values):
            shapes = sorted({tuple(v.shape) for v in values})
            raise ValueError(f"DenseDataLoader stacks attributes of one shape: '{name}' has shapes {shapes} "
                             f"(pad the graphs to one size with ToDense(num_nodes=...))")
        out[name] = torch.utils.data.default_collate(values)
    return out


class DenseDataLoader(torch.utils.data.DataLoader):
    """Batches dense graphs (all attributes of one shape, e.g. after
    ``ToDense(num_nodes=...)``) by stacking them: PyG's ``DenseDataLoader``, for the dense
    layers (``DenseGCNConv``, ``dense_diff_pool``, ...)."""

    def __init__(self, dataset: Sequence[Any], batch_size: int = 1, shuffle: bool = False, **kwargs: Any) -> None:
        kwargs.pop("collate_fn", None)
        super().__init__(dataset, batch_size=batch_size, shuffle=shuffle, collate_fn=dense_collate, **kwargs)
