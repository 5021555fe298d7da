"""Neighbour sampling over a :class:`~gnnx.HeteroGraph`: fan-outs per edge type.

A node of type ``d`` samples among its incoming edges of every edge type ``(s, r, d)``
(that type's destination-sorted CSR), ``fanouts[(s, r, d)][hop]`` of them, and the sampled
sources of type ``s`` form the next hop's frontier. Sampled nodes are de-duplicated per
type and expanded once, relabelled in first-seen order (seeds first), as PyG's sampler
(``replace=True`` draws with replacement, then de-duplicates the same way).

With several relations a computation tree (the homogeneous static mode) grows as the
product of fan-outs *and relations* (8 edge types, [15, 10, 5]: ~10^7 rows for 1,024
seeds), so the **static-shape mode** here pads instead: every batch is padded to fixed
node and edge counts per type and hop (:func:`pad_hetero`; measured from the first batches
with a margin, or given), so a compiled model or a captured CUDA graph sees one shape, and
a model trimmed per layer (``trim_to_layer``) one shape per layer. Padded rows have zero
features and ``node_mask`` False; padded edges join padded rows of their hop only, so real
nodes see exactly their sampled neighbourhoods.

The batch is a :class:`~gnnx.HeteroGraph`: per node type ``x`` (and ``y`` where the graph
has it), ``n_id`` (global ids), ``num_nodes``; the input type also ``batch_size`` (its first
rows are the seeds, as PyG's); per edge type the relabelled ``edge_index``. Nodes and edges
are in hop order, with PyG's per-hop counts ``num_sampled_nodes`` / ``num_sampled_edges``
(``batch.num_sampled_nodes_dict``), so :func:`gnnx.utils.trim_to_layer` can drop what a
layer's outputs no longer need.
"""
from __future__ import annotations

import warnings
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor

from gnnx.data.loader_options import LoaderOptions
from gnnx.data.sampling import (
    check_batch_size,
    check_edge_weight,
    check_fanouts,
    check_seeds,
    draw_slots,
    draw_slots_with_replacement,
    input_ids,
)
from gnnx.hetero_graph import EdgeType, HeteroGraph, NodeType
from gnnx.hetero_subgraph import cut_rows, induced
from gnnx.utils.functions import first_position_table

Fanouts = Union[Sequence[int], Dict[EdgeType, Sequence[int]]]


def _fanouts_per_type(graph: HeteroGraph, fanouts: Fanouts) -> Tuple[Dict[EdgeType, List[int]], int]:
    """``{edge_type: fan-outs per hop}`` for every edge type (0: not sampled) and the hops."""
    if not isinstance(fanouts, dict):
        fanouts = check_fanouts(fanouts)
        return {e: list(fanouts) for e in graph.edge_types}, len(fanouts)
    given = {graph._edge_type(k): check_fanouts(v, f"num_neighbors[{k!r}]") for k, v in fanouts.items()}
    unknown = [e for e in given if e not in graph.edge_types]
    if unknown:
        raise ValueError(f"num_neighbors names edge types the graph does not have: {unknown} "
                         f"(edge types: {graph.edge_types})")
    hops = {len(v) for v in given.values()}
    if len(hops) != 1:
        raise ValueError(f"num_neighbors: the number of hops must be the same across all edge types, got {sorted(hops)}")
    hops = hops.pop()
    return {e: given.get(e, [0] * hops) for e in graph.edge_types}, hops


def sample_hetero(graph: HeteroGraph, input_type: NodeType, seeds: Tensor, fanouts: Fanouts,
                  generator: Optional[torch.Generator] = None, replace: bool = False,
                  edge_weight: Optional[Dict[EdgeType, Tensor]] = None) -> HeteroGraph:
    """The sampled neighbourhood of ``seeds`` (of ``input_type``), nodes de-duplicated per
    type (module docs); ``batch_size`` on the input type, as PyG's."""
    batch = sample_hetero_seeds(graph, {input_type: seeds}, fanouts, generator, replace, edge_weight)
    batch[input_type].batch_size = seeds.numel()
    return batch


