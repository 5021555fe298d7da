"""One-time data preparation on a :class:`~gnnx.Graph`, outside any model.

Each transform is a callable ``Graph -> Graph`` returning a new graph (the input is
left as it is); :class:`Compose` chains them. ``ToUndirected``, ``AddSelfLoops`` and
``NormalizeFeatures`` take a :class:`~gnnx.HeteroGraph` too, per type as PyG's do. Edge-level tensors (``edge_weight``,
``edge_attr``) follow their edges through every reordering, merge and addition.
"""
from __future__ import annotations

from typing import Any, Callable, List, Sequence, Union

import torch
from torch import Tensor

from gnnx import ops
from gnnx.graph import EDGE_ATTRS, Graph
from gnnx.hetero_graph import HeteroGraph
from gnnx.structure import add_self_loops, gcn_norm
from gnnx.utils import coalesce


def _listing(owner: Any, items: Sequence[Any]) -> str:
    """PyG's repr of a composition: its class and one item a line."""
    return "{}([\n{}\n])".format(type(owner).__name__, ",\n".join(f"  {item}" for item in items))


class Compose:
    """Apply transforms in order."""

    def __init__(self, transforms: Sequence[Callable[[Graph], Graph]]) -> None:
        self.transforms = list(transforms)

    def __call__(self, graph: Graph) -> Graph:
        for transform in self.transforms:
            graph = transform(graph)
        return graph

    def __repr__(self) -> str:
        return _listing(self, self.transforms)


class ComposeFilters:
    """All of several filters (``pre_filter`` of a dataset): ``True`` when every one passes
    (for a list or tuple of graphs, every one passes on each)."""

    def __init__(self, filters: Sequence[Callable[[Any], bool]]) -> None:
        self.filters = list(filters)

    def __call__(self, data: Any) -> bool:
        for keep in self.filters:
            if isinstance(data, (list, tuple)):
                if not all(keep(item) for item in data):
                    return False
            elif not keep(data):
                return False
        return True

    def __repr__(self) -> str:
        return _listing(self, self.filters)


def _edge_fields(graph: Graph):
    return {name: getattr(graph, name) for name in EDGE_ATTRS if getattr(graph, name) is not None}


class SortByDestination:
    """Reorder edges by (destination, source), so ``graph.csr.perm`` is the identity and
    fast kernels read edge tensors without a gather. Also available as :data:`ToCSR`."""

    def __call__(self, graph: Graph) -> Graph:
        src, dst = graph.edge_index
        order = torch.argsort(dst * graph.num_nodes + src, stable=True)
        fields = {k: v[order] for k, v in _edge_fields(graph).items()}
        return graph.replace(edge_index=graph.edge_index[:, order], **fields)

    def __repr__(self) -> str:
        return "SortByDestination()"


ToCSR = SortByDestination


def _coalesce(edge_index: Tensor, num_nodes: int, fields, reduce: str):
    """One edge per (source, destination), sorted by destination; edge tensors reduced."""
    names = list(fields)
    edge_index, merged = coalesce(edge_index, [fields[k] for k in names], num_nodes, reduce, sort_by_row=False)
    return edge_index, dict(zip(names, merged))


def _merge_duplicates(graph: Graph, edge_index: Tensor, fields, reduce: str) -> Graph:
    edge_index, merged = _coalesce(edge_index, graph.num_nodes, fields, reduce)
    return graph.replace(edge_index=edge_index, **merged)


def _hetero_edge_fields(store) -> dict:
    """The edge store's tensors with one row per edge, besides ``edge_index``."""
    return {k: v for k, v in store.items() if k != "edge_index" and isinstance(v, Tensor) and v.dim() > 0
            and v.size(0) == store.num_edges}


