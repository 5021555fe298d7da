"""Gated and difference-based layers: ResGatedGraphConv, LEConv, ClusterGCNConv, GatedGraphConv."""
from __future__ import annotations

from typing import Callable, Optional, Tuple, Union

import torch
from torch import Tensor

from gnnx import ops
from gnnx.graph import Graph
from gnnx.nn.aggr import gru_step
from gnnx.nn.conv.gcn import WeightedPropagation
from gnnx.nn.inits import linear, reset_layer, zeros
from gnnx.nn.message_passing import Adj, Adjacency, MessagePassing
from gnnx.structure import self_loop_index

PairTensor = Tuple[Tensor, Tensor]


def _pair(x):
    return (x, x) if isinstance(x, Tensor) else x


class ResGatedGraphConv(MessagePassing):
    r"""Residual gated graph convolution, `"Residual Gated Graph ConvNets"
    <https://arxiv.org/abs/1711.07553>`_:
    :math:`\mathbf{x}'_i = \mathbf{W}_1\mathbf{x}_i + \sum_j \eta_{i,j} \odot \mathbf{W}_2 \mathbf{x}_j`,
    :math:`\eta_{i,j} = \sigma(\mathbf{W}_3\mathbf{x}_i + \mathbf{W}_4\mathbf{x}_j)`.

    Args: ``in_channels`` (int or pair), ``out_channels``, ``act`` (default sigmoid),
    ``edge_dim`` (edge features concatenated before the projections), ``root_weight``, ``bias``.
    Shapes: ``x [N, in]`` (or a pair), ``edge_index``, ``edge_attr [E, edge_dim]`` -> ``[N_dst, out]``.
    """

    def __init__(self, in_channels: Union[int, Tuple[int, int]], out_channels: int,
                 act: Optional[Callable] = None, edge_dim: Optional[int] = None, root_weight: bool = True,
                 bias: bool = True, aggr: str = "add") -> None:
        super().__init__(aggr=aggr)
        self.in_channels, self.out_channels = in_channels, out_channels
        in_channels = (in_channels, in_channels) if isinstance(in_channels, int) else in_channels
        self.act = act if act is not None else torch.nn.Sigmoid()
        self.edge_dim, self.root_weight = edge_dim, root_weight
        extra = edge_dim or 0
        self.lin_key = linear(in_channels[1] + extra, out_channels)
        self.lin_query = linear(in_channels[0] + extra, out_channels)
        self.lin_value = linear(in_channels[0] + extra, out_channels)
        self.lin_skip = linear(in_channels[1], out_channels, bias=False) if root_weight else None
        self.bias = torch.nn.Parameter(torch.empty(out_channels)) if bias else None
        zeros(self.bias)

    def reset_parameters(self) -> None:
        super().reset_parameters()
        reset_layer(self)

    def forward(self, x, edge_index: Adj, edge_attr: Optional[Tensor] = None) -> Tensor:
        x = _pair(x)
        if self.edge_dim is None:
            k, q, v = self.lin_key(x[1]), self.lin_query(x[0]), self.lin_value(x[0])
        else:
            k, q, v = x[1], x[0], x[0]
        out = self.propagate(edge_index, k=(None, k), q=(q, None), v=(v, None), edge_attr=edge_attr)
        if self.lin_skip is not None:
            out = out + self.lin_skip(x[1])
        return out if self.bias is None else out + self.bias

    def message(self, k_i: Tensor, q_j: Tensor, v_j: Tensor, edge_attr: Optional[Tensor] = None) -> Tensor:
        if self.edge_dim is not None:
            k_i = self.lin_key(torch.cat([k_i, edge_attr], dim=-1))
            q_j = self.lin_query(torch.cat([q_j, edge_attr], dim=-1))
            v_j = self.lin_value(torch.cat([v_j, edge_attr], dim=-1))
        return self.act(k_i + q_j) * v_j


class LEConv(MessagePassing):
    r"""Local extremum convolution, `"ASAP: Adaptive Structure Aware Pooling"
    <https://arxiv.org/abs/1911.07979>`_:
    :math:`\mathbf{x}'_i = \sum_j e_{j,i}(\mathbf{\Theta}_1\mathbf{x}_j - \mathbf{\Theta}_2\mathbf{x}_i) + \mathbf{\Theta}_3\mathbf{x}_i`.

    Shapes: ``x [N, in]`` (or a pair), ``edge_index``, ``edge_weight [E]`` -> ``[N_dst, out]``.
    """

    def __init__(self, in_channels: Union[int, Tuple[int, int]], out_channels: int, bias: bool = True) -> None:
        super().__init__(aggr="add")
        self.in_channels, self.out_channels = in_channels, out_channels
        in_channels = (in_channels, in_channels) if isinstance(in_channels, int) else in_channels
        self.lin1 = linear(in_channels[0], out_channels, bias=bias)
        self.lin2 = linear(in_channels[1], out_channels, bias=False)
        self.lin3 = linear(in_channels[1], out_channels, bias=bias)

    def reset_parameters(self) -> None:
        super().reset_parameters()
        reset_layer(self)

    def forward(self, x, edge_index: Adj, edge_weight: Optional[Tensor] = None) -> Tensor:
        x = _pair(x)
        a, b = self.lin1(x[0]), self.lin2(x[1])
        return self.propagate(edge_index, a=(a, None), b=(None, b), edge_weight=edge_weight) + self.lin3(x[1])

    def message(self, a_j: Tensor, b_i: Tensor, edge_weight: Optional[Tensor]) -> Tensor:
        out = a_j - b_i
        return out if edge_weight is None else out * edge_weight.view(-1, 1)


