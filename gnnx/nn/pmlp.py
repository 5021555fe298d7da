r"""PMLP (PyG's ``PMLP``): an MLP in training, message passing at inference."""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from gnnx.nn.conv.propagation import SimpleConv
from gnnx.nn.linear import Linear
from gnnx.nn.message_passing import Adj


class PMLP(torch.nn.Module):
    r"""PMLP of "Graph Neural Networks are Inherently Good Generalizers: Insights by Bridging
    GNNs and MLPs": trained as an MLP, evaluated with each layer's product followed by a mean
    over the node's neighbours and itself,

    .. math::
        \mathbf{H}^{(\ell+1)} = \sigma\big(\mathrm{BN}(\hat{\mathbf{D}}^{-1}\hat{\mathbf{A}}\,
        \mathbf{H}^{(\ell)}\mathbf{W}^{(\ell)} + \mathbf{b}^{(\ell)})\big)
        \quad (\text{training: without } \hat{\mathbf{D}}^{-1}\hat{\mathbf{A}}),

    :math:`\hat{\mathbf{A}}` with self loops; the batch norm (``norm``) without affine
    parameters or running statistics, ReLU and dropout after every layer but the last. PyG's
    arguments, keys (``lins.<i>``), repr, and for the same seed PyG's weights (Xavier with gain
    1.414, zero bias). ``edge_index`` is needed in eval mode.
    """

    def __init__(self, in_channels: int, hidden_channels: int, out_channels: int, num_layers: int,
                 dropout: float = 0.0, norm: bool = True, bias: bool = True) -> None:
        super().__init__()
        self.in_channels, self.hidden_channels, self.out_channels = in_channels, hidden_channels, out_channels
        self.num_layers, self.dropout, self.bias = num_layers, dropout, bias
        widths = [in_channels] + [hidden_channels] * (num_layers - 1) + [out_channels]
        self.lins = torch.nn.ModuleList(Linear(a, b, bias) for a, b in zip(widths[:-1], widths[1:]))
        self.norm = (torch.nn.BatchNorm1d(hidden_channels, affine=False, track_running_stats=False)
                     if norm else None)
        self.conv = SimpleConv(aggr="mean", combine_root="self_loop")
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for lin in self.lins:
            torch.nn.init.xavier_uniform_(lin.weight, gain=1.414)
            if self.bias:
                torch.nn.init.zeros_(lin.bias)

    def forward(self, x: Tensor, edge_index: Optional[Adj] = None) -> Tensor:
        if not self.training and edge_index is None:
            raise ValueError(f"'edge_index' needs to be present during inference in '{type(self).__name__}'")
        for i, lin in enumerate(self.lins):
            x = x @ lin.weight.t()
            if not self.training:
                x = self.conv(x, edge_index)
            if self.bias:
                x = x + lin.bias
            if i != self.num_layers - 1:
                if self.norm is not None:
                    x = self.norm(x)
                x = F.dropout(x.relu(), p=self.dropout, training=self.training)
        return x

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.in_channels}, {self.out_channels}, num_layers={self.num_layers})"
