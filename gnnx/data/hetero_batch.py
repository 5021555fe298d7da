"""Mini-batches of heterogeneous graphs: the disjoint union per node and edge type.

:meth:`HeteroBatch.from_graphs` joins each node type's attributes across the graphs and gives
the type a ``batch`` vector (the graph of each node) and ``ptr``; each edge type's
``edge_index`` is shifted by the source and destination nodes of its types before it. Every
other attribute is joined by PyG's rules (:mod:`gnnx.data.collate_rules`), so a batch equals
PyG's ``Batch.from_data_list`` of the same ``HeteroData`` list.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
from torch import Tensor

from gnnx.data import collate_rules as rules
from gnnx.hetero_graph import EdgeStore, HeteroGraph, NodeStore


class HeteroBatch(HeteroGraph):
    """A :class:`~gnnx.HeteroGraph` made of several, with ``num_graphs`` and per node type
    ``batch`` and ``ptr`` (``batch["paper"].batch``, ``batch.batch_dict``)."""

    num_graphs: int

    @classmethod
    def from_graphs(cls, graphs: Sequence[HeteroGraph], follow_batch: Optional[Sequence[str]] = None,
                    exclude_keys: Optional[Sequence[str]] = None) -> "HeteroBatch":
        if len(graphs) == 0:
            raise ValueError("HeteroBatch.from_graphs needs at least one graph")
        follow, exclude = set(follow_batch or ()), set(exclude_keys or ())
        first = graphs[0]
        for i, graph in enumerate(graphs[1:], start=1):
            if graph.metadata() != first.metadata():
                raise ValueError(f"HeteroBatch.from_graphs: graph {i} has types {graph.metadata()}, "
                                 f"graph 0 {first.metadata()}")
        out = cls()
        out.num_graphs = len(graphs)
        out._splits = {}  # per store, how each attribute was joined (to take the graphs apart again)
        ptrs: Dict[str, List[int]] = {}
        for node_type, store in first.node_items():
            stores = [g[node_type] for g in graphs]
            counts = [s.num_nodes or 0 for s in stores]
            ptrs[node_type] = [sum(counts[:i]) for i in range(len(counts))]
            joined, out._splits[node_type] = _join_store(stores, exclude, follow, None)
            if "num_nodes" in store:  # given explicitly: each graph gets its own back
                out._splits[node_type]["num_nodes"] = rules.Split("list", [], [])
            if "num_nodes" in store:
                joined["num_nodes"] = sum(counts)
            device = _device_of(joined)
            joined["batch"], joined["ptr"] = rules.batch_and_ptr(counts, device)
            out._nodes[node_type] = NodeStore(node_type, **joined)
        for edge_type, store in first.edge_items():
            src, _, dst = edge_type
            offsets = [torch.tensor([[ptrs[src][i]], [ptrs[dst][i]]]) for i in range(len(graphs))]
            joined, out._splits[edge_type] = _join_store([g[edge_type] for g in graphs], exclude, follow, offsets)
            out._edges[edge_type] = EdgeStore(edge_type, **joined)
        out._node_counts = {t: [int(g[t].num_nodes or 0) for g in graphs] for t in first.node_types}
        return out

    from_data_list = from_graphs  # PyG's name

    def __len__(self) -> int:
        return self.num_graphs

    def get_example(self, index: int) -> HeteroGraph:
        """Graph ``index`` as it was batched (PyG's ``get_example``)."""
        if "_splits" not in self.__dict__:
            raise RuntimeError("this HeteroBatch was not made by HeteroBatch.from_graphs, so it cannot be taken apart")
        if not -self.num_graphs <= index < self.num_graphs:
            raise IndexError(f"graph {index} of a batch of {self.num_graphs}")
        index %= self.num_graphs
        counts = self._node_counts
        start = {t: sum(c[:index]) for t, c in counts.items()}
        out = HeteroGraph()
        for key, splits in self._splits.items():
            store = self[key]
            for name, split in splits.items():
                if name == "num_nodes":
                    out[key].num_nodes = counts[key][index]
                    continue
                offset = 0
                if split.how == "index":
                    offset = torch.tensor([[start[key[0]]], [start[key[2]]]], device=store[name].device)
                setattr(out[key], name, rules.take(store[name], split, index, offset))
        return out

    def to_data_list(self) -> List[HeteroGraph]:
        return [self.get_example(i) for i in range(self.num_graphs)]

    def __getitem__(self, key: Any) -> Any:
        """``batch[i]`` a graph, ``batch[1:3]`` a list of them; types and attributes as a HeteroGraph's."""
        if isinstance(key, int):
            return self.get_example(key)
        if isinstance(key, slice):
            return [self.get_example(i) for i in range(self.num_graphs)[key]]
        return super().__getitem__(key)

    def to(self, device: Any, non_blocking: bool = False) -> "HeteroBatch":
        return self._keeping_splits(super().to(device, non_blocking=non_blocking))

    def copy(self) -> "HeteroBatch":
        return self._keeping_splits(super().copy())

    def _keeping_splits(self, out: "HeteroBatch") -> "HeteroBatch":
        for name in ("_splits", "_node_counts"):
            if name in self.__dict__:
                setattr(out, name, self.__dict__[name])
        return out

    def __repr__(self) -> str:
        return f"HeteroBatch(num_graphs={self.num_graphs}," + super().__repr__()[len("HeteroGraph("):]


def _join_store(stores: Sequence[Any], exclude: set, follow: set,
                index_offsets: Optional[Sequence[Tensor]]) -> Tuple[Dict[str, Any], Dict[str, rules.Split]]:
    """One store's attributes joined across the graphs, and how (to split them again); in an
    edge store (``index_offsets`` given) attributes named ``*index*`` are shifted by the nodes
    before them."""
    joined: Dict[str, Any] = {}
    splits: Dict[str, rules.Split] = {}
    for name in stores[0].keys():
        if name in exclude or name in ("num_nodes", "batch", "ptr"):
            continue
        if any(name not in s for s in stores):
            raise ValueError(f"HeteroBatch.from_graphs: some graphs' {stores[0]._key!r} stores have '{name}' and "
                             "some do not")
        values = [s[name] for s in stores]
        index = index_offsets is not None and "index" in name
        joined[name] = rules.join(name, values, index_offsets if index else None)
        splits[name] = rules.split_of(name, values, index)
        if name in follow:
            counts = [rules.count_along_join(name, v, index) for v in values]
            joined[f"{name}_batch"], joined[f"{name}_ptr"] = rules.batch_and_ptr(counts, _device_of(joined))
    return joined, splits


def _device_of(fields: Dict[str, Any]) -> Optional[torch.device]:
    return next((v.device for v in fields.values() if isinstance(v, Tensor)), None)


torch.serialization.add_safe_globals([HeteroBatch])  # torch.load(weights_only=True), as HeteroGraph
