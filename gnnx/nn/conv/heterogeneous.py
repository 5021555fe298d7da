r"""Layers over heterogeneous graphs given as dicts: HGTConv and HANConv.

Both take ``x_dict`` and ``edge_index_dict`` (PyG's signatures and state-dict keys). Instead
of one message-passing call per relation, every relation's edges are renumbered into one
segment space (:func:`stack_relations`) and aggregated together, so the number of kernel
launches of a step does not grow with the number of relations; per-type projections run
once per node type.
"""
from __future__ import annotations

import math
from typing import Dict, List, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor

from gnnx import ops
from gnnx.nn.hetero import HeteroDictLinear, HeteroLinear
from gnnx.nn.inits import glorot, linear
from gnnx.nn.message_passing import MessagePassing

NodeType = str
EdgeType = Tuple[str, str, str]
Metadata = Tuple[List[NodeType], List[EdgeType]]


def concat_by_type(tensors: Dict[str, Tensor]) -> Tuple[Tensor, Dict[str, Union[int, torch.SymInt]]]:
    """One tensor of every type's rows (in dict order) and each type's first row."""
    offsets, start = {}, 0
    for key, value in tensors.items():
        offsets[key] = start
        start = start + value.size(0)
    return torch.cat(list(tensors.values()), dim=0), offsets


def stack_relations(edge_index_dict: Dict[EdgeType, Tensor], src_offset: Dict[EdgeType, Union[int, torch.SymInt]],
                    dst_offset: Dict[EdgeType, Union[int, torch.SymInt]]) -> Tuple[Tensor, Tensor]:
    """Every relation's edges in one ``edge_index``: relation ``r``'s sources shifted by
    ``src_offset[r]`` and destinations by ``dst_offset[r]``; and the relation (its position
    in ``edge_index_dict``) of each edge."""
    edges, types = [], []
    for position, (edge_type, edge_index) in enumerate(edge_index_dict.items()):
        edges.append(torch.stack([edge_index[0] + src_offset[edge_type], edge_index[1] + dst_offset[edge_type]]))
        types.append(torch.full_like(edge_index[0], position))
    return torch.cat(edges, dim=1), torch.cat(types)


def _check_relations(edge_index_dict: Dict[EdgeType, Tensor], known: Sequence[EdgeType], layer: str) -> None:
    unknown = [edge_type for edge_type in edge_index_dict if edge_type not in known]
    if unknown:
        raise ValueError(f"{layer}: edge types {unknown} are not in the layer's metadata {list(known)}")