class RemoveDuplicateEdges:
    """Merge parallel edges into one; their ``edge_weight``/``edge_attr`` are reduced with
    ``reduce`` (``"add"`` by default, as PyG's ``coalesce``). Output is destination-sorted."""

    def __init__(self, reduce: str = "add") -> None:
        self.reduce = ops.resolve_reduce(reduce)

    def __call__(self, graph: Graph) -> Graph:
        return _merge_duplicates(graph, graph.edge_index, _edge_fields(graph), self.reduce)

    def __repr__(self) -> str:
        return f"RemoveDuplicateEdges(reduce={self.reduce!r})"


class ToUndirected:
    """Add every reversed edge and merge duplicates (edge tensors reduced with ``reduce``).

    On a :class:`~gnnx.HeteroGraph`, as PyG's: an edge type between two node types (or any,
    with ``merge=False``) gets a reverse type ``(dst, "rev_<relation>", src)`` with the edges
    flipped and the edge tensors copied; an edge type within one node type is made undirected
    in place."""

    def __init__(self, reduce: str = "add", merge: bool = True) -> None:
        self.reduce = ops.resolve_reduce(reduce)
        self.merge = merge

    def __call__(self, graph: Union[Graph, HeteroGraph]) -> Union[Graph, HeteroGraph]:
        if isinstance(graph, HeteroGraph):
            return self._hetero(graph)
        edge_index = torch.cat([graph.edge_index, graph.edge_index.flip(0)], 1)
        fields = {k: torch.cat([v, v], 0) for k, v in _edge_fields(graph).items()}
        return _merge_duplicates(graph, edge_index, fields, self.reduce)

    def _hetero(self, graph: HeteroGraph) -> HeteroGraph:
        out = graph.copy()
        for (src, rel, dst), store in list(graph.edge_items()):
            fields = _hetero_edge_fields(store)
            if src != dst or not self.merge:
                reverse = out[dst, f"rev_{rel}", src]
                reverse.edge_index = store.edge_index.flip(0)
                for name, value in fields.items():
                    reverse[name] = value
            else:
                edge_index = torch.cat([store.edge_index, store.edge_index.flip(0)], 1)
                edge_index, merged = _coalesce(edge_index, graph[src].num_nodes,
                                               {k: torch.cat([v, v], 0) for k, v in fields.items()}, self.reduce)
                target = out[src, rel, dst]
                target.edge_index = edge_index
                for name, value in merged.items():
                    target[name] = value
        return out

    def __repr__(self) -> str:
        return "ToUndirected()"  # (PyG's repr)


class AddSelfLoops:
    """Add a loop ``i -> i`` to every node; new loops get ``edge_weight = fill_value`` and
    ``edge_attr`` filled with ``fill_value`` (existing edges are kept, as PyG's transform)."""

    def __init__(self, fill_value: float = 1.0) -> None:
        self.fill_value = fill_value

    def __call__(self, graph: Union[Graph, HeteroGraph]) -> Union[Graph, HeteroGraph]:
        if isinstance(graph, HeteroGraph):  # edge types within one node type, as PyG's
            out = graph.copy()
            for (src, rel, dst), store in list(graph.edge_items()):
                if src != dst:
                    continue
                n, fields = graph[src].num_nodes, _hetero_edge_fields(store)
                target = out[src, rel, dst]
                target.edge_index = torch.cat([store.edge_index, torch.arange(n, device=store.edge_index.device)
                                               .repeat(2, 1)], 1)
                for name, value in fields.items():
                    target[name] = torch.cat([value, value.new_full((n,) + tuple(value.shape[1:]), self.fill_value)])
            return out
        edge_index, edge_weight = add_self_loops(graph.edge_index, graph.edge_weight, self.fill_value, graph.num_nodes)
        changes = {"edge_index": edge_index, "edge_weight": edge_weight}
        if graph.edge_attr is not None:
            fill = graph.edge_attr.new_full((graph.num_nodes,) + tuple(graph.edge_attr.shape[1:]), self.fill_value)
            changes["edge_attr"] = torch.cat([graph.edge_attr, fill], 0)
        return graph.replace(**changes)

    def __repr__(self) -> str:
        return "AddSelfLoops()"  # (PyG's repr)


