r"""Linear attention with random features, from `"Rethinking Attention with Performers"
<https://arxiv.org/abs/2009.14794>`_ (PyG's ``PerformerAttention``: arguments, keys, repr,
values and the same random projection for the same seed).

Queries and keys go through the kernel feature map
:math:`\phi(\mathbf{z}) = \mathrm{ReLU}(\mathbf{z}\mathbf{P}^\top) + \epsilon` of a fixed
orthogonal projection :math:`\mathbf{P}` (``int(d log d)`` rows for heads of width ``d``,
a buffer, redrawn by :meth:`PerformerAttention.redraw_projection_matrix`), and

.. math::
    \mathrm{Att}(\mathbf{Q}, \mathbf{K}, \mathbf{V}) = \hat{\mathbf{D}}^{-1}
    \big(\phi(\mathbf{Q})(\phi(\mathbf{K})^\top \mathbf{V})\big), \qquad
    \hat{\mathbf{D}} = \mathrm{diag}\big(\phi(\mathbf{Q})\,\phi(\mathbf{K})^\top \mathbf{1}\big),

linear in the number of nodes. Over a dense batch ``[B, N, F]`` (:meth:`~PerformerAttention.forward`)
padding rows carry no value but, as in PyG, their keys (those of a zero row) still count in
:math:`\hat{\mathbf{D}}`: a graph's output depends on the longest graph of its batch.
:meth:`~PerformerAttention.attend_within_graphs` gives the same values from the nodes and
their ``batch`` vector without the dense layout, for compiled and exported code (no size read
from the data): one graph in linear form, several through the masked ``[N, N]`` product of
features (quadratic, as :class:`~gnnx.nn.GPSConv`'s traced multi-head attention).
"""
from __future__ import annotations

import math
from typing import Callable, Optional

import torch
from torch import Tensor

EPSILON = 0.001  # added to the kernel features (PyG's generalized_kernel default)


def _orthogonal_block(dim: int) -> Tensor:
    q, _ = torch.linalg.qr(torch.randn((dim, dim)).cpu(), mode="reduced")
    return q.t()


def orthogonal_matrix(num_rows: int, num_cols: int) -> Tensor:
    """``[num_rows, num_cols]`` of stacked random orthogonal blocks (QR of Gaussian matrices;
    PyG's draws, in PyG's order)."""
    full, rest = divmod(num_rows, num_cols)
    blocks = [_orthogonal_block(num_cols) for _ in range(full)]
    if rest > 0:
        blocks.append(_orthogonal_block(num_cols)[:rest])
    return torch.cat(blocks)


def kernel_features(x: Tensor, projection: Tensor, kernel: Callable[[Tensor], Tensor]) -> Tensor:
    """:math:`\\phi(\\mathbf{x}) = \\mathrm{kernel}(\\mathbf{x}\\mathbf{P}^\\top) + \\epsilon`, ``[..., d]`` to
    ``[..., R]``."""
    return kernel(x @ projection.t()) + EPSILON


class PerformerProjection(torch.nn.Module):
    """The random orthogonal projection (buffer ``projection_matrix``, ``[int(d log d), d]``)
    and the linear attention over it."""

    def __init__(self, num_cols: int, kernel: Callable[[Tensor], Tensor] = torch.nn.ReLU()) -> None:
        super().__init__()
        self.num_rows = int(num_cols * math.log(num_cols))
        self.num_cols = num_cols
        self.register_buffer("projection_matrix", orthogonal_matrix(self.num_rows, self.num_cols))
        self.kernel = kernel

    def forward(self, q: Tensor, k: Tensor, v: Tensor) -> Tensor:
        """``[..., L, d]`` queries, keys and values to ``[..., L, d]``."""
        q = kernel_features(q, self.projection_matrix, self.kernel)
        k = kernel_features(k, self.projection_matrix, self.kernel)
        normaliser = 1.0 / (q @ k.sum(dim=-2).unsqueeze(-1))
        return normaliser * (q @ (k.transpose(-2, -1) @ v))


