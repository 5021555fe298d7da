r"""SGFormer's simple global attention (PyG's ``SGFormerAttention``), from
`"SGFormer: Simplifying and Empowering Transformers for Large-Graph Representations"
<https://arxiv.org/abs/2306.10759>`_: linear in the number of nodes,

.. math::
    \mathbf{z}_i = \frac{\tilde{\mathbf{q}}_i^\top \big(\sum_l \tilde{\mathbf{k}}_l
    \mathbf{v}_l^\top\big) + N \mathbf{v}_i}{\tilde{\mathbf{q}}_i^\top \sum_l \tilde{\mathbf{k}}_l + N},

with :math:`\tilde{\mathbf{q}}, \tilde{\mathbf{k}}` the L2-normalised queries and keys (zeros
replaced by :math:`10^{-6}` first), averaged over heads. :class:`SGFormerAttention` takes PyG's
dense ``[B, N, F]`` batch and mask; :func:`flat_sgformer_attention` computes the same per graph
on the flat ``[rows, F]`` layout with segment sums (:mod:`gnnx.nn.attention.padding_rows`).
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from gnnx.nn.attention.padding_rows import PaddingRows
from gnnx.ops.scatter import scatter

EPSILON = 1e-6


class SGFormerAttention(torch.nn.Module):
    """PyG's arguments, parameter names and values (``channels``, ``heads``, ``head_channels``,
    ``qkv_bias``)."""

    def __init__(self, channels: int, heads: int = 1, head_channels: int = 64, qkv_bias: bool = False) -> None:
        super().__init__()
        if channels % heads != 0:
            raise ValueError(f"SGFormerAttention: channels ({channels}) must be divisible by heads ({heads})")
        if head_channels is None:
            head_channels = channels // heads
        self.heads, self.head_channels = heads, head_channels
        inner = head_channels * heads
        self.q = torch.nn.Linear(channels, inner, bias=qkv_bias)
        self.k = torch.nn.Linear(channels, inner, bias=qkv_bias)
        self.v = torch.nn.Linear(channels, inner, bias=qkv_bias)

    def reset_parameters(self) -> None:
        self.q.reset_parameters()
        self.k.reset_parameters()
        self.v.reset_parameters()

    def heads_of(self, x: Tensor):
        """``(q, k, v)`` of ``x [..., channels]`` as ``[..., heads, head_channels]``, ``q``/``k``
        normalised."""
        shape = x.shape[:-1] + (self.heads, self.head_channels)
        q, k, v = self.q(x).reshape(shape), self.k(x).reshape(shape), self.v(x).reshape(shape)
        q, k = (t.masked_fill(t == 0, EPSILON) for t in (q, k))
        q, k = (t / torch.linalg.norm(t, ord=2, dim=-1, keepdim=True) for t in (q, k))
        return q, k, v

    def forward(self, x: Tensor, mask: Optional[Tensor] = None) -> Tensor:
        """``x [B, N, channels]`` (``mask [B, N]``: real rows) -> ``[B, N, head_channels]``."""
        B, N = x.shape[:2]
        q, k, v = self.heads_of(x)
        if mask is not None:
            v = v.masked_fill(~mask[:, :, None, None], 0.0)
        kv = torch.einsum("blhm,blhd->bhmd", k, v)
        numerator = torch.einsum("bnhm,bhmd->bnhd", q, kv) + N * v
        normaliser = torch.einsum("bnhm,bhm->bnh", q, k.sum(1)).unsqueeze(-1) + N
        return (numerator / normaliser).mean(dim=2)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(heads={self.heads}, head_channels={self.head_channels})"


def flat_sgformer_attention(attention: SGFormerAttention, x: Tensor, rows: PaddingRows) -> Tensor:
    """:class:`SGFormerAttention` per graph on flat rows with one padding row per graph
    (:mod:`gnnx.nn.attention.padding_rows`): the padding rows' values are masked to 0 and their
    keys count ``multiplicity`` times, as PyG's dense padding rows do."""
    q, k, v = attention.heads_of(x)
    v = v * rows.real.to(v.dtype)[:, None, None]
    heads, channels = attention.heads, attention.head_channels
    kv = scatter(torch.einsum("lhm,lhd->lhmd", k, v).flatten(1), rows.graph, rows.num_graphs, "sum")
    kv = kv.view(-1, heads, channels, channels)
    weighted = k * rows.multiplicity.to(k.dtype)[:, None, None]
    key_sum = scatter(weighted.flatten(1), rows.graph, rows.num_graphs, "sum").view(-1, heads, channels)
    n = rows.size.to(x.dtype)
    numerator = torch.einsum("lhm,lhmd->lhd", q, kv[rows.graph]) + n * v
    normaliser = torch.einsum("lhm,lhm->lh", q, key_sum[rows.graph]).unsqueeze(-1) + n
    return (numerator / normaliser).mean(dim=1)