def sample_hetero_seeds(graph: HeteroGraph, seeds_dict: Dict[NodeType, Tensor], fanouts: Fanouts,
                        generator: Optional[torch.Generator] = None, replace: bool = False,
                        edge_weight: Optional[Dict[EdgeType, Tensor]] = None) -> HeteroGraph:
    """The sampled neighbourhood of seeds of one or more node types (a link's two endpoint
    types): each type's seeds first, on rows of their own, then the nodes reached; edge types
    in ``edge_weight`` draw their edges in proportion to those weights."""
    edge_weight = edge_weight or {}
    per_type, hops = _fanouts_per_type(graph, fanouts)
    seeds = next(iter(seeds_dict.values()))
    nodes: Dict[NodeType, Tensor] = {t: seeds_dict.get(t, seeds.new_empty(0)) for t in graph.node_types}
    # nodes already in the batch, per type (a lookup per candidate, where isin would sort)
    seen = {t: torch.zeros(int(graph[t].num_nodes or 0), dtype=torch.bool, device=seeds.device)
            for t in graph.node_types}
    for node_type, type_seeds in seeds_dict.items():
        seen[node_type][type_seeds] = True
    frontier = dict(seeds_dict)
    edges: Dict[EdgeType, List[Tuple[Tensor, Tensor, Tensor]]] = {e: [] for e in graph.edge_types}
    edge_hops: Dict[EdgeType, List[bool]] = {e: [] for e in graph.edge_types}  # whether dst holds rows
    # PyG's per-hop counts (for trim_to_layer): nodes first seen at each hop, edges drawn at each hop
    node_counts = {t: [seeds_dict[t].numel() if t in seeds_dict else 0] for t in graph.node_types}
    edge_counts: Dict[EdgeType, List[int]] = {e: [] for e in graph.edge_types}
    for hop in range(hops):
        reached: Dict[NodeType, List[Tensor]] = {}
        for edge_type in graph.edge_types:
            src, _, dst = edge_type
            fanout = per_type[edge_type][hop]
            if dst not in frontier or fanout == 0 or frontier[dst].numel() == 0:
                continue
            csr = graph.csr(edge_type)
            if replace and fanout > 0:  # -1 (PyG's "every neighbour") draws them all, exactly
                slot, valid = draw_slots_with_replacement(csr, frontier[dst], fanout, generator)
                slot = slot[valid]
                owner = torch.arange(frontier[dst].numel(), device=seeds.device).repeat_interleave(fanout)[valid]
            else:
                slot, owner = draw_slots(csr, frontier[dst], fanout, generator, edge_weight.get(edge_type))
            sources = csr.col[slot]
            # hop 0 keeps the seeds' rows (a repeated seed has rows of its own); later hops node ids
            destinations = owner if hop == 0 else frontier[dst][owner]
            edges[edge_type].append((sources, destinations, csr.perm[slot]))
            edge_hops[edge_type].append(hop == 0)
            reached.setdefault(src, []).append(sources)
        for edge_type in graph.edge_types:
            drawn = sum(p[0].numel() for p in edges[edge_type]) - sum(edge_counts[edge_type])
            edge_counts[edge_type].append(drawn)
        frontier = {}
        for node_type, parts in reached.items():  # each node is expanded once, as PyG does
            new = torch.unique(torch.cat(parts))
            new = new[~seen[node_type][new]]
            seen[node_type][new] = True
            nodes[node_type] = torch.cat([nodes[node_type], new])
            frontier[node_type] = new
        for node_type in graph.node_types:
            node_counts[node_type].append(frontier[node_type].numel() if node_type in frontier else 0)
    batch = HeteroGraph()
    relabel = node_stores(batch, graph, nodes)
    for node_type in graph.node_types:
        batch[node_type].num_sampled_nodes = node_counts[node_type]
    for edge_type, parts in edges.items():
        if parts:
            src = torch.cat([p[0] for p in parts])
            dst = torch.cat([p[1] if hop_rows else relabel[edge_type[2]][p[1]]
                             for p, hop_rows in zip(parts, edge_hops[edge_type])])
            batch[edge_type].edge_index = torch.stack([relabel[edge_type[0]][src], dst])
            e_id = torch.cat([p[2] for p in parts])
        else:
            batch[edge_type].edge_index, e_id = seeds.new_empty(2, 0), seeds.new_empty(0)
        _gather_edge_store(batch[edge_type], graph[edge_type], e_id)
        batch[edge_type].num_sampled_edges = edge_counts[edge_type]
    return batch


