r"""LINKX (PyG's ``LINKX`` and its ``SparseLinear``): node features and adjacency rows embedded
separately and mixed, for graphs whose neighbours are often unlike each other."""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from gnnx.nn.conv.gcn import WeightedPropagation
from gnnx.nn.inits import kaiming_uniform, uniform
from gnnx.nn.message_passing import Adj
from gnnx.nn.mlp import MLP


class SparseLinear(WeightedPropagation):
    r"""A linear layer over each node's (weighted) adjacency row, :math:`\mathbf{A}\mathbf{W} +
    \mathbf{b}`: node :math:`i` gets :math:`\sum_{j \to i} e_{j,i} \mathbf{W}_j + \mathbf{b}`
    (``weight [in_channels, out_channels]``, ``in_channels`` the number of nodes): one fused
    SpMM over the weight rows."""

    def __init__(self, in_channels: int, out_channels: int, bias: bool = True) -> None:
        super().__init__(aggr="add")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.weight = torch.nn.Parameter(torch.empty(in_channels, out_channels))
        self.bias = torch.nn.Parameter(torch.empty(out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        kaiming_uniform(self.weight, self.in_channels)
        uniform(self.in_channels, self.bias)

    def forward(self, edge_index: Adj, edge_weight: Optional[Tensor] = None) -> Tensor:
        out = self.propagate(edge_index, x=self.weight, edge_weight=self._weight_vector(edge_weight))
        return out if self.bias is None else out + self.bias

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.in_channels}, {self.out_channels})"


class LINKX(torch.nn.Module):
    r"""LINKX of "Large Scale Learning on Non-Homophilous Graphs: New Benchmarks and Strong
    Simple Methods":

    .. math::
        \mathbf{H}_\mathbf{A} = \mathrm{MLP}_\mathbf{A}(\mathbf{A}\mathbf{W} + \mathbf{b}), \quad
        \mathbf{H}_\mathbf{X} = \mathrm{MLP}_\mathbf{X}(\mathbf{X}), \quad
        \mathbf{Y} = \mathrm{MLP}_f\big(\sigma(\mathbf{W}[\mathbf{H}_\mathbf{A} \Vert \mathbf{H}_\mathbf{X}]
        + \mathbf{H}_\mathbf{A} + \mathbf{H}_\mathbf{X})\big),

    the concatenation's product as ``cat_lin1`` on :math:`\mathbf{H}_\mathbf{A}` plus
    ``cat_lin2`` on :math:`\mathbf{H}_\mathbf{X}`. PyG's arguments, keys and repr; ``x=None``
    uses the adjacency alone. The graph has ``num_nodes`` nodes (the adjacency rows are the
    input of :class:`SparseLinear`), so it is transductive: one graph, its size fixed.
    """

    def __init__(self, num_nodes: int, in_channels: int, hidden_channels: int, out_channels: int, num_layers: int,
                 num_edge_layers: int = 1, num_node_layers: int = 1, dropout: float = 0.0) -> None:
        super().__init__()
        self.num_nodes, self.in_channels, self.out_channels = num_nodes, in_channels, out_channels
        self.num_edge_layers = num_edge_layers
        self.edge_lin = SparseLinear(num_nodes, hidden_channels)
        if num_edge_layers > 1:
            self.edge_norm = torch.nn.BatchNorm1d(hidden_channels)
            self.edge_mlp = MLP([hidden_channels] * num_edge_layers, dropout=0.0, act_first=True)
        else:
            self.edge_norm = self.edge_mlp = None
        self.node_mlp = MLP([in_channels] + [hidden_channels] * num_node_layers, dropout=0.0, act_first=True)
        self.cat_lin1 = torch.nn.Linear(hidden_channels, hidden_channels)
        self.cat_lin2 = torch.nn.Linear(hidden_channels, hidden_channels)
        self.final_mlp = MLP([hidden_channels] * num_layers + [out_channels], dropout=dropout, act_first=True)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for module in (self.edge_lin, self.edge_norm, self.edge_mlp, self.node_mlp, self.cat_lin1, self.cat_lin2,
                       self.final_mlp):
            if module is not None:
                module.reset_parameters()

    def forward(self, x: Optional[Tensor], edge_index: Adj, edge_weight: Optional[Tensor] = None) -> Tensor:
        out = self.edge_lin(edge_index, edge_weight)
        if self.edge_norm is not None and self.edge_mlp is not None:
            out = self.edge_mlp(self.edge_norm(out.relu()))
        out = out + self.cat_lin1(out)
        if x is not None:
            x = self.node_mlp(x)
            out = out + x + self.cat_lin2(x)
        return self.final_mlp(out.relu())

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(num_nodes={self.num_nodes}, in_channels={self.in_channels}, "
                f"out_channels={self.out_channels})")
