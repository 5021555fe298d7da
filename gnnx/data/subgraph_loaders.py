"""Loaders that batch subgraphs or lists (PyG's ``RandomNodeLoader``, ``GraphSAINTNodeSampler``,
``GraphSAINTEdgeSampler``, ``GraphSAINTRandomWalkSampler``, ``DataListLoader``) and the batch
samplers ``ImbalancedSampler`` and ``DynamicBatchSampler``, PyG's arguments and semantics.

GraphSAINT (Zeng et al., 2020, `arXiv:1907.04931 <https://arxiv.org/abs/1907.04931>`_)
trains on induced subgraphs of sampled nodes; with ``sample_coverage > 0`` it estimates how
often each node and edge is sampled and attaches the normalisations ``node_norm`` (for the
loss) and ``edge_norm`` (for aggregation). PyG's samplers need ``torch-sparse``; these run
on gnnx's CSR and :func:`~gnnx.data.random_walk`. The subgraphs' sizes come from the data:
they feed eager steps, or a compiled one with ``dynamic=True``.
"""
from __future__ import annotations

import math
import os
from typing import Any, Iterator, List, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor

from gnnx.data.batch import as_graph, pyg_base
from gnnx.data.hetero_sampling import induced_hetero_subgraph
from gnnx.data.random_walk import random_walk
from gnnx.graph import Graph, attribute_kind
from gnnx.hetero_graph import HeteroGraph


def induced_subgraph(graph: Graph, nodes: Tensor) -> Tuple[Graph, Tensor]:
    """The subgraph on ``nodes`` (renumbered in their order), its edges sorted by (source,
    destination), every per-node and per-edge tensor cut to match; and the kept edges' ids."""
    position = torch.full((graph.num_nodes,), -1, dtype=torch.long, device=nodes.device)
    position[nodes] = torch.arange(nodes.numel(), device=nodes.device)
    row, col = position[graph.edge_index[0]], position[graph.edge_index[1]]
    edge_id = ((row >= 0) & (col >= 0)).nonzero().view(-1)
    row, col = row[edge_id], col[edge_id]
    order = torch.argsort(row * nodes.numel() + col, stable=True)
    edge_id, row, col = edge_id[order], row[order], col[order]
    fields = {"x": graph.x, "y": graph.y, "pos": graph.pos, "batch": graph.batch,
              "edge_weight": graph.edge_weight, "edge_attr": graph.edge_attr, **graph.attrs}
    changes = {}
    for name, value in fields.items():
        kind = attribute_kind(name, value, graph.num_nodes, graph.num_edges)
        changes[name] = value[edge_id] if kind == "edge" else value[nodes] if kind == "node" else value
    return graph.replace(edge_index=torch.stack([row, col]), num_nodes=nodes.numel(), **changes), edge_id


class RandomNodeLoader(torch.utils.data.DataLoader):
    """Splits the nodes into ``num_parts`` random parts (``shuffle=True``) or consecutive
    ones, and yields each part's induced subgraph (nodes in draw order). A heterogeneous
    graph's nodes are numbered type after type and split together, as PyG's."""

    def __init__(self, data: Union[Graph, HeteroGraph, Any], num_parts: int, **kwargs: Any) -> None:
        kwargs.pop("collate_fn", None)
        if isinstance(data, HeteroGraph) or pyg_base(data) == "HeteroData":
            data = data if isinstance(data, HeteroGraph) else HeteroGraph.from_pyg(data, validate=False)
            counts = [int(data[t].num_nodes or 0) for t in data.node_types]
            self.node_offsets = dict(zip(data.node_types, [sum(counts[:i]) for i in range(len(counts) + 1)]))
        else:
            data = as_graph(data)
        self.data, self.num_parts, self.num_nodes = data, num_parts, data.num_nodes
        super().__init__(range(self.num_nodes), batch_size=math.ceil(self.num_nodes / num_parts),
                         collate_fn=self.collate_fn, **kwargs)

    def collate_fn(self, index: Union[List[int], Tensor]) -> Union[Graph, HeteroGraph]:
        index = index if isinstance(index, Tensor) else torch.tensor(index)
        if isinstance(self.data, HeteroGraph):
            nodes = {}
            for node_type in self.data.node_types:
                start = self.node_offsets[node_type]
                end = start + int(self.data[node_type].num_nodes or 0)
                nodes[node_type] = index[(index >= start) & (index < end)] - start
            return induced_hetero_subgraph(self.data, nodes)
        return induced_subgraph(self.data, index.to(self.data.edge_index.device))[0]


