r"""RECT-L (PyG's ``RECT_L``): zero-shot node classification with unseen classes."""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from gnnx.nn.conv.gcn import GCNConv
from gnnx.nn.message_passing import Adj
from gnnx.ops.scatter import scatter


class RECT_L(torch.nn.Module):
    r"""The supervised part of RECT, "Network Embedding with Completely-imbalanced Labels": a GCN
    layer and a linear map back to the input width, trained to regress each labelled node's
    class centre (:meth:`get_semantic_labels`),

    .. math::
        \hat{\mathbf{x}}_i = \mathbf{W}\,\mathrm{dropout}\big(\mathrm{GCN}(\mathbf{X}, \mathbf{A})_i\big) + \mathbf{b};

    :meth:`embed` gives the GCN's output as the node embedding. PyG's arguments, keys, repr
    and values.
    """

    def __init__(self, in_channels: int, hidden_channels: int, normalize: bool = True, dropout: float = 0.0) -> None:
        super().__init__()
        self.in_channels, self.hidden_channels, self.dropout = in_channels, hidden_channels, dropout
        self.conv = GCNConv(in_channels, hidden_channels, normalize=normalize)
        self.lin = torch.nn.Linear(hidden_channels, in_channels)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.conv.reset_parameters()
        self.lin.reset_parameters()
        torch.nn.init.xavier_uniform_(self.lin.weight.data)

    def forward(self, x: Tensor, edge_index: Adj, edge_weight: Optional[Tensor] = None) -> Tensor:
        x = F.dropout(self.conv(x, edge_index, edge_weight), p=self.dropout, training=self.training)
        return self.lin(x)

    @torch.no_grad()
    def embed(self, x: Tensor, edge_index: Adj, edge_weight: Optional[Tensor] = None) -> Tensor:
        return self.conv(x, edge_index, edge_weight)

    @torch.no_grad()
    def get_semantic_labels(self, x: Tensor, y: Tensor, mask: Tensor) -> Tensor:
        """For each labelled node (``mask``), the mean of ``x`` over the labelled nodes of its
        class (PyG's; eager: the labelled rows are selected by the mask)."""
        y = y[mask]
        return scatter(x[mask], y, int(y.max()) + 1 if y.numel() else 0, reduce="mean")[y]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.in_channels}, {self.hidden_channels})"
