"""Metapath edges for heterogeneous graphs (PyG's ``AddMetaPaths``, ``AddRandomMetaPaths``):
HAN and MetaPath2Vec pipelines add an edge type per metapath, such as
``author -> paper -> author``."""
from __future__ import annotations

from typing import List, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor

from gnnx.hetero_graph import EdgeType, HeteroGraph
from gnnx.transforms.transform import BaseTransform
from gnnx.utils import coalesce, degree


def _check_metapaths(metapaths: Sequence[Sequence[EdgeType]]) -> None:
    for path in metapaths:
        if len(path) < 2:
            raise ValueError(f"Invalid metapath '{path}'")
        if not all(edge[-1] == path[i + 1][0] for i, edge in enumerate(path[:-1])):
            raise ValueError(f"Invalid sequence of node types in '{path}'")


def _postprocess(data: HeteroGraph, edge_types: List[EdgeType], drop_orig_edge_types: bool, keep_same_node_type: bool,
                 drop_unconnected_node_types: bool) -> None:
    if drop_orig_edge_types:
        for edge_type in edge_types:
            if not (keep_same_node_type and edge_type[0] == edge_type[-1]):
                data._edges.pop(edge_type, None)
    if drop_unconnected_node_types:
        connected = {t for edge_type in data.edge_types for t in (edge_type[0], edge_type[-1])}
        for node_type in list(data.node_types):
            if node_type not in connected:
                data._nodes.pop(node_type)


class _MetaPathTransform(BaseTransform):
    """What both metapath transforms keep: the metapaths and what happens to the original
    edge types and unconnected node types."""

    def __init__(self, metapaths: List[List[EdgeType]], drop_orig_edge_types: bool, keep_same_node_type: bool,
                 drop_unconnected_node_types: bool) -> None:
        _check_metapaths(metapaths)
        self.metapaths, self.drop_orig_edge_types = metapaths, drop_orig_edge_types
        self.keep_same_node_type, self.drop_unconnected_node_types = keep_same_node_type, drop_unconnected_node_types

    def _edges(self, data: HeteroGraph, index: int, metapath: List[EdgeType]) -> Tuple[Tensor, Optional[Tensor]]:
        """The new edge type's ``(edge_index, edge_weight or None)``."""
        raise NotImplementedError

    def forward(self, data: HeteroGraph) -> HeteroGraph:
        edge_types = data.edge_types
        data.metapath_dict = {}
        for index, metapath in enumerate(self.metapaths):
            for edge_type in metapath:
                if edge_type not in edge_types:
                    raise ValueError(f"{type(self).__name__}: the metapath's edge type {edge_type} is not in the graph")
            edge_index, weight = self._edges(data, index, metapath)
            new_type = (metapath[0][0], f"metapath_{index}", metapath[-1][-1])
            data[new_type].edge_index = edge_index
            if weight is not None:
                data[new_type].edge_weight = weight
            data.metapath_dict[new_type] = metapath
        _postprocess(data, edge_types, self.drop_orig_edge_types, self.keep_same_node_type,
                     self.drop_unconnected_node_types)
        return data


