r"""Cluster-GCN's loaders (PyG's ``ClusterData``, ``ClusterLoader``).

Cluster-GCN (Chiang et al., `"Cluster-GCN: An Efficient Algorithm for Training Deep and Large
Graph Convolutional Networks" <https://arxiv.org/abs/1905.07953>`_) partitions a large graph
into ``num_parts`` clusters with METIS once, then trains on a few clusters at a time: a batch
is the subgraph induced by the union of ``batch_size`` random clusters, so the edges between
the chosen clusters come back and most edges stay inside a batch.

``ClusterData`` reorders the nodes cluster by cluster (``partition.node_perm``) and keeps the
edges as a CSR over the new order (``partition.indptr``/``index``, ``partition.edge_perm``),
exactly PyG's layout, so ``cluster_data[i]`` and the loader's batches are PyG's for the same
partition (``tests/data/test_cluster.py`` gives PyG gnnx's partition and compares). PyG calls
METIS through pyg-lib or torch-sparse, which PyPI does not carry for current torch; gnnx
calls it through ``pymetis`` (``pip install pymetis``), on the graph made undirected without
self loops, as METIS requires. The partition is cached under ``save_dir`` as plain tensors
(loaded with ``weights_only=True``).
"""
from __future__ import annotations

import os
import sys
from typing import Any, List, NamedTuple, Optional, Sequence

import torch
from torch import Tensor

from gnnx._optional import require
from gnnx.data.batch import as_graph
from gnnx.graph import EDGE_ATTRS, NODE_ATTRS, Graph, attribute_kind


class Partition(NamedTuple):
    """PyG's partition: the CSR over the reordered nodes, cluster boundaries and permutations."""

    indptr: Tensor
    index: Tensor
    partptr: Tensor
    node_perm: Tensor
    edge_perm: Tensor
    sparse_format: str


def metis(edge_index: Tensor, num_nodes: int, num_parts: int, recursive: bool = False) -> Tensor:
    """METIS's cluster of every node (``[num_nodes]`` in ``[0, num_parts)``), through pymetis,
    on the undirected graph without self loops."""
    pymetis = require("pymetis", "ClusterData (METIS partitions)", note=" (PyG's needs pyg-lib or torch-sparse for it)")
    if num_parts < 1:
        raise ValueError(f"ClusterData: num_parts must be at least 1, got {num_parts}")
    if num_parts == 1:
        return torch.zeros(num_nodes, dtype=torch.long)
    src, dst = edge_index.cpu()
    keep = src != dst
    both = torch.stack([torch.cat([src[keep], dst[keep]]), torch.cat([dst[keep], src[keep]])])
    both = torch.unique(both[0] * num_nodes + both[1])
    row, col = both // num_nodes, both % num_nodes
    indptr = torch.cat([torch.zeros(1, dtype=torch.long), torch.cumsum(torch.bincount(row, minlength=num_nodes), 0)])
    if hasattr(pymetis, "CSRAdjacency"):  # pymetis >= 2025.2 (xadj/adjncy are deprecated there)
        graph = pymetis.CSRAdjacency(adj_starts=indptr.numpy(), adjacent=col.numpy())
        _, membership = pymetis.part_graph(num_parts, adjacency=graph, recursive=recursive)
    else:
        _, membership = pymetis.part_graph(num_parts, xadj=indptr.numpy(), adjncy=col.numpy(), recursive=recursive)
    return torch.as_tensor(membership, dtype=torch.long)


def _node_and_edge_fields(graph: Graph) -> tuple:
    """``(node fields, edge fields, other fields)`` of a graph, as PyG reads them."""
    groups = {"node": {}, "edge": {}, None: {}}
    fields = {name: getattr(graph, name) for name in NODE_ATTRS + EDGE_ATTRS}
    fields.update(graph.attrs)
    for name, value in fields.items():
        if value is not None:
            groups[attribute_kind(name, value, graph.num_nodes, graph.num_edges)][name] = value
    return groups["node"], groups["edge"], groups[None]


