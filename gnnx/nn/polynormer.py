r"""PyG's ``Polynormer`` (`"Polynormer: Polynomial-Expressive Graph Transformer in Linear Time"
<https://arxiv.org/abs/2403.01232>`_): local layers (GCN, or GAT with ``local_attn=True``) with
a polynomial gate, summed,

.. math::
    \mathbf{x}^{(i+1)} = (1 - \beta)\,\mathrm{LN}\big(\mathrm{ReLU}(\mathbf{W}_h \mathbf{x}^{(i)})
    \odot \mathbf{u}^{(i)}\big) + \beta\,\mathbf{u}^{(i)}, \qquad
    \mathbf{u}^{(i)} = \mathrm{ReLU}\big(\mathrm{BN}(\mathrm{Conv}(\mathbf{x}^{(i)}) + \mathbf{W} \mathbf{x}^{(i)})\big),

then, once ``model._global = True`` (PyG's switch, set after the local warm-up epochs), global
layers of :class:`~gnnx.nn.attention.PolynormerAttention` over each graph. PyG's keys, arguments
and values; the global layers run on flat rows with PyG's dense-batch padding effect kept
(:mod:`gnnx.nn.attention.padding_rows`), so with ``batch_size`` they compile and export.
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from gnnx.nn.attention.padding_rows import padding_rows
from gnnx.nn.attention.polynormer import PolynormerAttention, flat_polynormer_attention
from gnnx.nn.conv.gat import GATConv
from gnnx.nn.conv.gcn import GCNConv


class Polynormer(torch.nn.Module):
    """PyG's ``Polynormer(in_channels, hidden_channels, out_channels, local_layers=7,
    global_layers=2, in_dropout=0.15, dropout=0.5, global_dropout=0.5, heads=1, beta=0.9,
    qk_shared=False, pre_ln=False, post_bn=True, local_attn=False)``;
    ``forward(x, edge_index, batch, batch_size=None)``."""

    def __init__(self, in_channels: int, hidden_channels: int, out_channels: int, local_layers: int = 7,
                 global_layers: int = 2, in_dropout: float = 0.15, dropout: float = 0.5, global_dropout: float = 0.5,
                 heads: int = 1, beta: float = 0.9, qk_shared: bool = False, pre_ln: bool = False,
                 post_bn: bool = True, local_attn: bool = False) -> None:
        super().__init__()
        self._global = False
        self.in_drop, self.dropout, self.pre_ln, self.post_bn, self.beta = in_dropout, dropout, pre_ln, post_bn, beta
        inner = heads * hidden_channels
        widths = [in_channels] + [inner] * (local_layers - 1)

        def conv(width: int) -> torch.nn.Module:
            if local_attn:
                return GATConv(width, hidden_channels, heads=heads, concat=True, add_self_loops=False, bias=False)
            return GCNConv(width, inner, cached=False, normalize=True)

        self.h_lins = torch.nn.ModuleList(torch.nn.Linear(w, inner) for w in widths)
        self.local_convs = torch.nn.ModuleList(conv(w) for w in widths)
        self.lins = torch.nn.ModuleList(torch.nn.Linear(w, inner) for w in widths)
        self.lns = torch.nn.ModuleList(torch.nn.LayerNorm(inner) for _ in widths)
        if pre_ln:
            self.pre_lns = torch.nn.ModuleList(torch.nn.LayerNorm(w) for w in widths)
        if post_bn:
            self.post_bns = torch.nn.ModuleList(torch.nn.BatchNorm1d(inner) for _ in widths)
        self.lin_in = torch.nn.Linear(in_channels, inner)
        self.ln = torch.nn.LayerNorm(inner)
        self.global_attn = torch.nn.ModuleList(
            PolynormerAttention(channels=hidden_channels, heads=heads, head_channels=hidden_channels, beta=beta,
                                dropout=global_dropout, qk_shared=qk_shared) for _ in range(global_layers))
        self.pred_local = torch.nn.Linear(inner, out_channels)
        self.pred_global = torch.nn.Linear(inner, out_channels)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        modules = [*self.local_convs, *self.global_attn, *self.lins, *self.h_lins, *self.lns, self.lin_in, self.ln,
                   self.pred_local, self.pred_global]
        modules += list(self.pre_lns) if self.pre_ln else []
        modules += list(self.post_bns) if self.post_bn else []
        for module in modules:
            module.reset_parameters()

    def forward(self, x: Tensor, edge_index, batch: Optional[Tensor] = None,
                batch_size: Optional[int] = None) -> Tensor:
        x = F.dropout(x, p=self.in_drop, training=self.training)
        x_local = 0
        for i, local_conv in enumerate(self.local_convs):
            if self.pre_ln:
                x = self.pre_lns[i](x)
            h = F.relu(self.h_lins[i](x))
            x = local_conv(x, edge_index) + self.lins[i](x)
            if self.post_bn:
                x = self.post_bns[i](x)
            x = F.dropout(F.relu(x), p=self.dropout, training=self.training)
            x = (1 - self.beta) * self.lns[i](h * x) + self.beta * x
            x_local = x_local + x
        if not self._global:
            return F.log_softmax(self.pred_local(x_local), dim=-1)
        if self.global_attn and self.global_attn[0].h_lins.in_features != x_local.size(-1):
            raise ValueError(f"Polynormer: the global layers take {self.global_attn[0].h_lins.in_features} features "
                             f"but the local layers give {x_local.size(-1)} (heads > 1): PyG builds its global "
                             "layers for hidden_channels inputs, so only heads=1 runs in global mode, as in PyG")
        rows = padding_rows(batch, x_local.size(0), batch_size, x_local.device)
        x_global = rows.append_to(self.ln(x_local))  # padding rows start at zero, as to_dense_batch fills
        for attention in self.global_attn:
            x_global = flat_polynormer_attention(attention, x_global, rows)
        return F.log_softmax(self.pred_global(x_global[:rows.num_nodes]), dim=-1)
