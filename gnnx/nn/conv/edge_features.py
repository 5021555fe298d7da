"""Layers driven by edge features or per-edge attention: NNConv, CGConv, TransformerConv, PDNConv."""
from __future__ import annotations

import math
from typing import Callable, Optional, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor

from gnnx import ops
from gnnx.nn.conv.gcn import WeightedPropagation
from gnnx.nn.inits import glorot, linear, reset, reset_layer, zeros
from gnnx.nn.message_passing import Adj, MessagePassing, edge_tensor


def _pair(x):
    return (x, x) if isinstance(x, Tensor) else x


class NNConv(MessagePassing):
    r"""Edge-conditioned convolution, `"Neural Message Passing for Quantum Chemistry"
    <https://arxiv.org/abs/1704.01212>`_:
    :math:`\mathbf{x}'_i = \mathbf{\Theta}\mathbf{x}_i + \bigoplus_j \mathbf{x}_j \cdot h_{\mathbf{\Theta}}(\mathbf{e}_{j,i})`,
    where ``nn`` maps ``[E, edge_dim]`` to ``[E, in * out]``.

    Shapes: ``x [N, in]`` (or a pair), ``edge_index``, ``edge_attr [E, edge_dim]`` -> ``[N_dst, out]``.
    """

    def __init__(self, in_channels: Union[int, Tuple[int, int]], out_channels: int, nn: Callable,
                 aggr: str = "add", root_weight: bool = True, bias: bool = True) -> None:
        super().__init__(aggr=aggr)
        self.in_channels, self.out_channels, self.nn, self.root_weight = in_channels, out_channels, nn, root_weight
        in_channels = (in_channels, in_channels) if isinstance(in_channels, int) else in_channels
        self.in_channels_l = in_channels[0]
        self.lin = linear(in_channels[1], out_channels, bias=False) if root_weight else None
        self.bias = torch.nn.Parameter(torch.empty(out_channels)) if bias else None
        reset(self.nn)
        zeros(self.bias)

    def reset_parameters(self) -> None:
        super().reset_parameters()
        reset_layer(self)

    def forward(self, x, edge_index: Adj, edge_attr: Optional[Tensor] = None,
                size: Optional[Tuple[int, int]] = None) -> Tensor:
        x = _pair(x)
        out = self.propagate(edge_index, x=x, edge_attr=edge_attr, size=size)
        if self.lin is not None and x[1] is not None:
            out = out + self.lin(x[1])
        return out if self.bias is None else out + self.bias

    def message(self, x_j: Tensor, edge_attr: Tensor) -> Tensor:
        weight = self.nn(edge_attr).view(-1, self.in_channels_l, self.out_channels)
        return torch.matmul(x_j.unsqueeze(1), weight).squeeze(1)

    def __repr__(self) -> str:  # PyG's
        return f"{type(self).__name__}({self.in_channels}, {self.out_channels}, aggr={self.aggr}, nn={self.nn})"


class CGConv(MessagePassing):
    r"""Crystal graph convolution, `"Crystal Graph Convolutional Neural Networks"
    <https://journals.aps.org/prl/abstract/10.1103/PhysRevLett.120.145301>`_:
    :math:`\mathbf{x}'_i = \mathbf{x}_i + \sum_j \sigma(\mathbf{z}_{i,j}\mathbf{W}_f + \mathbf{b}_f) \odot
    g(\mathbf{z}_{i,j}\mathbf{W}_s + \mathbf{b}_s)`, :math:`\mathbf{z}_{i,j} = [\mathbf{x}_i, \mathbf{x}_j, \mathbf{e}_{j,i}]`.

    Shapes: ``x [N, C]`` (or a pair), ``edge_index``, ``edge_attr [E, dim]`` -> ``[N_dst, C_dst]``.
    """

    def __init__(self, channels: Union[int, Tuple[int, int]], dim: int = 0, aggr: str = "add",
                 batch_norm: bool = False, bias: bool = True) -> None:
        super().__init__(aggr=aggr)
        self.channels, self.dim, self.batch_norm = channels, dim, batch_norm  # as given, as PyG keeps it
        channels = (channels, channels) if isinstance(channels, int) else channels
        self.lin_f = linear(sum(channels) + dim, channels[1], bias=bias)
        self.lin_s = linear(sum(channels) + dim, channels[1], bias=bias)
        self.bn = torch.nn.BatchNorm1d(channels[1]) if batch_norm else None

    def reset_parameters(self) -> None:
        super().reset_parameters()
        reset_layer(self)

    def forward(self, x, edge_index: Adj, edge_attr: Optional[Tensor] = None) -> Tensor:
        x = _pair(x)
        out = self.propagate(edge_index, x=x, edge_attr=edge_attr)
        out = out if self.bn is None else self.bn(out)
        return out + x[1]

    def message(self, x_i: Tensor, x_j: Tensor, edge_attr: Optional[Tensor] = None) -> Tensor:
        z = torch.cat([x_i, x_j] if edge_attr is None else [x_i, x_j, edge_attr], dim=-1)
        return self.lin_f(z).sigmoid() * F.softplus(self.lin_s(z))

    def __repr__(self) -> str:  # PyG's
        return f"{type(self).__name__}({self.channels}, dim={self.dim})"


