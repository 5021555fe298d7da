"""Disjoint and temporal neighbour sampling (PyG's ``disjoint=True`` and ``time_attr``).

Each seed grows its own tree: a node reached from two seeds gets a row under each, and
``batch`` (``[num_rows]``) tells which seed a row belongs to, so a readout per seed
(``global_*_pool(out, batch.batch)``) or a model over each seed's subgraph sees only its own
neighbourhood. Within one seed's tree each node is expanded once, as in exact sampling.

With a time attribute (``time_attr``: node-level, or edge-level) a seed only reaches
neighbours whose time (the node's, or the edge's) is at most the seed's time
(``input_time``, by default the seed node's own time): no information from the future, as
PyG's temporal sampling for relational and temporal graphs (RelBench's pipeline). Among the
allowed neighbours ``temporal_strategy="uniform"`` draws ``fanout`` at random, ``"last"`` keeps
the ``fanout`` most recent (later edges first on ties). Temporal sampling is always disjoint
(each seed has its own time), as in PyG.

Plain torch over each relation's destination-sorted CSR: every candidate edge of the frontier
is enumerated, filtered by time and ranked per frontier row (random keys, or times), so a hop
costs the frontier's total in-degree.
"""
from __future__ import annotations

from typing import Dict, List, NamedTuple, Optional, Tuple

import torch
from torch import Tensor

from gnnx.graph import CSR

NodeKey = str
RelationKey = Tuple[str, str, str]
STRATEGIES = ("uniform", "last")


class Relation(NamedTuple):
    """One edge type as the sampler reads it: its CSR (rows: destinations) and edge times."""

    src: NodeKey
    dst: NodeKey
    csr: CSR
    edge_time: Optional[Tensor]


class Rows(NamedTuple):
    """A node type's rows in a disjoint batch: global ids, owning seed, new rows per hop."""

    n_id: Tensor
    owner: Tensor
    per_hop: List[int]


class Edges(NamedTuple):
    """A relation's sampled edges as batch rows, their ids in the input, edges per hop."""

    src_rows: Tensor
    dst_rows: Tensor
    e_id: Tensor
    per_hop: List[int]