def node_stores(batch: HeteroGraph, graph: HeteroGraph, nodes: Dict[NodeType, Tensor]) -> Dict[NodeType, Tensor]:
    """Fill ``batch``'s node stores with ``nodes`` (per type, global ids) and their gathered
    ``x``/``y``; returns per type the table from global id to batch row (-1: not in the batch)."""
    relabel: Dict[NodeType, Tensor] = {}
    for node_type in graph.node_types:
        n_id = nodes[node_type]
        relabel[node_type] = first_position_table(n_id, int(graph[node_type].num_nodes or 0))
        _gather_node_store(batch[node_type], graph[node_type], n_id)
    return relabel


def _gather_node_store(out: Any, store: Any, n_id: Tensor) -> None:
    """``out`` gets ``n_id`` and the rows ``n_id`` of every node-level tensor of ``store``
    (``x``, ``y``, masks, ...), as PyG's loaders filter a node store."""
    out.n_id = n_id
    for name, value in cut_rows(store, n_id, store.num_nodes, skip=("n_id",)).items():
        setattr(out, name, value)
    out.num_nodes = n_id.numel()


def _gather_edge_store(out: Any, store: Any, e_id: Tensor) -> None:
    """``out`` gets ``e_id`` and the rows ``e_id`` of every edge-level tensor of ``store``
    (``edge_attr``, ...), as PyG's loaders filter an edge store."""
    for name, value in cut_rows(store, e_id, store.num_edges, skip=("edge_index", "e_id")).items():
        setattr(out, name, value)
    out.e_id = e_id


def induced_hetero_subgraph(graph: HeteroGraph, nodes: Dict[NodeType, Tensor]) -> HeteroGraph:
    """The subgraph on ``nodes`` (global ids per type, renumbered in their order), every node-
    and edge-level tensor cut to match, with each type's ``n_id`` and ``e_id``."""
    out, kept = induced(graph, nodes)
    for node_type, n_id in nodes.items():
        out[node_type].n_id = n_id
    for edge_type, e_id in kept.items():
        out[edge_type].e_id = e_id
    return out


Sizes = Union[int, Sequence[int]]