class HGTConv(MessagePassing):
    r"""Heterogeneous graph transformer, `"Heterogeneous Graph Transformer"
    <https://arxiv.org/abs/2003.01332>`_ (PyG's ``HGTConv``). Per head, with :math:`\tau` a
    node's type and :math:`\phi` an edge's relation,

    .. math::
        \alpha_{ji} = \operatorname{softmax}_{j \to i}\Big(\mu_{\phi}\,
            \frac{(\mathbf{W}^K_{\phi} \mathbf{k}_j)^\top \mathbf{q}_i}{\sqrt{d}}\Big), \quad
        \mathbf{m}_i = \sum_{j \to i} \alpha_{ji}\, \mathbf{W}^V_{\phi} \mathbf{v}_j, \quad
        \mathbf{x}'_i = \beta_{\tau}\, \mathrm{A}_{\tau}(\mathrm{GELU}(\mathbf{m}_i))
            + (1 - \beta_{\tau})\, \mathbf{x}_i

    with :math:`\mathbf{k}, \mathbf{q}, \mathbf{v}` projected per node type (``kqv_lin``),
    :math:`\mathbf{W}^K_\phi, \mathbf{W}^V_\phi` per relation and head (``k_rel``, ``v_rel``),
    :math:`\mu_\phi` = ``p_rel``, :math:`\mathrm{A}_\tau` = ``out_lin`` and
    :math:`\beta_\tau = \sigma(\text{skip}_\tau)` (the skip only where widths agree). The
    softmax runs over all relations reaching a node at once: one segment space for the
    whole layer.

    Args:
        in_channels: width of every node type, ``{type: width}``, or ``-1`` (lazy).
        out_channels: output width (divisible by ``heads``).
        metadata: ``(node_types, edge_types)``.
        heads: attention heads.

    Shapes: ``x_dict {type: [N_t, in_t]}``, ``edge_index_dict {(s, r, d): [2, E_r]}`` ->
    ``{d: [N_d, out]}`` for every destination type of the metadata.
    """

    def __init__(self, in_channels: Union[int, Dict[str, int]], out_channels: int, metadata: Metadata,
                 heads: int = 1, **kwargs) -> None:
        super().__init__(aggr="add", node_dim=0, **kwargs)
        if out_channels % heads != 0:
            raise ValueError(f"'out_channels' (got {out_channels}) must be divisible by the number of heads "
                             f"(got {heads})")
        if not isinstance(in_channels, dict):
            in_channels = {node_type: in_channels for node_type in metadata[0]}
        self.in_channels, self.out_channels, self.heads = in_channels, out_channels, heads
        self.node_types, self.edge_types = list(metadata[0]), [tuple(e) for e in metadata[1]]
        self.edge_types_map = {edge_type: i for i, edge_type in enumerate(self.edge_types)}
        self.dst_node_types = {edge_type[-1] for edge_type in self.edge_types}
        self.kqv_lin = HeteroDictLinear(self.in_channels, out_channels * 3)
        self.out_lin = HeteroDictLinear(out_channels, out_channels, types=self.node_types)
        dim = out_channels // heads
        # One [dim, dim] matrix per (head, relation), row h * R + r, as PyG's HeteroLinear.
        self.k_rel = HeteroLinear(dim, dim, heads * len(self.edge_types), bias=False)
        self.v_rel = HeteroLinear(dim, dim, heads * len(self.edge_types), bias=False)
        self.skip = torch.nn.ParameterDict({t: torch.nn.Parameter(torch.empty(1)) for t in self.node_types})
        self.p_rel = torch.nn.ParameterDict({"__".join(e): torch.nn.Parameter(torch.empty(1, heads))
                                             for e in self.edge_types})
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.kqv_lin.reset_parameters()
        self.out_lin.reset_parameters()
        self.k_rel.reset_parameters()
        self.v_rel.reset_parameters()
        with torch.no_grad():
            for parameter in list(self.skip.values()) + list(self.p_rel.values()):
                parameter.fill_(1.0)

    def _relation_sources(self, k_dict: Dict[str, Tensor], v_dict: Dict[str, Tensor],
                          edge_index_dict: Dict[EdgeType, Tensor]) -> Tuple[Tensor, Tensor, Dict[EdgeType, object]]:
        """Keys and values of every relation's sources, ``W_phi k_j`` and ``W_phi v_j``, in one
        source space (a block per relation): one einsum per source node type."""
        H, R = self.heads, len(self.edge_types)
        D = self.out_channels // H
        k_rel = self.k_rel.weight.view(H, R, D, D)
        v_rel = self.v_rel.weight.view(H, R, D, D)
        by_source: Dict[str, List[EdgeType]] = {}
        for edge_type in edge_index_dict:
            by_source.setdefault(edge_type[0], []).append(edge_type)
        keys, values, offsets, start = [], [], {}, 0
        for src, relations in by_source.items():
            index = torch.tensor([self.edge_types_map[e] for e in relations], device=k_rel.device)
            n = k_dict[src].size(0)
            keys.append(torch.einsum("nhd,hrde->rnhe", k_dict[src], k_rel.index_select(1, index)).reshape(-1, H, D))
            values.append(torch.einsum("nhd,hrde->rnhe", v_dict[src], v_rel.index_select(1, index)).reshape(-1, H, D))
            for i, edge_type in enumerate(relations):
                offsets[edge_type] = start + i * n
            start = start + len(relations) * n
        return torch.cat(keys), torch.cat(values), offsets

    def forward(self, x_dict: Dict[NodeType, Tensor],
                edge_index_dict: Dict[EdgeType, Tensor]) -> Dict[NodeType, Tensor]:
        _check_relations(edge_index_dict, self.edge_types, "HGTConv")
        H = self.heads
        D = self.out_channels // H
        k_dict, q_dict, v_dict = {}, {}, {}
        for node_type, kqv in self.kqv_lin(x_dict).items():
            k, q, v = torch.tensor_split(kqv, 3, dim=1)
            k_dict[node_type], q_dict[node_type], v_dict[node_type] = k.view(-1, H, D), q.view(-1, H, D), v.view(-1, H, D)
        q, dst_offset = concat_by_type(q_dict)
        k, v, src_offset = self._relation_sources(k_dict, v_dict, edge_index_dict)
        edge_index, relation = stack_relations(edge_index_dict, src_offset,
                                               {e: dst_offset[e[-1]] for e in edge_index_dict})
        p_rel = torch.cat([self.p_rel["__".join(e)] for e in edge_index_dict])  # [R_given, H]
        out = self.propagate(edge_index, k=(k, None), q=(None, q), v=(v, None),
                             edge_attr=p_rel.index_select(0, relation), size=(k.size(0), q.size(0)))
        out_dict = {t: out[dst_offset[t]:dst_offset[t] + q_dict[t].size(0)]
                    for t in q_dict if t in self.dst_node_types}
        a_dict = self.out_lin({t: F.gelu(o) for t, o in out_dict.items()})
        for node_type in out_dict:
            out = a_dict[node_type]
            if out.size(-1) == x_dict[node_type].size(-1):
                alpha = self.skip[node_type].sigmoid()
                out = alpha * out + (1 - alpha) * x_dict[node_type]
            out_dict[node_type] = out
        return out_dict

    def message(self, k_j: Tensor, q_i: Tensor, v_j: Tensor, edge_attr: Tensor, index: Tensor, size_i) -> Tensor:
        alpha = (q_i * k_j).sum(dim=-1) * edge_attr / math.sqrt(q_i.size(-1))
        alpha = ops.segment_softmax(alpha, index, size_i)
        return (v_j * alpha.unsqueeze(-1)).view(-1, self.out_channels)

    def __repr__(self) -> str:  # PyG's
        return f"{type(self).__name__}(-1, {self.out_channels}, heads={self.heads})"


