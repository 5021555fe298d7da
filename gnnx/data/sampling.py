"""GraphSAGE-style multi-hop neighbour sampling over a CSR, in plain torch (CPU or GPU).

Messages flow from sampled neighbours (sources) to the nodes that sampled them, so a
node samples among its *incoming* edges (the destination-sorted CSR of a
:class:`~gnnx.Graph`). Two modes:

* ``replace=True`` (static shapes): every node of hop ``h`` draws exactly ``fanouts[h]``
  neighbours with replacement, and every draw becomes its own row of the subgraph (a
  computation tree: no de-duplication). The subgraph always has
  ``B * (1 + k1 + k1*k2 + ...)`` nodes and ``B * (k1 + k1*k2 + ...)`` edges for ``B``
  seeds, so a compiled model sees one shape. Draws at nodes without incoming edges are
  self loops of that row with ``edge_mask`` False (weight them out, or keep: a self loop
  of a zero-degree node only repeats it).
* ``replace=False`` (exact): each node takes ``min(fanout, in-degree)`` distinct incoming
  edges; sampled nodes are de-duplicated and relabelled, and each is expanded once (shapes
  vary per batch).

The result is a :class:`~gnnx.Graph` with relabelled ``edge_index``, ``n_id`` (global id
of each row), ``seed_mask`` (the first ``B`` rows are the seeds) and, when the input
graph has them, ``x`` and ``y`` gathered by ``n_id``.
"""
from __future__ import annotations

import numbers
from typing import Any, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor

from gnnx.data.loader_options import LoaderOptions
from gnnx.graph import CSR, Graph, IndexRangeError, attribute_kind, take_rows
from gnnx.utils.functions import first_position_table


def draw_with_replacement(csr: CSR, frontier: Tensor, fanout: int, gen: Optional[torch.Generator]):
    """``fanout`` incoming neighbours of each ``frontier`` node, drawn with replacement from a
    destination-sorted ``csr``: ``(neighbours [F * fanout], valid)``, ``valid`` False (and the
    neighbour the frontier node itself) where a node has no incoming edge."""
    slot, valid = draw_slots_with_replacement(csr, frontier, fanout, gen)
    neighbours = torch.where(valid, csr.col[slot], frontier.repeat_interleave(fanout))
    return neighbours, valid


def draw_slots_with_replacement(csr: CSR, frontier: Tensor, fanout: int,
                                gen: Optional[torch.Generator]) -> Tuple[Tensor, Tensor]:
    """:func:`draw_with_replacement` as ``(slot in the CSR [F * fanout], valid)``: where
    ``valid``, ``csr.col[slot]`` is the drawn source and ``csr.perm[slot]`` the edge's id."""
    rowptr = csr.rowptr
    start = rowptr[frontier]
    degree = rowptr[frontier + 1] - start
    u = torch.rand((frontier.numel(), fanout), generator=gen, device=frontier.device)
    offset = (u * degree.unsqueeze(1)).long().clamp(max=(degree - 1).clamp(min=0).unsqueeze(1))
    has = (degree > 0).unsqueeze(1).expand(-1, fanout)
    slot = (start.unsqueeze(1) + offset).clamp(max=max(csr.col.numel() - 1, 0))
    return slot.reshape(-1), has.reshape(-1)


def sample_static(graph: Graph, seeds: Tensor, fanouts: Sequence[int],
                  generator: Optional[torch.Generator] = None) -> Graph:
    """Sampling with replacement into a computation tree of static size (see module docs)."""
    rows = [seeds]
    src_rows, dst_rows, masks = [], [], []
    first_row = 0  # row index of the current frontier's first node
    next_row = seeds.numel()
    frontier = seeds
    for fanout in fanouts:
        neighbours, valid = draw_with_replacement(graph.csr, frontier, fanout, generator)
        parents = torch.arange(first_row, first_row + frontier.numel(), device=seeds.device).repeat_interleave(fanout)
        children = torch.arange(next_row, next_row + neighbours.numel(), device=seeds.device)
        # A draw at a node without incoming edges becomes a self loop of the parent row.
        src_rows.append(torch.where(valid, children, parents))
        dst_rows.append(parents)
        masks.append(valid)
        rows.append(neighbours)
        first_row, next_row, frontier = next_row, next_row + neighbours.numel(), neighbours
    counts = {"num_sampled_nodes": [r.numel() for r in rows], "num_sampled_edges": [m.numel() for m in masks]}
    return _subgraph(graph, torch.cat(rows), torch.stack([torch.cat(src_rows), torch.cat(dst_rows)]),
                     seeds.numel(), edge_mask=torch.cat(masks), counts=counts)