class GCNNorm:
    r"""Precompute GCN's symmetric normalisation into ``edge_weight``:
    :math:`e'_{j,i} = e_{j,i} / \sqrt{\hat d_j \hat d_i}`, with self loops added (weight 1,
    or 2 when ``improved`` and the graph has edge weights, as in PyG). Use the result with ``GCNConv(..., normalize=False)``."""

    def __init__(self, add_self_loops: bool = True, improved: bool = False) -> None:
        self.add_self_loops, self.improved = add_self_loops, improved

    def __call__(self, graph: Graph) -> Graph:
        dtype = graph.x.dtype if graph.x is not None and graph.x.is_floating_point() else torch.float32
        edge_index, edge_weight = gcn_norm(
            graph.edge_index, graph.edge_weight, graph.num_nodes, self.improved, self.add_self_loops, dtype=dtype
        )
        changes = {"edge_index": edge_index, "edge_weight": edge_weight}
        if self.add_self_loops:
            # gcn_norm keeps former loops at weight 0 to stay shape-static; outside a model
            # they can simply go.
            is_loop = graph.edge_index[0] == graph.edge_index[1]
            keep = torch.cat([~is_loop, torch.ones(graph.num_nodes, dtype=torch.bool, device=is_loop.device)])
            changes = {"edge_index": edge_index[:, keep], "edge_weight": edge_weight[keep]}
            if graph.edge_attr is not None:
                fill = graph.edge_attr.new_zeros((graph.num_nodes,) + tuple(graph.edge_attr.shape[1:]))
                changes["edge_attr"] = torch.cat([graph.edge_attr, fill], 0)[keep]
        return graph.replace(**changes)

    def __repr__(self) -> str:
        return f"GCNNorm(add_self_loops={self.add_self_loops})"  # (PyG's repr)


class NormalizeFeatures:
    """Row-normalise node features to sum to one (after shifting the minimum to 0), as PyG."""

    def __call__(self, graph: Union[Graph, HeteroGraph]) -> Union[Graph, HeteroGraph]:
        if isinstance(graph, HeteroGraph):  # every node type's x
            out = graph.copy()
            for node_type, x in graph.x_dict.items():
                out[node_type].x = _normalized_rows(x)
            return out
        if graph.x is None:
            return graph
        return graph.replace(x=_normalized_rows(graph.x))

    def __repr__(self) -> str:
        return "NormalizeFeatures()"


def _normalized_rows(x: Tensor) -> Tensor:
    if x.numel() == 0:  # a node type without nodes (PyG's min() fails here)
        return x
    x = x - x.min()
    return x / x.sum(dim=-1, keepdim=True).clamp(min=1.0)


__all__: List[str] = [
    "AddSelfLoops", "Compose", "GCNNorm", "NormalizeFeatures", "RemoveDuplicateEdges", "SortByDestination",
    "ToCSR", "ToUndirected",
]


class RemoveDuplicatedEdges(RemoveDuplicateEdges):
    """PyG 2.8's name for :class:`RemoveDuplicateEdges` (``key``: the edge tensors merged;
    gnnx merges ``edge_weight`` and ``edge_attr`` whichever are present)."""

    def __init__(self, key: Union[str, List[str]] = ("edge_attr", "edge_weight"), reduce: str = "add") -> None:
        super().__init__(reduce)
        self.key = [key] if isinstance(key, str) else list(key)

    def __call__(self, graph: Graph) -> Graph:  # PyG's order: sorted by source, then destination
        names = list(_edge_fields(graph))
        edge_index, merged = coalesce(graph.edge_index, [_edge_fields(graph)[k] for k in names], graph.num_nodes,
                                      self.reduce)
        return graph.replace(edge_index=edge_index, **dict(zip(names, merged)))

    def __repr__(self) -> str:
        return "RemoveDuplicatedEdges()"