class AddMetaPaths(_MetaPathTransform):
    """One edge type ``(first, "metapath_<j>", last)`` per metapath: the pairs joined by a
    walk along its edge types (the product of their adjacencies; with ``weighted``, the
    number of such walks or the product of ``edge_weight``s as ``edge_weight``).
    ``max_sample`` keeps about that many edges per source at each step. The metapaths are
    recorded in ``graph.metapath_dict``."""

    def __init__(self, metapaths: List[List[EdgeType]], drop_orig_edge_types: bool = False,
                 keep_same_node_type: bool = False, drop_unconnected_node_types: bool = False,
                 max_sample: Optional[int] = None, weighted: bool = False, **kwargs: bool) -> None:
        drop_orig_edge_types = kwargs.get("drop_orig_edges", drop_orig_edge_types)  # PyG's older names
        drop_unconnected_node_types = kwargs.get("drop_unconnected_nodes", drop_unconnected_node_types)
        super().__init__(metapaths, drop_orig_edge_types, keep_same_node_type, drop_unconnected_node_types)
        self.max_sample, self.weighted = max_sample, weighted

    def _adjacency(self, data: HeteroGraph, edge_type: EdgeType) -> Tuple[Tensor, Optional[Tensor], Tuple[int, int]]:
        store = data[edge_type]
        size = (data[edge_type[0]].num_nodes, data[edge_type[-1]].num_nodes)
        edge_index = store.edge_index
        order = torch.argsort(edge_index[0] * size[1] + edge_index[1], stable=True)
        weight = store.edge_weight[order] if self.weighted and "edge_weight" in store else None
        return edge_index[:, order], weight, size

    def _sample(self, edge_index: Tensor, weight: Optional[Tensor], num_rows: int) -> Tuple[Tensor, Optional[Tensor]]:
        prob = (self.max_sample * (1.0 / degree(edge_index[0], num_nodes=num_rows)))[edge_index[0]]
        keep = torch.rand_like(prob) < prob
        return edge_index[:, keep], None if weight is None else weight[keep]

    def _edges(self, data: HeteroGraph, index: int, metapath: List[EdgeType]) -> Tuple[Tensor, Optional[Tensor]]:
        edge_index, weight, (rows, cols) = self._adjacency(data, metapath[0])
        if self.max_sample is not None:
            edge_index, weight = self._sample(edge_index, weight, rows)
        for edge_type in metapath[1:]:
            edge_index2, weight2, (_, cols2) = self._adjacency(data, edge_type)
            left = torch.sparse_coo_tensor(edge_index, weight if weight is not None else torch.ones(edge_index.size(1)),
                                           (rows, cols)).coalesce()
            right = torch.sparse_coo_tensor(edge_index2, weight2 if weight2 is not None else
                                            torch.ones(edge_index2.size(1)), (cols, cols2)).coalesce()
            product = torch.sparse.mm(left, right).coalesce()
            edge_index, weight = product.indices(), (product.values() if self.weighted else None)
            cols = cols2
            if self.max_sample is not None:
                edge_index, weight = self._sample(edge_index, weight, rows)
        return edge_index, weight


class AddRandomMetaPaths(_MetaPathTransform):
    """Metapath edges from random walks: ``walks_per_node`` walks from a ``sample_ratio``
    share of the first type's nodes, each step a uniform out-edge of the metapath's next
    edge type (walks stop at nodes without one)."""

    def __init__(self, metapaths: List[List[EdgeType]], drop_orig_edge_types: bool = False,
                 keep_same_node_type: bool = False, drop_unconnected_node_types: bool = False,
                 walks_per_node: Union[int, List[int]] = 1, sample_ratio: float = 1.0) -> None:
        super().__init__(metapaths, drop_orig_edge_types, keep_same_node_type, drop_unconnected_node_types)
        self.sample_ratio = sample_ratio
        walks = [walks_per_node] * len(metapaths) if isinstance(walks_per_node, int) else list(walks_per_node)
        if len(walks) != len(metapaths):
            raise ValueError(f"walks_per_node: {len(walks)} values for {len(metapaths)} metapaths")
        self.walks_per_node = walks

    @staticmethod
    def sample(edge_index: Tensor, num_rows: int, subset: Tensor) -> Tuple[Tensor, Tensor]:
        """A uniform out-neighbour of each node of ``subset`` and whether it has one."""
        order = torch.argsort(edge_index[0], stable=True)
        col = edge_index[1][order]
        rowptr = torch.zeros(num_rows + 1, dtype=torch.long, device=edge_index.device)
        rowptr[1:] = torch.cumsum(torch.bincount(edge_index[0], minlength=num_rows), 0)
        count = rowptr.diff()[subset]
        has = count > 0
        offset = torch.zeros_like(subset)
        offset[has] = rowptr[subset[has]]
        pick = (torch.rand((count.size(0), 1), device=subset.device) * count.to(torch.float).view(-1, 1)).long()
        pick = (pick + offset.view(-1, 1)).clamp(max=max(col.numel() - 1, 0))
        return col[pick].view(-1) if col.numel() else subset.new_zeros(subset.numel()), has

    def _edges(self, data: HeteroGraph, index: int, metapath: List[EdgeType]) -> Tuple[Tensor, Optional[Tensor]]:
        count = data[metapath[0][0]].num_nodes
        row = start = torch.randperm(count)[:round(count * self.sample_ratio)].repeat(self.walks_per_node[index])
        for edge_type in metapath:
            col, has = self.sample(data[edge_type].edge_index, data[edge_type[0]].num_nodes, start)
            row, col = row[has], col[has]
            start = col
        return coalesce(torch.stack([row, col])), None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(sample_ratio={self.sample_ratio}, walks_per_node={self.walks_per_node})"
