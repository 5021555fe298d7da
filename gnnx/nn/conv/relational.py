r"""Layers over typed, signed or directed edges: RGCNConv, FiLMConv, SignedConv, DirGNNConv.

PyG loops over relations and selects each one's edges with a boolean mask (a
data-dependent shape). Here every edge is reduced into a slot of its own
``(destination, relation)`` pair, index ``dst * R + type``, in one ``propagate`` over
``N * R`` slots; viewing the result as ``[N, R, F]`` gives every relation's aggregate at
once, with static shapes and the same values for every reduction (and hooks and explain
mode see all messages in one call, in the order of the edges).
"""
from __future__ import annotations

import copy
from typing import Callable, Optional, Tuple, Union

import torch
from torch import Tensor

from gnnx.nn.inits import glorot, linear, reset, zeros
from gnnx.nn.message_passing import Adj, MessagePassing, edge_tensor


def relation_slot(index: Tensor, edge_type: Tensor, num_relations: int) -> Tensor:
    """The ``(node, relation)`` slot of each edge: ``index * R + edge_type``."""
    return index * num_relations + edge_type


def _endpoints(conv: MessagePassing, edge_index: Adj) -> Tuple[Tensor, Tensor]:
    tensor = edge_tensor(edge_index)
    return (tensor[0], tensor[1]) if conv.flow == "source_to_target" else (tensor[1], tensor[0])


def propagate_by_relation(conv: MessagePassing, messages: Tensor, src: Tensor, slots: Tensor, num_src,
                          num_slots) -> Tensor:
    """``conv.propagate`` of per-edge ``messages`` from ``src`` into ``(node, relation)``
    slots: one aggregation for every relation, and the layer's hooks and explain mode see
    the messages as for any layer."""
    pairs = torch.stack([src, slots]) if conv.flow == "source_to_target" else torch.stack([slots, src])
    return conv.propagate(pairs, messages=messages, size=(num_src, num_slots))


def _check_edge_type(edge_type: Optional[Tensor], src: Tensor, num_relations: int) -> Tensor:
    if edge_type is None:
        raise ValueError("edge_type is required: one relation id in [0, num_relations) per edge")
    if edge_type.dtype.is_floating_point or edge_type.shape != src.shape:
        raise ValueError(f"edge_type must be an integer vector with one entry per edge ({src.size(0)}), "
                         f"got {edge_type.dtype} of shape {list(edge_type.shape)}")
    return edge_type


