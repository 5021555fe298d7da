r"""Polynormer's global attention (PyG's ``PolynormerAttention``), from `"Polynormer:
Polynomial-Expressive Graph Transformer in Linear Time" <https://arxiv.org/abs/2403.01232>`_:
sigmoid queries and keys (shared by default in the layer, not in the model), linear attention
per head, then a polynomial gate,

.. math::
    \mathbf{a}_i = \frac{\mathbf{q}_i^\top \sum_l \mathbf{k}_l \mathbf{v}_l^\top}
    {\mathbf{q}_i^\top \sum_l \mathbf{k}_l + 10^{-6}}, \qquad
    \mathbf{x}'_i = \mathrm{ReLU}\big(\mathbf{W}_o\,(\mathrm{LN}(\mathbf{a}_i) \odot
    (\mathbf{W}_h \mathbf{x}_i + \beta))\big).

:class:`PolynormerAttention` takes PyG's dense batch; :func:`flat_polynormer_attention` gives the
same per graph on flat rows (:mod:`gnnx.nn.attention.padding_rows`).
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from gnnx.nn.attention.padding_rows import PaddingRows
from gnnx.ops.scatter import scatter


class PolynormerAttention(torch.nn.Module):
    """PyG's arguments, parameter names and values."""

    def __init__(self, channels: int, heads: int, head_channels: int = 64, beta: float = 0.9,
                 qkv_bias: bool = False, qk_shared: bool = True, dropout: float = 0.0) -> None:
        super().__init__()
        self.head_channels, self.heads, self.beta, self.qk_shared = head_channels, heads, beta, qk_shared
        inner = heads * head_channels
        self.h_lins = torch.nn.Linear(channels, inner)
        if not qk_shared:
            self.q = torch.nn.Linear(channels, inner, bias=qkv_bias)
        self.k = torch.nn.Linear(channels, inner, bias=qkv_bias)
        self.v = torch.nn.Linear(channels, inner, bias=qkv_bias)
        self.lns = torch.nn.LayerNorm(inner)
        self.lin_out = torch.nn.Linear(inner, inner)
        self.dropout = torch.nn.Dropout(dropout)

    def reset_parameters(self) -> None:
        query = () if self.qk_shared else (self.q,)
        for module in (self.h_lins, *query, self.k, self.v, self.lns, self.lin_out):  # PyG's order (same draws)
            module.reset_parameters()

    def _qkv(self, x: Tensor):
        shape = x.shape[:-1] + (self.head_channels, self.heads)
        k = self.k(x).sigmoid().view(shape)
        q = k if self.qk_shared else torch.sigmoid(self.q(x)).view(shape)
        return q, k, self.v(x).view(shape)

    def _out(self, attended: Tensor, x: Tensor) -> Tensor:
        return self.dropout(F.relu(self.lin_out(self.lns(attended) * (self.h_lins(x) + self.beta))))

    def forward(self, x: Tensor, mask: Optional[Tensor] = None) -> Tensor:
        """``x [B, N, channels]`` (``mask [B, N]``: real rows) -> ``[B, N, heads * head_channels]``."""
        B, N = x.shape[:2]
        q, k, v = self._qkv(x)
        if mask is not None:
            v = v.masked_fill(~mask[:, :, None, None], 0.0)
        kv = torch.einsum("bndh,bnmh->bdmh", k, v)
        numerator = torch.einsum("bndh,bdmh->bnmh", q, kv)
        denominator = torch.einsum("bndh,bdh->bnh", q, k.sum(1)).unsqueeze(2)
        return self._out((numerator / (denominator + 1e-6)).reshape(B, N, -1), x)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(heads={self.heads}, head_channels={self.head_channels})"


def flat_polynormer_attention(attention: PolynormerAttention, x: Tensor, rows: PaddingRows) -> Tensor:
    """:class:`PolynormerAttention` per graph on flat rows with one padding row per graph."""
    q, k, v = attention._qkv(x)
    v = v * rows.real.to(v.dtype)[:, None, None]
    d, h = attention.head_channels, attention.heads
    kv = scatter(torch.einsum("ndh,nmh->ndmh", k, v).flatten(1), rows.graph, rows.num_graphs, "sum").view(-1, d, d, h)
    weighted = k * rows.multiplicity.to(k.dtype)[:, None, None]
    key_sum = scatter(weighted.flatten(1), rows.graph, rows.num_graphs, "sum").view(-1, d, h)
    numerator = torch.einsum("ndh,ndmh->nmh", q, kv[rows.graph])
    denominator = torch.einsum("ndh,ndh->nh", q, key_sum[rows.graph]).unsqueeze(1)
    return attention._out((numerator / (denominator + 1e-6)).reshape(x.size(0), -1), x)
