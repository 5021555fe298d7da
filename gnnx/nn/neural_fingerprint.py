r"""Neural fingerprints of molecules (PyG's ``NeuralFingerprint``)."""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from gnnx.nn.conv.multi_aggr import MFConv
from gnnx.nn.linear import Linear
from gnnx.nn.message_passing import Adj
from gnnx.nn.pool import global_add_pool


class NeuralFingerprint(torch.nn.Module):
    r"""The learned molecular fingerprint of "Convolutional Networks on Graphs for Learning
    Molecular Fingerprints": ``num_layers`` degree-wise convolutions (:class:`~gnnx.nn.MFConv`,
    ``kwargs`` go to them), each layer's atoms written into the fingerprint through a softmax,

    .. math::
        \mathbf{h}^{(\ell)} = \sigma\big(\mathrm{MFConv}^{(\ell)}(\mathbf{h}^{(\ell-1)})\big), \qquad
        \mathbf{f}_g = \sum_{\ell} \sum_{i \in g} \operatorname{softmax}\big(\mathbf{W}^{(\ell)}\mathbf{h}^{(\ell)}_i\big)

    (``out_channels`` the fingerprint's length, ``lins.<l>`` without bias). PyG's arguments,
    keys, repr and values; ``batch_size`` keeps the molecule count off the host, so it
    compiles without recompiles and exports.
    """

    def __init__(self, in_channels: int, hidden_channels: int, out_channels: int, num_layers: int, **kwargs) -> None:
        super().__init__()
        self.in_channels, self.hidden_channels, self.out_channels = in_channels, hidden_channels, out_channels
        self.num_layers = num_layers
        self.convs = torch.nn.ModuleList(MFConv(in_channels if i == 0 else hidden_channels, hidden_channels, **kwargs)
                                         for i in range(num_layers))
        self.lins = torch.nn.ModuleList(Linear(hidden_channels, out_channels, bias=False) for _ in range(num_layers))

    def reset_parameters(self) -> None:
        for module in (*self.convs, *self.lins):
            module.reset_parameters()

    def forward(self, x: Tensor, edge_index: Adj, batch: Optional[Tensor] = None,
                batch_size: Optional[int] = None) -> Tensor:
        out = None
        for conv, lin in zip(self.convs, self.lins):
            x = conv(x, edge_index).sigmoid()
            pooled = global_add_pool(lin(x).softmax(dim=-1), batch, batch_size)
            out = pooled if out is None else out + pooled
        return out

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.in_channels}, {self.out_channels}, num_layers={self.num_layers})"