class ClusterGCNConv(MessagePassing):
    r"""Cluster-GCN's convolution, `"Cluster-GCN" <https://arxiv.org/abs/1905.07953>`_:
    :math:`\mathbf{X}' = ((\mathbf{D}+\mathbf{I})^{-1}(\mathbf{A}+\mathbf{I}) + \lambda\,\mathrm{diag}((\mathbf{D}+\mathbf{I})^{-1}(\mathbf{A}+\mathbf{I})))\mathbf{X}\mathbf{W}_1 + \mathbf{X}\mathbf{W}_2`.

    Self loops are replaced sync-free: old loops get weight 0 and are not counted in the degree.
    Shapes: ``x [N, in]``, ``edge_index [2, E]`` -> ``[N, out]``.
    """

    def __init__(self, in_channels: int, out_channels: int, diag_lambda: float = 0.0,
                 add_self_loops: bool = True, bias: bool = True) -> None:
        super().__init__(aggr="add")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.diag_lambda, self.add_self_loops = diag_lambda, add_self_loops
        self.lin_out = linear(in_channels, out_channels, bias=bias)
        self.lin_root = linear(in_channels, out_channels, bias=False)

    def reset_parameters(self) -> None:
        super().reset_parameters()
        reset_layer(self)

    def forward(self, x: Tensor, edge_index: Adj) -> Tensor:
        tensor = edge_index.edge_index if isinstance(edge_index, Graph) else edge_index
        n = x.size(-2)
        src, dst = tensor[0], tensor[1]
        counted = torch.ones(src.shape, dtype=x.dtype, device=x.device)
        if self.add_self_loops:
            is_loop = src == dst
            counted = torch.where(is_loop, torch.zeros_like(counted), counted)
            tensor = torch.cat([tensor, self_loop_index(n, x.device)], 1)
            counted = torch.cat([counted, torch.ones(n, dtype=x.dtype, device=x.device)])
            src, dst = tensor[0], tensor[1]
        deg_inv = 1.0 / ops.scatter(counted, dst, n, "sum").clamp(min=1.0)
        weight = counted * deg_inv[dst]
        weight = weight + (src == dst).to(x.dtype) * counted * self.diag_lambda * deg_inv[dst]
        out = self.propagate(tensor, x=x, edge_weight=weight)
        return self.lin_out(out) + self.lin_root(x)

    def message(self, x_j: Tensor, edge_weight: Tensor) -> Tensor:
        return edge_weight.view(-1, 1) * x_j

    def fused_message_and_aggregate(self, adj: Adjacency, x: Tensor, edge_weight: Optional[Tensor] = None) -> Tensor:
        return self.spmm(adj, x, edge_weight)

    def __repr__(self) -> str:  # PyG's
        return f"{type(self).__name__}({self.in_channels}, {self.out_channels}, diag_lambda={self.diag_lambda})"


class GatedGraphConv(WeightedPropagation):
    r"""Gated graph sequence layer, `"Gated Graph Sequence Neural Networks"
    <https://arxiv.org/abs/1511.05493>`_: ``num_layers`` rounds of
    :math:`\mathbf{m}_i = \sum_j e_{j,i}\mathbf{\Theta}\mathbf{h}_j`,
    :math:`\mathbf{h}_i = \mathrm{GRU}(\mathbf{m}_i, \mathbf{h}_i)`; inputs narrower than
    ``out_channels`` are zero-padded.

    Shapes: ``x [N, F <= out]``, ``edge_index``, ``edge_weight [E]`` -> ``[N, out]``.
    """

    def __init__(self, out_channels: int, num_layers: int, aggr: str = "add", bias: bool = True) -> None:
        super().__init__(aggr=aggr)
        self.out_channels, self.num_layers = out_channels, num_layers
        self.weight = torch.nn.Parameter(torch.empty(num_layers, out_channels, out_channels))
        self.rnn = torch.nn.GRUCell(out_channels, out_channels, bias=bias)
        torch.nn.init.uniform_(self.weight, -out_channels ** -0.5, out_channels ** -0.5)

    def reset_parameters(self) -> None:
        super().reset_parameters()
        torch.nn.init.uniform_(self.weight, -self.out_channels ** -0.5, self.out_channels ** -0.5)
        self.rnn.reset_parameters()

    def forward(self, x: Tensor, edge_index: Adj, edge_weight: Optional[Tensor] = None) -> Tensor:
        if x.size(-1) > self.out_channels:
            raise ValueError(f"GatedGraphConv: input has {x.size(-1)} features, more than out_channels="
                             f"{self.out_channels}")
        if x.size(-1) < self.out_channels:
            x = torch.cat([x, x.new_zeros(x.size(0), self.out_channels - x.size(-1))], dim=1)
        for i in range(self.num_layers):
            m = self.propagate(edge_index, x=x @ self.weight[i], edge_weight=edge_weight)
            x = gru_step(m, x, self.rnn.weight_ih, self.rnn.weight_hh, self.rnn.bias_ih, self.rnn.bias_hh)
        return x

    def __repr__(self) -> str:  # PyG's
        return f"{type(self).__name__}({self.out_channels}, num_layers={self.num_layers})"
