r"""PyG's ``SGFormer`` (`"SGFormer: Simplifying and Empowering Transformers for Large-Graph
Representations" <https://arxiv.org/abs/2306.10759>`_): one layer of linear global attention
per block (:class:`~gnnx.nn.attention.SGFormerAttention`) beside a GCN, mixed at the end,

.. math::
    \mathbf{Y} = \mathrm{log\,softmax}\Big(\mathbf{W}\big(w\,\mathrm{GCN}(\mathbf{X}) +
    (1 - w)\,\mathrm{SGAttention}(\mathbf{X})\big)\Big)

(``aggregate="cat"``: the two side by side). PyG's keys, arguments and values.

PyG runs the attention on a dense ``[graphs, N_max, F]`` batch, and its padding rows take part:
their keys count in each graph's key sum and ``N_max`` (the largest graph of the batch) scales
the result, so a graph's output depends on the batch it is in. gnnx keeps those values (a
ported model predicts what it did) without the dense layout: each graph gets one padding row,
which evolves as PyG's identical padding rows do and counts ``N_max - N_graph`` times in the
key sum. The rows stay flat and unsorted, so nothing waits on the host for the largest graph
once ``batch_size`` is given, and the model compiles and exports with dynamic node and graph
counts. In training the padding rows draw their own dropout, so only the distribution matches.
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from gnnx.nn.attention.padding_rows import padding_rows
from gnnx.nn.attention.sgformer import SGFormerAttention, flat_sgformer_attention
from gnnx.nn.conv.gcn import GCNConv


class GraphModule(torch.nn.Module):
    """SGFormer's GCN branch: input layer, then residual GCN layers with batch norm."""

    def __init__(self, in_channels: int, hidden_channels: int, num_layers: int = 2, dropout: float = 0.5) -> None:
        super().__init__()
        self.convs = torch.nn.ModuleList(GCNConv(hidden_channels, hidden_channels) for _ in range(num_layers))
        self.fcs = torch.nn.ModuleList([torch.nn.Linear(in_channels, hidden_channels)])
        self.bns = torch.nn.ModuleList(torch.nn.BatchNorm1d(hidden_channels) for _ in range(num_layers + 1))
        self.dropout = dropout

    def reset_parameters(self) -> None:
        for module in (*self.convs, *self.bns, *self.fcs):
            module.reset_parameters()

    def forward(self, x: Tensor, edge_index) -> Tensor:
        x = F.dropout(F.relu(self.bns[0](self.fcs[0](x))), p=self.dropout, training=self.training)
        first = x
        for i, conv in enumerate(self.convs):
            x = F.dropout(F.relu(self.bns[i + 1](conv(x, edge_index))), p=self.dropout, training=self.training)
            x = x + first
        return x


class SGModule(torch.nn.Module):
    """SGFormer's attention branch (module docstring: padding rows as PyG's dense batch has them)."""

    def __init__(self, in_channels: int, hidden_channels: int, num_layers: int = 2, num_heads: int = 1,
                 dropout: float = 0.5) -> None:
        super().__init__()
        self.attns = torch.nn.ModuleList(SGFormerAttention(hidden_channels, num_heads, hidden_channels)
                                         for _ in range(num_layers))
        self.fcs = torch.nn.ModuleList([torch.nn.Linear(in_channels, hidden_channels)])
        self.bns = torch.nn.ModuleList(torch.nn.LayerNorm(hidden_channels) for _ in range(num_layers + 1))
        self.dropout = dropout

    def reset_parameters(self) -> None:
        for module in (*self.attns, *self.bns, *self.fcs):
            module.reset_parameters()

    def forward(self, x: Tensor, batch: Optional[Tensor], batch_size: Optional[int] = None) -> Tensor:
        rows = padding_rows(batch, x.size(0), batch_size, x.device)
        h = F.dropout(F.relu(self.bns[0](self.fcs[0](rows.append_to(x)))), p=self.dropout, training=self.training)
        for i, attention in enumerate(self.attns):
            out = flat_sgformer_attention(attention, h, rows)
            h = F.dropout(F.relu(self.bns[i + 1]((out + h) / 2.0)), p=self.dropout, training=self.training)
        return h[:rows.num_nodes]


class SGFormer(torch.nn.Module):
    """PyG's ``SGFormer(in_channels, hidden_channels, out_channels, trans_num_layers=2,
    trans_num_heads=1, trans_dropout=0.5, gnn_num_layers=3, gnn_dropout=0.5, graph_weight=0.5,
    aggregate="add")``; ``params1`` (attention) and ``params2`` (GCN and head) as PyG's, for
    separate optimiser settings. ``forward(x, edge_index, batch, batch_size=None)``: pass
    ``batch_size`` (the number of graphs) to keep it off the host, e.g. when compiling."""

    def __init__(self, in_channels: int, hidden_channels: int, out_channels: int, trans_num_layers: int = 2,
                 trans_num_heads: int = 1, trans_dropout: float = 0.5, gnn_num_layers: int = 3,
                 gnn_dropout: float = 0.5, graph_weight: float = 0.5, aggregate: str = "add") -> None:
        super().__init__()
        if aggregate not in ("add", "cat"):
            raise ValueError(f"Invalid aggregate type:{aggregate}")
        self.trans_conv = SGModule(in_channels, hidden_channels, trans_num_layers, trans_num_heads, trans_dropout)
        self.graph_conv = GraphModule(in_channels, hidden_channels, gnn_num_layers, gnn_dropout)
        self.graph_weight, self.aggregate, self.out_channels = graph_weight, aggregate, out_channels
        self.fc = torch.nn.Linear(hidden_channels * (2 if aggregate == "cat" else 1), out_channels)
        self.params1 = list(self.trans_conv.parameters())
        self.params2 = list(self.graph_conv.parameters()) + list(self.fc.parameters())

    def reset_parameters(self) -> None:
        self.trans_conv.reset_parameters()
        self.graph_conv.reset_parameters()
        self.fc.reset_parameters()

    def forward(self, x: Tensor, edge_index, batch: Optional[Tensor] = None,
                batch_size: Optional[int] = None) -> Tensor:
        global_part = self.trans_conv(x, batch, batch_size)
        local_part = self.graph_conv(x, edge_index)
        if self.aggregate == "add":
            x = self.graph_weight * local_part + (1 - self.graph_weight) * global_part
        else:
            x = torch.cat((global_part, local_part), dim=1)
        return F.log_softmax(self.fc(x), dim=-1)