class PerformerAttention(torch.nn.Module):
    """``forward(x [B, N, F], mask [B, N] = None)``: multi-head Performer attention over each
    row of a dense batch; ``attend_within_graphs(x [N, F], batch)`` the same per graph of a
    node-level batch. Arguments as PyG's (``head_channels=None``: ``channels // heads``)."""

    def __init__(self, channels: int, heads: int, head_channels: Optional[int] = 64,
                 kernel: Callable[[Tensor], Tensor] = torch.nn.ReLU(), qkv_bias: bool = False,
                 attn_out_bias: bool = True, dropout: float = 0.0) -> None:
        super().__init__()
        if channels % heads != 0:
            raise ValueError(f"PerformerAttention: channels ({channels}) must be a multiple of heads ({heads})")
        self.heads = heads
        self.head_channels = channels // heads if head_channels is None else head_channels
        self.kernel = kernel
        self.fast_attn = PerformerProjection(self.head_channels, kernel)
        inner = self.head_channels * heads
        self.q = torch.nn.Linear(channels, inner, bias=qkv_bias)
        self.k = torch.nn.Linear(channels, inner, bias=qkv_bias)
        self.v = torch.nn.Linear(channels, inner, bias=qkv_bias)
        self.attn_out = torch.nn.Linear(inner, channels, bias=attn_out_bias)
        self.dropout = torch.nn.Dropout(dropout)

    def _heads(self, t: Tensor) -> Tensor:
        """``[..., L, H * d]`` as ``[..., H, L, d]``."""
        return t.unflatten(-1, (self.heads, self.head_channels)).transpose(-3, -2)

    def _merge(self, out: Tensor) -> Tensor:
        return self.dropout(self.attn_out(out.transpose(-3, -2).flatten(-2)))

    def forward(self, x: Tensor, mask: Optional[Tensor] = None) -> Tensor:
        q, k, v = (self._heads(lin(x)) for lin in (self.q, self.k, self.v))
        if mask is not None:  # padding rows carry no value (their keys still count, as in PyG)
            v = v.masked_fill(~mask[:, None, :, None], 0.0)
        return self._merge(self.fast_attn(q, k, v))

    def attend_within_graphs(self, x: Tensor, batch: Optional[Tensor] = None) -> Tensor:
        """:meth:`forward` over ``to_dense_batch(x, batch)``, back at the nodes (``[N, F]``),
        without the dense layout: no size is read from the data."""
        q, k, v = (self._heads(lin(x)) for lin in (self.q, self.k, self.v))  # [H, N, d]
        if batch is None:  # one graph: the linear form, no padding
            return self._merge(self.fast_attn(q, k, v))
        projection, kernel = self.fast_attn.projection_matrix, self.kernel
        q, k = kernel_features(q, projection, kernel), kernel_features(k, projection, kernel)  # [H, N, R]
        same_graph = batch.unsqueeze(0) == batch.unsqueeze(1)
        scores = torch.where(same_graph, q @ k.transpose(-2, -1), 0.0)  # [H, N, N]
        # the padding rows of the dense layout: the longest graph's length less the node's own
        # graph's, each a zero row's key
        graph_size = same_graph.sum(1)
        padding = torch.cat([graph_size, graph_size.new_zeros(1)]).amax() - graph_size
        padding_key = kernel_features(self._heads(self.k(x.new_zeros(1, x.size(1)))), projection, kernel)
        normaliser = scores.sum(-1, keepdim=True) + padding[:, None] * (q @ padding_key.transpose(-2, -1))
        return self._merge((scores @ v) / normaliser)

    @torch.no_grad()
    def redraw_projection_matrix(self) -> None:
        """A fresh random projection (the paper redraws it periodically during training)."""
        fresh = orthogonal_matrix(self.fast_attn.num_rows, self.fast_attn.num_cols)
        self.fast_attn.projection_matrix.copy_(fresh)

    def _reset_parameters(self) -> None:
        for lin in (self.q, self.k, self.v, self.attn_out):
            lin.reset_parameters()
        self.redraw_projection_matrix()

    def __repr__(self) -> str:  # PyG's (without a comma before kernel)
        return f"{type(self).__name__}(heads={self.heads}, head_channels={self.head_channels} kernel={self.kernel})"
