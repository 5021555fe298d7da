"""Edge-structure transforms (PyG's ``RemoveSelfLoops``, ``AddRemainingSelfLoops``,
``RemoveIsolatedNodes``, ``TwoHop``, ``ToDense``), PyG's arguments and results. Sizes follow
the data: these prepare data, outside compiled code."""
from __future__ import annotations

from typing import Optional, Union

import torch
from torch import Tensor

from gnnx.graph import Graph
from gnnx.hetero_graph import HeteroGraph
from gnnx.transforms.transform import BaseTransform
from gnnx.utils import add_remaining_self_loops, coalesce, remove_self_loops


def _edge_value(graph: Graph, name: str) -> Optional[Tensor]:
    return getattr(graph, name, None)


class RemoveSelfLoops(BaseTransform):
    """Drop every edge ``i -> i`` (and its ``attr`` value); per edge type within one node
    type on a :class:`~gnnx.HeteroGraph`."""

    def __init__(self, attr: str = "edge_weight") -> None:
        self.attr = attr

    def forward(self, data: Union[Graph, HeteroGraph]) -> Union[Graph, HeteroGraph]:
        if isinstance(data, HeteroGraph):
            for (src, _, dst), store in data.edge_items():
                if src == dst and "edge_index" in store:
                    store.edge_index, value = remove_self_loops(store.edge_index, store[self.attr]
                                                                if self.attr in store else None)
                    setattr(store, self.attr, value)
            return data
        edge_index, value = remove_self_loops(data.edge_index, _edge_value(data, self.attr))
        return data.replace(edge_index=edge_index, **{self.attr: value})


class AddRemainingSelfLoops(BaseTransform):
    """Add ``i -> i`` to every node without one (``attr`` filled with ``fill_value``: a
    number, a tensor, or ``"add"``/``"mean"``/... of the node's incoming values)."""

    def __init__(self, attr: str = "edge_weight", fill_value: Union[float, Tensor, str] = 1.0) -> None:
        self.attr, self.fill_value = attr, fill_value

    def forward(self, data: Union[Graph, HeteroGraph]) -> Union[Graph, HeteroGraph]:
        if isinstance(data, HeteroGraph):
            for (src, _, dst), store in data.edge_items():
                if src == dst and "edge_index" in store:
                    store.edge_index, value = add_remaining_self_loops(
                        store.edge_index, store[self.attr] if self.attr in store else None,
                        fill_value=self.fill_value, num_nodes=data[src].num_nodes)
                    setattr(store, self.attr, value)
            return data
        edge_index, value = add_remaining_self_loops(data.edge_index, _edge_value(data, self.attr),
                                                     fill_value=self.fill_value, num_nodes=data.num_nodes)
        return data.replace(edge_index=edge_index, **{self.attr: value})


class RemoveIsolatedNodes(BaseTransform):
    """Drop the nodes no edge touches (self loops count, as PyG's transform), renumbering the
    rest; every per-node tensor is cut to match."""

    def forward(self, data: Graph) -> Graph:
        keep = torch.zeros(data.num_nodes, dtype=torch.bool, device=data.edge_index.device)
        keep[data.edge_index.view(-1)] = True
        new_id = torch.cumsum(keep.long(), 0) - 1
        changes = {"edge_index": new_id[data.edge_index], "num_nodes": int(keep.sum())}
        for name, value in _node_tensors(data).items():
            changes[name] = value[keep]
        return data.replace(**changes)


def _node_tensors(data: Graph) -> dict:
    """The graph's tensors with one row per node (``x``, ``y``, ``pos``, masks, ...)."""
    fields = {"x": data.x, "y": data.y, "pos": data.pos, "batch": data.batch, **data.attrs}
    return {k: v for k, v in fields.items() if isinstance(v, Tensor) and v.dim() > 0 and v.size(0) == data.num_nodes
            and k not in ("edge_weight", "edge_attr") and "edge" not in k}


class TwoHop(BaseTransform):
    """Add the two-hop edges (``A^2``, self loops left out); their ``edge_attr`` is zero."""

    def forward(self, data: Graph) -> Graph:
        count = data.num_nodes
        edge_index, edge_attr = data.edge_index, data.edge_attr
        adj = torch.sparse_coo_tensor(edge_index, torch.ones(edge_index.size(1), device=edge_index.device),
                                      (count, count)).coalesce()
        two_hop = torch.sparse.mm(adj, adj).coalesce().indices()
        two_hop, _ = remove_self_loops(two_hop)
        edge_index = torch.cat([edge_index, two_hop], dim=1)
        if edge_attr is not None:
            edge_attr = torch.cat([edge_attr, edge_attr.new_zeros(two_hop.size(1), *edge_attr.size()[1:])])
            edge_index, edge_attr = coalesce(edge_index, edge_attr, count)
        else:
            edge_index = coalesce(edge_index, num_nodes=count)
        return data.replace(edge_index=edge_index, edge_attr=edge_attr)


class ToDense(BaseTransform):
    """The dense adjacency ``adj [N, N(, F)]`` (``edge_attr`` values, else ones), node
    tensors zero-padded to ``num_nodes`` rows and ``mask`` marking the real nodes. The graph
    keeps an empty ``edge_index`` (PyG's drops it; a gnnx :class:`~gnnx.Graph` needs one)."""

    def __init__(self, num_nodes: Optional[int] = None) -> None:
        self.num_nodes = num_nodes

    def forward(self, data: Graph) -> Graph:
        original = data.num_nodes
        count = original if self.num_nodes is None else self.num_nodes
        if count < original:
            raise ValueError(f"ToDense(num_nodes={count}) cannot hold a graph of {original} nodes")
        values = data.edge_attr if data.edge_attr is not None else torch.ones(data.num_edges)
        adj = torch.sparse_coo_tensor(data.edge_index, values, torch.Size([count, count] + list(values.size())[1:]))
        mask = torch.zeros(count, dtype=torch.bool)
        mask[:original] = True
        changes = {"adj": adj.to_dense(), "mask": mask, "num_nodes": count,
                   "edge_index": data.edge_index.new_zeros(2, 0), "edge_attr": None, "edge_weight": None}
        for name in ("x", "pos", "y"):
            value = getattr(data, name)
            if isinstance(value, Tensor) and value.dim() > 0 and value.size(0) == original:
                changes[name] = torch.cat([value, value.new_zeros([count - original] + list(value.size())[1:])])
        return data.replace(**changes)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()" if self.num_nodes is None else f"{type(self).__name__}(num_nodes={self.num_nodes})"
