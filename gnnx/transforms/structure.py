"""Edge-structure transforms (PyG's ``RemoveSelfLoops``, ``AddRemainingSelfLoops``,
``RemoveIsolatedNodes``, ``TwoHop``, ``ToDense``), PyG's arguments and results. Sizes follow
the data: these prepare data, outside compiled code."""
from __future__ import annotations

from typing import Optional, Union

import torch
from torch import Tensor

from gnnx.graph import Graph, attribute_kind
from gnnx.hetero_graph import HeteroGraph
from gnnx.transforms.transform import BaseTransform
from gnnx.utils import add_remaining_self_loops, coalesce, remove_self_loops, scatter


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
    return {k: v for k, v in fields.items() if attribute_kind(k, v, data.num_nodes, data.num_edges) == "node"}


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


class LineGraph(BaseTransform):
    """The line graph: one node per edge, joined where the edges meet (directed graphs:
    ``u -> v`` to every edge leaving ``v``; undirected ones: edges sharing an end, the node
    features the summed ``edge_attr`` of the pair). As PyG's, from coalesced edges."""

    def __init__(self, force_directed: bool = False) -> None:
        self.force_directed = force_directed

    def forward(self, data: Graph) -> Graph:
        from gnnx.utils import is_undirected

        count = data.num_nodes
        if data.edge_attr is not None:
            edge_index, edge_attr = coalesce(data.edge_index, data.edge_attr, count)
        else:
            edge_index, edge_attr = coalesce(data.edge_index, num_nodes=count), None
        row, col = edge_index[0], edge_index[1]
        if self.force_directed or not is_undirected(edge_index, num_nodes=count):
            out_degree = torch.bincount(row, minlength=count)
            start = torch.cumsum(out_degree, 0) - out_degree  # edges are sorted by source
            fanout = out_degree[col]  # edge e = (u -> v) meets every edge leaving v
            source = torch.arange(row.numel(), device=row.device).repeat_interleave(fanout)
            offset = torch.arange(int(fanout.sum()), device=row.device) - (torch.cumsum(fanout, 0) - fanout)[source]
            target = start[col][source] + offset
            return data.replace(edge_index=torch.stack([source, target]), num_nodes=row.numel(), x=edge_attr,
                                edge_attr=None, edge_weight=None)
        keep = row < col
        row, col = row[keep], col[keep]
        ids = torch.arange(row.numel(), device=row.device)
        (row, col), ids = coalesce(torch.stack([torch.cat([row, col]), torch.cat([col, row])]), torch.cat([ids, ids]),
                                   count)
        joints = torch.split(ids, torch.bincount(row, minlength=count).tolist())
        pairs = torch.cat([torch.stack([j.repeat_interleave(j.numel()), j.repeat(j.numel())]) for j in joints], dim=1) \
            if joints else ids.new_zeros(2, 0)
        pairs, _ = remove_self_loops(pairs)
        num_edges = row.numel() // 2
        pairs = coalesce(pairs, num_nodes=num_edges)
        x = scatter(edge_attr, ids, dim=0, dim_size=num_edges, reduce="sum") if edge_attr is not None else None
        return data.replace(edge_index=pairs, num_nodes=num_edges, x=x, edge_attr=None, edge_weight=None)


class HalfHop(BaseTransform):
    """Half-hop augmentation (Azabou et al., 2023): each edge into a node picked with
    probability ``p`` gets a "slow" node in its middle, with features
    ``alpha * x_src + (1 - alpha) * x_dst``, joined ``src -> slow -> dst`` and
    ``dst -> slow``; ``slow_node_mask`` marks the added nodes (other per-node tensors, such as
    ``y``, keep the original nodes' rows: select ``out[~slow_node_mask]`` for them)."""

    def __init__(self, alpha: float = 0.5, p: float = 1.0) -> None:
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"Interpolation factor has to be between 0 and 1 (got '{alpha}'")
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Ratio of half-hopped edges has to be between 0 and 1 (got '{p}'")
        self.alpha, self.p = alpha, p

    def forward(self, data: Graph) -> Graph:
        if data.edge_weight is not None or data.edge_attr is not None:
            raise ValueError("'HalfHop' augmentation is not supported if 'data' contains 'edge_weight' or 'edge_attr'")
        if data.x is None:
            raise ValueError("HalfHop needs node features: the graph has no 'x'")
        x, edge_index, count = data.x, data.edge_index, data.num_nodes
        is_loop = edge_index[0] == edge_index[1]
        loops, edge_index = edge_index[:, is_loop], edge_index[:, ~is_loop]
        hop = (torch.rand(count, device=x.device) < self.p)[edge_index[1]]
        hopped, kept = edge_index[:, hop], edge_index[:, ~hop]
        slow = torch.arange(hopped.size(1), device=x.device) + count
        x_slow = self.alpha * x[hopped[0]] + (1 - self.alpha) * x[hopped[1]]
        new_edges = torch.cat([kept, loops, torch.stack([hopped[0], slow]), torch.stack([slow, hopped[1]]),
                               torch.stack([hopped[1], slow])], dim=1)
        slow_node_mask = torch.cat([x.new_zeros(count), x.new_ones(slow.numel())]).bool()
        return data.replace(x=torch.cat([x, x_slow]), edge_index=new_edges, num_nodes=count + slow.numel(),
                            slow_node_mask=slow_node_mask)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(alpha={self.alpha}, p={self.p})"
