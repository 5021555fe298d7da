r"""LPFormer, `"LPFormer: An Adaptive Graph Transformer for Link Prediction"
<https://arxiv.org/abs/2310.11009>`_ (PyG's ``LPFormer``: arguments, state_dict keys, repr,
the attention layer's initial draws, values and gradients).

A link :math:`(a, b)` is scored from its ends' GCN representations and from a pairwise
representation that attends over the nodes around the pair, typed by how they relate to it
(common neighbours, other one-hop nodes, farther nodes) and kept where both ends' personalised
PageRank reaches them above a threshold per type:

.. math::
    \mathbf{s}_{ab} = \mathrm{MLP}\big(\mathrm{MLP}(\mathbf{h}_a \odot \mathbf{h}_b) \,\Vert\,
    \mathrm{MLP}([\textstyle\sum_{v} \alpha_{ab,v}\, \mathbf{W}_r[\mathbf{h}_v \Vert
    \mathrm{RPE}(\pi_a(v), \pi_b(v))] \Vert \text{counts}])\big),

where :math:`\alpha_{ab,v}` is a softmax over the nodes :math:`v` kept for the pair, and
:math:`\mathrm{RPE}` a per-type MLP of the two PPR scores (symmetrised).

Eager only, as PyG's: which nodes a pair attends over depends on the adjacency and PPR values
(sparse COO tensors, as PyG's). PyG 2.8 builds its second and later transformer layers from an
attribute it never sets, and its ``"cn"``/``"1-hop"`` modes (thresholds of 1) concatenate ``None``
or ``0`` into tensors; gnnx raises a clear error for those configurations instead. With more than
one head PyG's attention layer normalises the concatenated heads with a LayerNorm one head wide
and fails; gnnx's is as wide as the heads (the same layer for one head).
"""
from __future__ import annotations

import math
from typing import List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn import Parameter

from gnnx.nn.inits import glorot, zeros
from gnnx.nn.linear import Linear
from gnnx.nn.models.basic_gnn import GCN
from gnnx.utils import get_ppr, scatter, softmax

PairNodes = Tuple[Tensor, Tensor, Tensor]  # (pair_ix [2, M]: (link, node), PPR from the source, from the target)