class ClusterData(torch.utils.data.Dataset):
    """A graph split into ``num_parts`` METIS clusters (PyG's arguments; module docstring).

    ``cluster_data[i]`` is cluster ``i``'s subgraph (with ``keep_inter_cluster_edges=True``,
    its nodes' edges to other clusters too, as PyG's, indices then past the cluster's nodes).
    """

    def __init__(self, data: Any, num_parts: int, recursive: bool = False, save_dir: Optional[str] = None,
                 filename: Optional[str] = None, log: bool = True, keep_inter_cluster_edges: bool = False,
                 sparse_format: str = "csr") -> None:
        if sparse_format not in ("csr", "csc"):
            raise ValueError(f"ClusterData: sparse_format must be 'csr' or 'csc', got {sparse_format!r}")
        graph = as_graph(data)
        self.num_parts, self.recursive = num_parts, recursive
        self.keep_inter_cluster_edges, self.sparse_format = keep_inter_cluster_edges, sparse_format
        root = os.path.join(save_dir or "", f"part_{num_parts}{'_recursive' if recursive else ''}")
        path = os.path.join(root, filename or "metis.pt")
        if save_dir is not None and os.path.exists(path):
            self.partition = Partition(**torch.load(path, weights_only=True))
        else:
            if log:
                print("Computing METIS partitioning...", file=sys.stderr)
            cluster = metis(graph.edge_index, graph.num_nodes, num_parts, recursive)
            self.partition = self._partition(graph.edge_index.cpu(), cluster)
            if save_dir is not None:
                os.makedirs(root, exist_ok=True)
                torch.save(self.partition._asdict(), path)
            if log:
                print("Done!", file=sys.stderr)
        nodes, edges, self.other = _node_and_edge_fields(graph)
        perm, edge_perm = self.partition.node_perm, self.partition.edge_perm
        self.node_fields = {k: v[perm.to(v.device)] for k, v in nodes.items()}
        self.edge_fields = {k: v[edge_perm.to(v.device)] for k, v in edges.items()}

    def _partition(self, edge_index: Tensor, cluster: Tensor) -> Partition:
        num_nodes = cluster.numel()
        # PyG's calls (torch's default sort), so the order inside a cluster is PyG's too
        _, node_perm = cluster.sort()
        partptr = torch.cat([cluster.new_zeros(1), torch.cumsum(torch.bincount(cluster, minlength=self.num_parts), 0)])
        position = torch.empty_like(node_perm)
        position[node_perm] = torch.arange(num_nodes)
        row, col = position[edge_index]
        major, minor = (row, col) if self.sparse_format == "csr" else (col, row)
        _, edge_perm = (major * num_nodes + minor).sort()
        indptr = torch.cat([major.new_zeros(1), torch.cumsum(torch.bincount(major, minlength=num_nodes), 0)])
        return Partition(indptr, minor[edge_perm], partptr, node_perm, edge_perm, self.sparse_format)

    def __len__(self) -> int:
        return self.partition.partptr.numel() - 1

    def __getitem__(self, idx: int) -> Graph:
        if not -len(self) <= idx < len(self):
            raise IndexError(f"ClusterData: cluster {idx} out of range for {len(self)} clusters")
        return self.subgraph(torch.tensor([idx % len(self)]), keep_outside=self.keep_inter_cluster_edges)

    def subgraph(self, clusters: Tensor, keep_outside: bool = False) -> Graph:
        """The subgraph of the union of ``clusters`` (in that order): its nodes cluster by cluster,
        the edges among them (``keep_outside``: every edge of its nodes, other ends unmapped)."""
        part = self.partition
        node_start, node_end = part.partptr[clusters], part.partptr[clusters + 1]
        sizes = node_end - node_start
        nodes = torch.cat([torch.arange(int(s), int(e)) for s, e in zip(node_start, node_end)])
        edge_start, edge_end = part.indptr[node_start], part.indptr[node_end]
        edges = torch.cat([torch.arange(int(s), int(e)) for s, e in zip(edge_start, edge_end)])
        counts = part.indptr[nodes + 1] - part.indptr[nodes]
        major = torch.repeat_interleave(torch.arange(nodes.numel()), counts)
        minor = part.index[edges]
        if keep_outside:  # PyG's: the other ends keep their positions in the reordered graph
            mask = None
        else:
            local = torch.full((part.indptr.numel() - 1,), -1, dtype=torch.long)
            local[nodes] = torch.arange(nodes.numel())
            minor = local[minor]
            mask = minor >= 0
            major, minor = major[mask], minor[mask]
        row, col = (major, minor) if part.sparse_format == "csr" else (minor, major)
        fields = {k: v[nodes.to(v.device)] for k, v in self.node_fields.items()}
        for name, value in self.edge_fields.items():
            value = value[edges.to(value.device)]
            fields[name] = value if mask is None else value[mask.to(value.device)]
        return Graph(torch.stack([row, col]), int(sizes.sum()), validate=False, **fields, **self.other)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.num_parts})"


class ClusterLoader(torch.utils.data.DataLoader):
    """Batches of ``batch_size`` clusters of a :class:`ClusterData` merged into one subgraph
    with the edges between them (PyG's ``ClusterLoader``; ``shuffle=True`` as Cluster-GCN trains)."""

    def __init__(self, cluster_data: ClusterData, **kwargs: Any) -> None:
        if not isinstance(cluster_data, ClusterData):
            raise TypeError(f"ClusterLoader takes a ClusterData, got {type(cluster_data).__name__}")
        self.cluster_data = cluster_data
        super().__init__(range(len(cluster_data)), collate_fn=self._collate, **kwargs)

    def _collate(self, batch: Sequence[int]) -> Graph:
        return self.cluster_data.subgraph(torch.as_tensor(list(batch), dtype=torch.long))


__all__: List[str] = ["ClusterData", "ClusterLoader", "Partition", "metis"]
