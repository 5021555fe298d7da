r"""Edge contraction pooling (PyG's ``EdgePooling``)."""
from __future__ import annotations

from typing import Callable, List, NamedTuple, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from gnnx.utils import coalesce, scatter, softmax


class UnpoolInfo(NamedTuple):
    """What :meth:`EdgePooling.unpool` needs: the graph before pooling, each node's cluster,
    and each cluster's score."""
    edge_index: Tensor
    cluster: Tensor
    batch: Tensor
    new_edge_score: Tensor


class EdgePooling(torch.nn.Module):
    r"""Edge pooling of "Towards Graph Pooling by Edge Contraction" and "Edge Contraction
    Pooling for Graph Neural Networks": each edge gets a score
    :math:`s_{ij} = \mathrm{score}(\mathbf{w}^\top[\mathbf{x}_i \Vert \mathbf{x}_j] + b) + c`
    (``edge_score_method``: softmax over each node's incoming edges by default, or
    :meth:`compute_edge_score_tanh` / :meth:`compute_edge_score_sigmoid`; :math:`c` =
    ``add_to_edge_score``); edges are contracted greedily by descending score, each node in at
    most one contraction; a merged node is :math:`s_{ij}(\mathbf{x}_i + \mathbf{x}_j)`, the others
    are kept. Returns ``(x, edge_index, batch, unpool_info)``; :meth:`unpool` maps back.

    PyG's arguments, keys, repr and values. Eager only, as PyG's: the greedy matching is
    sequential and the pooled sizes come from the data (the matching reads the edges to the
    host once, as lists, where PyG reads each edge's endpoints one tensor element at a time).
    """

    def __init__(self, in_channels: int, edge_score_method: Optional[Callable] = None, dropout: float = 0.0,
                 add_to_edge_score: float = 0.5) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.compute_edge_score = self.compute_edge_score_softmax if edge_score_method is None else edge_score_method
        self.add_to_edge_score, self.dropout = add_to_edge_score, dropout
        self.lin = torch.nn.Linear(2 * in_channels, 1)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.lin.reset_parameters()

    @staticmethod
    def compute_edge_score_softmax(raw_edge_score: Tensor, edge_index: Tensor, num_nodes: int) -> Tensor:
        return softmax(raw_edge_score, edge_index[1], num_nodes=num_nodes)

    @staticmethod
    def compute_edge_score_tanh(raw_edge_score: Tensor, edge_index: Optional[Tensor] = None,
                                num_nodes: Optional[int] = None) -> Tensor:
        return torch.tanh(raw_edge_score)

    @staticmethod
    def compute_edge_score_sigmoid(raw_edge_score: Tensor, edge_index: Optional[Tensor] = None,
                                   num_nodes: Optional[int] = None) -> Tensor:
        return torch.sigmoid(raw_edge_score)

    def forward(self, x: Tensor, edge_index: Tensor, batch: Tensor) -> Tuple[Tensor, Tensor, Tensor, UnpoolInfo]:
        score = self.lin(torch.cat([x[edge_index[0]], x[edge_index[1]]], dim=-1)).view(-1)
        score = F.dropout(score, p=self.dropout, training=self.training)
        score = self.compute_edge_score(score, edge_index, x.size(0)) + self.add_to_edge_score
        return self._merge_edges(x, edge_index, batch, score)

    def _merge_edges(self, x: Tensor, edge_index: Tensor, batch: Tensor,
                     edge_score: Tensor) -> Tuple[Tensor, Tensor, Tensor, UnpoolInfo]:
        sources, targets = edge_index.tolist() if edge_index.numel() else ([], [])
        free = [True] * x.size(0)
        cluster = [0] * x.size(0)
        chosen: List[int] = []
        for edge in torch.argsort(edge_score, descending=True).tolist():  # PyG's order, ties included
            source, target = sources[edge], targets[edge]
            if not (free[source] and free[target]):
                continue
            cluster[source] = cluster[target] = len(chosen)
            free[source] = free[target] = False
            chosen.append(edge)
        kept = [node for node, is_free in enumerate(free) if is_free]
        for offset, node in enumerate(kept):
            cluster[node] = len(chosen) + offset
        num_clusters = len(chosen) + len(kept)
        cluster_t = torch.tensor(cluster, dtype=torch.long, device=x.device)
        new_x = scatter(x, cluster_t, dim=0, dim_size=num_clusters, reduce="sum")
        new_edge_score = torch.cat([edge_score[torch.tensor(chosen, dtype=torch.long, device=x.device)],
                                    x.new_ones(len(kept))])
        new_x = new_x * new_edge_score.view(-1, 1)
        new_edge_index = coalesce(cluster_t[edge_index], num_nodes=num_clusters)
        new_batch = torch.empty(num_clusters, dtype=torch.long, device=x.device).scatter_(0, cluster_t, batch)
        return new_x, new_edge_index, new_batch, UnpoolInfo(edge_index, cluster_t, batch, new_edge_score)

    def unpool(self, x: Tensor, unpool_info: UnpoolInfo) -> Tuple[Tensor, Tensor, Tensor]:
        """Pooled features back at the original nodes (each divided by its cluster's score),
        with the original ``edge_index`` and ``batch``."""
        new_x = (x / unpool_info.new_edge_score.view(-1, 1))[unpool_info.cluster]
        return new_x, unpool_info.edge_index, unpool_info.batch

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.in_channels})"