def sample_exact(graph: Graph, seeds: Tensor, fanouts: Sequence[int],
                 generator: Optional[torch.Generator] = None, weight: Optional[Tensor] = None) -> Graph:
    """Sampling without replacement, nodes de-duplicated and relabelled.

    The first ``len(seeds)`` rows are the seeds as given, a repeated seed on rows of its own
    (each drawing its own neighbours, as PyG's rows for repeated inputs), so ``out[:batch_size]``
    lines up with the inputs; nodes reached later follow once each, in first-seen order.
    ``e_id`` holds the sampled edges' positions in ``graph.edge_index``; ``weight`` (one per
    edge) biases the draws (:func:`draw_slots`).
    """
    num_seeds = seeds.numel()
    frontier = seeds
    seen = torch.zeros(graph.num_nodes, dtype=torch.bool, device=seeds.device)  # a lookup, where isin would sort
    seen[seeds] = True
    parts, sources, targets, edge_ids, new_per_hop = [seeds], [], [], [], []
    for hop, fanout in enumerate(fanouts):
        slot, owner = draw_slots(graph.csr, frontier, fanout, generator, weight)
        src = graph.csr.col[slot]
        sources.append(src)
        targets.append(owner if hop == 0 else frontier[owner])  # hop 0: the seeds' rows; later: node ids
        edge_ids.append(graph.csr.perm[slot])
        reached = torch.unique(src)
        frontier = reached[~seen[reached]]  # expand each node once, as PyG does
        seen[frontier] = True
        parts.append(frontier)
        new_per_hop.append(frontier.numel())
    n_id = torch.cat(parts)
    relabel = first_position_table(seeds, graph.num_nodes)  # a repeated seed, reached as a neighbour: its first row
    relabel[n_id[num_seeds:]] = torch.arange(num_seeds, n_id.numel(), device=seeds.device)
    if sources:
        dst = torch.cat([targets[0]] + [relabel[t] for t in targets[1:]])
        edge_index = torch.stack([relabel[torch.cat(sources)], dst])
        e_id = torch.cat(edge_ids)
    else:
        edge_index, e_id = seeds.new_empty(2, 0), seeds.new_empty(0)
    counts = {"num_sampled_nodes": [num_seeds] + new_per_hop,  # PyG's, for trim_to_layer
              "num_sampled_edges": [e.numel() for e in sources]}
    return _subgraph(graph, n_id, edge_index, num_seeds, counts=counts, e_id=e_id)


def draw_without_replacement(csr: CSR, frontier: Tensor, fanout: int,
                             gen: Optional[torch.Generator]) -> Tuple[Tensor, Tensor]:
    """Up to ``fanout`` distinct incoming edges of each ``frontier`` node (all of them when
    it has fewer, or when ``fanout < 0``, PyG's ``-1``), from a destination-sorted ``csr``:
    their ``(sources, destinations)``. See :func:`draw_neighbours`."""
    sources, owner = draw_neighbours(csr, frontier, fanout, gen)
    return sources, frontier[owner]


def draw_neighbours(csr: CSR, frontier: Tensor, fanout: int, gen: Optional[torch.Generator]) -> Tuple[Tensor, Tensor]:
    """:func:`draw_without_replacement` as ``(sources, owner)``, ``owner`` the position in
    ``frontier`` of the node that drew each source (``frontier`` may repeat a node)."""
    slot, owner = draw_slots(csr, frontier, fanout, gen)
    return csr.col[slot], owner