class LPFormer(torch.nn.Module):
    """PyG's LPFormer (module docstring).

    Args:
        in_channels: input node features.
        hidden_channels: hidden size.
        num_gnn_layers: GCN layers.
        gnn_dropout: dropout of the GCN (and of its input).
        num_transformer_layers: attention layers over the pair's nodes (1: PyG 2.8 builds no other).
        num_heads: attention heads.
        transformer_dropout: dropout of the attention output and of the pair's nodes in training.
        ppr_thresholds: PPR thresholds of common neighbours, other one-hop nodes and farther nodes.
        gcn_cache: cache the GCN's normalised structure.
    """

    def __init__(self, in_channels: int, hidden_channels: int, num_gnn_layers: int = 2, gnn_dropout: float = 0.1,
                 num_transformer_layers: int = 1, num_heads: int = 1, transformer_dropout: float = 0.1,
                 ppr_thresholds: Optional[List[float]] = None, gcn_cache: bool = False) -> None:
        super().__init__()
        if ppr_thresholds is None:
            ppr_thresholds = [0, 1e-4, 1e-2]
        if len(ppr_thresholds) != 3:
            raise ValueError("Argument 'ppr_thresholds' must only be length 3!")
        self.thresh_cn, self.thresh_1hop, self.thresh_non1hop = ppr_thresholds
        if self.thresh_non1hop == 1:
            raise ValueError("LPFormer: a threshold of 1 for farther nodes (PyG's 'cn' and '1-hop' modes) is not "
                             "supported: PyG 2.8's forward fails there")
        if num_transformer_layers != 1:
            raise ValueError(f"LPFormer: num_transformer_layers must be 1 (PyG 2.8 cannot build more), got "
                             f"{num_transformer_layers}")
        self.mask = "all"
        self.in_dim = in_channels
        self.hid_dim = hidden_channels
        self.gnn_drop = gnn_dropout
        self.trans_drop = transformer_dropout

        self.gnn = GCN(in_channels, hidden_channels, num_gnn_layers, dropout=gnn_dropout, norm="layer_norm",
                       cached=gcn_cache)
        self.gnn_norm = torch.nn.LayerNorm(hidden_channels)
        self.out_dim = self.hid_dim
        self.att_layers = torch.nn.ModuleList([LPAttLayer(self.hid_dim, self.out_dim, None, num_heads,
                                                          self.trans_drop)])
        self.elementwise_lin = MLP(self.hid_dim, self.hid_dim, self.hid_dim)
        self.ppr_encoder_cn = MLP(2, self.hid_dim, self.hid_dim)
        self.ppr_encoder_onehop = MLP(2, self.hid_dim, self.hid_dim)
        self.ppr_encoder_non1hop = MLP(2, self.hid_dim, self.hid_dim)
        pairwise_dim = self.hid_dim * num_heads + 4  # + the counts of the three node types and of the neighbours
        self.pairwise_lin = MLP(pairwise_dim, pairwise_dim, self.hid_dim)
        self.score_func = MLP(self.hid_dim * 2, self.hid_dim * 2, 1, norm=None)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.in_dim}, {self.hid_dim}, num_gnn_layers={self.gnn.num_layers}, "
                f"num_transformer_layers={len(self.att_layers)})")

    def reset_parameters(self) -> None:
        for module in (self.gnn, self.gnn_norm, self.elementwise_lin, self.pairwise_lin, self.ppr_encoder_cn,
                       self.ppr_encoder_onehop, self.ppr_encoder_non1hop, self.score_func, *self.att_layers):
            module.reset_parameters()

    def forward(self, batch: Tensor, x: Tensor, edge_index: Tensor, ppr_matrix: Tensor) -> Tensor:
        """Logits of the links ``batch [2, B]``, from node features ``x``, the graph
        (``edge_index [2, E]`` or a sparse COO adjacency) and the sparse PPR matrix (e.g.
        :meth:`calc_sparse_ppr`)."""
        if batch.dim() != 2 or batch.size(0) != 2:
            raise ValueError(f"LPFormer: batch must hold the links to score as [2, B], got shape {list(batch.shape)}")
        if not ppr_matrix.is_sparse or ppr_matrix.dim() != 2:
            raise ValueError("LPFormer: ppr_matrix must be a 2-D sparse COO tensor (LPFormer.calc_sparse_ppr)")
        batch = batch.to(x.device)
        nodes = self.propagate(x, edge_index)
        elementwise = self.elementwise_lin(nodes[batch[0]] * nodes[batch[1]])
        if not edge_index.is_sparse:
            num_nodes = ppr_matrix.size(1)
            edge_index = torch.sparse_coo_tensor(edge_index, torch.ones(edge_index.size(1), device=edge_index.device),
                                                 [num_nodes, num_nodes])
        adjacency = edge_index.coalesce().bool().int()  # {0, 1}
        pairwise = self.calc_pairwise(batch, nodes, adjacency, ppr_matrix)
        return self.score_func(torch.cat((elementwise, pairwise), dim=-1))

    def propagate(self, x: Tensor, adj: Tensor) -> Tensor:
        """The nodes' GCN representations."""
        x = F.dropout(x, p=self.gnn_drop, training=self.training)
        if adj.is_sparse:  # PyG's GCN reads a sparse adjacency as transposed (adj_t[i, j]: an edge j -> i)
            adj = adj.coalesce().indices().flip(0)
        return self.gnn_norm(self.gnn(x, adj))

    def calc_pairwise(self, batch: Tensor, X_node: Tensor, adj_mask: Tensor, ppr_matrix: Tensor) -> Tensor:  # noqa: N803
        """The pairwise representation of each link (attention over its typed nodes, then counts)."""
        pairwise = torch.cat((X_node[batch[0]], X_node[batch[1]]), dim=-1)
        cn, onehop, non1hop = self.compute_node_mask(batch, adj_mask, ppr_matrix)
        all_mask = torch.cat((cn[0], onehop[0], non1hop[0]), dim=-1)
        encodings = self.get_pos_encodings(cn[1:], onehop[1:], non1hop[1:])
        for layer in self.att_layers:
            pairwise = layer(all_mask, pairwise, X_node, encodings)
        counts = self.get_structure_cnts(batch, cn, onehop, non1hop)
        return self.pairwise_lin(torch.cat((pairwise, *counts), dim=-1))

    def get_pos_encodings(self, cn_ppr: Tuple[Tensor, Tensor], onehop_ppr: Tuple[Tensor, Tensor],
                          non1hop_ppr: Tuple[Tensor, Tensor]) -> Tensor:
        """Each kept node's relative encoding: its type's MLP of both ends' PPR, symmetrised."""
        def encode(mlp: MLP, src: Tensor, tgt: Tensor) -> Tensor:
            return mlp(torch.stack((src, tgt)).t()) + mlp(torch.stack((tgt, src)).t())

        return torch.cat((encode(self.ppr_encoder_cn, *cn_ppr), encode(self.ppr_encoder_onehop, *onehop_ppr),
                          encode(self.ppr_encoder_non1hop, *non1hop_ppr)), dim=0)

    def compute_node_mask(self, batch: Tensor, adj: Tensor, ppr_matrix: Tensor) -> Tuple[PairNodes, PairNodes,
                                                                                            PairNodes]:
        """The common neighbours, other one-hop nodes and farther nodes of each link whose PPR
        from both ends passes their type's threshold (a share dropped in training)."""
        # per (link, node): 2 common neighbour, 1 one-hop (not common), absent otherwise
        pair_adj = torch.index_select(adj, 0, batch[0]) + torch.index_select(adj, 0, batch[1])
        pair_ix, node_type, src_ppr, tgt_ppr = self.get_ppr_vals(batch, pair_adj, ppr_matrix)
        cn_kept = (src_ppr >= self.thresh_cn) & (tgt_ppr >= self.thresh_cn)
        onehop_kept = (src_ppr >= self.thresh_1hop) & (tgt_ppr >= self.thresh_1hop)
        kept = torch.where(node_type == 1, onehop_kept, cn_kept)
        pair_ix, node_type, src_ppr, tgt_ppr = pair_ix[:, kept], node_type[kept], src_ppr[kept], tgt_ppr[kept]
        non1hop = self.get_non_1hop_ppr(batch, adj, ppr_matrix)
        if self.training and self.trans_drop > 0:
            pair_ix, src_ppr, tgt_ppr, node_type = self.drop_pairwise(pair_ix, src_ppr, tgt_ppr, node_type)
            non1hop = self.drop_pairwise(*non1hop)[:3]
        cn, one = node_type == 2, node_type == 1
        return ((pair_ix[:, cn], src_ppr[cn], tgt_ppr[cn]), (pair_ix[:, one], src_ppr[one], tgt_ppr[one]),
                non1hop)

    def get_ppr_vals(self, batch: Tensor, pair_diff_adj: Tensor, ppr_matrix: Tensor) -> Tuple[Tensor, Tensor, Tensor,
                                                                                                Tensor]:
        """``(pair_ix, node type, PPR from the source, PPR from the target)`` of the entries of
        ``pair_diff_adj``; PPR 0 included (each value is shifted by the type while sparse, so a
        zero score keeps its entry)."""
        src = torch.index_select(ppr_matrix, 0, batch[0]) * pair_diff_adj + pair_diff_adj
        tgt = torch.index_select(ppr_matrix, 0, batch[1]) * pair_diff_adj + pair_diff_adj
        src, tgt = src.coalesce(), tgt.coalesce()
        ppr_ix, src_ppr, tgt_ppr = src.indices(), src.values(), tgt.values()
        # the sparse product can leave explicit zeros outside pair_diff_adj's entries
        # (pytorch/pytorch#114529); every entry of pair_diff_adj is at least 1 here, so dropping
        # the zeros leaves exactly its entries, in its (coalesced) order
        nonzero = src_ppr != 0
        ppr_ix, src_ppr, tgt_ppr = ppr_ix[:, nonzero], src_ppr[nonzero], tgt_ppr[tgt_ppr != 0]
        node_type = pair_diff_adj.coalesce().values()
        return ppr_ix, node_type, (src_ppr - node_type) / node_type, (tgt_ppr - node_type) / node_type

    def drop_pairwise(self, pair_ix: Tensor, src_ppr: Optional[Tensor] = None, tgt_ppr: Optional[Tensor] = None,
                      node_indicator: Optional[Tensor] = None) -> Tuple[Tensor, Optional[Tensor], Optional[Tensor],
                                                                        Optional[Tensor]]:
        """A random ``1 - transformer_dropout`` share of the (link, node) entries (PyG's draw)."""
        keep = torch.randperm(pair_ix.size(1))[:math.ceil(pair_ix.size(1) * (1 - self.trans_drop))]
        keep = keep.to(pair_ix.device)
        return (pair_ix[:, keep], *(None if t is None else t[keep] for t in (src_ppr, tgt_ppr, node_indicator)))

    def get_structure_cnts(self, batch: Tensor, cn_info: PairNodes, onehop_info: PairNodes,
                           non1hop_info: PairNodes) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
        """Per link ``[B, 1]``: common neighbours and one-hop nodes above their thresholds, kept
        farther nodes, and all neighbours."""
        num_cns = self.get_num_ppr_thresh(batch, *cn_info, self.thresh_cn)
        num_1hop = self.get_num_ppr_thresh(batch, *onehop_info, self.thresh_1hop)
        num_neighbors = num_cns + self.get_num_ppr_thresh(batch, *onehop_info, thresh=0)
        return num_cns, num_1hop, self.get_count(non1hop_info[0], batch), num_neighbors

    def get_num_ppr_thresh(self, batch: Tensor, node_mask: Tensor, src_ppr: Tensor, tgt_ppr: Tensor,
                           thresh: float) -> Tensor:
        """Per link, the nodes ``v`` with ``ppr(a, v) >= thresh`` and ``ppr(b, v) >= thresh``."""
        return _per_link(((src_ppr >= thresh) & (tgt_ppr >= thresh)).float(), node_mask, batch)

    def get_count(self, node_mask: Tensor, batch: Tensor) -> Tensor:
        """Per link, its entries in ``node_mask``."""
        return _per_link(torch.ones(node_mask.size(1), device=node_mask.device), node_mask, batch)

    def get_non_1hop_ppr(self, batch: Tensor, adj: Tensor, ppr_matrix: Tensor) -> PairNodes:
        """The farther nodes of each link whose PPR from both ends passes ``thresh_non1hop``.
        In training the batch's links join the adjacency (the caller removed them), so their
        ends count as one-hop, not farther."""
        if self.training:
            n = adj.size(0)
            both_ways = torch.cat((batch, torch.flip(batch, (0,))), dim=-1)
            links = torch.sparse_coo_tensor(both_ways, torch.ones_like(both_ways[0]), [n, n], device=batch.device)
            adj = (adj + links).coalesce().bool().int()
        src_adj, tgt_adj = torch.index_select(adj, 0, batch[0]), torch.index_select(adj, 0, batch[1])
        src_ppr, tgt_ppr = torch.index_select(ppr_matrix, 0, batch[0]), torch.index_select(ppr_matrix, 0, batch[1])
        common = src_adj * tgt_adj
        src_ppr, tgt_ppr = src_ppr - src_ppr * common, tgt_ppr - tgt_ppr * common
        src_adj = src_adj - src_adj * common
        tgt_adj = tgt_adj - tgt_adj * (src_adj * tgt_adj)  # PyG's order: after src_adj lost the common ones
        onehop = src_adj + tgt_adj
        src_ppr, tgt_ppr = src_ppr - src_ppr * onehop, tgt_ppr - tgt_ppr * onehop
        # each side shifted by the other's sign, so both keep the same entries when made dense
        src_shifted = (src_ppr + torch.sign(tgt_ppr)).coalesce()
        tgt_shifted = (tgt_ppr + torch.sign(src_ppr)).coalesce()
        src_ix, src_vals, tgt_vals = src_shifted.indices(), src_shifted.values() - 1, tgt_shifted.values() - 1
        kept = (src_vals >= self.thresh_non1hop) & (tgt_vals >= self.thresh_non1hop)
        return src_ix[:, kept], src_vals[kept], tgt_vals[kept]

    def calc_sparse_ppr(self, edge_index: Tensor, num_nodes: int, alpha: float = 0.15, eps: float = 5e-5) -> Tensor:
        """The graph's approximate PPR matrix, sparse COO ``[num_nodes, num_nodes]``."""
        index, weight = get_ppr(edge_index.cpu(), alpha=alpha, eps=eps, num_nodes=num_nodes)
        return torch.sparse_coo_tensor(index, weight, [num_nodes, num_nodes])