def sample_disjoint(relations: Dict[RelationKey, Relation], num_nodes: Dict[NodeKey, int], input_type: NodeKey,
                    seeds: Tensor, fanouts: Dict[RelationKey, List[int]], hops: int,
                    seed_time: Optional[Tensor] = None, node_time: Optional[Dict[NodeKey, Tensor]] = None,
                    strategy: str = "uniform", generator: Optional[torch.Generator] = None
                    ) -> Tuple[Dict[NodeKey, Rows], Dict[RelationKey, Edges]]:
    """Disjoint (and, given ``seed_time``, temporal) sampling from ``seeds`` of ``input_type``.

    Rows ``0..B-1`` of the input type are the seeds in order; seed ``b`` owns every row
    reached from it. ``node_time`` (per type) or a relation's ``edge_time`` filters
    candidates against the owning seed's ``seed_time``.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"temporal_strategy must be one of {STRATEGIES}, got {strategy!r}")
    device = seeds.device
    num_seeds = seeds.numel()
    node_time = node_time or {}
    # every (seed, node) pair in the batch, per type: its key owner * N + node, sorted, and its row
    keys = {t: torch.empty(0, dtype=torch.long, device=device) for t in num_nodes}
    rows_of_keys = {t: torch.empty(0, dtype=torch.long, device=device) for t in num_nodes}
    n_id = {t: [torch.empty(0, dtype=torch.long, device=device)] for t in num_nodes}
    owner = {t: [torch.empty(0, dtype=torch.long, device=device)] for t in num_nodes}
    per_hop = {t: [0] for t in num_nodes}
    count = {t: 0 for t in num_nodes}

    def add(node_type: NodeKey, nodes: Tensor, owners: Tensor) -> Tuple[Tensor, Tensor]:
        """Append the ``(owner, node)`` pairs not yet in the batch (once each), in key order:
        ``(their nodes, their owners)``."""
        size = max(num_nodes[node_type], 1)
        unique_pairs = torch.unique(owners * size + nodes)
        fresh = unique_pairs[_lookup(keys[node_type], unique_pairs) < 0]
        fresh_rows = torch.arange(count[node_type], count[node_type] + fresh.numel(), device=device)
        count[node_type] += fresh.numel()
        merged, order = torch.sort(torch.cat([keys[node_type], fresh]))
        keys[node_type], rows_of_keys[node_type] = merged, torch.cat([rows_of_keys[node_type], fresh_rows])[order]
        n_id[node_type].append(fresh % size)
        owner[node_type].append(fresh // size)
        return fresh % size, fresh // size

    # the seeds: rows 0..B-1 even when a seed repeats (each is its own tree)
    n_id[input_type].append(seeds)
    seed_owner = torch.arange(num_seeds, device=device)
    owner[input_type].append(seed_owner)
    size = max(num_nodes[input_type], 1)
    keys[input_type], order = torch.sort(seed_owner * size + seeds)
    rows_of_keys[input_type] = seed_owner[order]
    count[input_type] = num_seeds
    per_hop[input_type] = [num_seeds]
    frontier = {input_type: (seeds, seed_owner, seed_owner)}  # nodes, owners, rows
    # per relation and hop: (sources, destination rows, edge ids, owners)
    edges: Dict[RelationKey, List[Tuple[Tensor, Tensor, Tensor, Tensor]]] = {r: [] for r in relations}
    empty = seeds.new_empty(0)
    for hop in range(hops):
        reached: Dict[NodeKey, List[Tuple[Tensor, Tensor]]] = {}
        for key, relation in relations.items():
            fanout = fanouts[key][hop]
            if relation.dst not in frontier or fanout == 0 or frontier[relation.dst][0].numel() == 0:
                edges[key].append((empty, empty, empty, empty))
                continue
            nodes, owners, rows = frontier[relation.dst]
            times = None if seed_time is None else seed_time[owners]
            slot, entry = _draw(relation, nodes, times, node_time.get(relation.src), fanout, strategy, generator)
            sources = relation.csr.col[slot]
            edges[key].append((sources, rows[entry], relation.csr.perm[slot], owners[entry]))
            reached.setdefault(relation.src, []).append((sources, owners[entry]))
        frontier = {}
        for node_type, parts in reached.items():
            nodes = torch.cat([p[0] for p in parts])
            owners = torch.cat([p[1] for p in parts])
            before = count[node_type]
            fresh_nodes, fresh_owners = add(node_type, nodes, owners)
            frontier[node_type] = (fresh_nodes, fresh_owners, torch.arange(before, count[node_type], device=device))
        for node_type in num_nodes:
            per_hop[node_type].append(frontier[node_type][0].numel() if node_type in frontier else 0)
    rows_out = {t: Rows(torch.cat(n_id[t]), torch.cat(owner[t]), per_hop[t]) for t in num_nodes}
    edges_out: Dict[RelationKey, Edges] = {}
    for key, relation in relations.items():
        columns = list(zip(*edges[key])) or [[empty]] * 4  # no hops: no edges
        sources, dst_rows, e_id, owners = (torch.cat(column) for column in columns)
        size = max(num_nodes[relation.src], 1)
        src_rows = rows_of_keys[relation.src][_lookup(keys[relation.src], owners * size + sources)]
        edges_out[key] = Edges(src_rows, dst_rows, e_id, [part[0].numel() for part in edges[key]])
    return rows_out, edges_out


def _lookup(sorted_keys: Tensor, queries: Tensor) -> Tensor:
    """Positions of ``queries`` in ``sorted_keys`` (``-1`` where absent)."""
    if sorted_keys.numel() == 0:
        return torch.full_like(queries, -1)
    position = torch.searchsorted(sorted_keys, queries).clamp(max=sorted_keys.numel() - 1)
    return torch.where(sorted_keys[position] == queries, position, -1)


def _draw(relation: Relation, nodes: Tensor, seed_time: Optional[Tensor], src_time: Optional[Tensor], fanout: int,
          strategy: str, generator: Optional[torch.Generator]) -> Tuple[Tensor, Tensor]:
    """Up to ``fanout`` allowed incoming edges of each frontier entry: ``(slot in the CSR,
    frontier entry)``. Allowed: the edge's time, else its source's, at most the entry's seed
    time (every edge when there is no time)."""
    rowptr = relation.csr.rowptr
    start = rowptr[nodes]
    degree = rowptr[nodes + 1] - start
    total = int(degree.sum())
    entry = torch.repeat_interleave(torch.arange(nodes.numel(), device=nodes.device), degree, output_size=total)
    slot = start[entry] + (torch.arange(total, device=nodes.device)
                           - torch.repeat_interleave(torch.cumsum(degree, 0) - degree, degree, output_size=total))
    time = None
    if relation.edge_time is not None:
        time = relation.edge_time[relation.csr.perm[slot]]
    elif src_time is not None:
        time = src_time[relation.csr.col[slot]]
    allowed = torch.ones(total, dtype=torch.bool, device=nodes.device)
    if seed_time is not None and time is not None:
        allowed = time <= seed_time[entry]
    # rank each entry's candidates: allowed first, then random (uniform) or latest first (last)
    if strategy == "last" and time is not None:
        order = torch.argsort(slot, descending=True, stable=True)  # ties: later edges first
        order = order[torch.argsort(time[order], descending=True, stable=True)]
    else:
        order = torch.argsort(torch.rand(total, generator=generator, device=nodes.device))
    order = order[torch.argsort((~allowed[order]).to(torch.uint8), stable=True)]
    order = order[torch.argsort(entry[order], stable=True)]
    rank = torch.arange(total, device=nodes.device) - (torch.cumsum(degree, 0) - degree)[entry[order]]
    keep = allowed[order] & ((rank < fanout) if fanout >= 0 else torch.ones_like(allowed))
    chosen = order[keep]
    return slot[chosen], entry[chosen]


# -- batches ---------------------------------------------------------------------------------------
def time_attribute(stores: Dict[str, object], counts: Dict[str, int], time_attr: str) -> Dict[str, Tensor]:
    """``{key: times}`` of the stores holding ``time_attr`` with one entry per row (``counts``)."""
    out = {}
    for key, store in stores.items():
        value = store.get(time_attr) if hasattr(store, "get") else None
        if isinstance(value, Tensor) and value.dim() == 1 and value.numel() == counts[key]:
            out[key] = value
    return out


def seed_times(seeds: Tensor, input_time: Optional[Tensor], node_time: Optional[Tensor], index: Tensor,
               name: str) -> Tensor:
    """The seeds' times: PyG's ``input_time`` for these inputs, else the seed nodes' own times."""
    if input_time is not None:
        return input_time.to(seeds.device)[index]
    if node_time is None:
        raise ValueError(f"{name}: the seed nodes hold no time_attr of their own (it is on edges or other node "
                         "types), so the seeds need input_time (one time per input)")
    return node_time[seeds]


