r"""Attention over each segment's rows, PyG's set-transformer aggregations.

Each segment is laid out densely, ``[dim_size, M, F]`` with a mask
(:func:`gnnx.nn.aggr_ordered.dense_segments`), and attended with ``nn.MultiheadAttention``
(PyG's module and parameter names, so a PyG ``state_dict`` loads):

* :class:`SetTransformerAggregation` (`"Set Transformer" <https://arxiv.org/abs/1810.00825>`_):
  set-attention encoders, pooling by attention onto ``num_seed_points`` learned seeds, decoders;
* :class:`GraphMultisetTransformer` (`"Accurate Learning of Graph Representations with Graph
  Multiset Pooling" <https://arxiv.org/abs/2102.11533>`_): pool onto ``k`` seeds, encode, pool onto one;
* :class:`PatchTransformerAggregation`: rows in patches of ``patch_size``, projected, with a
  sinusoidal position per patch, attention blocks, then reductions over the patches.

Blocks, with :math:`\mathrm{MAB}(\mathbf{X}, \mathbf{Y}) = \mathrm{LN}(\mathbf{H} + \mathrm{ReLU}(\mathbf{W}\mathbf{H}))`,
:math:`\mathbf{H} = \mathrm{LN}(\mathbf{X} + \mathrm{Multihead}(\mathbf{X}, \mathbf{Y}, \mathbf{Y}))`:
``SAB(X) = MAB(X, X)`` and ``PMA(X) = MAB(S, ReLU(W X))`` for learned seeds ``S``.
``M`` is the largest segment (a host sync) unless ``max_num_elements`` is passed.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from gnnx.nn.aggr import Aggregation, _segments
from gnnx.nn.aggr_ordered import _counts, _with_trash_slot, dense_segments
from gnnx.nn.encoding import PositionalEncoding


def _dense_with_mask(x: Tensor, index: Tensor, dim_size, max_num_elements: Optional[int],
                     mask: Optional[Tensor]):
    """``([dim_size, M, F], valid [dim_size, M])``: the segments and which slots hold a row."""
    ones = torch.ones(x.size(0), 1, dtype=x.dtype, device=x.device)
    dense = dense_segments(torch.cat([x, ones], dim=1), index, dim_size, max_num_elements, mask=mask)
    return dense[..., :-1], dense[..., -1] > 0


class MultiheadAttentionBlock(torch.nn.Module):
    """PyG's MAB: multi-head attention of ``x`` onto ``y``, residual, layer norm, a ReLU
    feed-forward with residual, layer norm."""

    def __init__(self, channels: int, heads: int = 1, layer_norm: bool = True, dropout: float = 0.0,
                 device: Optional[torch.device] = None) -> None:
        super().__init__()
        self.channels, self.heads, self.dropout = channels, heads, dropout
        self.attn = torch.nn.MultiheadAttention(channels, heads, batch_first=True, dropout=dropout, device=device)
        self.lin = torch.nn.Linear(channels, channels, device=device)
        self.layer_norm1 = torch.nn.LayerNorm(channels, device=device) if layer_norm else None
        self.layer_norm2 = torch.nn.LayerNorm(channels, device=device) if layer_norm else None

    def reset_parameters(self) -> None:
        self.attn._reset_parameters()
        self.lin.reset_parameters()
        for norm in (self.layer_norm1, self.layer_norm2):
            if norm is not None:
                norm.reset_parameters()

    def forward(self, x: Tensor, y: Tensor, x_mask: Optional[Tensor] = None,
                y_mask: Optional[Tensor] = None) -> Tensor:
        out, _ = self.attn(x, y, y, None if y_mask is None else ~y_mask, need_weights=False)
        if x_mask is not None:
            out = out.masked_fill(~x_mask.unsqueeze(-1), 0.0)
        out = out + x
        if self.layer_norm1 is not None:
            out = self.layer_norm1(out)
        out = out + self.lin(out).relu()
        return out if self.layer_norm2 is None else self.layer_norm2(out)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.channels}, heads={self.heads}, "
                f"layer_norm={self.layer_norm1 is not None}, dropout={self.dropout})")


class SetAttentionBlock(torch.nn.Module):
    """``SAB(X) = MAB(X, X)``."""

    def __init__(self, channels: int, heads: int = 1, layer_norm: bool = True, dropout: float = 0.0) -> None:
        super().__init__()
        self.mab = MultiheadAttentionBlock(channels, heads, layer_norm, dropout)

    def reset_parameters(self) -> None:
        self.mab.reset_parameters()

    def forward(self, x: Tensor, mask: Optional[Tensor] = None) -> Tensor:
        return self.mab(x, x, mask, mask)

    def __repr__(self) -> str:
        m = self.mab
        return (f"{type(self).__name__}({m.channels}, heads={m.heads}, "
                f"layer_norm={m.layer_norm1 is not None}, dropout={m.dropout})")


class PoolingByMultiheadAttention(torch.nn.Module):
    """``PMA(X) = MAB(S, ReLU(W X))``: attention from ``num_seed_points`` learned seeds."""

    def __init__(self, channels: int, num_seed_points: int = 1, heads: int = 1, layer_norm: bool = True,
                 dropout: float = 0.0) -> None:
        super().__init__()
        self.lin = torch.nn.Linear(channels, channels)
        self.seed = torch.nn.Parameter(torch.empty(1, num_seed_points, channels))
        self.mab = MultiheadAttentionBlock(channels, heads, layer_norm, dropout)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.lin.reset_parameters()
        torch.nn.init.xavier_uniform_(self.seed)
        self.mab.reset_parameters()

    def forward(self, x: Tensor, mask: Optional[Tensor] = None) -> Tensor:
        x = self.lin(x).relu()
        return self.mab(self.seed.expand(x.size(0), -1, -1), x, y_mask=mask)

    def __repr__(self) -> str:
        m = self.mab
        return (f"{type(self).__name__}({self.seed.size(2)}, num_seed_points={self.seed.size(1)}, "
                f"heads={m.heads}, layer_norm={m.layer_norm1 is not None}, dropout={m.dropout})")


class SetTransformerAggregation(Aggregation):
    """Encoders (SAB), pooling onto seeds (PMA), decoders (SAB); seeds concatenated
    (``concat=True``) or averaged. Empty segments give 0."""

    def __init__(self, channels: int, num_seed_points: int = 1, num_encoder_blocks: int = 1,
                 num_decoder_blocks: int = 1, heads: int = 1, concat: bool = True, layer_norm: bool = False,
                 dropout: float = 0.0) -> None:
        super().__init__()
        self.channels, self.num_seed_points, self.heads = channels, num_seed_points, heads
        self.concat, self.layer_norm, self.dropout = concat, layer_norm, dropout
        self.encoders = torch.nn.ModuleList(SetAttentionBlock(channels, heads, layer_norm, dropout)
                                            for _ in range(num_encoder_blocks))
        self.pma = PoolingByMultiheadAttention(channels, num_seed_points, heads, layer_norm, dropout)
        self.decoders = torch.nn.ModuleList(SetAttentionBlock(channels, heads, layer_norm, dropout)
                                            for _ in range(num_decoder_blocks))

    def reset_parameters(self) -> None:
        for module in list(self.encoders) + [self.pma] + list(self.decoders):
            module.reset_parameters()

    def forward(self, x: Tensor, index: Optional[Tensor] = None, ptr: Optional[Tensor] = None,
                dim_size=None, mask: Optional[Tensor] = None, max_num_elements: Optional[int] = None) -> Tensor:
        index, dim_size = _segments(x, index, ptr, dim_size)
        x, valid = _dense_with_mask(x, index, dim_size, max_num_elements, mask)
        for encoder in self.encoders:
            x = encoder(x, valid)
        x = self.pma(x, valid)
        for decoder in self.decoders:
            x = decoder(x)
        x = x.nan_to_num()  # an empty segment attends to nothing
        return x.flatten(1, 2) if self.concat else x.mean(dim=1)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.channels}, num_seed_points={self.num_seed_points}, "
                f"heads={self.heads}, layer_norm={self.layer_norm}, dropout={self.dropout})")


class GraphMultisetTransformer(Aggregation):
    """Pooling onto ``k`` seeds (PMA), set-attention encoders (SAB), pooling onto one seed."""

    def __init__(self, channels: int, k: int, num_encoder_blocks: int = 1, heads: int = 1,
                 layer_norm: bool = False, dropout: float = 0.0) -> None:
        super().__init__()
        self.channels, self.k, self.heads, self.layer_norm, self.dropout = channels, k, heads, layer_norm, dropout
        self.pma1 = PoolingByMultiheadAttention(channels, k, heads, layer_norm, dropout)
        self.encoders = torch.nn.ModuleList(SetAttentionBlock(channels, heads, layer_norm, dropout)
                                            for _ in range(num_encoder_blocks))
        self.pma2 = PoolingByMultiheadAttention(channels, 1, heads, layer_norm, dropout)

    def reset_parameters(self) -> None:
        for module in [self.pma1] + list(self.encoders) + [self.pma2]:
            module.reset_parameters()

    def forward(self, x: Tensor, index: Optional[Tensor] = None, ptr: Optional[Tensor] = None,
                dim_size=None, mask: Optional[Tensor] = None, max_num_elements: Optional[int] = None) -> Tensor:
        index, dim_size = _segments(x, index, ptr, dim_size)
        x, valid = _dense_with_mask(x, index, dim_size, max_num_elements, mask)
        x = self.pma1(x, valid)
        for encoder in self.encoders:
            x = encoder(x)
        return self.pma2(x).squeeze(1)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.channels}, k={self.k}, heads={self.heads}, "
                f"layer_norm={self.layer_norm}, dropout={self.dropout})")


class PatchTransformerAggregation(Aggregation):
    """Each segment's rows (projected to ``hidden_channels``) in patches of ``patch_size``
    (``M`` rounded down to a multiple of it, as PyG does), each patch projected to one token
    plus its position's encoding, ``num_transformer_blocks`` attention blocks over the tokens,
    ``aggr`` (``"mean"``, ``"max"``, ... or a list) over them, and a final linear layer."""

    def __init__(self, in_channels: int, out_channels: int, patch_size: int, hidden_channels: int,
                 num_transformer_blocks: int = 1, heads: int = 1, dropout: float = 0.0, aggr="mean",
                 device: Optional[torch.device] = None) -> None:
        super().__init__()
        self.in_channels, self.out_channels, self.patch_size = in_channels, out_channels, patch_size
        self.aggrs = [aggr] if isinstance(aggr, str) else list(aggr)
        if not self.aggrs or any(a not in ("sum", "mean", "min", "max", "var", "std") for a in self.aggrs):
            raise ValueError(f"aggr must name sum/mean/min/max/var/std, got {aggr!r}")
        self.lin = torch.nn.Linear(in_channels, hidden_channels, device=device)
        self.pad_projector = torch.nn.Linear(patch_size * hidden_channels, hidden_channels, device=device)
        self.pe = PositionalEncoding(hidden_channels, device=device)
        self.blocks = torch.nn.ModuleList(MultiheadAttentionBlock(hidden_channels, heads, True, dropout, device)
                                          for _ in range(num_transformer_blocks))
        self.fc = torch.nn.Linear(hidden_channels * len(self.aggrs), out_channels, device=device)

    def reset_parameters(self) -> None:
        for module in [self.lin, self.pad_projector, self.fc] + list(self.blocks):
            module.reset_parameters()

    def forward(self, x: Tensor, index: Optional[Tensor] = None, ptr: Optional[Tensor] = None,
                dim_size=None, mask: Optional[Tensor] = None, max_num_elements: Optional[int] = None) -> Tensor:
        index, dim_size = _segments(x, index, ptr, dim_size)
        if max_num_elements is None:  # PyG's rule: the largest segment plus one (a host sync)
            counts = _counts(_with_trash_slot(index, dim_size, mask), dim_size + 1)[:dim_size]
            max_num_elements = int(counts.max()) + 1 if dim_size > 0 else 1
        max_num_elements = max(max_num_elements // self.patch_size, 1) * self.patch_size
        dense = dense_segments(self.lin(x), index, dim_size, max_num_elements, mask=mask)
        tokens = self.pad_projector(dense.view(dense.size(0), -1, self.patch_size * dense.size(-1)))
        tokens = tokens + self.pe(torch.arange(tokens.size(1), device=x.device, dtype=tokens.dtype))
        for block in self.blocks:
            tokens = block(tokens, tokens)
        outs = []
        for name in self.aggrs:
            out = getattr(torch, name)(tokens, dim=1)
            outs.append(out[0] if isinstance(out, tuple) else out)
        return self.fc(torch.cat(outs, dim=1) if len(outs) > 1 else outs[0])

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.in_channels}, {self.out_channels}, patch_size={self.patch_size})"


BY_NAME = {"settransformer": SetTransformerAggregation, "graphmultisettransformer": GraphMultisetTransformer,
           "patchtransformer": PatchTransformerAggregation}