def _per_link(values: Tensor, node_mask: Tensor, batch: Tensor) -> Tensor:
    """``[B, 1]``: the sum of ``values`` over each link's entries of ``node_mask`` (row 0: the link)."""
    return scatter(values, node_mask[0].long(), dim=0, dim_size=batch.size(1), reduce="sum").unsqueeze(-1)


class LPAttLayer(torch.nn.Module):
    r"""Attention of each link over its kept nodes: node :math:`v`'s value
    :math:`\mathbf{W}_r[\mathbf{h}_v \Vert \mathrm{RPE}_v]`, its score
    :math:`\mathbf{a}^\top \mathrm{LeakyReLU}(\text{value} \odot \mathbf{W}_l(\mathbf{e}_a + \mathbf{e}_b))`
    softmaxed over the link's nodes, then bias, LayerNorm and dropout.

    Args:
        in_channels: half the width of the link's representation (one end's).
        out_channels: per-head output width.
        node_dim: width of the node representations (``None``: ``in_channels``).
        num_heads: attention heads.
        dropout: dropout of the output.
        concat: concatenate the heads (else average them).
    """

    def __init__(self, in_channels: int, out_channels: int, node_dim: Optional[int], num_heads: int, dropout: float,
                 concat: bool = True) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.heads = num_heads
        self.concat = concat
        self.negative_slope = 0.2
        node_dim = 2 * (in_channels if node_dim is None else node_dim)  # the node and its encoding
        self.lin_l = Linear(in_channels, self.heads * out_channels, weight_initializer="glorot")
        self.lin_r = Linear(node_dim, self.heads * out_channels, weight_initializer="glorot")
        self.att = Parameter(torch.empty(1, self.heads, out_channels))
        self.bias = Parameter(torch.empty(self.heads * out_channels if concat else out_channels))
        self.dropout = dropout
        # over the concatenated heads: PyG's LayerNorm(out_channels) fails for more than one head
        self.post_att_norm = torch.nn.LayerNorm(self.heads * out_channels if concat else out_channels)
        self.reset_parameters()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.in_channels}, {self.out_channels}, heads={self.heads})"

    def reset_parameters(self) -> None:
        self.lin_l.reset_parameters()
        self.lin_r.reset_parameters()
        self.post_att_norm.reset_parameters()
        glorot(self.att)
        zeros(self.bias)

    def forward(self, edge_index: Tensor, edge_feats: Tensor, node_feats: Tensor, ppr_rpes: Tensor) -> Tensor:
        """``edge_index [2, M]``: (link, node) pairs; ``edge_feats [B, 2 in]`` the links',
        ``node_feats [N, in]`` the nodes', ``ppr_rpes [M, in]`` each pair's encoding."""
        link, node = edge_index[0], edge_index[1]
        heads = (-1, self.heads, self.out_channels)
        values = self.lin_r(torch.cat((node_feats[node], ppr_rpes), dim=-1)).view(heads)
        end_a, end_b = edge_feats[link].chunk(2, dim=-1)
        x = F.leaky_relu(values * (self.lin_l(end_a).view(heads) + self.lin_l(end_b).view(heads)),
                         self.negative_slope)
        alpha = softmax((x * self.att).sum(dim=-1), link, num_nodes=edge_feats.size(0))
        out = scatter(values * alpha.unsqueeze(-1), link, dim=0, dim_size=edge_feats.size(0), reduce="sum")
        out = out.view(-1, self.heads * self.out_channels) if self.concat else out.mean(dim=1)
        out = self.post_att_norm(out + self.bias)
        return F.dropout(out, p=self.dropout, training=self.training)


