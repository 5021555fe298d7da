r"""GPSConv, the GraphGPS layer of `"Recipe for a General, Powerful, Scalable Graph
Transformer" <https://arxiv.org/abs/2205.12505>`_ (PyG's arguments, keys, repr and values):
a local message-passing layer and global attention over each graph's nodes (multi-head, or
:class:`~gnnx.nn.PerformerAttention`'s linear attention), added, then a feed-forward block,

.. math::
    \mathbf{h}^{\text{local}} = \mathrm{N}_1\big(\mathrm{MPNN}(\mathbf{X}, \mathbf{A}) + \mathbf{X}\big),
    \qquad
    \mathbf{h}^{\text{global}} = \mathrm{N}_2\big(\mathrm{MHA}_{\text{per graph}}(\mathbf{X}) + \mathbf{X}\big),

.. math::
    \mathbf{h} = \mathbf{h}^{\text{local}} + \mathbf{h}^{\text{global}}, \qquad
    \mathbf{X}' = \mathrm{N}_3\big(\mathbf{h} + \mathrm{MLP}(\mathbf{h})\big).

Attention stays within a graph of the batch. Eager calls lay the graphs out densely as PyG
does (``to_dense_batch``, whose size is read on the host); compiled and exported calls attend
over all nodes at once with a mask of same-graph pairs, which needs no size from the data
(the same values; memory grows with the square of the batch's nodes rather than of its
largest graph, fine for the molecule batches GraphGPS trains on), plus one padding row so
that a graph without nodes runs in an AOTInductor package too.
"""
from __future__ import annotations

from typing import Any, Dict, Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from gnnx.nn.attention import PerformerAttention
from gnnx.nn.inits import activation, reset
from gnnx.nn.message_passing import Adj
from gnnx.nn.norm import apply_norm, normalization, takes_batch
from gnnx.ops.dispatch import is_tracing
from gnnx.utils.dense import to_dense_batch


class GPSConv(torch.nn.Module):
    """``forward(x, edge_index, batch=None, **kwargs)``; ``kwargs`` go to ``conv``.
    ``attn_type``: ``"multihead"`` (``torch.nn.MultiheadAttention``) or ``"performer"``
    (:class:`~gnnx.nn.PerformerAttention`, linear in the nodes when eager or for one graph),
    ``attn_kwargs`` passed on."""

    def __init__(self, channels: int, conv: Optional[torch.nn.Module], heads: int = 1, dropout: float = 0.0,
                 act: str = "relu", act_kwargs: Optional[Dict[str, Any]] = None, norm: Optional[str] = "batch_norm",
                 norm_kwargs: Optional[Dict[str, Any]] = None, attn_type: str = "multihead",
                 attn_kwargs: Optional[Dict[str, Any]] = None) -> None:
        super().__init__()
        self.channels, self.conv, self.heads, self.dropout, self.attn_type = channels, conv, heads, dropout, attn_type
        if attn_type == "multihead":
            self.attn = torch.nn.MultiheadAttention(channels, heads, batch_first=True, **(attn_kwargs or {}))
        elif attn_type == "performer":
            self.attn = PerformerAttention(channels, heads, **(attn_kwargs or {}))
        else:
            raise ValueError(f"GPSConv: attn_type {attn_type!r} is not supported ('multihead' or 'performer')")
        self.mlp = torch.nn.Sequential(
            torch.nn.Linear(channels, channels * 2), activation(act, **(act_kwargs or {})), torch.nn.Dropout(dropout),
            torch.nn.Linear(channels * 2, channels), torch.nn.Dropout(dropout))
        norm_kwargs = norm_kwargs or {}
        self.norm1, self.norm2, self.norm3 = (normalization(norm, channels, **norm_kwargs) for _ in range(3))
        self.norm_with_batch = takes_batch(self.norm1)  # PyG's attribute; apply_norm decides per norm

    def reset_parameters(self) -> None:
        if self.conv is not None:
            self.conv.reset_parameters()
        self.attn._reset_parameters()
        reset(self.mlp)
        for norm in (self.norm1, self.norm2, self.norm3):
            reset(norm)

    def _global_attention(self, x: Tensor, batch: Optional[Tensor]) -> Tensor:
        if isinstance(self.attn, PerformerAttention):
            if is_tracing():
                return self.attn.attend_within_graphs(x, batch)
            h, mask = to_dense_batch(x, batch)
            return self.attn(h, mask=mask)[mask]
        if is_tracing():
            # Every node at once, other graphs masked out: no size read from the data. One
            # padding row, a graph of its own, keeps the sequence non-empty (an AOTInductor
            # package divided by the length of an empty one: SIGFPE on a graph without nodes).
            graph = torch.zeros_like(x[:, 0], dtype=torch.long) if batch is None else batch
            graph = torch.cat([graph, graph.new_full((1,), -1)])
            h = torch.cat([x, x.new_zeros(1, x.size(1))]).unsqueeze(0)
            other_graph = graph.unsqueeze(0) != graph.unsqueeze(1)
            # need_weights=True: attention as explicit products. Through scaled_dot_product_attention,
            # CUDA's kernel pads the mask to a multiple of 8 columns, and torch.export cannot prove
            # the guard that adds for every node count.
            return self.attn(h, h, h, attn_mask=other_graph, need_weights=True)[0].squeeze(0)[:-1]
        if batch is None:
            return self.attn(x.unsqueeze(0), x.unsqueeze(0), x.unsqueeze(0), need_weights=False)[0].squeeze(0)
        h, mask = to_dense_batch(x, batch)
        return self.attn(h, h, h, key_padding_mask=~mask, need_weights=False)[0][mask]

    def forward(self, x: Tensor, edge_index: Adj, batch: Optional[Tensor] = None, **kwargs: Any) -> Tensor:
        parts = []
        if self.conv is not None:  # local message passing
            h = F.dropout(self.conv(x, edge_index, **kwargs), p=self.dropout, training=self.training)
            parts.append(apply_norm(self.norm1, h + x, batch=batch))
        h = F.dropout(self._global_attention(x, batch), p=self.dropout, training=self.training)
        parts.append(apply_norm(self.norm2, h + x, batch=batch))
        out = sum(parts)
        return apply_norm(self.norm3, out + self.mlp(out), batch=batch)

    def __repr__(self) -> str:  # PyG's
        return f"{type(self).__name__}({self.channels}, conv={self.conv}, heads={self.heads}, attn_type={self.attn_type})"
