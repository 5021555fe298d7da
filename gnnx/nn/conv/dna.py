r"""DNAConv, `"Just Jump: Towards Dynamic Neighborhood Aggregation in Graph Neural Networks"
<https://arxiv.org/abs/1904.04849>`_ (PyG's arguments, keys, repr and values): each node
attends, with its newest representation as the query, over the whole layer history of each
neighbour, and the results are summed with GCN weights,

.. math::
    \mathbf{x}_{v \leftarrow w}^{(t)} = \mathrm{Attention}\big(\mathbf{x}^{(t-1)}_v
    \mathbf{\Theta}_Q, [\mathbf{x}_w^{(1)}, \ldots, \mathbf{x}_w^{(t-1)}] \mathbf{\Theta}_K,
    [\mathbf{x}_w^{(1)}, \ldots, \mathbf{x}_w^{(t-1)}] \mathbf{\Theta}_V\big), \qquad
    \mathbf{x}_v^{(t)} = \sum_{w} \hat{a}_{vw}\, \mathbf{x}_{v \leftarrow w}^{(t)},

with multi-head scaled dot products, the "restricted" softmax
:math:`e^{s_l - m} / (\sum_l e^{s_l - m} + e^{-m})`, :math:`m = \max(0, \max_l s_l)`, and
(grouped) projections. The projections are linear, so they run once per node and are gathered
per edge, where PyG projects every edge's copy: the same values with ``E / N`` times fewer
products.
"""
from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn import Parameter

from gnnx.nn.message_passing import Adj, MessagePassing, edge_tensor
from gnnx.structure import gcn_norm


class GroupedLinear(torch.nn.Module):
    """PyG's DNAConv ``Linear``: ``groups`` independent blocks, ``weight [groups, in/groups,
    out/groups]``, one bias."""

    def __init__(self, in_channels: int, out_channels: int, groups: int = 1, bias: bool = True) -> None:
        super().__init__()
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"DNAConv: channels ({in_channels}, {out_channels}) must divide into {groups} groups")
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.weight = Parameter(torch.empty(groups, in_channels // groups, out_channels // groups))
        self.bias = Parameter(torch.empty(out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.weight.size(1))  # PyG's kaiming_uniform(a=sqrt(5)) and uniform
        torch.nn.init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            torch.nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, src: Tensor) -> Tensor:
        blocks = src.unflatten(-1, (self.groups, self.in_channels // self.groups))
        out = torch.einsum("...gi,gio->...go", blocks, self.weight).flatten(-2)
        return out if self.bias is None else out + self.bias

    def __repr__(self) -> str:
        return f"Linear({self.in_channels}, {self.out_channels}, groups={self.groups})"


class MultiHead(torch.nn.Module):
    """Query, key and value projections (``lin_q``, ``lin_k``, ``lin_v``: PyG's keys) and the
    attention's settings."""

    def __init__(self, in_channels: int, out_channels: int, heads: int = 1, groups: int = 1, dropout: float = 0.0,
                 bias: bool = True) -> None:
        super().__init__()
        if in_channels % heads or out_channels % heads or max(groups, heads) % min(groups, heads):
            raise ValueError(f"DNAConv: {heads} heads and {groups} groups do not fit {out_channels} channels")
        self.in_channels, self.out_channels, self.heads, self.groups = in_channels, out_channels, heads, groups
        self.dropout, self.bias = dropout, bias
        self.lin_q = GroupedLinear(in_channels, out_channels, groups, bias)
        self.lin_k = GroupedLinear(in_channels, out_channels, groups, bias)
        self.lin_v = GroupedLinear(in_channels, out_channels, groups, bias)

    def reset_parameters(self) -> None:
        for lin in (self.lin_q, self.lin_k, self.lin_v):
            lin.reset_parameters()

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.in_channels}, {self.out_channels}, heads={self.heads}, "
                f"groups={self.groups}, dropout={self.dropout}, bias={self.bias})")


def restricted_softmax(src: Tensor, dim: int = -1, margin: float = 0.0) -> Tensor:
    """:math:`e^{s - m} / (\\sum e^{s - m} + e^{\\text{margin} - m})`, :math:`m = \\max(0, \\max s)`."""
    top = src.amax(dim=dim, keepdim=True).clamp(min=0.0)
    out = (src - top).exp()
    return out / (out.sum(dim=dim, keepdim=True) + (margin - top).exp())


class DNAConv(MessagePassing):
    """``forward(x, edge_index, edge_weight=None)``: ``x [N, L, channels]`` (each node's
    representations after each of ``L`` layers) to ``[N, channels]`` (module docstring).

    Args: ``channels``, ``heads``, ``groups``, ``dropout`` (on the attention), ``cached``,
    ``normalize`` (GCN weights with self loops), ``add_self_loops``, ``bias``: PyG's.
    """

    def __init__(self, channels: int, heads: int = 1, groups: int = 1, dropout: float = 0.0, cached: bool = False,
                 normalize: bool = True, add_self_loops: bool = True, bias: bool = True, **kwargs) -> None:
        kwargs.setdefault("aggr", "add")
        super().__init__(node_dim=0, **kwargs)  # node tensors [N, ...] of any rank
        self.bias, self.cached, self.normalize, self.add_self_loops = bias, cached, normalize, add_self_loops
        self._cache = None
        self.multi_head = MultiHead(channels, channels, heads, groups, dropout, bias)

    def reset_parameters(self) -> None:
        self.multi_head.reset_parameters()
        self._cache = None

    def forward(self, x: Tensor, edge_index: Adj, edge_weight: Optional[Tensor] = None) -> Tensor:
        if x.dim() != 3:
            raise ValueError(f"DNAConv: x must have shape [num_nodes, num_layers, channels], got {list(x.shape)}")
        edge_index = edge_tensor(edge_index)
        if self.normalize:
            if self._cache is None:
                normalized = gcn_norm(edge_index, edge_weight, x.size(0), False, self.add_self_loops, self.flow,
                                      x.dtype)
                if self.cached:
                    self._cache = normalized
            else:
                normalized = self._cache
            edge_index, edge_weight = normalized
        heads = self.multi_head.heads
        # per node: the query from the newest layer, keys and values from every layer
        query = self.multi_head.lin_q(x[:, -1]).unflatten(-1, (heads, -1))  # [N, H, D]
        key = self.multi_head.lin_k(x).unflatten(-1, (heads, -1))  # [N, L, H, D]
        value = self.multi_head.lin_v(x).unflatten(-1, (heads, -1))
        return self.propagate(edge_index, query=query, key=key, value=value, edge_weight=edge_weight)

    def message(self, query_i: Tensor, key_j: Tensor, value_j: Tensor, edge_weight: Optional[Tensor]) -> Tensor:
        score = torch.einsum("ehd,elhd->ehl", query_i, key_j) / math.sqrt(key_j.size(-1))
        score = F.dropout(restricted_softmax(score, dim=-1), p=self.multi_head.dropout, training=self.training)
        out = torch.einsum("ehl,elhd->ehd", score, value_j).flatten(1)
        return out if edge_weight is None else edge_weight.view(-1, 1) * out

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.multi_head.in_channels}, heads={self.multi_head.heads}, "
                f"groups={self.multi_head.groups})")