class MLP(torch.nn.Module):
    """LPFormer's MLP: linear layers with a norm (``"layer"``, ``"batch"`` or ``None``), ReLU
    and dropout between them; the output's last dimension squeezed when it is 1."""

    def __init__(self, in_channels: int, hid_channels: int, out_channels: int, num_layers: int = 2, drop: float = 0,
                 norm: Optional[str] = "layer") -> None:
        super().__init__()
        self.dropout = drop
        norms = {"batch": torch.nn.BatchNorm1d, "layer": torch.nn.LayerNorm}
        self.norm = norms[norm](hid_channels) if norm in norms else None
        widths = [in_channels] + [hid_channels] * (num_layers - 1) + [out_channels]
        self.linears = torch.nn.ModuleList(torch.nn.Linear(a, b) for a, b in zip(widths, widths[1:]))

    def reset_parameters(self) -> None:
        for lin in self.linears:
            lin.reset_parameters()
        if self.norm is not None:
            self.norm.reset_parameters()

    def forward(self, x: Tensor) -> Tensor:
        for lin in self.linears[:-1]:
            x = lin(x)
            x = x if self.norm is None else self.norm(x)
            x = F.dropout(F.relu(x), p=self.dropout, training=self.training)
        return self.linears[-1](x).squeeze(-1)


__all__ = ["LPFormer", "LPAttLayer"]