class TransformerConv(MessagePassing):
    r"""Graph transformer layer, `"Masked Label Prediction" <https://arxiv.org/abs/2009.03509>`_:
    :math:`\mathbf{x}'_i = \mathbf{W}_1\mathbf{x}_i + \sum_j \alpha_{i,j}(\mathbf{W}_2\mathbf{x}_j + \mathbf{W}_e\mathbf{e}_{j,i})`,
    :math:`\alpha_{i,j} = \operatorname{softmax}_j\big((\mathbf{W}_3\mathbf{x}_i)^\top(\mathbf{W}_4\mathbf{x}_j + \mathbf{W}_e\mathbf{e}_{j,i}) / \sqrt{C}\big)`,
    per head; ``beta`` gates the root term with :math:`\beta_i = \sigma(\mathbf{w}^\top[\mathbf{m}_i, \mathbf{r}_i, \mathbf{m}_i - \mathbf{r}_i])`.

    Shapes: ``x [N, in]`` (or a pair), ``edge_index``, ``edge_attr [E, edge_dim]`` ->
    ``[N_dst, heads * out]`` (``[N_dst, out]`` when ``concat=False``).
    """

    def __init__(self, in_channels: Union[int, Tuple[int, int]], out_channels: int, heads: int = 1,
                 concat: bool = True, beta: bool = False, dropout: float = 0.0, edge_dim: Optional[int] = None,
                 bias: bool = True, root_weight: bool = True) -> None:
        super().__init__(aggr="add", node_dim=0)
        self.in_channels, self.out_channels, self.heads, self.concat = in_channels, out_channels, heads, concat
        in_channels = (in_channels, in_channels) if isinstance(in_channels, int) else in_channels
        self.beta, self.root_weight, self.dropout, self.edge_dim = beta and root_weight, root_weight, dropout, edge_dim
        hc = heads * out_channels
        self.lin_key = linear(in_channels[0], hc, bias=bias)
        self.lin_query = linear(in_channels[1], hc, bias=bias)
        self.lin_value = linear(in_channels[0], hc, bias=bias)
        self.lin_edge = linear(edge_dim, hc, bias=False) if edge_dim is not None else None
        width = hc if concat else out_channels
        self.lin_skip = linear(in_channels[1], width, bias=bias) if root_weight else None
        self.lin_beta = linear(3 * width, 1, bias=False) if self.beta else None

    def reset_parameters(self) -> None:
        super().reset_parameters()
        reset_layer(self)

    def forward(self, x, edge_index: Adj, edge_attr: Optional[Tensor] = None,
                return_attention_weights: Optional[bool] = None):
        """With ``return_attention_weights=True``: ``(out, (edge_index, alpha [E, heads]))``, the
        softmax weights before dropout, as PyG returns them."""
        H, C = self.heads, self.out_channels
        # alpha is kept where it is returned or where a message hook (an explainer) reads
        # ``_alpha``, as in PyG; otherwise a traced forward stays free of module mutation
        keep_alpha = bool(return_attention_weights) or self._messages_observed()
        if edge_attr is None and self.lin_edge is not None:
            raise ValueError(f"TransformerConv was built with edge_dim={self.edge_dim}: pass edge_attr [num_edges, "
                             f"{self.edge_dim}]")
        x = _pair(x)
        query = self.lin_query(x[1]).view(-1, H, C)
        key = self.lin_key(x[0]).view(-1, H, C)
        value = self.lin_value(x[0]).view(-1, H, C)
        out = self.propagate(edge_index, query=(None, query), key=(key, None), value=(value, None),
                             edge_attr=edge_attr, size=(x[0].size(0), x[1].size(0)), keep_alpha=keep_alpha)
        out = out.reshape(-1, H * C) if self.concat else out.mean(dim=1)
        if self.lin_skip is not None:
            x_r = self.lin_skip(x[1])
            if self.lin_beta is not None:
                beta = self.lin_beta(torch.cat([out, x_r, out - x_r], dim=-1)).sigmoid()
                out = beta * x_r + (1 - beta) * out
            else:
                out = out + x_r
        if keep_alpha:
            alpha, self._alpha = self._alpha, None
            if return_attention_weights:
                return out, (edge_tensor(edge_index), alpha)
        return out

    def message(self, query_i: Tensor, key_j: Tensor, value_j: Tensor, index: Tensor, size_i,
                edge_attr: Optional[Tensor] = None, keep_alpha: bool = False) -> Tensor:
        if self.lin_edge is not None:
            edge = self.lin_edge(edge_attr).view(-1, self.heads, self.out_channels)
            key_j, value_j = key_j + edge, value_j + edge
        alpha = (query_i * key_j).sum(dim=-1) / math.sqrt(self.out_channels)
        alpha = ops.segment_softmax(alpha, index, size_i)
        if keep_alpha:
            self._alpha = alpha
        alpha = F.dropout(alpha, p=self.dropout, training=self.training)
        return value_j * alpha.unsqueeze(-1)

    def __repr__(self) -> str:  # PyG's
        return f"{type(self).__name__}({self.in_channels}, {self.out_channels}, heads={self.heads})"