def draw_slots(csr: CSR, frontier: Tensor, fanout: int, gen: Optional[torch.Generator],
               weight: Optional[Tensor] = None) -> Tuple[Tensor, Tensor]:
    """The drawn incoming edges as ``(slot in the CSR, owner)``: ``csr.col[slot]`` is the
    source, ``csr.perm[slot]`` the edge's id.

    With edge weights (``weight``, in input edge order; PyG's ``weight_attr``) a node draws
    ``fanout`` of its edges without replacement, each pick in proportion to the weights left
    (every candidate gets an exponential clock ``E / w`` and the ``fanout`` earliest win);
    edges of weight 0 are never drawn.

    A node of degree ``<= fanout`` keeps its edges. On the CPU the others draw ``fanout``
    distinct positions by Floyd's algorithm (uniform over the subsets): ``O(fanout^2)`` per
    node whatever its degree. On a GPU, where Floyd's ``fanout`` sequential steps would be
    that many rounds of launches, every candidate edge gets a random key and each node keeps
    its ``fanout`` smallest (one sort)."""
    rowptr = csr.rowptr
    start = rowptr[frontier]
    degree = rowptr[frontier + 1] - start
    if fanout < 0:
        owner, rank = _every_edge(degree, torch.arange(frontier.numel(), device=frontier.device))
        return start[owner] + rank, owner
    if weight is not None:
        return _earliest_weighted_clocks(csr, frontier, start, degree, fanout, weight, gen)
    if frontier.is_cuda:
        return _smallest_random_keys(frontier, start, degree, fanout, gen)
    small = degree <= fanout
    owner, rank = _every_edge(degree, small.nonzero().view(-1))
    big = (~small).nonzero().view(-1)
    owner = torch.cat([owner, big.repeat_interleave(fanout)])
    rank = torch.cat([rank, _floyd(degree[big], fanout, gen).view(-1)])
    return start[owner] + rank, owner


def _every_edge(degree: Tensor, rows: Tensor) -> Tuple[Tensor, Tensor]:
    """``(row, rank within the row)`` of every edge of ``rows``."""
    count = degree[rows]
    total = int(count.sum())
    owner = torch.repeat_interleave(rows, count, output_size=total)
    rank = torch.arange(total, device=rows.device) - torch.repeat_interleave(torch.cumsum(count, 0) - count, count,
                                                                             output_size=total)
    return owner, rank


def _floyd(degree: Tensor, k: int, gen: Optional[torch.Generator]) -> Tensor:
    """``[len(degree), k]`` distinct positions in ``[0, degree)`` per row, uniform over the
    subsets (Floyd: for ``j = d - k .. d - 1`` draw ``t`` in ``[0, j]``; take ``t`` unless
    already taken, else ``j``)."""
    picked = torch.empty(degree.numel(), 0, dtype=torch.long, device=degree.device)
    for step in range(k if degree.numel() else 0):
        j = degree - k + step
        t = (torch.rand(degree.numel(), generator=gen, device=degree.device) * (j + 1)).long().minimum(j)
        taken = (picked == t.unsqueeze(1)).any(1)
        picked = torch.cat([picked, torch.where(taken, j, t).unsqueeze(1)], 1)
    return picked


def _smallest_random_keys(frontier: Tensor, start: Tensor, degree: Tensor, fanout: int,
                          gen: Optional[torch.Generator]) -> Tuple[Tensor, Tensor]:
    owner, rank = _every_edge(degree, torch.arange(frontier.numel(), device=frontier.device))
    key = torch.rand(rank.numel(), generator=gen, device=frontier.device)
    order = torch.argsort(owner.double() * 2 + key)  # by owner, then by key
    chosen = order[rank < fanout]
    return start[owner[chosen]] + rank[chosen], owner[chosen]


def _earliest_weighted_clocks(csr: CSR, frontier: Tensor, start: Tensor, degree: Tensor, fanout: int,
                              weight: Tensor, gen: Optional[torch.Generator]) -> Tuple[Tensor, Tensor]:
    owner, rank = _every_edge(degree, torch.arange(frontier.numel(), device=frontier.device))
    slot = start[owner] + rank
    clock = -torch.log(torch.rand(slot.numel(), generator=gen, device=frontier.device, dtype=torch.float64))
    clock = clock / weight[csr.perm[slot]].to(torch.float64)  # weight 0: never (inf)
    order = torch.argsort(clock, stable=True)
    order = order[torch.argsort(owner[order], stable=True)]  # by owner, then by clock
    chosen = order[(rank < fanout) & torch.isfinite(clock[order])]
    return slot[chosen], owner[chosen]


