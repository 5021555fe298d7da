"""Views of a :class:`~gnnx.HeteroGraph`: induced and edge subgraphs, and the homogeneous graph
of all its types (PyG's ``HeteroData.subgraph``, ``edge_subgraph``, ``to_homogeneous``).

Run in data preparation, outside models: they read sizes from the data.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

import torch
from torch import Tensor

from gnnx.graph import Graph, has_rows, take_rows
from gnnx.hetero_graph import EdgeStore, EdgeType, HeteroGraph, NodeStore, NodeType

# structure, not attributes of single edges: kept whole when edges are cut or types are merged
STRUCTURE = ("edge_index", "edge_label_index", "adj", "adj_t")


def cut_rows(store: Any, index: Tensor, count: int, skip: Tuple[str, ...] = ()) -> Dict[str, Tensor]:
    """Rows ``index`` of every attribute of ``store`` with a row per node or edge (``count``
    rows; tensors and numpy arrays), but those named in ``skip``: a store cut to a subgraph."""
    return {name: take_rows(value, index) for name, value in store.items()
            if name not in skip and has_rows(value, count)}


def _ids(subset: Tensor) -> Tensor:
    return subset.nonzero().view(-1) if subset.dtype == torch.bool else subset.long()


def induced(graph: HeteroGraph, subset_dict: Dict[NodeType, Tensor]) -> Tuple[HeteroGraph, Dict[EdgeType, Tensor]]:
    """The subgraph on ``subset_dict``'s nodes (ids, renumbered in their order, or a boolean
    mask; types not named kept whole), every node- and edge-level attribute cut to match,
    other attributes kept; and each edge type's kept edge ids."""
    out = graph.copy()
    position: Dict[NodeType, Tensor] = {}
    for node_type, subset in subset_dict.items():
        store = graph[node_type]
        count = int(store.num_nodes or 0)
        ids = _ids(subset)
        position[node_type] = torch.full((count,), -1, dtype=torch.long, device=ids.device)
        position[node_type][ids] = torch.arange(ids.numel(), device=ids.device)
        fields = {**dict(store.items()), **cut_rows(store, ids, count, skip=("num_nodes",))}
        if "num_nodes" in fields:
            fields["num_nodes"] = ids.numel()
        out._nodes[node_type] = NodeStore(node_type, **fields)
    kept: Dict[EdgeType, Tensor] = {}
    for edge_type, store in graph.edge_items():
        src, _, dst = edge_type
        edge_index = store.edge_index
        if edge_index is None:  # attributes of edges not given yet: nothing to cut them by
            continue
        row, col = edge_index[0], edge_index[1]
        keep = torch.ones(edge_index.size(1), dtype=torch.bool, device=edge_index.device)
        if src in position:
            row = position[src][row]
            keep &= row >= 0
        if dst in position:
            col = position[dst][col]
            keep &= col >= 0
        e_id = keep.nonzero().view(-1)
        fields = {**dict(store.items()), **cut_rows(store, e_id, edge_index.size(1), skip=STRUCTURE)}
        fields["edge_index"] = torch.stack([row[e_id], col[e_id]])
        out._edges[edge_type] = EdgeStore(edge_type, **fields)
        kept[edge_type] = e_id
    return out, kept


def edges_kept(graph: HeteroGraph, subset_dict: Dict[EdgeType, Tensor]) -> HeteroGraph:
    """The edges given per type (ids or a boolean mask; other types whole), every edge-level
    attribute cut to match; node stores unchanged."""
    out = graph.copy()
    for edge_type, subset in subset_dict.items():
        store = graph[edge_type]
        e_id = _ids(subset)
        fields = {**dict(store.items()), **cut_rows(store, e_id, store.num_edges, skip=STRUCTURE)}
        fields["edge_index"] = store.edge_index[:, e_id.to(store.edge_index.device)]
        out._edges[edge_type] = EdgeStore(edge_type, **fields)
    return out


