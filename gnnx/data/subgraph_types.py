"""PyG's ``subgraph_type`` for sampled batches: ``"bidirectional"`` and ``"induced"``.

Sampling follows incoming edges, so a batch's edges point towards the seeds (PyG's
``"directional"``, the default). ``"bidirectional"`` adds each sampled edge's reverse: a model
that passes messages both ways over the batch (or a loader with fan-outs of ``-1`` meant to
reproduce full-graph outputs on an undirected graph) wants them. ``"induced"`` keeps the
sampled nodes and takes every edge of the graph between them (PyG's, which needs
torch-sparse; ``directed=False`` in PyG's older spelling). Applied to finished batches by the
loaders (:class:`gnnx.data.loader_options.LoaderOptions`).
"""
from __future__ import annotations

import warnings
from typing import Any, Dict, List, Tuple

import torch
from torch import Tensor

from gnnx.graph import Graph, attribute_kind
from gnnx.hetero_graph import HeteroGraph
from gnnx.utils.functions import first_position_table, unique_first

# what a link loader puts on an edge store: about the batch's links, not its sampled edges
LINK_FIELDS = frozenset({"edge_index", "edge_label_index", "edge_label", "edge_label_time", "input_id"})


def to_bidirectional(edge_index: Tensor, reverse: Tensor, num_src: int) -> Tuple[Tensor, Tensor]:
    """``edge_index`` joined with the flipped ``reverse`` edges, each edge once, sorted by
    destination (PyG's ``to_bidirectional``), and where each came from: position ``k`` in
    ``edge_index``, or ``len(edge_index) + k`` for the flip of ``reverse``'s edge ``k``."""
    both = torch.cat([edge_index, reverse.flip(0)], 1)
    _, first = unique_first(both[1] * max(num_src, 1) + both[0])
    return both[:, first], first


def _rewrite(store: Any, edge_index: Tensor) -> None:
    """An edge store with new edges: the old edges' own attributes (``e_id``, ``edge_attr``,
    per-hop counts) no longer line up and go, as in PyG; the links' fields stay."""
    for name in store.keys():
        if name not in LINK_FIELDS:
            setattr(store, name, None)
    store.edge_index = edge_index


def bidirectional_batch(batch: Any) -> Any:
    """A sampled batch whose edges also run the other way (PyG's ``subgraph_type=
    "bidirectional"``). A homogeneous batch's edges are joined with their reverses, a reverse
    edge keeping its edge's ``e_id`` and attributes, as PyG's. In a heterogeneous batch an
    edge type is joined with its ``rev_`` type (both rewritten), with itself (from a node type
    to itself), or with the one edge type running the other way; their ``e_id`` and edge
    attributes go, as in PyG. The per-hop counts go too: edges no longer come hop by hop."""
    if not isinstance(batch, HeteroGraph):
        num_edges = batch.num_edges
        edge_index, source = to_bidirectional(batch.edge_index, batch.edge_index, batch.num_nodes)
        edge = source % max(num_edges, 1)
        fields = {"x": batch.x, "y": batch.y, "pos": batch.pos, "batch": batch.batch, "edge_weight": batch.edge_weight,
                  "edge_attr": batch.edge_attr, **batch.attrs}
        kept = {}
        for name, value in fields.items():
            if value is None or name in ("num_sampled_nodes", "num_sampled_edges"):
                continue
            on_edges = name == "e_id" or (name not in LINK_FIELDS
                                          and attribute_kind(name, value, batch.num_nodes, num_edges) == "edge")
            kept[name] = value[edge] if on_edges else value
        return Graph(edge_index, batch.num_nodes, validate=False, **kept)
    original = {e: batch[e].edge_index for e in batch.edge_types}  # every type joins its reverse's sampled edges
    between: Dict[Tuple[str, str], List[Tuple[str, str, str]]] = {}
    for edge_type in original:
        between.setdefault((edge_type[0], edge_type[2]), []).append(edge_type)
    for edge_type in original:
        src, rel, dst = edge_type
        if rel.startswith("rev_"):
            continue
        reverse_type = (dst, f"rev_{rel}", src)
        if reverse_type in original:  # the pair is rewritten together
            edge_index, _ = to_bidirectional(original[edge_type], original[reverse_type], batch[src].num_nodes)
            _rewrite(batch[reverse_type], edge_index.flip(0))
        elif src == dst:
            edge_index, _ = to_bidirectional(original[edge_type], original[edge_type], batch[src].num_nodes)
        elif len(between.get((dst, src), [])) == 1:  # a reverse type by its endpoints, if unique
            edge_index, _ = to_bidirectional(original[edge_type], original[between[(dst, src)][0]],
                                             batch[src].num_nodes)
        else:
            warnings.warn(f"subgraph_type='bidirectional': edge type {edge_type} has no reverse edge type; its "
                          "edges stay directional", stacklevel=2)
            continue
        _rewrite(batch[edge_type], edge_index)
    for node_type in batch.node_types:
        batch[node_type].num_sampled_nodes = None
    return batch


def induced_batch(graph: Any, batch: Any) -> Any:
    """``batch``'s sampled nodes with every edge of ``graph`` between them (``e_id`` and the
    edge attributes taken from ``graph``); the per-hop edge counts go. A node on several rows
    (a repeated seed) gets its edges on its first."""
    from gnnx.data.hetero_sampling import _gather_edge_store  # it imports the loaders' options

    if not isinstance(batch, HeteroGraph):
        edge_index, e_id = _edges_between(graph.edge_index, batch.n_id, batch.n_id, graph.num_nodes, graph.num_nodes)
        fields = {"x": batch.x, "y": batch.y, "pos": batch.pos, "batch": batch.batch, **batch.attrs}
        fields = {k: v for k, v in fields.items() if v is not None and k not in ("num_sampled_edges", "e_id")
                  and attribute_kind(k, v, batch.num_nodes, batch.num_edges) != "edge"}
        for name, value in {"edge_weight": graph.edge_weight, "edge_attr": graph.edge_attr, **graph.attrs}.items():
            if attribute_kind(name, value, graph.num_nodes, graph.num_edges) == "edge" and name not in fields:
                fields[name] = value.index_select(0, e_id.to(value.device))
        return Graph(edge_index, batch.num_nodes, validate=False, e_id=e_id, **fields)
    for edge_type in graph.edge_types:
        src, _, dst = edge_type
        edge_index, e_id = _edges_between(graph[edge_type].edge_index, batch[src].n_id, batch[dst].n_id,
                                          int(graph[src].num_nodes), int(graph[dst].num_nodes))
        store = batch[edge_type]
        for name in store.keys():
            if name not in LINK_FIELDS:
                setattr(store, name, None)
        store.edge_index = edge_index
        _gather_edge_store(store, graph[edge_type], e_id)
    return batch


def _edges_between(edge_index: Tensor, src_nodes: Tensor, dst_nodes: Tensor, num_src: int,
                   num_dst: int) -> Tuple[Tensor, Tensor]:
    """The edges from ``src_nodes`` to ``dst_nodes`` (global ids; rows of the batch) as batch
    rows, and their ids."""
    src = first_position_table(src_nodes, num_src)[edge_index[0]]
    dst = first_position_table(dst_nodes, num_dst)[edge_index[1]]
    e_id = ((src >= 0) & (dst >= 0)).nonzero().view(-1)
    return torch.stack([src[e_id], dst[e_id]]), e_id