def pad_hetero(batch: HeteroGraph, num_nodes: Dict[NodeType, Sizes], num_edges: Dict[EdgeType, Sizes]) -> HeteroGraph:
    """``batch`` padded to fixed node and edge counts per type.

    A size per type (an int) pads at the end: ``num_nodes[t]`` rows (one of them spare at
    least), ``num_edges[e]`` edges, the padding counted in the last hop. A size per *hop*
    (a list, as long as the batch's ``num_sampled_nodes`` / ``num_sampled_edges``) pads each
    hop's block in place, every node block keeping one spare row, so a model trimmed per layer
    (:func:`gnnx.utils.trim_to_layer`) sees the same shapes in every batch too. Padded rows:
    zero features, ``n_id`` 0, ``node_mask`` False; padded edges join a spare row of the
    source type's block to one of the destination type's (``edge_mask`` False), so real
    nodes see exactly their sampled neighbourhoods and trimming drops padding with its hop."""
    out = HeteroGraph()
    spares: Dict[NodeType, List[int]] = {}  # per hop block: its last row where it is padded, else -1
    moves: Dict[NodeType, Tensor] = {}
    for node_type, store in batch.node_items():
        real = int(store.num_nodes)
        hops = list(store.num_sampled_nodes) if "num_sampled_nodes" in store else [real]
        blocks = _blocks(num_nodes[node_type], hops, f"pad_hetero: {node_type!r}", spare=1)
        moves[node_type] = _moved(hops, blocks, store.n_id.device)
        ends = [sum(blocks[:h + 1]) - 1 for h in range(len(blocks))]
        spares[node_type] = [end if size > count else -1 for end, size, count in zip(ends, blocks, hops)]
        rows = sum(blocks)
        target = out[node_type]
        for name, value in store.items():
            if isinstance(value, Tensor) and value.dim() > 0 and value.size(0) == real:
                value = value.new_zeros(rows, *value.shape[1:]).index_copy_(0, moves[node_type], value)
            target[name] = value
        target.num_nodes = rows
        target.node_mask = torch.zeros(rows, dtype=torch.bool, device=store.n_id.device).index_fill_(
            0, moves[node_type], True)
        if "num_sampled_nodes" in store:
            target.num_sampled_nodes = blocks
    for edge_type, store in batch.edge_items():
        src, _, dst = edge_type
        edge_index = store.edge_index
        hops = list(store.num_sampled_edges) if "num_sampled_edges" in store else [edge_index.size(1)]
        blocks = _blocks(num_edges[edge_type], hops, f"pad_hetero: {edge_type}", spare=0)
        moved = torch.stack([moves[src][edge_index[0]], moves[dst][edge_index[1]]])
        parts, masks, start, kept = [], [], 0, []
        for block, (count, size) in enumerate(zip(hops, blocks)):  # edges of hop block + 1
            parts.append(moved[:, start:start + count])
            kept.append(torch.arange(count, device=edge_index.device) + sum(blocks[:block]))
            pad = torch.tensor([[_spare_row(spares[src], block + 1)], [_spare_row(spares[dst], block)]],
                               device=edge_index.device)
            parts.append(pad.expand(2, size - count))
            masks += [torch.ones(count, dtype=torch.bool, device=edge_index.device),
                      torch.zeros(size - count, dtype=torch.bool, device=edge_index.device)]
            start += count
        out[edge_type].edge_index = torch.cat(parts, 1)
        out[edge_type].edge_mask = torch.cat(masks)
        rows, kept_rows = sum(blocks), torch.cat(kept)
        for name, value in store.items():  # edge attributes, e_id: zeros on padded edges
            if name != "edge_index" and isinstance(value, Tensor) and value.dim() > 0 \
                    and value.size(0) == edge_index.size(1):
                out[edge_type][name] = value.new_zeros(rows, *value.shape[1:]).index_copy_(0, kept_rows, value)
        if "num_sampled_edges" in store:
            out[edge_type].num_sampled_edges = blocks
    return out


def _blocks(size: Sizes, hops: List[int], what: str, spare: int) -> List[int]:
    """Padded size per hop block: ``size`` per hop (each node block with ``spare`` rows to
    spare), or a total whose padding joins the last hop."""
    per_hop = not isinstance(size, int)
    blocks = list(size) if per_hop else hops[:-1] + [size - sum(hops[:-1])]
    if len(blocks) != len(hops):
        raise ValueError(f"{what}: sizes for {len(blocks)} hops, the batch has {len(hops)}")
    for hop, (block, count) in enumerate(zip(blocks, hops)):
        room = spare if per_hop or hop == len(hops) - 1 else 0
        if block < count + room:
            kind = "nodes" if spare else "edges"
            raise ValueError(f"{what}: {count} {kind} in hop {hop}, more than {block - room}"
                             + (" (one row is spare)" if room else ""))
    return blocks


def _moved(hops: List[int], blocks: List[int], device: torch.device) -> Tensor:
    """Each real row's index in the padded layout (hop blocks of ``blocks`` rows)."""
    shift = torch.tensor([sum(blocks[:h]) - sum(hops[:h]) for h in range(len(hops))], device=device)
    total = sum(hops)
    return torch.arange(total, device=device) + shift.repeat_interleave(torch.tensor(hops, device=device),
                                                                        output_size=total)


def _spare_row(spares: List[int], block: int) -> int:
    """A padded row of hop ``block`` (or the nearest later padded block: the last hop's,
    which :func:`_blocks` always leaves one)."""
    return next(row for row in spares[min(block, len(spares) - 1):] if row >= 0)