def _trailing(name: str, value: Tensor, edge_store: bool) -> Tuple[int, ...]:
    """A tensor's shape without the dimension it is joined along (PyG's ``__cat_dim__``)."""
    dim = -1 if edge_store and "index" in name else 0
    dim = dim % value.dim()
    return tuple(value.shape[:dim]) + tuple(value.shape[dim + 1:])


def _sizes(stores: List[Any], edge_store: bool) -> Dict[str, List[Tuple[int, ...]]]:
    sizes: Dict[str, List[Tuple[int, ...]]] = {}
    for store in stores:
        for name, value in store.items():
            if name not in STRUCTURE and isinstance(value, Tensor) and value.dim() > 0:
                sizes.setdefault(name, []).append(_trailing(name, value, edge_store))
    return sizes


def _fill_dummies(stores: List[Any], keys: Optional[List[str]], edge_store: bool) -> None:
    """Give stores lacking an attribute others hold (all with one shape) a dummy one: NaN,
    ``False`` or ``-1``, as PyG's ``to_homogeneous(dummy_values=True)``."""
    for name, sizes in _sizes(stores, edge_store).items():
        if (keys is not None and name not in keys) or len(set(sizes)) != 1:
            continue
        reference = next(store[name] for store in stores if name in store)
        dummy = float("nan") if reference.is_floating_point() else (False if reference.dtype == torch.bool else -1)
        for store in stores:
            if name not in store:
                rows = store.num_edges if edge_store else int(store.num_nodes or 0)
                store[name] = torch.full((rows,) + sizes[0], dummy, dtype=reference.dtype, device=reference.device)


def _consistent(stores: List[Any], edge_store: bool) -> List[str]:
    """Attributes every store holds with the same number of dimensions and, beyond one
    trailing dimension (feature widths may differ and are padded), the same shape."""
    keys = []
    for name, sizes in _sizes(stores, edge_store).items():
        if len(sizes) == len(stores) and len({len(s) for s in sizes}) == 1 and (len(sizes[0]) == 1 or len(set(sizes)) == 1):
            keys.append(name)
    return keys


def homogeneous(graph: HeteroGraph, node_attrs: Optional[List[str]] = None, edge_attrs: Optional[List[str]] = None,
                add_node_type: bool = True, add_edge_type: bool = True, dummy_values: bool = True) -> Graph:
    """One :class:`~gnnx.Graph` of every node and edge type, as PyG's ``to_homogeneous``:
    node types stacked in order (``node_type`` the type of each node), edge types stacked in
    order with their indices shifted (``edge_type``), attributes that every type holds with
    one shape joined (2-D features of other widths padded with zeros), the others dropped; with
    ``dummy_values`` a type lacking an attribute the others hold gets NaN / ``False`` / ``-1``."""
    if dummy_values:
        graph = graph.copy()
        _fill_dummies(graph.node_stores, node_attrs, edge_store=False)
        _fill_dummies(graph.edge_stores, edge_attrs, edge_store=True)
    counts = [int(store.num_nodes or 0) for store in graph.node_stores]
    offsets = dict(zip(graph.node_types, [sum(counts[:i]) for i in range(len(counts))]))
    num_nodes = sum(counts)
    parts = [store.edge_index + torch.tensor([[offsets[src]], [offsets[dst]]], device=store.edge_index.device)
             for (src, _, dst), store in graph.edge_items()]
    edge_index = torch.cat(parts, 1) if parts else torch.zeros(2, 0, dtype=torch.long)
    fields: Dict[str, Any] = dict(graph._graph_attributes())
    for name in (node_attrs if node_attrs is not None else _consistent(graph.node_stores, edge_store=False)):
        if name == "ptr":
            continue
        values = [store[name] for store in graph.node_stores]
        if values[0].dim() == 2:
            width = max(v.size(-1) for v in values)
            values = [torch.cat([v, v.new_zeros(v.size(0), width - v.size(-1))], -1) for v in values]
        fields[name] = torch.cat(values, 0)
    for name in (edge_attrs if edge_attrs is not None else _consistent(graph.edge_stores, edge_store=True)):
        values = [store[name] for store in graph.edge_stores]
        fields[name] = torch.cat(values, -1 if "index" in name else 0)
    label_index = {e: s.edge_label_index for e, s in graph.edge_items() if "edge_label_index" in s}
    if label_index:
        fields["edge_label_index"] = torch.cat([v + torch.tensor([[offsets[e[0]]], [offsets[e[2]]]], device=v.device)
                                                for e, v in label_index.items()], 1)
    if add_node_type:
        fields["node_type"] = torch.arange(len(counts)).repeat_interleave(torch.tensor(counts, dtype=torch.long))
    if add_edge_type and parts:
        sizes = torch.tensor([store.num_edges for store in graph.edge_stores], dtype=torch.long)
        fields["edge_type"] = torch.arange(len(parts)).repeat_interleave(sizes)
    fields.pop("num_nodes", None)
    out = Graph(edge_index, num_nodes, validate=False, **fields)
    out._node_type_names, out._edge_type_names = list(graph.node_types), list(graph.edge_types)  # for the way back
    return out


