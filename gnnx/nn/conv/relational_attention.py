r"""Attention over typed edges given as type vectors: RGATConv and HEATConv.

PyG's RGATConv gathers a relation's ``[in, heads * out]`` weight matrix for every edge
(``E * in * heads * out`` values) and loops over relations with boolean masks for
"within-relation" attention. Here each node is projected by every relation once
(``[N, R, heads * out]``, one GEMM), edges read their ``(node, relation)`` rows, and the
within-relation softmax runs over ``destination * R + relation`` slots: static shapes, no
host sync, the same values.
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from gnnx import ops
from gnnx.nn.conv.relational import _check_edge_type, relation_slot
from gnnx.nn.hetero import HeteroLinear
from gnnx.nn.inits import glorot, linear, zeros
from gnnx.nn.message_passing import Adj, MessagePassing, edge_tensor

MODS = ("additive", "scaled", "f-additive", "f-scaled")


class RGATConv(MessagePassing):
    r"""Relational graph attention, `"Relational Graph Attention Networks"
    <https://arxiv.org/abs/1904.05811>`_ (PyG's ``RGATConv``, every argument):

    .. math::
        \mathbf{x}'_i = \sum_{r} \sum_{j \in \mathcal{N}_r(i)} \alpha^{(r)}_{ij}\,
            \mathbf{W}_r \mathbf{x}_j, \qquad
        \alpha^{(r)}_{ij} = \operatorname{softmax}\big(a(\mathbf{Q}\mathbf{W}_r\mathbf{x}_i,\,
            \mathbf{K}\mathbf{W}_r\mathbf{x}_j)\big)

    with :math:`a` additive (LeakyReLU of the sum) or multiplicative (product, ``dim``
    values per head), the softmax over all of a node's edges (``"across-relation"``) or per
    relation (``"within-relation"``), an optional edge-feature term, and PyG's
    cardinality-preserving ``mod`` options. ``W_r`` is full, a basis combination
    (``num_bases``) or block-diagonal (``num_blocks``).

    Shapes: ``x [N, in]``, ``edge_index``, ``edge_type [E]``, ``edge_attr [E, edge_dim]``
    -> ``[N, heads * dim * out]`` (``concat``) or ``[N, dim * out]``.
    """

    def __init__(self, in_channels: int, out_channels: int, num_relations: int, num_bases: Optional[int] = None,
                 num_blocks: Optional[int] = None, mod: Optional[str] = None,
                 attention_mechanism: str = "across-relation", attention_mode: str = "additive-self-attention",
                 heads: int = 1, dim: int = 1, concat: bool = True, negative_slope: float = 0.2,
                 dropout: float = 0.0, edge_dim: Optional[int] = None, bias: bool = True, **kwargs) -> None:
        kwargs.setdefault("aggr", "add")
        super().__init__(node_dim=0, **kwargs)
        if attention_mechanism not in ("within-relation", "across-relation"):
            raise ValueError('attention mechanism must either be "within-relation" or "across-relation"')
        if attention_mode not in ("additive-self-attention", "multiplicative-self-attention"):
            raise ValueError('attention mode must either be "additive-self-attention" or '
                             '"multiplicative-self-attention"')
        if attention_mode == "additive-self-attention" and dim > 1:
            raise ValueError('"additive-self-attention" mode cannot be applied when value of d is greater than 1. '
                             'Use "multiplicative-self-attention" instead.')
        if dropout > 0.0 and mod in MODS:
            raise ValueError("mod must be None with dropout value greater than 0 in order to sample attention "
                             "coefficients stochastically")
        if num_bases is not None and num_blocks is not None:
            raise ValueError("Can not apply both basis-decomposition and block-diagonal-decomposition at the "
                             "same time.")
        self.in_channels, self.out_channels, self.num_relations = in_channels, out_channels, num_relations
        self.num_bases, self.num_blocks, self.mod = num_bases, num_blocks, mod
        self.attention_mechanism, self.attention_mode = attention_mechanism, attention_mode
        self.heads, self.dim, self.concat, self.negative_slope = heads, dim, concat, negative_slope
        self.dropout, self.edge_dim = dropout, edge_dim
        HC = heads * out_channels
        self.q = torch.nn.Parameter(torch.empty(HC, heads * dim))
        self.k = torch.nn.Parameter(torch.empty(HC, heads * dim))
        width = heads * dim * out_channels if concat else dim * out_channels
        self.bias = torch.nn.Parameter(torch.empty(width)) if bias else None
        if edge_dim is not None:
            self.lin_edge = linear(edge_dim, HC, bias=False)
            self.e = torch.nn.Parameter(torch.empty(HC, heads * dim))
        else:
            self.lin_edge = None
            self.register_parameter("e", None)
        if num_bases is not None:
            self.att = torch.nn.Parameter(torch.empty(num_relations, num_bases))
            self.basis = torch.nn.Parameter(torch.empty(num_bases, in_channels, HC))
        elif num_blocks is not None:
            if in_channels % num_blocks or HC % num_blocks:
                raise ValueError("both 'in_channels' and 'heads * out_channels' must be multiple of 'num_blocks' used")
            self.weight = torch.nn.Parameter(torch.empty(num_relations, num_blocks, in_channels // num_blocks,
                                                         HC // num_blocks))
        else:
            self.weight = torch.nn.Parameter(torch.empty(num_relations, in_channels, HC))
        # PyG's cardinality-preserving terms ("additive" / "scaled" mods)
        self.w = torch.nn.Parameter(torch.ones(out_channels))
        self.l1 = torch.nn.Parameter(torch.empty(1, out_channels))
        self.b1 = torch.nn.Parameter(torch.empty(1, out_channels))
        self.l2 = torch.nn.Parameter(torch.empty(out_channels, out_channels))
        self.b2 = torch.nn.Parameter(torch.empty(1, out_channels))
        self._alpha: Optional[Tensor] = None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.num_bases is not None:
            glorot(self.basis)
            glorot(self.att)
        else:
            glorot(self.weight)
        glorot(self.q)
        glorot(self.k)
        zeros(self.bias)
        with torch.no_grad():
            self.l1.fill_(1.0)
            self.l2.fill_(1.0 / self.out_channels)  # PyG means to (its torch.full result is dropped)
        zeros(self.b1)
        zeros(self.b2)
        if self.lin_edge is not None:
            glorot(self.lin_edge.weight)
            glorot(self.e)

    def relation_projections(self, x: Tensor) -> Tensor:
        """:math:`\\mathbf{W}_r \\mathbf{x}_n` for every node and relation: ``[N, R, heads * out]``."""
        R, HC = self.num_relations, self.heads * self.out_channels
        if self.num_blocks is not None:
            B = self.num_blocks
            return torch.einsum("nbi,rbio->nrbo", x.view(-1, B, x.size(-1) // B), self.weight).reshape(-1, R, HC)
        weight = self.weight if self.num_bases is None else \
            (self.att @ self.basis.view(self.num_bases, -1)).view(R, self.in_channels, HC)
        return torch.einsum("ni,rio->nro", x, weight)

    def forward(self, x: Tensor, edge_index: Adj, edge_type: Optional[Tensor] = None,
                edge_attr: Optional[Tensor] = None, size=None, return_attention_weights=None):
        if not x.is_floating_point():
            raise ValueError("RGATConv needs continuous node features (PyG's weight gather does too)")
        tensor = edge_tensor(edge_index)
        src, dst = (tensor[0], tensor[1]) if self.flow == "source_to_target" else (tensor[1], tensor[0])
        edge_type = _check_edge_type(edge_type, src, self.num_relations)
        R, H, C = self.num_relations, self.heads, self.out_channels
        projected = self.relation_projections(x).reshape(-1, H * C)        # [(N * R), HC]
        rows_src, rows_dst = relation_slot(src, edge_type, R), relation_slot(dst, edge_type, R)
        out_j = projected.index_select(0, rows_src)                           # [E, HC]
        q_i = (projected @ self.q).index_select(0, rows_dst)                  # [E, H * dim]
        k_j = (projected @ self.k).index_select(0, rows_src)
        num_dst = x.size(0) if size is None else size[1]
        alpha = self._scores(q_i, k_j, edge_attr)
        if self.attention_mechanism == "within-relation":
            alpha = ops.segment_softmax(alpha, relation_slot(dst, edge_type, R), num_dst * R)
        else:
            alpha = ops.segment_softmax(alpha, dst, num_dst)
        self._alpha = alpha
        messages = self._messages(alpha, out_j, dst, num_dst)
        out = self.propagate(edge_index, messages=messages, size=(x.size(0), num_dst))
        out = self._combine_heads(out)
        alpha, self._alpha = self._alpha, None
        if isinstance(return_attention_weights, bool):
            return out, (edge_index, alpha)
        return out

    def _scores(self, q_i: Tensor, k_j: Tensor, edge_attr: Optional[Tensor]) -> Tensor:
        edge_term = None
        if edge_attr is not None:
            if self.lin_edge is None:
                raise ValueError("Please set 'edge_dim = edge_attr.size(-1)' while calling the RGATConv layer")
            edge_attr = edge_attr.view(-1, 1) if edge_attr.dim() == 1 else edge_attr
            edge_term = self.lin_edge(edge_attr) @ self.e
        if self.attention_mode == "additive-self-attention":
            alpha = q_i + k_j if edge_term is None else q_i + k_j + edge_term
            return F.leaky_relu(alpha, self.negative_slope)
        return q_i * k_j if edge_term is None else q_i * k_j * edge_term

    @staticmethod
    def _destination_degree(dst: Tensor, num_dst, like: Tensor) -> Tensor:
        """Each edge's destination in-degree over all relations, ``[E]``, ``like``'s dtype."""
        degree = ops.scatter(like.new_ones(dst.size(0)), dst, dim_size=num_dst, reduce="sum")
        return degree.index_select(0, dst)

    def _in_degree_term(self, dst: Tensor, num_dst, alpha: Tensor) -> Tensor:
        """``ReLU(deg_i l1 + b1) l2 + b2`` per edge (PyG's "scaled" mod), ``deg`` over all relations."""
        degree = self._destination_degree(dst, num_dst, alpha).unsqueeze(-1)
        return torch.relu(degree @ self.l1 + self.b1) @ self.l2 + self.b2

    def _messages(self, alpha: Tensor, out_j: Tensor, dst: Tensor, num_dst) -> Tensor:
        H, C, Dm = self.heads, self.out_channels, self.dim
        additive = self.attention_mode == "additive-self-attention"
        value = out_j.view(-1, H, C) if additive else out_j.view(-1, H, 1, C)
        weight = alpha.view(-1, H, 1) if additive else alpha.view(-1, H, Dm, 1)
        if self.mod == "additive":
            return value * weight + self.w * value.expand_as(value * weight)
        if self.mod == "scaled":
            scale = self._in_degree_term(dst, num_dst, alpha)
            return value * weight * (scale.view(-1, 1, C) if additive else scale.view(-1, 1, 1, C))
        if self.mod == "f-additive":
            weight = torch.where(weight > 0, weight + 1, weight)
        elif self.mod == "f-scaled":
            degree = self._destination_degree(dst, num_dst, alpha)
            weight = weight * (degree.view(-1, 1, 1) if additive else degree.view(-1, 1, 1, 1))
        elif self.training and self.dropout > 0:
            weight = F.dropout(weight, p=self.dropout, training=True)
        return value * weight

    def message(self, messages: Tensor) -> Tensor:
        return messages

    def _combine_heads(self, out: Tensor) -> Tensor:
        H, C, Dm = self.heads, self.out_channels, self.dim
        if self.attention_mode == "additive-self-attention":
            out = out.reshape(-1, H * C) if self.concat else out.mean(dim=1)
        else:
            out = out.reshape(-1, H * Dm * C) if self.concat else out.mean(dim=1).reshape(-1, Dm * C)
        return out if self.bias is None else out + self.bias

    def __repr__(self) -> str:  # PyG's
        return f"{type(self).__name__}({self.in_channels}, {self.out_channels}, heads={self.heads})"


class HEATConv(MessagePassing):
    r"""Heterogeneous edge-enhanced graph attention, `"Heterogeneous Edge-Enhanced Graph
    Attention Network For Multi-Agent Trajectory Prediction" <https://arxiv.org/abs/2106.07161>`_
    (PyG's ``HEATConv``): nodes projected by type, edges embedded by type and attributes,

    .. math::
        \alpha_{ij} = \operatorname{softmax}_j\big(\mathrm{LeakyReLU}(\mathbf{a}^\top
            [\mathbf{h}_i \,\|\, \mathbf{h}_j \,\|\, \mathbf{t}_{ij} \,\|\, \mathbf{e}_{ij}])\big),
        \qquad
        \mathbf{x}'_i = \mathbf{h}_i + \sum_j \alpha_{ij}\, \mathbf{W}[\mathbf{h}_j \,\|\, \mathbf{e}_{ij}]

    with :math:`\mathbf{h} = \mathbf{W}_{\tau(i)} \mathbf{x}`, :math:`\mathbf{t}` = LeakyReLU
    of the edge type's embedding and :math:`\mathbf{e}` = LeakyReLU of the projected edge
    attributes. The linear maps of concatenations are split by block, so the node parts run
    once per node rather than once per edge.

    Shapes: ``x [N, in]``, ``edge_index``, ``node_type [N]``, ``edge_type [E]``,
    ``edge_attr [E, edge_dim]`` -> ``[N, heads * out]`` (``concat``) or ``[N, out]``.
    """

    def __init__(self, in_channels: int, out_channels: int, num_node_types: int, num_edge_types: int,
                 edge_type_emb_dim: int, edge_dim: int, edge_attr_emb_dim: int, heads: int = 1, concat: bool = True,
                 negative_slope: float = 0.2, dropout: float = 0.0, root_weight: bool = True, bias: bool = True,
                 **kwargs) -> None:
        kwargs.setdefault("aggr", "add")
        super().__init__(node_dim=0, **kwargs)
        self.in_channels, self.out_channels, self.heads, self.concat = in_channels, out_channels, heads, concat
        self.negative_slope, self.dropout, self.root_weight = negative_slope, dropout, root_weight
        self.hetero_lin = HeteroLinear(in_channels, out_channels, num_node_types, bias=bias)
        self.edge_type_emb = torch.nn.Embedding(num_edge_types, edge_type_emb_dim)
        self.edge_attr_emb = linear(edge_dim, edge_attr_emb_dim, bias=False)
        self.att = linear(2 * out_channels + edge_type_emb_dim + edge_attr_emb_dim, heads, bias=False)
        self.lin = linear(out_channels + edge_attr_emb_dim, out_channels, bias=bias)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.hetero_lin.reset_parameters()
        self.edge_type_emb.reset_parameters()
        for lin in (self.edge_attr_emb, self.att, self.lin):
            lin.reset_parameters()

    def forward(self, x: Tensor, edge_index: Adj, node_type: Tensor, edge_type: Tensor,
                edge_attr: Optional[Tensor] = None) -> Tensor:
        if edge_attr is None:
            raise ValueError("HEATConv needs edge_attr [E, edge_dim] (PyG's message reads it)")
        C = self.out_channels
        h = self.hetero_lin(x, node_type)
        tensor = edge_tensor(edge_index)
        src, dst = (tensor[0], tensor[1]) if self.flow == "source_to_target" else (tensor[1], tensor[0])
        edge_attr = edge_attr.view(-1, 1) if edge_attr.dim() == 1 else edge_attr
        type_emb = F.leaky_relu(self.edge_type_emb(edge_type), self.negative_slope)
        attr_emb = F.leaky_relu(self.edge_attr_emb(edge_attr), self.negative_slope)
        a_dst, a_src, a_type, a_attr = self.att.weight.split(
            [C, C, type_emb.size(-1), attr_emb.size(-1)], dim=1)
        score = (h @ a_dst.t()).index_select(0, dst) + (h @ a_src.t()).index_select(0, src) \
            + type_emb @ a_type.t() + attr_emb @ a_attr.t()                       # [E, H]
        alpha = ops.segment_softmax(F.leaky_relu(score, self.negative_slope), dst, h.size(0))
        alpha = F.dropout(alpha, p=self.dropout, training=self.training)
        w_node, w_attr = self.lin.weight.split([C, attr_emb.size(-1)], dim=1)
        value = (h @ w_node.t()).index_select(0, src) + attr_emb @ w_attr.t()     # [E, C]
        if self.lin.bias is not None:
            value = value + self.lin.bias
        messages = value.unsqueeze(1) * alpha.unsqueeze(-1)                       # [E, H, C]
        out = self.propagate(edge_index, messages=messages, size=(h.size(0), h.size(0)))
        if self.concat:
            if self.root_weight:
                out = out + h.view(-1, 1, C)
            return out.reshape(-1, self.heads * C)
        out = out.mean(dim=1)
        return out + h if self.root_weight else out

    def message(self, messages: Tensor) -> Tensor:
        return messages

    def __repr__(self) -> str:  # PyG's
        return f"{type(self).__name__}({self.in_channels}, {self.out_channels}, heads={self.heads})"
