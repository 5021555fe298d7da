r"""HypergraphConv: convolution over a hypergraph given as node-hyperedge incidences."""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from gnnx import ops
from gnnx.graph import check_edge_index
from gnnx.nn.inits import glorot, linear, zeros
from gnnx.nn.message_passing import MessagePassing
from gnnx.ops.dispatch import check_index_range, is_tracing


def _inverse(values: Tensor) -> Tensor:
    """``1 / values``, 0 where a value is 0 (a node or hyperedge without incidences)."""
    return torch.where(values != 0, 1.0 / values, torch.zeros_like(values))


class HypergraphConv(MessagePassing):
    r"""Hypergraph convolution, `"Hypergraph Convolution and Hypergraph Attention"
    <https://arxiv.org/abs/1901.08150>`_:

    .. math::
        \mathbf{X}' = \mathbf{D}^{-1}\mathbf{H}\mathbf{W}\mathbf{B}^{-1}\mathbf{H}^\top\mathbf{X}\mathbf{\Theta}

    with the incidence matrix :math:`\mathbf{H} \in \{0, 1\}^{N \times M}` (``hyperedge_index``:
    row 0 nodes, row 1 hyperedges), node degrees :math:`D_{ii} = \sum_e W_{ee} H_{ie}` and
    hyperedge degrees :math:`B_{ee} = \sum_i H_{ie}`; as in PyG the hyperedge weights enter
    :math:`\mathbf{D}` only. With ``use_attention``, each incidence is weighted by
    :math:`\operatorname{softmax}(\mathrm{LeakyReLU}(\mathbf{a}^\top[\mathbf{\Theta}\mathbf{x}_i
    \,\Vert\, \mathbf{\Theta}\mathbf{e}_e]))` over a hyperedge's nodes (``attention_mode="node"``)
    or a node's hyperedges (``"edge"``), from ``hyperedge_attr`` :math:`\mathbf{e}`, per head.

    Args: PyG's ``in_channels``, ``out_channels``, ``use_attention``, ``attention_mode``,
    ``heads``, ``concat``, ``negative_slope``, ``dropout``, ``bias``. State: ``lin``, ``att``
    (with attention), ``bias``.
    Shapes: ``x [N, in]``, ``hyperedge_index [2, I]``, ``hyperedge_weight [M]``,
    ``hyperedge_attr [M, in]`` -> ``[N, heads * out]`` (``[N, out]`` without ``concat``).
    ``num_edges`` (``M``) is read from ``hyperedge_index`` in eager calls when not given (a
    host sync, as PyG's); compiled and exported calls need it.
    """

    def __init__(self, in_channels: int, out_channels: int, use_attention: bool = False,
                 attention_mode: str = "node", heads: int = 1, concat: bool = True, negative_slope: float = 0.2,
                 dropout: float = 0.0, bias: bool = True, **kwargs) -> None:
        if attention_mode not in ("node", "edge"):
            raise ValueError(f"HypergraphConv: attention_mode must be 'node' or 'edge', got {attention_mode!r}")
        kwargs.setdefault("aggr", "add")
        super().__init__(**kwargs)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.use_attention, self.attention_mode = use_attention, attention_mode
        if use_attention:
            self.heads, self.concat, self.negative_slope, self.dropout = heads, concat, negative_slope, dropout
            self.lin = linear(in_channels, heads * out_channels, bias=False, weight_initializer="glorot")
            self.att = torch.nn.Parameter(torch.empty(1, heads, 2 * out_channels))
        else:
            self.heads, self.concat = 1, True
            self.lin = linear(in_channels, out_channels, bias=False, weight_initializer="glorot")
            self.att = None
        # PyG sizes the bias by the arguments, also without attention
        self.bias = torch.nn.Parameter(torch.empty(heads * out_channels if concat else out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.lin.reset_parameters()
        glorot(self.att)
        zeros(self.bias)

    def forward(self, x: Tensor, hyperedge_index: Tensor, hyperedge_weight: Optional[Tensor] = None,
                hyperedge_attr: Optional[Tensor] = None, num_edges: Optional[int] = None) -> Tensor:
        check_edge_index(hyperedge_index, name="hyperedge_index")
        num_nodes = x.size(0)
        if num_edges is None:
            if is_tracing():
                raise ValueError("HypergraphConv: pass num_edges in compiled and exported calls (reading it "
                                 "from hyperedge_index would be a data-dependent size)")
            num_edges = ops.infer_size(hyperedge_index[1], None, 0)
        node, edge = hyperedge_index[0], hyperedge_index[1]
        check_index_range(node, num_nodes, "hyperedge_index[0]", "{count} nodes")
        check_index_range(edge, num_edges, "hyperedge_index[1]", "num_edges={count} hyperedges")
        if hyperedge_weight is None:
            hyperedge_weight = x.new_ones(num_edges)
        heads, channels = self.heads, self.out_channels
        h = self.lin(x).view(-1, heads, channels)
        alpha = None
        if self.use_attention:
            if hyperedge_attr is None:
                raise ValueError("HypergraphConv(use_attention=True) needs hyperedge_attr")
            e = self.lin(hyperedge_attr).view(-1, heads, channels)
            pair = torch.cat([h.index_select(0, node), e.index_select(0, edge)], dim=-1)
            alpha = F.leaky_relu((pair * self.att).sum(dim=-1), self.negative_slope)  # [I, H]
            if self.attention_mode == "node":
                alpha = ops.segment_softmax(alpha, edge, num_edges)
            else:
                alpha = ops.segment_softmax(alpha, node, num_nodes)
            alpha = F.dropout(alpha, p=self.dropout, training=self.training).unsqueeze(-1)
        node_norm = _inverse(ops.scatter(hyperedge_weight.index_select(0, edge), node, num_nodes, "sum"))
        edge_norm = _inverse(ops.scatter(torch.ones_like(edge, dtype=h.dtype), edge, num_edges, "sum"))
        # nodes -> hyperedges, then hyperedges -> nodes, each incidence scaled by the receiver's norm
        to_edges = h.index_select(0, node) * edge_norm.index_select(0, edge).view(-1, 1, 1)
        hyper = ops.scatter(to_edges if alpha is None else alpha * to_edges, edge, num_edges, "sum")
        to_nodes = hyper.index_select(0, edge) * node_norm.index_select(0, node).view(-1, 1, 1)
        out = ops.scatter(to_nodes if alpha is None else alpha * to_nodes, node, num_nodes, "sum")
        out = out.reshape(-1, heads * channels) if self.concat else out.mean(dim=1)
        return out + self.bias if self.bias is not None else out

    def __repr__(self) -> str:  # PyG's
        return f"{type(self).__name__}({self.in_channels}, {self.out_channels})"