def check_edge_weight(weight: Any, num_edges: int, name: str) -> Tensor:
    """PyG's ``weight_attr`` values: one finite, non-negative number per edge."""
    if not isinstance(weight, Tensor) or weight.dim() != 1 or weight.numel() != num_edges:
        raise ValueError(f"{name} must name a 1-D tensor with one weight per edge ({num_edges})")
    if not weight.is_floating_point() or not bool(torch.isfinite(weight).all()) or bool((weight < 0).any()):
        raise ValueError(f"{name} must hold finite, non-negative floating-point weights")
    return weight


def _subgraph(graph: Graph, n_id: Tensor, edge_index: Tensor, num_seeds: int, edge_mask: Optional[Tensor] = None,
              counts: Optional[dict] = None, e_id: Optional[Tensor] = None) -> Graph:
    """The batch: ``edge_index`` over the rows ``n_id``, with every node-level tensor of
    ``graph`` gathered by ``n_id`` and (given ``e_id``) every edge-level one by ``e_id``, as
    PyG's loaders filter a ``Data``."""
    seed_mask = torch.arange(n_id.numel(), device=n_id.device) < num_seeds
    extra = {"n_id": n_id, "seed_mask": seed_mask, "batch_size": num_seeds, **(counts or {})}  # seeds first, as PyG
    if edge_mask is not None:
        extra["edge_mask"] = edge_mask
    if e_id is not None:
        extra["e_id"] = e_id
    fields = {"x": graph.x, "y": graph.y, "pos": graph.pos, "edge_weight": graph.edge_weight,
              "edge_attr": graph.edge_attr, **graph.attrs}
    for name, value in fields.items():
        if name in extra or name == "ptr":
            continue
        kind = attribute_kind(name, as_rows(value), graph.num_nodes, graph.num_edges)
        if kind == "node":
            extra[name] = take_rows(value, n_id)
        elif kind == "edge" and e_id is not None:
            extra[name] = take_rows(value, e_id)
    return Graph(edge_index, n_id.numel(), validate=False, **extra)


def as_rows(value: Any) -> Any:
    """A numpy array (a memory-mapped feature file, as PyG's loaders take) seen as a tensor
    of its shape, for reading its kind; anything else as it is."""
    if isinstance(value, np.ndarray) and value.ndim > 0:
        return torch.empty(value.shape[0], 0)
    return value


def check_seeds(seeds: Optional[Tensor], num_nodes: int, device: torch.device, name: str = "input_nodes") -> Tensor:
    """The seed node ids of ``seeds`` (ids, a boolean mask over the nodes, or ``None``: every
    node) on ``device``, checked once when a loader is built (a mask's length, the ids' range)."""
    if seeds is None:
        return torch.arange(num_nodes, device=device)
    if isinstance(seeds, (range, list, tuple)):  # PyG's loaders take any sequence of ids
        seeds = torch.as_tensor(list(seeds), dtype=torch.long)
    if not isinstance(seeds, Tensor) or seeds.dim() != 1:
        raise ValueError(f"{name} must be a 1-D tensor of node ids or a boolean mask, got "
                         f"{list(seeds.shape) if isinstance(seeds, Tensor) else type(seeds).__name__}")
    if seeds.dtype == torch.bool:
        if seeds.numel() != num_nodes:
            raise ValueError(f"{name}: a boolean mask needs one entry per node ({num_nodes}), got {seeds.numel()}")
        return seeds.nonzero().view(-1).to(device)
    if seeds.is_floating_point() or seeds.is_complex():
        raise TypeError(f"{name} must hold integer node ids or a boolean mask, got {seeds.dtype}")
    if seeds.numel() and (int(seeds.min()) < 0 or int(seeds.max()) >= num_nodes):
        bad = seeds[(seeds < 0) | (seeds >= num_nodes)][0]
        raise IndexRangeError(f"{name} holds node id {int(bad)}, outside the {num_nodes} nodes")
    return seeds.long().to(device)


