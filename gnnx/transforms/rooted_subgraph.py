r"""Rooted subgraphs of every node (PyG's ``RootedEgoNets``, ``RootedRWSubgraph``), from
`"From Stars to Subgraphs: Uplifting Any GNN with Local Structure Awareness"
<https://arxiv.org/abs/2110.03753>`_ (GNN-AK): a subgraph GNN encodes each node's rooted
subgraph and pools it back to the root.

The transform keeps the graph and adds, in PyG's layout, the subgraphs of all nodes one after
another: ``n_id`` (the member nodes, subgraph by subgraph, each in node order), ``n_sub_batch``
(each member's subgraph = its root), ``e_id`` and ``e_sub_batch`` (the induced edges, subgraph
by subgraph in edge order) and ``sub_edge_index`` (those edges between positions of ``n_id``).
:meth:`RootedSubgraphData.map_data` turns that into one graph of all subgraphs to run a GNN on.

PyG builds an ``[N, N]`` membership mask (a dense product per hop for ego nets), so memory
grows with the square of the node count; here membership is a sorted vector of (root, node)
keys and the edges are found through the CSR, so the cost follows the subgraphs' total size.
"""
from __future__ import annotations

from abc import abstractmethod
from typing import Tuple

import torch
from torch import Tensor

from gnnx.data.random_walk import random_walk
from gnnx.data.shadow import induced_edges, reach
from gnnx.graph import EDGE_ATTRS, NODE_ATTRS, Graph, attribute_kind
from gnnx.transforms.transform import BaseTransform

SUBGRAPH_FIELDS = ("sub_edge_index", "n_id", "e_id", "n_sub_batch", "e_sub_batch")


class RootedSubgraphData(Graph):
    """A graph with every node's rooted subgraph (module docstring)."""

    def map_data(self) -> Graph:
        """All rooted subgraphs as one graph: node tensors gathered by ``n_id``, edge tensors by
        ``e_id``, ``edge_index = sub_edge_index``; ``n_sub_batch`` says which root each row serves."""
        n_id, e_id = self.attrs["n_id"], self.attrs["e_id"]
        fields = {name: getattr(self, name) for name in NODE_ATTRS + EDGE_ATTRS}
        fields.update({k: v for k, v in self.attrs.items() if k not in SUBGRAPH_FIELDS})
        for name, value in fields.items():
            kind = attribute_kind(name, value, self.num_nodes, self.num_edges)
            if kind is not None:
                fields[name] = value[n_id] if kind == "node" else value[e_id]
        extra = {"n_sub_batch": self.attrs["n_sub_batch"]}
        return Graph(self.attrs["sub_edge_index"], n_id.numel(), validate=False, **fields, **extra)


class RootedSubgraph(BaseTransform):
    """Base class: :meth:`extract` gives each node's subgraph members; the induced edges and
    PyG's fields follow."""

    @abstractmethod
    def members(self, graph: Graph) -> Tensor:
        """Sorted keys ``root * num_nodes + node`` of every subgraph's members."""

    def extract(self, graph: Graph) -> Tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
        """PyG's ``(sub_edge_index, n_id, e_id, n_sub_batch, e_sub_batch)``."""
        num_nodes = graph.num_nodes
        keys = self.members(graph)
        src, dst, e_id = induced_edges(graph.csr, num_nodes, keys)
        n_sub_batch = keys // num_nodes
        e_sub_batch = n_sub_batch[dst]
        order = torch.argsort(e_sub_batch * max(graph.num_edges, 1) + e_id)  # PyG's: by subgraph, then edge id
        return (torch.stack([src[order], dst[order]]), keys % num_nodes, e_id[order], n_sub_batch,
                e_sub_batch[order])

    def forward(self, data: Graph) -> RootedSubgraphData:
        out = object.__new__(RootedSubgraphData)
        out.__dict__.update(data.__dict__)
        out.attrs = {**data.attrs, **dict(zip(SUBGRAPH_FIELDS, self.extract(data)))}
        return out


class RootedEgoNets(RootedSubgraph):
    """Each node's ``num_hops``-hop ego net (the nodes that reach it within ``num_hops`` edges,
    and every edge between them)."""

    def __init__(self, num_hops: int) -> None:
        if isinstance(num_hops, bool) or not isinstance(num_hops, int) or num_hops < 0:
            raise ValueError(f"RootedEgoNets: num_hops must be a non-negative int, got {num_hops!r}")
        self.num_hops = num_hops

    def members(self, graph: Graph) -> Tensor:
        roots = torch.arange(graph.num_nodes, device=graph.edge_index.device)
        return reach(graph.csr, graph.num_nodes, roots, self.num_hops, -1)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(num_hops={self.num_hops})"


class RootedRWSubgraph(RootedSubgraph):
    """Each node's subgraph of the nodes its ``repeat`` random walks of ``walk_length`` steps
    visit (along out-edges, as PyG's; PyG's needs ``pyg-lib`` for the walks)."""

    def __init__(self, walk_length: int, repeat: int = 1) -> None:
        if walk_length < 0 or repeat < 1:
            raise ValueError(f"RootedRWSubgraph: walk_length must be >= 0 and repeat >= 1, got {walk_length}, {repeat}")
        self.walk_length, self.repeat = walk_length, repeat

    def members(self, graph: Graph) -> Tensor:
        num_nodes = graph.num_nodes
        csr = graph.csr  # by source: the transposed fields
        start = torch.arange(num_nodes, device=graph.edge_index.device).repeat_interleave(self.repeat)
        walks = random_walk(csr.rowptr_t, csr.col_t, start, self.walk_length)
        return torch.unique(start.unsqueeze(1) * num_nodes + walks)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(walk_length={self.walk_length})"
