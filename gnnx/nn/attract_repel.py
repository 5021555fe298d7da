r"""PyG's ``ARLinkPredictor`` (`"Pseudo-Euclidean Attract-Repel Embeddings for Undirected
Graphs" <https://arxiv.org/abs/2106.09671>`_): an MLP splits each node's embedding into an
*attract* and a *repel* part, and a link scores

.. math::
    \sigma\big(\langle \mathbf{a}_i, \mathbf{a}_j \rangle - \langle \mathbf{r}_i, \mathbf{r}_j \rangle\big),

so two nodes can be alike (repel parts close) yet unlikely to link. PyG's arguments, keys and
values; the products are per edge and static in shape, so it compiles and exports.
"""
from __future__ import annotations

from typing import Any, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor


class ARLinkPredictor(torch.nn.Module):
    """``ARLinkPredictor(in_channels, hidden_channels, out_channels=None, num_layers=2,
    dropout=0.0, attract_ratio=0.5)``: ``encode(x)``, ``decode(attract, repel, edge_index)``,
    ``forward(x, edge_index)`` (link probabilities), ``calculate_r_fraction``."""

    def __init__(self, in_channels: int, hidden_channels: int, out_channels: Optional[int] = None,
                 num_layers: int = 2, dropout: float = 0.0, attract_ratio: float = 0.5) -> None:
        super().__init__()
        out_channels = hidden_channels if out_channels is None else out_channels
        if not 0 <= attract_ratio <= 1:
            raise ValueError(f"attract_ratio must be between 0 and 1, got {attract_ratio}")
        self.in_channels, self.hidden_channels, self.out_channels = in_channels, hidden_channels, out_channels
        self.num_layers, self.dropout, self.attract_ratio = num_layers, dropout, attract_ratio
        self.attract_dim = int(out_channels * attract_ratio)
        self.repel_dim = out_channels - self.attract_dim
        widths = [in_channels] + [hidden_channels] * max(num_layers - 2, 0)
        self.lins = torch.nn.ModuleList(torch.nn.Linear(w, hidden_channels) for w in widths)
        self.lin_attract = torch.nn.Linear(hidden_channels, self.attract_dim)
        self.lin_repel = torch.nn.Linear(hidden_channels, self.repel_dim)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for lin in (*self.lins, self.lin_attract, self.lin_repel):
            lin.reset_parameters()

    def encode(self, x: Tensor, *args: Any, **kwargs: Any) -> Tuple[Tensor, Tensor]:
        for lin in self.lins:
            x = F.dropout(F.relu(lin(x)), p=self.dropout, training=self.training)
        return self.lin_attract(x), self.lin_repel(x)

    def decode(self, attract_z: Tensor, repel_z: Tensor, edge_index: Tensor) -> Tensor:
        row, col = edge_index[0], edge_index[1]
        return (attract_z[row] * attract_z[col]).sum(1) - (repel_z[row] * repel_z[col]).sum(1)

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        return torch.sigmoid(self.decode(*self.encode(x), edge_index))

    def calculate_r_fraction(self, attract_z: Tensor, repel_z: Tensor) -> float:
        """The share of the embeddings' squared norm in the repel part."""
        attract, repel = attract_z.square().sum(), repel_z.square().sum()
        return float((repel / (attract + repel + 1e-10)).detach())