def semantic_attention(outs: List[Tensor], q: Tensor, k_lin: torch.nn.Module) -> Tuple[Tensor, Tensor]:
    r"""HAN's semantic attention over the relations reaching one node type:
    :math:`\beta_r = \operatorname{softmax}_r\big(\mathbf{q}^\top \operatorname{mean}_i
    \tanh(\mathbf{K} \mathbf{z}^{(r)}_i + \mathbf{b})\big)`, output :math:`\sum_r \beta_r \mathbf{z}^{(r)}`."""
    out = torch.stack(outs)                                   # [R, N, F]
    score = (q * torch.tanh(k_lin(out)).mean(1)).sum(-1)      # [R]
    attn = F.softmax(score, dim=0)
    return (attn.view(-1, 1, 1) * out).sum(0), attn


class HANConv(MessagePassing):
    r"""Heterogeneous graph attention, `"Heterogeneous Graph Attention Network"
    <https://arxiv.org/abs/1903.07293>`_ (PyG's ``HANConv``): GAT-style attention within each
    relation :math:`\phi = (s, \cdot, d)`,

    .. math::
        \mathbf{z}^{\phi}_i = \mathrm{ReLU}\Big(\sum_{j \to i} \alpha^{\phi}_{ji}\, \mathbf{h}_j\Big),
        \quad \alpha^{\phi}_{ji} = \operatorname{softmax}_{j}\big(\mathrm{LeakyReLU}(
        \mathbf{a}^{\phi\top}_{s} \mathbf{h}_j + \mathbf{a}^{\phi\top}_{d} \mathbf{h}_i)\big),

    :math:`\mathbf{h} = \mathbf{W}_{\tau}\mathbf{x}` per node type (``proj``), then semantic
    attention (:func:`semantic_attention`) over the relations reaching each node type. All
    relations run as one attention op over ``(relation, destination)`` slots (one fused
    kernel on CUDA); with attention dropout in training, or hooks, through ``propagate``.

    Args:
        in_channels: width of every node type, ``{type: width}``, or ``-1`` (lazy).
        out_channels: output width (divisible by ``heads``).
        metadata: ``(node_types, edge_types)``.
        heads, negative_slope, dropout: as in GAT.

    Shapes: ``x_dict``, ``edge_index_dict`` -> ``{type: [N_t, out]}`` (``None`` for a node
    type no relation reaches); with ``return_semantic_attention_weights=True`` also
    ``{type: [R_t, heads]}``-like weights per relation, as PyG.
    """

    def __init__(self, in_channels: Union[int, Dict[str, int]], out_channels: int, metadata: Metadata,
                 heads: int = 1, negative_slope: float = 0.2, dropout: float = 0.0, **kwargs) -> None:
        super().__init__(aggr="add", node_dim=0, **kwargs)
        if not isinstance(in_channels, dict):
            in_channels = {node_type: in_channels for node_type in metadata[0]}
        self.heads, self.in_channels, self.out_channels = heads, in_channels, out_channels
        self.negative_slope, self.metadata, self.dropout = negative_slope, metadata, dropout
        self.k_lin = torch.nn.Linear(out_channels, out_channels)
        self.q = torch.nn.Parameter(torch.empty(1, out_channels))
        self.proj = torch.nn.ModuleDict({t: linear(width, out_channels) for t, width in in_channels.items()})
        dim = out_channels // heads
        self.lin_src = torch.nn.ParameterDict({"__".join(e): torch.nn.Parameter(torch.empty(1, heads, dim))
                                               for e in metadata[1]})
        self.lin_dst = torch.nn.ParameterDict({"__".join(e): torch.nn.Parameter(torch.empty(1, heads, dim))
                                               for e in metadata[1]})
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for lin in self.proj.values():
            lin.reset_parameters()
        for parameter in list(self.lin_src.values()) + list(self.lin_dst.values()):
            glorot(parameter)
        self.k_lin.reset_parameters()
        glorot(self.q)

    def forward(self, x_dict: Dict[NodeType, Tensor], edge_index_dict: Dict[EdgeType, Tensor],
                return_semantic_attention_weights: bool = False):
        _check_relations(edge_index_dict, [tuple(e) for e in self.metadata[1]], "HANConv")
        H, D = self.heads, self.out_channels // self.heads
        h_dict = {t: self.proj[t](x).view(-1, H, D) for t, x in x_dict.items()}
        h, node_offset = concat_by_type(h_dict)
        # Destination slots: a block of rows per relation, so each relation has its own softmax.
        slot_offset, slots = {}, 0
        score_src, score_dst = [], []
        for edge_type in edge_index_dict:
            src, _, dst = edge_type
            name = "__".join(edge_type)
            slot_offset[edge_type] = slots
            slots = slots + h_dict[dst].size(0)
            score_src.append((h_dict[src] * self.lin_src[name]).sum(-1))
            score_dst.append((h_dict[dst] * self.lin_dst[name]).sum(-1))
        edge_index, relation = stack_relations(edge_index_dict, {e: node_offset[e[0]] for e in edge_index_dict},
                                               slot_offset)
        # The source score depends on the relation too: a table per (relation, source) row.
        source_table, source_offset = concat_by_type({e: s for e, s in zip(edge_index_dict, score_src)})
        source_row = torch.cat([ei[0] + source_offset[e] for e, ei in edge_index_dict.items()])
        edge_score = source_table.index_select(0, source_row)
        out = self._attend(h, edge_index, slots, torch.cat(score_dst), edge_score)
        outs: Dict[str, List[Tensor]] = {t: [] for t in x_dict}
        for edge_type in edge_index_dict:
            dst = edge_type[-1]
            start = slot_offset[edge_type]
            outs[dst].append(F.relu(out[start:start + h_dict[dst].size(0)].reshape(-1, self.out_channels)))
        out_dict, attention = {}, {}
        for node_type, relation_outs in outs.items():
            if relation_outs:
                out_dict[node_type], attention[node_type] = semantic_attention(relation_outs, self.q, self.k_lin)
            else:
                out_dict[node_type] = attention[node_type] = None
        if return_semantic_attention_weights:
            return out_dict, attention
        return out_dict

    def _attend(self, h: Tensor, edge_index: Tensor, num_slots, score_dst: Tensor, edge_score: Tensor) -> Tensor:
        if self.training and self.dropout > 0 or self._messages_observed():
            return self.propagate(edge_index, x=(h, None), alpha=(None, score_dst), edge_score=edge_score,
                                  size=(h.size(0), num_slots)).view(-1, self.heads, self.out_channels // self.heads)
        return ops.attention(h, edge_index, num_slots, score_src=h.new_zeros(h.size(0), self.heads),
                             score_dst=score_dst, edge_bias=edge_score, negative_slope=self.negative_slope)

    def message(self, x_j: Tensor, alpha_i: Tensor, edge_score: Tensor, index: Tensor, size_i) -> Tensor:
        alpha = F.leaky_relu(edge_score + alpha_i, self.negative_slope)
        alpha = ops.segment_softmax(alpha, index, size_i)
        alpha = F.dropout(alpha, p=self.dropout, training=self.training)
        return (x_j * alpha.unsqueeze(-1)).view(-1, self.out_channels)

    def __repr__(self) -> str:  # PyG's
        return f"{type(self).__name__}({self.out_channels}, heads={self.heads})"
