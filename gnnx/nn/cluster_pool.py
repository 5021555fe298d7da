r"""PyG's ``ClusterPooling`` (`"Edge-Based Graph Component Pooling"
<https://arxiv.org/abs/2409.11856>`_): score every edge from its two nodes, contract the edges
scoring above ``threshold`` and pool each resulting component into one node,

.. math::
    s_{ij} = \sigma\big(\mathbf{w}^\top [\mathbf{x}_i \,\Vert\, \mathbf{x}_j] + b\big), \qquad
    \mathbf{x}'_c = \sum_{j \in c} \sum_{i \to j} s_{ij}\, \mathbf{x}_i
    \;+\; \sum_{i \in c,\ i \text{ untouched}} \mathbf{x}_i,

(``tanh``, ``sigmoid`` or a ``log_softmax`` over all edges for :math:`\sigma`), where a node
without contracted edges carries itself over. The pooled graph joins two components wherever
an edge did. PyG builds dense ``[N, N]`` score, adjacency and assignment matrices and calls
scipy for the components; gnnx works on the edge list (:func:`gnnx.utils.connected_components`,
scipy's numbering), so memory follows the edges. Values, edges and gradients equal PyG's.
Eager, as PyG's: the number of components comes from the data.
"""
from __future__ import annotations

from typing import NamedTuple, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from gnnx.utils.components import connected_components


class UnpoolInfo(NamedTuple):
    edge_index: Tensor
    cluster: Tensor
    batch: Tensor


class ClusterPooling(torch.nn.Module):
    """PyG's arguments (``in_channels``, ``edge_score_method``, ``dropout``, ``threshold``:
    default 0.5 for ``sigmoid``, else 0) and parameter names; ``forward(x, edge_index, batch)``
    returns ``(x, edge_index, batch, unpool_info)``."""

    def __init__(self, in_channels: int, edge_score_method: str = "tanh", dropout: float = 0.0,
                 threshold: Optional[float] = None) -> None:
        super().__init__()
        if edge_score_method not in ("tanh", "sigmoid", "log_softmax"):
            raise ValueError(f"ClusterPooling: edge_score_method must be 'tanh', 'sigmoid' or 'log_softmax', "
                             f"got {edge_score_method!r}")
        self.in_channels, self.edge_score_method, self.dropout = in_channels, edge_score_method, dropout
        self.threshold = (0.5 if edge_score_method == "sigmoid" else 0.0) if threshold is None else threshold
        self.lin = torch.nn.Linear(2 * in_channels, 1)

    def reset_parameters(self) -> None:
        self.lin.reset_parameters()

    def forward(self, x: Tensor, edge_index: Tensor, batch: Tensor) -> Tuple[Tensor, Tensor, Tensor, UnpoolInfo]:
        edge_index = edge_index[:, edge_index[0] != edge_index[1]]
        score = self.lin(torch.cat([x[edge_index[0]], x[edge_index[1]]], dim=-1)).view(-1)
        score = F.dropout(score, p=self.dropout, training=self.training)
        if self.edge_score_method == "tanh":
            score = score.tanh()
        elif self.edge_score_method == "sigmoid":
            score = score.sigmoid()
        else:
            score = F.log_softmax(score, dim=0)
        return self._merge_edges(x, edge_index, batch, score)

    def _merge_edges(self, x: Tensor, edge_index: Tensor, batch: Tensor,
                     score: Tensor) -> Tuple[Tensor, Tensor, Tensor, UnpoolInfo]:
        num_nodes = x.size(0)
        contract = edge_index[:, score > self.threshold]
        count, cluster = connected_components(contract, num_nodes)
        touched = torch.zeros(num_nodes, dtype=torch.bool, device=x.device)
        touched[contract.flatten()] = True
        # each edge i -> j brings s_ij x_i to j's component; an untouched node brings itself
        out = x.new_zeros(count, x.size(1)).index_add(0, cluster[edge_index[1]], score.unsqueeze(-1) * x[edge_index[0]])
        out = out.index_add(0, cluster[~touched], x[~touched])
        src, dst = cluster[edge_index[0]], cluster[edge_index[1]]
        keys = torch.unique((src * count + dst)[src != dst])  # sorted: PyG's row-major order
        pooled_edges = torch.stack([keys // count, keys % count])
        pooled_batch = batch.new_empty(count).scatter_(0, cluster, batch)
        return out, pooled_edges, pooled_batch, UnpoolInfo(edge_index, cluster, batch)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.in_channels})"
