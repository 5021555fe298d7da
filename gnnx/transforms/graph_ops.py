"""Whole-graph rewrites: ``LargestConnectedComponents``, ``VirtualNode``, ``ToSparseTensor``
(PyG's arguments and results)."""
from __future__ import annotations

from typing import Optional

import torch

from gnnx.graph import Graph
from gnnx.hetero_graph import HeteroGraph
from gnnx.utils import subgraph
from gnnx.utils.components import connected_components


def _tensors(graph: Graph) -> dict:
    fields = {name: getattr(graph, name) for name in ("x", "y", "pos", "batch", "edge_weight", "edge_attr")}
    fields.update(graph.attrs)
    return {name: value for name, value in fields.items() if isinstance(value, torch.Tensor)}


class LargestConnectedComponents:
    """Keep the nodes of the ``num_components`` largest connected components (weak or
    strong), relabelled in order; node and edge tensors follow."""

    def __init__(self, num_components: int = 1, connection: str = "weak") -> None:
        if connection not in ("weak", "strong"):
            raise ValueError(f"connection must be 'weak' or 'strong', got {connection!r}")
        self.num_components, self.connection = num_components, connection

    def __call__(self, graph: Graph) -> Graph:
        _, inverse = connected_components(graph.edge_index, graph.num_nodes, self.connection)
        counts = torch.bincount(inverse)
        if counts.numel() <= self.num_components:
            return graph
        keep_components = torch.argsort(counts, descending=True, stable=True)[:self.num_components]
        subset = torch.isin(inverse, keep_components)
        edge_index, _, edge_mask = subgraph(subset, graph.edge_index, relabel_nodes=True,
                                            num_nodes=graph.num_nodes, return_edge_mask=True)
        changes = {"edge_index": edge_index, "num_nodes": int(subset.sum())}
        for name, value in _tensors(graph).items():  # node- and edge-level tensors follow
            if value.dim() > 0 and value.size(0) == graph.num_nodes:
                changes[name] = value[subset]
            elif value.dim() > 0 and value.size(0) == graph.edge_index.size(1):
                changes[name] = value[edge_mask]
        return graph.replace(**changes)

    def __repr__(self) -> str:
        return f"LargestConnectedComponents({self.num_components})"


class VirtualNode:
    """Append one node joined to every node in both directions (features 0). The new
    edges get ``edge_weight`` 1 and ``edge_attr`` 0; an ``edge_type`` attribute marks
    them with the next free type ids (to the virtual node, then from it), as PyG."""

    def __call__(self, graph: Graph) -> Graph:
        n = graph.num_nodes
        device = graph.edge_index.device
        nodes = torch.arange(n, device=device)
        virtual = torch.full_like(nodes, n)
        edge_index = torch.cat([graph.edge_index, torch.stack([nodes, virtual]), torch.stack([virtual, nodes])], 1)
        changes = {"edge_index": edge_index, "num_nodes": n + 1}
        extra = 2 * n
        for name, value in _tensors(graph).items():
            if name == "edge_type" or value.dim() == 0:
                continue
            if value.size(0) == graph.edge_index.size(1):  # edge-level: weight 1, other values 0
                fill = value.new_ones if name == "edge_weight" else value.new_zeros
                changes[name] = torch.cat([value, fill(extra, *value.shape[1:])])
            elif value.size(0) == n:  # node-level: the virtual node's row is 0 (its batch: the first graph's)
                row = value[:1].clone() if name == "batch" else value.new_zeros(1, *value.shape[1:])
                changes[name] = torch.cat([value, row])
        edge_type = graph.attrs.get("edge_type")
        if edge_type is None:
            edge_type = torch.zeros(graph.edge_index.size(1), dtype=torch.long, device=device)
        first = int(edge_type.max()) + 1 if edge_type.numel() else 1
        changes["edge_type"] = torch.cat([edge_type, torch.full((n,), first, device=device),
                                          torch.full((n,), first + 1, device=device)])
        return graph.replace(**changes)

    def __repr__(self) -> str:
        return "VirtualNode()"


class ToSparseTensor:
    """Adjacency as a sparse matrix ``adj_t [N_dst, N_src]`` (``torch.sparse_csr``), the
    form PyG's ``ToSparseTensor`` builds and gnnx layers take in place of ``edge_index``;
    its values are ``attr`` (default ``edge_weight``, ones when absent). ``edge_index`` is
    dropped unless ``remove_edge_index=False`` (a ``Graph`` always keeps its structure, so
    here it is only marked: ``graph.adj_t`` is the matrix to pass). On a
    :class:`~gnnx.HeteroGraph`, every edge type gets its ``adj_t [N_dst, N_src]``."""

    def __init__(self, attr: Optional[str] = "edge_weight", remove_edge_index: bool = True,
                 fill_cache: bool = True, layout: Optional[torch.layout] = None) -> None:
        self.attr, self.remove_edge_index, self.layout = attr, remove_edge_index, layout or torch.sparse_csr

    def _adjacency(self, edge_index: torch.Tensor, values: Optional[torch.Tensor], num_src: int,
                   num_dst: int) -> torch.Tensor:
        if values is None:
            values = torch.ones(edge_index.size(1), device=edge_index.device)
        adj_t = torch.sparse_coo_tensor(edge_index.flip(0), values, (num_dst, num_src)).coalesce()
        return adj_t.to_sparse_csr() if self.layout == torch.sparse_csr else adj_t

    def __call__(self, graph):
        if isinstance(graph, HeteroGraph):  # one adj_t per edge type, [N_dst, N_src]
            out = graph.copy()
            for (src, rel, dst), store in out.edge_items():
                values = store[self.attr] if self.attr and self.attr in store else None
                store.adj_t = self._adjacency(store.edge_index, values, int(out[src].num_nodes),
                                              int(out[dst].num_nodes))
            return out
        values = getattr(graph, self.attr) if self.attr else None
        return graph.replace(adj_t=self._adjacency(graph.edge_index, values, graph.num_nodes, graph.num_nodes))

    def __repr__(self) -> str:
        return f"ToSparseTensor(attr={self.attr})"
