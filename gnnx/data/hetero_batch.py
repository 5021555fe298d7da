"""Mini-batches of heterogeneous graphs: the disjoint union per node and edge type.

:meth:`HeteroBatch.from_graphs` joins each node type's attributes across the graphs and gives
the type a ``batch`` vector (the graph of each node) and ``ptr``; each edge type's
``edge_index`` is shifted by the source and destination nodes of its types before it. Every
other attribute is joined by PyG's rules (:mod:`gnnx.data.collate_rules`), so a batch equals
PyG's ``Batch.from_data_list`` of the same ``HeteroData`` list.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

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
        ptrs: Dict[str, List[int]] = {}
        for node_type, store in first.node_items():
            stores = [g[node_type] for g in graphs]
            counts = [s.num_nodes or 0 for s in stores]
            ptrs[node_type] = [sum(counts[:i]) for i in range(len(counts))]
            joined = _join_store(stores, exclude, follow, None)
            if "num_nodes" in store:
                joined["num_nodes"] = sum(counts)
            device = _device_of(joined)
            joined["batch"], joined["ptr"] = rules.batch_and_ptr(counts, device)
            out._nodes[node_type] = NodeStore(node_type, **joined)
        for edge_type, store in first.edge_items():
            src, _, dst = edge_type
            offsets = [torch.tensor([[ptrs[src][i]], [ptrs[dst][i]]]) for i in range(len(graphs))]
            out._edges[edge_type] = EdgeStore(edge_type, **_join_store([g[edge_type] for g in graphs], exclude,
                                                                         follow, offsets))
        return out

    def __len__(self) -> int:
        return self.num_graphs

    def __repr__(self) -> str:
        return f"HeteroBatch(num_graphs={self.num_graphs}," + super().__repr__()[len("HeteroGraph("):]


def _join_store(stores: Sequence[Any], exclude: set, follow: set,
                index_offsets: Optional[Sequence[Tensor]]) -> Dict[str, Any]:
    """One store's attributes joined across the graphs; in an edge store (``index_offsets``
    given) attributes named ``*index*`` are shifted by the nodes before them."""
    joined: Dict[str, Any] = {}
    for name in stores[0].keys():
        if name in exclude or name in ("num_nodes", "batch", "ptr"):
            continue
        if any(name not in s for s in stores):
            raise ValueError(f"HeteroBatch.from_graphs: some graphs' {stores[0]._key!r} stores have '{name}' and "
                             "some do not")
        values = [s[name] for s in stores]
        index = index_offsets is not None and "index" in name
        joined[name] = rules.join(name, values, index_offsets if index else None)
        if name in follow:
            counts = [rules.count_along_join(name, v, index) for v in values]
            joined[f"{name}_batch"], joined[f"{name}_ptr"] = rules.batch_and_ptr(counts, _device_of(joined))
    return joined


def _device_of(fields: Dict[str, Any]) -> Optional[torch.device]:
    return next((v.device for v in fields.values() if isinstance(v, Tensor)), None)


torch.serialization.add_safe_globals([HeteroBatch])  # torch.load(weights_only=True), as HeteroGraph