class GraphSAINTSampler(torch.utils.data.DataLoader):
    """The GraphSAINT sampler base: ``num_steps`` subgraphs of ``batch_size`` sampled roots
    each (module docstring). ``save_dir`` caches the normalisation (``log`` is accepted for
    PyG's signature; nothing is printed)."""

    def __init__(self, data: Graph, batch_size: int, num_steps: int = 1, sample_coverage: int = 0,
                 save_dir: Optional[str] = None, log: bool = True, **kwargs: Any) -> None:
        kwargs.pop("dataset", None)
        kwargs.pop("collate_fn", None)
        data = as_graph(data)
        if "node_norm" in data.attrs or "edge_norm" in data.attrs:
            raise ValueError("GraphSAINT samplers add 'node_norm' and 'edge_norm': the graph already has them")
        if data.edge_index.is_cuda:
            raise ValueError("GraphSAINT samplers draw on the CPU: give them a CPU graph")
        self.num_steps, self._batch_size, self.sample_coverage = num_steps, batch_size, sample_coverage
        self.save_dir, self.log = save_dir, log
        self.N, self.E = data.num_nodes, data.num_edges
        self.data = data
        super().__init__(self, batch_size=1, collate_fn=self._collate, **kwargs)
        if sample_coverage > 0:
            path = os.path.join(save_dir or "", self._filename)
            if save_dir is not None and os.path.exists(path):
                self.node_norm, self.edge_norm = torch.load(path, weights_only=True)
            else:
                self.node_norm, self.edge_norm = self._compute_norm()
                if save_dir is not None:
                    torch.save((self.node_norm, self.edge_norm), path)

    @property
    def _filename(self) -> str:
        return f"{type(self).__name__.lower()}_{self.sample_coverage}.pt"

    def __len__(self) -> int:
        return self.num_steps

    def _sample_nodes(self, batch_size: int) -> Tensor:
        raise NotImplementedError

    def __getitem__(self, idx: int) -> Tuple[Tensor, Graph, Tensor]:
        """``(nodes, their induced subgraph, its edges' ids)`` of one draw."""
        nodes = self._sample_nodes(self._batch_size).unique()
        return (nodes, *induced_subgraph(self.data, nodes))

    def _collate(self, items: List[Tuple[Tensor, Graph, Tensor]]) -> Graph:
        nodes, graph, edge_id = items[0]
        if self.sample_coverage > 0:
            graph = graph.replace(node_norm=self.node_norm[nodes], edge_norm=self.edge_norm[edge_id])
        return graph

    def _compute_norm(self) -> Tuple[Tensor, Tensor]:
        node_count, edge_count = torch.zeros(self.N), torch.zeros(self.E)
        loader = torch.utils.data.DataLoader(self, batch_size=200, collate_fn=lambda x: x,
                                             num_workers=self.num_workers)
        num_samples = total = 0
        while total < self.N * self.sample_coverage:
            for samples in loader:
                for nodes, _, edge_id in samples:
                    node_count[nodes] += 1
                    edge_count[edge_id] += 1
                    total += nodes.numel()
            num_samples += self.num_steps
        through = node_count[self.data.edge_index[0]]  # per edge: how often its source was sampled
        edge_norm = (through / edge_count).clamp_(0, 1e4)
        edge_norm[torch.isnan(edge_norm)] = 0.1
        node_count[node_count == 0] = 0.1
        return num_samples / node_count / self.N, edge_norm


class GraphSAINTNodeSampler(GraphSAINTSampler):
    """Roots drawn as the sources of uniformly drawn edges (nodes in proportion to their
    out-degree)."""

    def _sample_nodes(self, batch_size: int) -> Tensor:
        return self.data.edge_index[0][torch.randint(0, self.E, (batch_size, self.batch_size), dtype=torch.long)]


class GraphSAINTEdgeSampler(GraphSAINTSampler):
    """Both ends of ``batch_size`` edges drawn with probability ``1/deg_in(src) +
    1/deg_out(dst)`` (PyG's weighting)."""

    def _sample_nodes(self, batch_size: int) -> Tensor:
        row, col = self.data.edge_index[0], self.data.edge_index[1]
        deg_in = 1.0 / torch.bincount(col, minlength=self.N).float()
        deg_out = 1.0 / torch.bincount(row, minlength=self.N).float()
        prob = (1.0 / deg_in[row]) + (1.0 / deg_out[col])
        keys = torch.rand(batch_size, self.E).log() / (prob + 1e-10)
        edges = keys.topk(self.batch_size, dim=-1).indices
        return torch.cat([col[edges], row[edges]], -1)