def disjoint_graph(graph, seeds: Tensor, fanouts: List[int], seed_time: Optional[Tensor], node_time: Optional[Tensor],
                   edge_time: Optional[Tensor], strategy: str, generator: Optional[torch.Generator]):
    """A homogeneous :class:`~gnnx.Graph` batch of disjoint (temporal) sampling: rows as
    :func:`sample_disjoint` lays them out, ``batch`` the owning seed of each row."""
    from gnnx.data.sampling import _subgraph  # the sampling module's loaders import this one

    key = ("node", "to", "node")
    rows, edges = sample_disjoint({key: Relation("node", "node", graph.csr, edge_time)}, {"node": graph.num_nodes},
                                  "node", seeds, {key: fanouts}, len(fanouts), seed_time,
                                  None if node_time is None else {"node": node_time}, strategy, generator)
    rows, edges = rows["node"], edges[key]
    counts = {"num_sampled_nodes": rows.per_hop, "num_sampled_edges": edges.per_hop}
    batch = _subgraph(graph, rows.n_id, torch.stack([edges.src_rows, edges.dst_rows]), seeds.numel(), counts=counts,
                      e_id=edges.e_id)
    return batch.replace(batch=rows.owner)


def disjoint_hetero(graph, input_type: str, seeds: Tensor, per_type: Dict[RelationKey, List[int]], hops: int,
                    seed_time: Optional[Tensor], time_attr: Optional[str], strategy: str,
                    generator: Optional[torch.Generator]):
    """A :class:`~gnnx.HeteroGraph` batch of disjoint (temporal) sampling; each node type's
    ``batch`` holds the owning seed of its rows."""
    from gnnx.data.hetero_sampling import _gather_edge_store, _gather_node_store
    from gnnx.hetero_graph import HeteroGraph

    num_nodes = {t: int(graph[t].num_nodes or 0) for t in graph.node_types}
    node_time = time_attribute(dict(graph.node_items()), num_nodes, time_attr) if time_attr else {}
    edge_time = time_attribute(dict(graph.edge_items()), {e: graph[e].num_edges for e in graph.edge_types},
                               time_attr) if time_attr else {}
    relations = {e: Relation(e[0], e[2], graph.csr(e), edge_time.get(e)) for e in graph.edge_types}
    rows, edges = sample_disjoint(relations, num_nodes, input_type, seeds, per_type, hops, seed_time, node_time,
                                  strategy, generator)
    batch = HeteroGraph()
    for node_type in graph.node_types:
        _gather_node_store(batch[node_type], graph[node_type], rows[node_type].n_id)
        batch[node_type].batch = rows[node_type].owner
        batch[node_type].num_sampled_nodes = rows[node_type].per_hop
    for edge_type in graph.edge_types:
        sampled = edges[edge_type]
        batch[edge_type].edge_index = torch.stack([sampled.src_rows, sampled.dst_rows])
        _gather_edge_store(batch[edge_type], graph[edge_type], sampled.e_id)
        batch[edge_type].num_sampled_edges = sampled.per_hop
    batch[input_type].batch_size = seeds.numel()
    return batch