class PDNConv(WeightedPropagation):
    r"""Pathfinder discovery network layer, `"Pathfinder Discovery Networks for Neural Message
    Passing" <https://arxiv.org/abs/2010.12878>`_ (PyG's arguments, keys, values): GCN over
    edge weights learnt from the edge features,

    .. math::
        e_{j,i} = \sigma\big(\mathrm{MLP}(\mathbf{a}_{j,i})\big), \qquad
        \mathbf{x}'_i = \sum_{j \in \mathcal{N}(i) \cup \{i\}} \frac{e_{j,i}}{\sqrt{\hat{d}_j \hat{d}_i}}
        \mathbf{\Theta}\mathbf{x}_j + \mathbf{b}

    (``MLP``: ``edge_dim -> hidden_channels -> 1``; without ``edge_attr`` every weight is 1).

    Shapes: ``x [N, in_channels]``, ``edge_index``, ``edge_attr [E, edge_dim]`` -> ``[N, out_channels]``.
    """

    def __init__(self, in_channels: int, out_channels: int, edge_dim: int, hidden_channels: int,
                 add_self_loops: bool = True, normalize: bool = True, bias: bool = True, **kwargs) -> None:
        kwargs.setdefault("aggr", "add")
        super().__init__(**kwargs)
        self.in_channels, self.out_channels, self.edge_dim = in_channels, out_channels, edge_dim
        self.hidden_channels, self.add_self_loops, self.normalize = hidden_channels, add_self_loops, normalize
        self.lin = torch.nn.Linear(in_channels, out_channels, bias=False)
        self.mlp = torch.nn.Sequential(torch.nn.Linear(edge_dim, hidden_channels), torch.nn.ReLU(inplace=True),
                                       torch.nn.Linear(hidden_channels, 1), torch.nn.Sigmoid())
        self.bias = torch.nn.Parameter(torch.empty(out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for weight in (self.lin.weight, self.mlp[0].weight, self.mlp[2].weight):
            glorot(weight)
        for value in (self.mlp[0].bias, self.mlp[2].bias, self.bias):
            zeros(value)

    def forward(self, x: Tensor, edge_index: Adj, edge_attr: Optional[Tensor] = None) -> Tensor:
        edge_weight = None if edge_attr is None else self.mlp(edge_attr).squeeze(-1)
        if self.normalize:
            edge_index, edge_weight = self._normalized(x, edge_index, edge_weight, False, self.add_self_loops)
        out = self.propagate(edge_index, x=self.lin(x), edge_weight=edge_weight)
        return out if self.bias is None else out + self.bias

    def __repr__(self) -> str:  # PyG's
        return f"{type(self).__name__}({self.in_channels}, {self.out_channels})"

