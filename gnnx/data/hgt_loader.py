r"""PyG's ``HGTLoader``: heterogeneous mini-batches by HGT's budget sampling.

HGT (Hu et al., `"Heterogeneous Graph Transformer" <https://arxiv.org/abs/2003.01332>`_)
samples a fixed number of nodes *per node type* and hop, so rare types are not crowded out by
frequent ones. Each node type keeps a budget over the nodes not yet sampled: every sampled node
adds :math:`1 / d` to each of its :math:`d` in-neighbours of a relation (normalised per relation,
so hubs do not flood it). Per hop, each type draws ``num_samples[type][hop]`` nodes without
replacement with probabilities proportional to the squared budget, the drawn nodes leave the
budget and add their own neighbours to it. The batch is the subgraph *induced* by all sampled
nodes: every edge of the graph between two of them.

PyG's needs torch-sparse (its ``hgt_sample``); this one is plain torch over each edge type's
CSR, one vector operation per relation and hop. Batches are :class:`~gnnx.HeteroGraph` s as
the heterogeneous ``NeighborLoader`` gives: per type ``n_id`` (the seeds first) and ``x``/``y``
gathered, relabelled ``edge_index`` and ``e_id`` per edge type, ``batch_size`` on the input type.
"""
from __future__ import annotations

from typing import Any, Dict, Iterator, List, Optional, Tuple, Union

import torch
from torch import Tensor

from gnnx.data.hetero_sampling import induced_hetero_subgraph
from gnnx.data.loader_options import LoaderOptions
from gnnx.data.sampling import check_batch_size, check_seeds
from gnnx.hetero_graph import HeteroGraph

NodeType = str
EdgeType = Tuple[str, str, str]


def hgt_sample(graph: HeteroGraph, input_type: NodeType, seeds: Tensor, num_samples: Dict[NodeType, List[int]],
               generator: Optional[torch.Generator] = None) -> HeteroGraph:
    """One HGT batch around ``seeds`` of ``input_type`` (module docstring)."""
    device = seeds.device
    counts = {t: int(graph[t].num_nodes or 0) for t in graph.node_types}
    sampled = {t: torch.zeros(counts[t], dtype=torch.bool, device=device) for t in graph.node_types}
    budget = {t: torch.zeros(counts[t], dtype=torch.float64, device=device) for t in graph.node_types}
    nodes = {t: seeds.new_empty(0) for t in graph.node_types}
    nodes[input_type] = seeds
    sampled[input_type][seeds] = True
    new = {input_type: seeds}
    num_hops = max((len(v) for v in num_samples.values()), default=0)
    for hop in range(num_hops):
        for edge_type in graph.edge_types:  # the new nodes' in-neighbours join the budgets
            src_type, _, dst_type = edge_type
            if dst_type not in new or new[dst_type].numel() == 0:
                continue
            csr = graph.csr(edge_type)
            start = csr.rowptr[new[dst_type]]
            degree = csr.rowptr[new[dst_type] + 1] - start
            total = int(degree.sum())
            owner = torch.repeat_interleave(torch.arange(degree.numel(), device=device), degree, output_size=total)
            slot = start[owner] + torch.arange(total, device=device) - torch.repeat_interleave(
                torch.cumsum(degree, 0) - degree, degree, output_size=total)
            budget[src_type].index_add_(0, csr.col[slot], 1.0 / degree[owner].double())
        for node_type in graph.node_types:
            budget[node_type][sampled[node_type]] = 0.0
        new = {}
        for node_type, per_hop in num_samples.items():
            if hop >= len(per_hop) or node_type not in budget:
                continue
            candidates = (budget[node_type] > 0).nonzero().view(-1)
            take = min(per_hop[hop], candidates.numel())
            if take == 0:
                continue
            weight = budget[node_type][candidates].square()
            picked = candidates[torch.multinomial(weight, take, replacement=False, generator=generator)]
            sampled[node_type][picked] = True
            nodes[node_type] = torch.cat([nodes[node_type], picked])
            new[node_type] = picked
    return _induced_batch(graph, nodes, input_type, seeds.numel())


def _induced_batch(graph: HeteroGraph, nodes: Dict[NodeType, Tensor], input_type: NodeType,
                   batch_size: int) -> HeteroGraph:
    batch = induced_hetero_subgraph(graph, nodes)
    batch[input_type].batch_size = batch_size
    return batch


class HGTLoader:
    """Mini-batches of ``input_nodes`` with HGT-sampled heterogeneous neighbourhoods (PyG's
    arguments: ``num_samples`` per hop for every type, or ``{node_type: [...]}``)."""

    def __init__(self, data: Any, num_samples: Union[List[int], Dict[NodeType, List[int]]],
                 input_nodes: Union[NodeType, Tuple[NodeType, Optional[Tensor]]], batch_size: int = 1,
                 shuffle: bool = False, drop_last: bool = False, seed: int = 0, **pyg_kwargs: Any) -> None:
        graph = data if isinstance(data, HeteroGraph) else HeteroGraph.from_pyg(data)
        if isinstance(num_samples, (list, tuple)):
            num_samples = {node_type: list(num_samples) for node_type in graph.node_types}
        for node_type, per_hop in num_samples.items():
            if node_type not in graph.node_types:
                raise ValueError(f"HGTLoader: num_samples names node type {node_type!r}, not in {graph.node_types}")
            if any(isinstance(k, bool) or not isinstance(k, int) or k < 0 for k in per_hop):
                raise ValueError(f"HGTLoader: num_samples[{node_type!r}] must be non-negative ints, got {per_hop}")
        input_type, seeds = (input_nodes, None) if isinstance(input_nodes, str) else input_nodes
        if input_type not in graph.node_types:
            raise ValueError(f"input_nodes: no node type {input_type!r} in {graph.node_types}")
        device = next(iter(graph.edge_index_dict.values())).device
        self.seeds = check_seeds(seeds, int(graph[input_type].num_nodes), device, f"input_nodes ({input_type!r})")
        self.graph, self.num_samples, self.input_type = graph, num_samples, input_type
        self.batch_size, self.shuffle, self.drop_last = check_batch_size(batch_size), shuffle, drop_last
        self.generator = torch.Generator(device=device).manual_seed(seed)
        self.options = LoaderOptions("HGTLoader", pyg_kwargs)

    def __len__(self) -> int:
        return self.options.num_batches(self.seeds.numel(), self.batch_size, self.drop_last)

    def __iter__(self) -> Iterator[HeteroGraph]:
        for seeds in self.options.batches(self.seeds, self.batch_size, self.shuffle, self.drop_last, self.generator):
            yield self.options.finish(hgt_sample(self.graph, self.input_type, seeds, self.num_samples, self.generator),
                                      self.graph)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
