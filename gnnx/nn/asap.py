r"""ASAPooling (Ranjan et al., 2020, `arXiv:1911.07979 <https://arxiv.org/abs/1911.07979>`_):
adaptive structure-aware pooling, PyG's layer.

Every node :math:`i` is the centre of a cluster of its neighbours (self loop included). A
master-query attention weighs them,

.. math::
    \mathbf{m}_i = \max_{j \in \mathcal{N}(i)} \mathbf{x}'_j, \qquad
    s_{ij} = \operatorname{softmax}_j \mathrm{LeakyReLU}\big(\mathbf{a}^\top
    [\mathbf{W}\mathbf{m}_i \,\Vert\, \mathbf{x}'_j]\big), \qquad
    \mathbf{x}^c_i = \sum_j s_{ij} \mathbf{x}_j,

(:math:`\mathbf{x}'` is ``x`` or the optional intra-cluster GNN's output), an ``LEConv``
scores each cluster's fitness :math:`\phi_i = \sigma(\mathrm{LEConv}(\mathbf{x}^c))`, the top
``ratio`` clusters of each graph are kept (``x^c * phi``), and the pooled adjacency is
:math:`\mathbf{S}^\top \mathbf{A} \mathbf{S}` with :math:`\mathbf{S}` the cluster weights of
the kept clusters, computed as sparse COO products so gradients reach the pooled edge
weights too (PyG's CSR products cannot be differentiated there: its backward fails). The
number of kept clusters and edges comes from the data: an eager layer, as PyG's.
"""
from __future__ import annotations

from typing import Callable, Optional, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor

from gnnx.nn.conv import LEConv
from gnnx.nn.pool import SelectTopK, topk_nodes
from gnnx.utils import (
    add_remaining_self_loops,
    remove_self_loops,
    scatter,
    softmax,
)


class ASAPooling(torch.nn.Module):
    """Adaptive structure-aware pooling (module docstring).

    Args:
        in_channels: feature width.
        ratio: the share of clusters kept per graph (or their number, when an int >= 1).
        GNN: an optional layer class, built as ``GNN(in_channels, in_channels, **kwargs)``, for
            the intra-cluster features.
        dropout: dropout on the cluster weights in training.
        negative_slope: LeakyReLU's slope of the attention.
        add_self_loops: keep self loops in the pooled graph (they are removed by default).

    ``forward(x, edge_index, edge_weight=None, batch=None)`` returns ``(x, edge_index,
    edge_weight, batch, perm)``: the pooled graph and the kept clusters' centres.
    """

    def __init__(self, in_channels: int, ratio: Union[float, int] = 0.5, GNN: Optional[Callable] = None,
                 dropout: float = 0.0, negative_slope: float = 0.2, add_self_loops: bool = False, **kwargs) -> None:
        super().__init__()
        self.in_channels, self.ratio = in_channels, ratio
        self.negative_slope, self.dropout, self.GNN, self.add_self_loops = negative_slope, dropout, GNN, add_self_loops
        self.lin = torch.nn.Linear(in_channels, in_channels)
        self.att = torch.nn.Linear(2 * in_channels, 1)
        self.gnn_score = LEConv(in_channels, 1)
        self.gnn_intra_cluster = GNN(in_channels, in_channels, **kwargs) if GNN is not None else None
        self.select = SelectTopK(1, ratio)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.lin.reset_parameters()
        self.att.reset_parameters()
        self.gnn_score.reset_parameters()
        if self.gnn_intra_cluster is not None:
            self.gnn_intra_cluster.reset_parameters()
        self.select.reset_parameters()

    def forward(self, x: Tensor, edge_index: Tensor, edge_weight: Optional[Tensor] = None,
                batch: Optional[Tensor] = None) -> Tuple[Tensor, Tensor, Optional[Tensor], Tensor, Tensor]:
        count = x.size(0)
        edge_index, edge_weight = add_remaining_self_loops(edge_index, edge_weight, fill_value=1.0, num_nodes=count)
        batch = edge_index.new_zeros(count) if batch is None else batch
        x = x.unsqueeze(-1) if x.dim() == 1 else x
        x_pool = x
        if self.gnn_intra_cluster is not None:
            x_pool = self.gnn_intra_cluster(x=x, edge_index=edge_index, edge_weight=edge_weight)
        src, dst = edge_index[0], edge_index[1]
        x_pool_j = x_pool[src]
        query = self.lin(scatter(x_pool_j, dst, dim=0, dim_size=count, reduce="max"))[dst]
        score = F.leaky_relu(self.att(torch.cat([query, x_pool_j], dim=-1)).view(-1), self.negative_slope)
        score = F.dropout(softmax(score, dst, num_nodes=count), p=self.dropout, training=self.training)
        x = scatter(x[src] * score.view(-1, 1), dst, dim=0, dim_size=count, reduce="sum")
        fitness = self.gnn_score(x, edge_index).sigmoid().view(-1)
        batch_size = int(batch.max()) + 1 if batch.numel() else 0
        perm = topk_nodes(self.select(fitness, batch, batch_size), self.ratio, batch, batch_size)
        x = x[perm] * fitness[perm].view(-1, 1)
        batch = batch[perm]
        # S: node -> kept cluster weights; the pooled adjacency S^T A S as sparse COO products,
        # which (unlike PyG's CSR index_select) carry gradients to the scores and edge weights
        position = torch.full((count,), -1, dtype=torch.long, device=x.device)
        position[perm] = torch.arange(perm.numel(), device=x.device)
        in_kept = position[dst] >= 0
        clusters = torch.sparse_coo_tensor(torch.stack([src[in_kept], position[dst][in_kept]]), score[in_kept],
                                           (count, perm.numel())).coalesce()
        values = edge_weight if edge_weight is not None else torch.ones(src.numel(), device=x.device, dtype=x.dtype)
        adjacency = torch.sparse_coo_tensor(edge_index, values, (count, count)).coalesce()
        pooled = torch.sparse.mm(clusters.t().coalesce(), torch.sparse.mm(adjacency, clusters)).coalesce()
        edge_index, values = pooled.indices(), pooled.values()
        edge_weight = None if edge_weight is None else values
        if self.add_self_loops:
            edge_index, edge_weight = add_remaining_self_loops(edge_index, edge_weight, num_nodes=pooled.size(0))
        else:
            edge_index, edge_weight = remove_self_loops(edge_index, edge_weight)
        return x, edge_index, edge_weight, batch, perm

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.in_channels}, ratio={self.ratio})"