class RGCNConv(MessagePassing):
    r"""Relational graph convolution, `"Modeling Relational Data with Graph Convolutional
    Networks" <https://arxiv.org/abs/1703.06103>`_:

    .. math::
        \mathbf{x}'_i = \mathbf{\Theta}_{\mathrm{root}} \mathbf{x}_i + \sum_{r \in \mathcal{R}}
        \bigoplus_{j \in \mathcal{N}_r(i)} \mathbf{\Theta}_r \mathbf{x}_j

    (:math:`\bigoplus` = mean by default), with basis (``num_bases``:
    :math:`\mathbf{\Theta}_r = \sum_b a_{rb} \mathbf{V}_b`) or block-diagonal
    (``num_blocks``) decomposition. ``x=None`` means featureless nodes (one-hot ids, so
    :math:`\mathbf{\Theta}_r\mathbf{x}_j` is row :math:`j` of :math:`\mathbf{\Theta}_r`).

    Shapes: ``x [N, in]``, ``None``, or a pair; ``edge_index [2, E]``, ``edge_type [E]``
    (int in ``[0, num_relations)``) -> ``[N_dst, out]``.
    """

    def __init__(self, in_channels: Union[int, Tuple[int, int]], out_channels: int, num_relations: int,
                 num_bases: Optional[int] = None, num_blocks: Optional[int] = None, aggr: str = "mean",
                 root_weight: bool = True, is_sorted: bool = False, bias: bool = True) -> None:
        super().__init__(aggr=aggr, node_dim=0)
        if num_bases is not None and num_blocks is not None:
            raise ValueError("RGCNConv: use num_bases or num_blocks, not both")
        self.in_channels, self.out_channels, self.num_relations = in_channels, out_channels, num_relations
        self.num_bases, self.num_blocks = num_bases, num_blocks
        in_channels = (in_channels, in_channels) if isinstance(in_channels, int) else in_channels
        self.in_channels_l = in_channels[0]
        if num_bases is not None:
            self.weight = torch.nn.Parameter(torch.empty(num_bases, in_channels[0], out_channels))
            self.comp = torch.nn.Parameter(torch.empty(num_relations, num_bases))
        elif num_blocks is not None:
            if in_channels[0] % num_blocks or out_channels % num_blocks:
                raise ValueError("RGCNConv: in_channels and out_channels must be divisible by num_blocks")
            self.weight = torch.nn.Parameter(torch.empty(num_relations, num_blocks, in_channels[0] // num_blocks,
                                                         out_channels // num_blocks))
            self.comp = None
        else:
            self.weight = torch.nn.Parameter(torch.empty(num_relations, in_channels[0], out_channels))
            self.comp = None
        self.root = torch.nn.Parameter(torch.empty(in_channels[1], out_channels)) if root_weight else None
        self.bias = torch.nn.Parameter(torch.empty(out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        glorot(self.weight)
        glorot(self.comp)
        glorot(self.root)
        zeros(self.bias)

    def relation_weights(self) -> Tensor:
        """:math:`\\mathbf{\\Theta}_r` for every relation (bases combined)."""
        if self.comp is None:
            return self.weight
        return (self.comp @ self.weight.view(self.num_bases, -1)).view(
            self.num_relations, self.in_channels_l, self.out_channels)

    def forward(self, x: Optional[Union[Tensor, Tuple[Optional[Tensor], Tensor]]], edge_index: Adj,
                edge_type: Optional[Tensor] = None) -> Tensor:
        x_l, x_r = x if isinstance(x, tuple) else (x, x)
        src, dst = _endpoints(self, edge_index)
        edge_type = _check_edge_type(edge_type, src, self.num_relations)
        R = self.num_relations
        num_dst = x_r.size(0) if x_r is not None else self.in_channels_l
        slots = relation_slot(dst, edge_type, R)
        weight = self.relation_weights()
        if x_l is None or not x_l.is_floating_point():
            # Featureless (x None: node j is row j) or node indices (row x[j]): the message of j
            # under relation r is that row of Theta_r, a trainable embedding, as in PyG.
            if self.num_blocks is not None:
                raise ValueError("RGCNConv: block-diagonal weights need continuous features, not node indices")
            rows = src if x_l is None else x_l.index_select(0, src)
            messages = weight.reshape(-1, self.out_channels).index_select(0, relation_slot(edge_type, rows,
                                                                                           self.in_channels_l))
            num_src = self.in_channels_l if x_l is None else x_l.size(0)
            out = propagate_by_relation(self, messages, src, slots, num_src, num_dst * R)
            out = out.view(num_dst, R, self.out_channels).sum(dim=1)
        else:
            h = propagate_by_relation(self, x_l.index_select(0, src), src, slots, x_l.size(0), num_dst * R)
            h = h.view(num_dst, R, x_l.size(-1))  # explicit widths: a view(..., -1) of 0 nodes is ambiguous
            if self.num_blocks is not None:
                B = self.num_blocks
                h = h.view(num_dst, R, B, x_l.size(-1) // B)
                out = torch.einsum("nrbf,rbfo->nbo", h, weight).reshape(num_dst, self.out_channels)
            else:
                out = torch.einsum("nrf,rfo->no", h, weight)
        if self.root is not None:
            if x_r is None:
                out = out + self.root
            else:
                out = out + (x_r @ self.root if x_r.is_floating_point() else self.root.index_select(0, x_r))
        return out if self.bias is None else out + self.bias

    def message(self, messages: Tensor) -> Tensor:
        return messages

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.in_channels}, {self.out_channels}, num_relations={self.num_relations})"


class FastRGCNConv(RGCNConv):
    """PyG's ``FastRGCNConv``: the same layer, parameters and results as :class:`RGCNConv`
    (PyG's variant trades memory for speed by gathering per-edge weights; gnnx's
    ``RGCNConv`` already aggregates every relation in one pass)."""


class FiLMConv(MessagePassing):
    r"""Feature-wise linear modulation, `"GNN-FiLM" <https://arxiv.org/abs/1906.12192>`_:

    .. math::
        \mathbf{x}'_i = \sum_{r \in \mathcal{R}} \bigoplus_{j \in \mathcal{N}_r(i)}
        \sigma\big(\boldsymbol{\gamma}_{r,i} \odot \mathbf{W}_r \mathbf{x}_j + \boldsymbol{\beta}_{r,i}\big),
        \qquad (\boldsymbol{\beta}_{r,i}, \boldsymbol{\gamma}_{r,i}) = g_r(\mathbf{x}_i)

    plus the same modulated term of the node itself (``lin_skip``, ``film_skip``).

    Shapes: ``x [N, in]`` (or a pair), ``edge_index``, ``edge_type [E]`` (when
    ``num_relations > 1``) -> ``[N_dst, out]``.
    """

    def __init__(self, in_channels: Union[int, Tuple[int, int]], out_channels: int, num_relations: int = 1,
                 nn: Optional[Callable] = None, act: Optional[Callable] = torch.nn.ReLU(), aggr: str = "mean") -> None:
        super().__init__(aggr=aggr)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.num_relations, self.act = max(num_relations, 1), act
        in_channels = (in_channels, in_channels) if isinstance(in_channels, int) else in_channels
        self.lins = torch.nn.ModuleList(linear(in_channels[0], out_channels, bias=False)
                                        for _ in range(self.num_relations))
        self.films = torch.nn.ModuleList(
            linear(in_channels[1], 2 * out_channels) if nn is None else copy.deepcopy(nn)
            for _ in range(self.num_relations))
        self.lin_skip = linear(in_channels[1], out_channels, bias=False)
        self.film_skip = linear(in_channels[1], 2 * out_channels, bias=False) if nn is None \
            else copy.deepcopy(nn)

    def reset_parameters(self) -> None:
        for lin, film in zip(self.lins, self.films):
            lin.reset_parameters()
            reset(film)
        self.lin_skip.reset_parameters()
        reset(self.film_skip)

    def _modulate(self, h: Tensor, film_out: Tensor) -> Tensor:
        beta, gamma = film_out.split(self.out_channels, dim=-1)
        out = gamma * h + beta
        return out if self.act is None else self.act(out)

    def forward(self, x: Union[Tensor, Tuple[Tensor, Tensor]], edge_index: Adj,
                edge_type: Optional[Tensor] = None) -> Tensor:
        x_src, x_dst = (x, x) if isinstance(x, Tensor) else x
        out = self._modulate(self.lin_skip(x_dst), self.film_skip(x_dst))
        src, dst = _endpoints(self, edge_index)
        R, C, num_dst = self.num_relations, self.out_channels, x_dst.size(0)
        if R == 1:
            edge_type = torch.zeros_like(src)
        else:
            edge_type = _check_edge_type(edge_type, src, R)
        h = torch.stack([lin(x_src) for lin in self.lins], dim=1).view(-1, C)          # [N_src * R, C]
        film = torch.stack([f(x_dst) for f in self.films], dim=1).view(-1, 2 * C)      # [N_dst * R, 2C]
        messages = self._modulate(h.index_select(0, relation_slot(src, edge_type, R)),
                                  film.index_select(0, relation_slot(dst, edge_type, R)))
        per_relation = propagate_by_relation(self, messages, src, relation_slot(dst, edge_type, R), x_src.size(0),
                                             num_dst * R)
        # the sum over relations keeps the messages' dtype under autocast (PyG adds per relation)
        return out + per_relation.view(num_dst, R, C).sum(dim=1).to(per_relation.dtype)

    def message(self, messages: Tensor) -> Tensor:
        return messages

    def __repr__(self) -> str:
        return f"FiLMConv({self.in_channels}, {self.out_channels}, num_relations={self.num_relations})"


class DirGNNConv(torch.nn.Module):
    r"""Directed-graph wrapper, `"Edge Directionality Improves Learning on Heterophilic
    Graphs" <https://arxiv.org/abs/2305.10498>`_: one copy of ``conv`` along the edges and
    one against them,

    .. math::
        \mathbf{x}'_i = \alpha\,\mathrm{conv}_{\mathrm{out}}(\mathbf{X}, \mathbf{A}^\top)_i
        + (1-\alpha)\,\mathrm{conv}_{\mathrm{in}}(\mathbf{X}, \mathbf{A})_i + \mathbf{W}\mathbf{x}_i

    (the copies' own self loops and root weights are switched off).

    Shapes: ``x [N, in]``, ``edge_index [2, E]`` -> ``[N, out]``.
    """

    def __init__(self, conv: MessagePassing, alpha: float = 0.5, root_weight: bool = True) -> None:
        super().__init__()
        self.alpha, self.root_weight = alpha, root_weight
        self.conv_in, self.conv_out = copy.deepcopy(conv), copy.deepcopy(conv)
        for copy_ in (self.conv_in, self.conv_out):
            if hasattr(copy_, "add_self_loops"):
                copy_.add_self_loops = False
            if hasattr(copy_, "root_weight"):
                copy_.root_weight = False
        self.lin = linear(conv.in_channels, conv.out_channels) if root_weight else None

    def reset_parameters(self) -> None:
        self.conv_in.reset_parameters()
        self.conv_out.reset_parameters()
        if self.lin is not None:
            self.lin.reset_parameters()

    def forward(self, x: Tensor, edge_index: Adj) -> Tensor:
        tensor = edge_tensor(edge_index)
        out = self.alpha * self.conv_out(x, tensor.flip(0)) + (1 - self.alpha) * self.conv_in(x, edge_index)
        return out if self.lin is None else out + self.lin(x)

    def __repr__(self) -> str:
        return f"DirGNNConv({self.conv_in}, alpha={self.alpha})"


class SignedConv(MessagePassing):
    r"""Signed graph convolution, `"Signed Graph Convolutional Network"
    <https://arxiv.org/abs/1808.06354>`_ (PyG's arguments, keys, values): "balanced" and
    "unbalanced" halves of the output, from positive and negative edges. The first layer
    (``first_aggr=True``):

    .. math::
        \mathbf{x}^{B}_i = \mathbf{\Theta}^{B}_l \operatorname*{mean}_{j \in \mathcal{N}^+(i)} \mathbf{x}_j
        + \mathbf{\Theta}^{B}_r \mathbf{x}_i, \qquad
        \mathbf{x}^{U}_i = \mathbf{\Theta}^{U}_l \operatorname*{mean}_{j \in \mathcal{N}^-(i)} \mathbf{x}_j
        + \mathbf{\Theta}^{U}_r \mathbf{x}_i;

    later layers read the balanced half of positive and the unbalanced half of negative
    neighbours into :math:`\mathbf{x}^B` (and the reverse into :math:`\mathbf{x}^U`). Output
    ``[N, 2 * out_channels]`` (balanced, then unbalanced). Each edge set is aggregated once
    over all input features (PyG aggregates each half separately: the same means).
    """

    def __init__(self, in_channels: int, out_channels: int, first_aggr: bool, bias: bool = True, **kwargs) -> None:
        kwargs.setdefault("aggr", "mean")
        super().__init__(**kwargs)
        self.in_channels, self.out_channels, self.first_aggr = in_channels, out_channels, first_aggr
        width = in_channels if first_aggr else 2 * in_channels
        self.lin_pos_l = torch.nn.Linear(width, out_channels, False)
        self.lin_pos_r = torch.nn.Linear(in_channels, out_channels, bias)
        self.lin_neg_l = torch.nn.Linear(width, out_channels, False)
        self.lin_neg_r = torch.nn.Linear(in_channels, out_channels, bias)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for lin in (self.lin_pos_l, self.lin_pos_r, self.lin_neg_l, self.lin_neg_r):
            lin.reset_parameters()

    def forward(self, x: Union[Tensor, Tuple[Tensor, Tensor]], pos_edge_index: Adj, neg_edge_index: Adj) -> Tensor:
        x_src, x_dst = (x, x) if isinstance(x, Tensor) else x
        size = (x_src.size(0), x_dst.size(0))
        from_pos = self.propagate(pos_edge_index, x=(x_src, x_dst), size=size)
        from_neg = self.propagate(neg_edge_index, x=(x_src, x_dst), size=size)
        if self.first_aggr:
            balanced = self.lin_pos_l(from_pos) + self.lin_pos_r(x_dst)
            unbalanced = self.lin_neg_l(from_neg) + self.lin_neg_r(x_dst)
        else:
            half = self.in_channels
            balanced = self.lin_pos_l(torch.cat([from_pos[..., :half], from_neg[..., half:]], dim=-1)) \
                + self.lin_pos_r(x_dst[..., :half])
            unbalanced = self.lin_neg_l(torch.cat([from_pos[..., half:], from_neg[..., :half]], dim=-1)) \
                + self.lin_neg_r(x_dst[..., half:])
        return torch.cat([balanced, unbalanced], dim=-1)

    def message(self, x_j: Tensor) -> Tensor:
        return x_j

    def __repr__(self) -> str:  # PyG's
        return f"{type(self).__name__}({self.in_channels}, {self.out_channels}, first_aggr={self.first_aggr})"

