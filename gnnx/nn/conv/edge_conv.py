"""EdgeConv: the dynamic graph CNN operator (Wang et al., 2019)."""
from __future__ import annotations

from typing import Optional, Tuple, Union

import torch
from torch import Tensor

from gnnx.nn.inits import reset
from gnnx.nn.message_passing import Adj, MessagePassing

PairTensor = Tuple[Tensor, Optional[Tensor]]


class EdgeConv(MessagePassing):
    r"""The edge convolution from `"Dynamic Graph CNN for Learning on Point Clouds"
    <https://arxiv.org/abs/1801.07829>`_.

    .. math::
        \mathbf{x}'_i = \max_{j \in \mathcal{N}(i)} h_{\mathbf{\Theta}}
        \big(\mathbf{x}_i \,\Vert\, \mathbf{x}_j - \mathbf{x}_i\big)

    Args:
        nn: the network :math:`h_{\mathbf{\Theta}}`, mapping ``[E, 2F]`` to ``[E, F_out]``.
        aggr: ``"max"`` (default), ``"mean"``, ``"add"`` or ``"min"``.

    Shapes:
        input ``x [N, F]`` or a pair, ``edge_index [2, E]`` or :class:`~gnnx.Graph`;
        output ``[N_dst, F_out]``. Nodes without incoming edges get 0.
    """

    def __init__(self, nn: torch.nn.Module, aggr: str = "max", flow: str = "source_to_target") -> None:
        super().__init__(aggr=aggr, flow=flow)
        self.nn = nn
        self.reset_parameters()

    def reset_parameters(self) -> None:
        reset(self.nn)

    def forward(self, x: Union[Tensor, PairTensor], edge_index: Adj) -> Tensor:
        pair = (x, x) if isinstance(x, Tensor) else x
        return self.propagate(edge_index, x=pair)

    def message(self, x_i: Tensor, x_j: Tensor) -> Tensor:
        return self.nn(torch.cat([x_i, x_j - x_i], dim=-1))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(nn={self.nn})"