def heterogeneous(graph: Graph, node_type: Optional[Tensor] = None, edge_type: Optional[Tensor] = None,
                  node_type_names: Optional[List[NodeType]] = None,
                  edge_type_names: Optional[List[EdgeType]] = None) -> HeteroGraph:
    """A :class:`~gnnx.Graph` split by node and edge type into a :class:`~gnnx.HeteroGraph`
    (PyG's ``Data.to_heterogeneous``): types from ``node_type``/``edge_type`` (default: the
    graph's attributes of those names, else one type), names from the arguments, the names
    :func:`homogeneous` recorded, or the type numbers; every node- and edge-level attribute
    split with them, each type's nodes renumbered in order."""
    num_nodes, num_edges = graph.num_nodes, graph.num_edges
    node_type = node_type if node_type is not None else graph.attrs.get("node_type")
    node_type = node_type if node_type is not None else torch.zeros(num_nodes, dtype=torch.long)
    edge_type = edge_type if edge_type is not None else graph.attrs.get("edge_type")
    edge_type = edge_type if edge_type is not None else torch.zeros(num_edges, dtype=torch.long)
    node_type_names = node_type_names or graph.__dict__.get("_node_type_names") or \
        [str(i) for i in node_type.unique().tolist()]
    if edge_type_names is None:
        edge_type_names = graph.__dict__.get("_edge_type_names")
    if edge_type_names is None:
        edge_type_names = []
        for i in edge_type.unique().tolist():
            src, dst = graph.edge_index[:, edge_type == i]
            src_types, dst_types = node_type[src].unique().tolist(), node_type[dst].unique().tolist()
            if len(src_types) != 1 or len(dst_types) != 1:
                raise ValueError(f"edge type {i} joins several node types; give edge_type_names")
            edge_type_names.append((node_type_names[src_types[0]], str(i), node_type_names[dst_types[0]]))
    node_ids = [(node_type == i).nonzero().view(-1) for i in range(len(node_type_names))]
    index_map = torch.empty_like(node_type)
    for ids in node_ids:
        index_map[ids] = torch.arange(ids.numel(), device=ids.device)
    fields = {"x": graph.x, "y": graph.y, "pos": graph.pos, "batch": graph.batch, "edge_weight": graph.edge_weight,
              "edge_attr": graph.edge_attr, **graph.attrs}
    out = HeteroGraph()
    for i, name in enumerate(node_type_names):
        store = out[name]
        for attr, value in fields.items():
            if attr not in ("node_type", "edge_type", "ptr") and has_rows(value, num_nodes) and "edge" not in attr:
                store[attr] = take_rows(value, node_ids[i])
        if len(store) == 0:  # no attribute tells the node count, as PyG's
            store.num_nodes = node_ids[i].numel()
    for i, key in enumerate(edge_type_names):
        ids = (edge_type == i).nonzero().view(-1)
        store = out[tuple(key)]
        store.edge_index = index_map[graph.edge_index[:, ids]]
        for attr, value in fields.items():
            if attr not in ("node_type", "edge_type") and has_rows(value, num_edges) and \
                    (not has_rows(value, num_nodes) or "edge" in attr):
                store[attr] = take_rows(value, ids)
    return out
