"""``trim_to_layer`` (PyG's): drop the nodes and edges a layer's outputs no longer need.

In a mini-batch sampled hop by hop (seeds, then each hop's new nodes, edges in hop order,
as gnnx's and PyG's samplers write them), layer ``l`` of ``L`` only has to compute outputs
for nodes within ``L - l`` hops of the seeds: calling ``trim_to_layer(l, ...)`` before layer
``l`` on the previous layer's (already trimmed) inputs narrows them by one more hop. The
seeds' outputs are unchanged; the work of the last layers shrinks by orders of magnitude.
Narrowing keeps views (no copy); the sizes depend on the batch. A prepared ``Graph`` (what
``gnnx.compile`` hands the model) serves the first layer whole and becomes its narrowed
``edge_index`` after.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Tuple, Union

from torch import Tensor

Counts = Union[List[int], Dict]


def _narrow(value: Tensor, dim: int, layer: int, counts: List[int]) -> Tensor:
    if not isinstance(value, Tensor):
        # a prepared Graph (gnnx.compile passes one): its CSR covers every hop, so the
        # narrowed layers get its hop-ordered edge_index, which they read per edge
        value = value.edge_index
    return value.narrow(dim, 0, value.size(dim) - counts[-layer])


def trim_to_layer(layer: int, num_sampled_nodes_per_hop: Counts, num_sampled_edges_per_hop: Counts,
                  x: Union[Tensor, Dict[str, Tensor]], edge_index: Union[Tensor, Dict[tuple, Tensor]],
                  edge_attr: Optional[Union[Tensor, Dict[tuple, Tensor]]] = None) -> Tuple:
    """``(x, edge_index, edge_attr)`` without the last ``layer``-th hop's nodes and edges
    (dicts per node and edge type for a heterogeneous batch); unchanged for ``layer <= 0``."""
    if layer <= 0:
        return x, edge_index, edge_attr
    if isinstance(num_sampled_edges_per_hop, dict):
        x = {k: _narrow(v, 0, layer, num_sampled_nodes_per_hop[k]) for k, v in x.items()}
        edge_index = {k: _narrow(v, 1, layer, num_sampled_edges_per_hop[k]) for k, v in edge_index.items()}
        if edge_attr is not None:
            edge_attr = {k: _narrow(v, 0, layer, num_sampled_edges_per_hop[k]) for k, v in edge_attr.items()}
        return x, edge_index, edge_attr
    x = _narrow(x, 0, layer, num_sampled_nodes_per_hop)
    edge_index = _narrow(edge_index, 1, layer, num_sampled_edges_per_hop)
    if edge_attr is not None:
        edge_attr = _narrow(edge_attr, 0, layer, num_sampled_edges_per_hop)
    return x, edge_index, edge_attr