class HeteroNeighborLoader:
    """Mini-batches of seed nodes of one type with their sampled heterogeneous neighbourhoods.

    Args:
        graph: a :class:`~gnnx.HeteroGraph` (or PyG ``HeteroData``); move it to the GPU to
            sample there.
        num_neighbors: fan-outs per hop, the same for every edge type (``[15, 10, 5]``), or
            ``{edge_type: [...]}`` (missing edge types are not sampled), as PyG.
        input_nodes: ``(node_type, ids or boolean mask)``, or a node type (all its nodes).
        batch_size: seeds per batch.
        replace: draw neighbours with replacement (PyG's meaning; nodes are still de-duplicated).
        static: pad every batch to the same node and edge counts per type and hop
            (:func:`pad_hetero`; module docs): ``True`` measures them from a few batches (with a
            margin of ``static_margin``); ``(num_nodes, num_edges)`` dicts give them, a list
            per type (per hop) or an int (a total, padded at the end). A batch that does not
            fit grows the sizes (one new shape, with a warning).
        shuffle, drop_last, seed: seed order and the random generator's seed.
    """

    def __init__(self, graph: Any, num_neighbors: Fanouts, input_nodes: Union[NodeType, Tuple[NodeType, Tensor]],
                 batch_size: int = 1, replace: bool = False, static: Union[bool, Tuple[dict, dict]] = False,
                 static_margin: float = 1.2, shuffle: bool = False, drop_last: bool = False, seed: int = 0,
                 **pyg_kwargs: Any) -> None:
        if not isinstance(graph, HeteroGraph):
            graph = HeteroGraph.from_pyg(graph)
        input_type, seeds = (input_nodes, None) if isinstance(input_nodes, str) else input_nodes
        if input_type not in graph.node_types:
            raise ValueError(f"input_nodes: no node type {input_type!r} in {graph.node_types}")
        device = next(iter(graph.edge_index_dict.values())).device
        given, seeds = seeds, check_seeds(seeds, int(graph[input_type].num_nodes), device, f"input_nodes ({input_type!r})")
        self.input_ids = input_ids(given, seeds)
        self.graph, self.num_neighbors, self.input_type = graph, num_neighbors, input_type
        self.seeds, self.batch_size = seeds, check_batch_size(batch_size)
        self.replace, self.shuffle, self.drop_last = replace, shuffle, drop_last
        self.static_margin = static_margin
        self.generator = torch.Generator(device=device).manual_seed(seed)
        self.options = LoaderOptions("NeighborLoader", pyg_kwargs, temporal=True)
        _fanouts_per_type(graph, num_neighbors)  # fail early on bad fan-outs
        if (self.options.disjoint or self.options.induced or self.options.weight_attr) and (replace or static):
            raise ValueError("NeighborLoader: disjoint, temporal, induced and weighted sampling are exact "
                             "(replace=False, static=False)")
        self.edge_weight: Dict[EdgeType, Tensor] = {}
        if self.options.weight_attr is not None:
            name = self.options.weight_attr
            self.edge_weight = {e: check_edge_weight(graph[e][name], graph[e].num_edges, f"NeighborLoader: {e}.{name}")
                                for e in graph.edge_types if name in graph[e]}
            if not self.edge_weight:
                raise ValueError(f"NeighborLoader: weight_attr {name!r} is held by no edge type")
        self.node_time = None
        if self.options.time_attr is not None:
            from gnnx.data.disjoint_sampling import time_attribute

            counts = {t: int(graph[t].num_nodes or 0) for t in graph.node_types}
            node_times = time_attribute(dict(graph.node_items()), counts, self.options.time_attr)
            self.node_time = node_times.get(input_type)
            edge_counts = {e: graph[e].num_edges for e in graph.edge_types}
            if not node_times and not time_attribute(dict(graph.edge_items()), edge_counts, self.options.time_attr):
                raise ValueError(f"NeighborLoader: time_attr {self.options.time_attr!r} is held by no node or edge "
                                 "type (a 1-D tensor with a row per node or edge)")
        self.sizes: Optional[Tuple[Dict[NodeType, Sizes], Dict[EdgeType, Sizes]]] = None
        if isinstance(static, tuple):
            self.sizes = (dict(static[0]), {graph._edge_type(k): v for k, v in static[1].items()})
        elif static:
            self.sizes = self._measure_sizes(batches=4)

    def _sample(self, seeds: Tensor, generator: torch.Generator, index: Optional[Tensor] = None) -> HeteroGraph:
        if not self.options.disjoint:
            return sample_hetero(self.graph, self.input_type, seeds, self.num_neighbors, generator, self.replace,
                                 self.edge_weight)
        from gnnx.data.disjoint_sampling import disjoint_hetero, seed_times  # it imports this module

        seed_time = None
        if self.options.time_attr is not None:
            seed_time = seed_times(seeds, self.options.input_time, self.node_time, index, "NeighborLoader")
        per_type, hops = _fanouts_per_type(self.graph, self.num_neighbors)
        batch = disjoint_hetero(self.graph, self.input_type, seeds, per_type, hops, seed_time, self.options.time_attr,
                                self.options.temporal_strategy, generator)
        if seed_time is not None:
            batch[self.input_type].seed_time = seed_time
        return batch

    def _measure_sizes(self, batches: int) -> Tuple[Dict[NodeType, Sizes], Dict[EdgeType, Sizes]]:
        """Node and edge counts per type and hop that the first batches fit, times the margin."""
        generator = torch.Generator(device=self.seeds.device).manual_seed(12345)
        nodes: Dict[NodeType, Sizes] = {}
        edges: Dict[EdgeType, Sizes] = {}
        for _ in range(batches):
            pick = torch.randperm(self.seeds.numel(), generator=generator, device=self.seeds.device)[:self.batch_size]
            batch = self._sample(self.seeds[pick], generator)
            self._grow(nodes, edges, batch)
        return nodes, edges

    def _grow(self, nodes: Dict[NodeType, Sizes], edges: Dict[EdgeType, Sizes], batch: HeteroGraph) -> bool:
        """Grow the sizes (in place) to fit ``batch``; whether any grew."""
        grown = False
        for node_type, store in batch.node_items():
            nodes[node_type], more = self._fit(nodes.get(node_type), store.num_sampled_nodes, spare=1)
            grown |= more
        for edge_type, store in batch.edge_items():
            edges[edge_type], more = self._fit(edges.get(edge_type), store.num_sampled_edges, spare=0)
            grown |= more
        return grown

    def _fit(self, size: Optional[Sizes], counts: List[int], spare: int) -> Tuple[Sizes, bool]:
        """``size`` (a total, or per hop) grown by the margin where ``counts`` (+ ``spare``) exceed it."""
        if isinstance(size, int):
            need = sum(counts) + spare
            return (int(need * self.static_margin) + 1, True) if need > size else (size, False)
        size, grown = list(size) if size is not None else [0] * len(counts), False
        for hop, count in enumerate(counts):
            if count + spare > size[hop]:
                size[hop], grown = int((count + spare) * self.static_margin) + 1, True
        return size, grown

    def __len__(self) -> int:
        return self.options.num_batches(self.seeds.numel(), self.batch_size, self.drop_last)

    def __repr__(self) -> str:
        return "NeighborLoader()"

    def __iter__(self):
        positions = torch.arange(self.seeds.numel(), device=self.seeds.device)
        for index in self.options.batches(positions, self.batch_size, self.shuffle, self.drop_last, self.generator):
            yield self.collate_fn(index)

    def collate_fn(self, index: Any) -> HeteroGraph:
        """The batch of the seeds at positions ``index`` (PyG's ``collate_fn``; also the
        loader's ``__call__``), with PyG's ``input_id`` (those positions) on the input type."""
        index = torch.as_tensor(index, dtype=torch.long, device=self.seeds.device)
        batch = self._sample(self.seeds[index], self.generator, index)
        if self.sizes is not None:
            if self._grow(*self.sizes, batch):
                warnings.warn("HeteroNeighborLoader: a batch outgrew the static sizes; they grow (one new shape)")
            batch = pad_hetero(batch, *self.sizes)
        batch[self.input_type].input_id = index if self.input_ids is None else self.input_ids[index]
        batch.input_type = self.input_type
        return self.options.finish(batch, self.graph)

    __call__ = collate_fn