class GraphSAINTRandomWalkSampler(GraphSAINTSampler):
    """The nodes of ``batch_size`` random walks of ``walk_length`` steps from uniform roots."""

    def __init__(self, data: Graph, batch_size: int, walk_length: int, num_steps: int = 1, sample_coverage: int = 0,
                 save_dir: Optional[str] = None, log: bool = True, **kwargs: Any) -> None:
        self.walk_length = walk_length
        super().__init__(data, batch_size, num_steps, sample_coverage, save_dir, log, **kwargs)

    @property
    def _filename(self) -> str:
        return f"{type(self).__name__.lower()}_{self.walk_length}_{self.sample_coverage}.pt"

    def _sample_nodes(self, batch_size: int) -> Tensor:
        start = torch.randint(0, self.N, (batch_size,), dtype=torch.long)
        csr = self.data.csr  # walks follow edges source -> destination: the transposed CSR
        return random_walk(csr.rowptr_t, csr.col_t, start, self.walk_length).view(-1)


class DataListLoader(torch.utils.data.DataLoader):
    """Batches as plain lists of graphs (for a model that takes several graphs, as PyG's
    ``DataParallel`` did)."""

    def __init__(self, dataset: Sequence[Any], batch_size: int = 1, shuffle: bool = False, **kwargs: Any) -> None:
        kwargs.pop("collate_fn", None)
        super().__init__(dataset, batch_size=batch_size, shuffle=shuffle, collate_fn=lambda items: list(items),
                         **kwargs)


class ImbalancedSampler(torch.utils.data.WeightedRandomSampler):
    """Draws examples with replacement in inverse proportion to their class's frequency, so
    every class is seen about equally often: node-level from a graph's ``y`` (optionally at
    ``input_nodes``), graph-level from a dataset's ``y``, or from a label tensor."""

    def __init__(self, dataset: Union[Graph, Sequence[Any], Tensor], input_nodes: Optional[Tensor] = None,
                 num_samples: Optional[int] = None) -> None:
        if pyg_base(dataset) == "Data":
            dataset = as_graph(dataset)
        if isinstance(dataset, (Graph, Tensor)):
            y = (dataset.y if isinstance(dataset, Graph) else dataset).view(-1)
            if isinstance(dataset, Graph) and y.numel() != dataset.num_nodes:
                raise ValueError(f"ImbalancedSampler needs one label per node, got {y.numel()} for "
                                 f"{dataset.num_nodes} nodes")
            y = y[input_nodes] if input_nodes is not None else y
        else:
            labels = [item.y for item in dataset]
            y = torch.cat([label.view(-1) for label in labels]) if isinstance(labels[0], Tensor) \
                else torch.tensor(labels).view(-1)
            if y.numel() != len(dataset):
                raise ValueError(f"ImbalancedSampler needs one label per graph, got {y.numel()} for {len(dataset)}")
        if y.dtype != torch.long:
            raise ValueError(f"ImbalancedSampler balances classes: it needs integer labels, got {y.dtype}")
        weight = (1.0 / y.bincount())[y]
        super().__init__(weight, y.numel() if num_samples is None else num_samples, replacement=True)


class DynamicBatchSampler(torch.utils.data.sampler.Sampler):
    """Batches of graphs whose total nodes (``mode="node"``) or edges (``mode="edge"``) stay
    within ``max_num``: batch sizes adapt to graph sizes. A graph larger than ``max_num`` is
    skipped (``skip_too_big``) or batched alone; ``num_steps`` caps the batches per epoch."""

    def __init__(self, dataset: Sequence[Any], max_num: int, mode: str = "node", shuffle: bool = False,
                 skip_too_big: bool = False, num_steps: Optional[int] = None) -> None:
        if max_num <= 0:
            raise ValueError(f"`max_num` should be a positive integer value (got {max_num})")
        if mode not in ("node", "edge"):
            raise ValueError(f"`mode` choice should be either 'node' or 'edge' (got '{mode}')")
        self.dataset, self.max_num, self.mode = dataset, max_num, mode
        self.shuffle, self.skip_too_big, self.num_steps = shuffle, skip_too_big, num_steps
        self.max_steps = num_steps or len(dataset)

    def _size(self, index: int) -> int:
        item = self.dataset[index]
        return item.num_nodes if self.mode == "node" else item.num_edges

    def __iter__(self) -> Iterator[List[int]]:
        order = torch.randperm(len(self.dataset)) if self.shuffle else torch.arange(len(self.dataset))
        batch: List[int] = []
        total = steps = 0
        for index in order.tolist():
            size = self._size(index)
            if batch and total + size > self.max_num:
                yield batch
                steps += 1
                if steps >= self.max_steps:
                    return
                batch, total = [], 0
            if size > self.max_num and self.skip_too_big:
                continue
            batch.append(index)
            total += size
        if batch and steps < self.max_steps:
            yield batch

    def __len__(self) -> int:
        if self.num_steps is None:
            raise ValueError(f"The length of '{type(self).__name__}' is undefined since the number of steps per "
                             f"epoch is ambiguous. Either specify `num_steps` or use a static batch sampler.")
        return self.num_steps