def input_ids(given: Any, seeds: Tensor) -> Optional[Tensor]:
    """What PyG's ``input_id`` counts for inputs given as ``given``: positions in a list of
    ids (``None`` here: the batch's positions are those), the nodes' ids for a boolean mask."""
    return seeds if isinstance(given, Tensor) and given.dtype == torch.bool else None


def check_fanouts(fanouts: Any, name: str = "num_neighbors") -> List[int]:
    """The fan-outs as a list of Python ints (numpy ints accepted; -1: every neighbour, as PyG)."""
    values = list(fanouts)
    for value in values:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise ValueError(f"{name} must hold whole numbers of neighbours per hop (-1: all), got {values!r}")
    return [int(v) for v in values]


def check_batch_size(batch_size: Any) -> int:
    """``batch_size`` as an int: any positive whole number (numpy's too, as the fan-outs)."""
    if not isinstance(batch_size, numbers.Integral) or isinstance(batch_size, bool) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    return int(batch_size)


class NeighborLoader:
    """Mini-batches of seed nodes with their sampled neighbourhoods.

    Args:
        graph: the full graph (its CSR is used; move it to the GPU to sample there), or a PyG ``Data``.
        fanouts: neighbours per node and hop, e.g. ``[15, 10]`` (PyG's name: ``num_neighbors``).
        seeds: the seed nodes (e.g. ``graph.train_mask.nonzero().view(-1)``); all nodes if omitted
            (PyG's name: ``input_nodes``, indices or a boolean mask).
        batch_size: seeds per batch (the last batch may be smaller unless ``drop_last``); 512,
            or PyG's 1 when called with ``num_neighbors``.
        replace: static-shape sampling with replacement (gnnx's default) or exact without
            (PyG's default, with ``num_neighbors``).
        shuffle, drop_last, seed: seed order (shuffled by default; PyG's default: not) and
            the random generator's seed.

    Each batch is a :class:`~gnnx.Graph` with the seeds first, ``n_id`` (global ids),
    ``batch_size`` (the number of seeds) and ``seed_mask``, as PyG's batches. Given a
    :class:`~gnnx.HeteroGraph` (or PyG ``HeteroData``) it is a
    :class:`~gnnx.data.hetero_sampling.HeteroNeighborLoader` (fan-outs per edge type,
    ``input_nodes=(node_type, ids)``).
    """

    def __new__(cls, graph: Any = None, *args: Any, **kwargs: Any):
        from gnnx.hetero_graph import HeteroGraph

        graph = kwargs.pop("data", None) if graph is None else graph  # PyG's name for it

        if isinstance(graph, HeteroGraph) or type(graph).__name__ == "HeteroData":
            from gnnx.data.hetero_sampling import HeteroNeighborLoader

            if "fanouts" in kwargs:
                kwargs["num_neighbors"] = kwargs.pop("fanouts")
            if "seeds" in kwargs:
                kwargs["input_nodes"] = kwargs.pop("seeds")
            return HeteroNeighborLoader(graph, *args, **kwargs)
        return super().__new__(cls)

    def __init__(self, graph: Any = None, fanouts: Optional[Sequence[int]] = None, seeds: Optional[Tensor] = None,
                 batch_size: Optional[int] = None, replace: Optional[bool] = None, shuffle: Optional[bool] = None,
                 drop_last: bool = False, seed: int = 0, *, num_neighbors: Optional[Sequence[int]] = None,
                 input_nodes: Optional[Tensor] = None, **pyg_kwargs: Any) -> None:
        # PyG's signature too: NeighborLoader(data, num_neighbors=[...], input_nodes=..., batch_size=...,
        # replace=False, shuffle=False), with PyG's defaults; a PyG Data converts; PyG's other
        # options as gnnx.data.loader_options reads them (sampler, transform; worker options ignored).
        pyg_style = num_neighbors is not None
        graph = pyg_kwargs.pop("data", None) if graph is None else graph  # PyG's name for it
        if graph is None:
            raise TypeError("NeighborLoader needs the graph to sample from (gnnx: graph, PyG: data)")
        if (fanouts is None) == (num_neighbors is None):
            raise ValueError("NeighborLoader: give the fan-outs once, as fanouts (gnnx) or num_neighbors (PyG)")
        if not isinstance(graph, Graph):
            graph = Graph.from_pyg(graph, validate=False)
        fanouts = check_fanouts(num_neighbors if pyg_style else fanouts, "num_neighbors" if pyg_style else "fanouts")
        name = "seeds" if seeds is not None or input_nodes is None else "input_nodes"
        seeds = seeds if seeds is not None else input_nodes
        batch_size = check_batch_size(batch_size if batch_size is not None else (1 if pyg_style else 512))
        replace = replace if replace is not None else not pyg_style
        if replace and any(f < 0 for f in fanouts):
            raise ValueError(f"NeighborLoader: fan-out -1 (every neighbour) needs exact sampling (replace=False); "
                             f"got {fanouts} with replace=True, whose static shapes need a fixed count")
        shuffle = shuffle if shuffle is not None else not pyg_style
        self.graph, self.fanouts, self.batch_size = graph, fanouts, batch_size
        device = graph.edge_index.device
        self.seeds = check_seeds(seeds, graph.num_nodes, device, name)
        self.input_ids = input_ids(seeds, self.seeds)
        self.replace, self.shuffle, self.drop_last = replace, shuffle, drop_last
        self.generator = torch.Generator(device=device).manual_seed(seed)
        self.options = LoaderOptions("NeighborLoader", pyg_kwargs, temporal=True)
        self.node_time = self.edge_time = None
        if (self.options.disjoint or self.options.induced or self.options.weight_attr) and replace:
            raise ValueError("NeighborLoader: disjoint, temporal, induced and weighted sampling are exact "
                             "(replace=False)")
        self.edge_weight = None
        if self.options.weight_attr is not None:
            self.edge_weight = check_edge_weight(getattr(graph, self.options.weight_attr, None), graph.num_edges,
                                                 f"NeighborLoader: weight_attr {self.options.weight_attr!r}")
        if self.options.time_attr is not None:
            time = getattr(graph, self.options.time_attr, None)
            kind = attribute_kind(self.options.time_attr, time, graph.num_nodes, graph.num_edges)
            if kind is None or time.dim() != 1:
                raise ValueError(f"NeighborLoader: time_attr {self.options.time_attr!r} must name a node- or "
                                 "edge-level 1-D tensor of the graph")
            self.node_time, self.edge_time = (time, None) if kind == "node" else (None, time)

    def __len__(self) -> int:
        return self.options.num_batches(self.seeds.numel(), self.batch_size, self.drop_last)

    def __iter__(self):
        positions = torch.arange(self.seeds.numel(), device=self.seeds.device)
        for index in self.options.batches(positions, self.batch_size, self.shuffle, self.drop_last, self.generator):
            yield self.options.finish(self.collate_fn(index), self.graph)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    @property
    def num_inputs(self) -> int:
        """The number of seeds (:class:`~gnnx.loader.ZipLoader` zips loaders over it)."""
        return self.seeds.numel()

    def collate_fn(self, index: Tensor) -> Graph:
        """The batch of the seeds at positions ``index`` (PyG's ``collate_fn``), with PyG's
        ``input_id`` (those positions)."""
        index = torch.as_tensor(index, dtype=torch.long, device=self.seeds.device)
        if self.options.disjoint:
            from gnnx.data.disjoint_sampling import disjoint_graph, seed_times  # it imports this module

            seeds, seed_time = self.seeds[index], None
            if self.options.time_attr is not None:
                seed_time = seed_times(seeds, self.options.input_time, self.node_time, index, "NeighborLoader")
            batch = disjoint_graph(self.graph, seeds, self.fanouts, seed_time, self.node_time, self.edge_time,
                                   self.options.temporal_strategy, self.generator)
            if seed_time is not None:
                batch = batch.replace(seed_time=seed_time)
        else:
            if self.replace:
                batch = sample_static(self.graph, self.seeds[index], self.fanouts, self.generator)
            else:
                batch = sample_exact(self.graph, self.seeds[index], self.fanouts, self.generator, self.edge_weight)
        return batch.replace(input_id=index if self.input_ids is None else self.input_ids[index])

    def __call__(self, index: Any) -> Graph:
        """PyG's loaders are callable on input positions: the finished batch of those seeds."""
        return self.options.finish(self.collate_fn(index), self.graph)
