r"""The Querying Transformer of `"BLIP-2" <https://arxiv.org/abs/2301.12597>`_, in PyG's
simplified form: a layer norm, a stack of transformer encoder layers and a projection,

.. math::
    \mathbf{Y} = \mathrm{Encoder}^{(L)}\big(\mathrm{LayerNorm}(\mathbf{X})\big)\,\mathbf{W}^\top
    + \mathbf{b}, \qquad \mathbf{X} \in \mathbb{R}^{B \times N \times F},

used by PyG's graph-language models to turn node embeddings into a model's token space.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor


class QFormer(torch.nn.Module):
    """PyG's ``QFormer``: its arguments, state-dict keys and ``repr``.

    Args:
        input_dim: input features.
        hidden_dim: width of each encoder layer's feed-forward network.
        output_dim: output features.
        num_heads: attention heads per encoder layer.
        num_layers: encoder layers (copies of one initialised layer, as ``torch.nn.TransformerEncoder``
            makes them).
        dropout: dropout in each encoder layer.
        activation: the feed-forward network's activation.

    Shapes: ``x [B, N, input_dim]`` -> ``[B, N, output_dim]``.
    """

    def __init__(self, input_dim: int, hidden_dim: int, output_dim: int, num_heads: int, num_layers: int,
                 dropout: float = 0.0, activation: Callable = torch.nn.ReLU()) -> None:
        super().__init__()
        self.num_layers, self.num_heads = num_layers, num_heads
        self.layer_norm = torch.nn.LayerNorm(input_dim)
        self.encoder_layer = torch.nn.TransformerEncoderLayer(
            d_model=input_dim, nhead=num_heads, dim_feedforward=hidden_dim, dropout=dropout, activation=activation,
            batch_first=True)
        self.encoder = torch.nn.TransformerEncoder(self.encoder_layer, num_layers=num_layers)
        self.project = torch.nn.Linear(input_dim, output_dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.project(self.encoder(self.layer_norm(x)))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(num_heads={self.num_heads}, num_layers={self.num_layers})"
