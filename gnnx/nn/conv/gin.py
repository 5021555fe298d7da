"""GINConv and GINEConv: graph isomorphism networks (Xu et al., 2019; Hu et al., 2020)."""
from __future__ import annotations

from typing import Optional, Tuple, Union

import torch
from torch import Tensor

from gnnx.nn.inits import linear, one_value, reset
from gnnx.nn.message_passing import Adj, Adjacency, MessagePassing

PairTensor = Tuple[Tensor, Optional[Tensor]]


class _GINBase(MessagePassing):
    """What GIN and GINE share: the learnable or fixed ``eps`` and the ``nn`` update."""

    def __init__(self, nn: torch.nn.Module, eps: float, train_eps: bool, aggr: str, flow: str) -> None:
        super().__init__(aggr=aggr, flow=flow)
        self.nn = nn
        self.initial_eps = eps
        one_value(self, "eps", train_eps, eps)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        reset(self.nn)
        with torch.no_grad():
            self.eps.fill_(self.initial_eps)

    def _combine(self, out: Tensor, x_dst: Optional[Tensor], node_mask: Optional[Tensor]) -> Tensor:
        if x_dst is not None:
            out = out + (1 + self.eps) * x_dst
        if node_mask is not None:  # padded batch: the MLP's batch norms skip padded rows
            return self.nn(out, node_mask=node_mask)
        return self.nn(out)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(nn={self.nn})"


class GINConv(_GINBase):
    r"""The graph isomorphism operator from `"How Powerful are Graph Neural Networks?"
    <https://arxiv.org/abs/1810.00826>`_.

    .. math::
        \mathbf{x}'_i = h_{\mathbf{\Theta}}\Big((1 + \epsilon) \mathbf{x}_i +
        \sum_{j \in \mathcal{N}(i)} \mathbf{x}_j\Big)

    Args:
        nn: the network :math:`h_{\mathbf{\Theta}}` (e.g. an :class:`~gnnx.nn.MLP`).
        eps: initial :math:`\epsilon`.
        train_eps: learn :math:`\epsilon`.
        aggr: neighbour reduction (default ``"add"``).

    Shapes:
        input ``x [N, F_in]`` or a pair, ``edge_index [2, E]`` or :class:`~gnnx.Graph`;
        output ``[N_dst, F_out]`` of ``nn``.
    """

    def __init__(self, nn: torch.nn.Module, eps: float = 0.0, train_eps: bool = False, aggr: str = "add",
                 flow: str = "source_to_target") -> None:
        super().__init__(nn, eps, train_eps, aggr, flow)

    def forward(self, x: Union[Tensor, PairTensor], edge_index: Adj, size: Optional[Tuple[int, int]] = None,
                node_mask: Optional[Tensor] = None) -> Tensor:
        x_src, x_dst = (x, x) if isinstance(x, Tensor) else x
        return self._combine(self.propagate(edge_index, x=(x_src, x_dst), size=size), x_dst, node_mask)

    def fused_message_and_aggregate(self, adj: Adjacency, x: PairTensor) -> Tensor:
        return self.spmm(adj, x[0])


class GINEConv(_GINBase):
    r"""GIN with edge features, from `"Strategies for Pre-training Graph Neural Networks"
    <https://arxiv.org/abs/1905.12265>`_.

    .. math::
        \mathbf{x}'_i = h_{\mathbf{\Theta}}\Big((1 + \epsilon) \mathbf{x}_i +
        \sum_{j \in \mathcal{N}(i)} \mathrm{ReLU}(\mathbf{x}_j + \mathbf{W} \mathbf{e}_{j,i})\Big)

    Args:
        nn, eps, train_eps: as in :class:`GINConv`.
        edge_dim: edge feature size; if given, :math:`\mathbf{W}` maps it to the node
            feature size (read from ``nn``'s first layer), else edge features must
            already have the node feature size.

    Shapes:
        input ``x [N, F]``, ``edge_index [2, E]``, ``edge_attr [E, edge_dim or F]``;
        output ``[N_dst, F_out]`` of ``nn``.
    """

    def __init__(self, nn: torch.nn.Module, eps: float = 0.0, train_eps: bool = False,
                 edge_dim: Optional[int] = None, aggr: str = "add", flow: str = "source_to_target") -> None:
        if edge_dim is not None:
            first = nn[0] if isinstance(nn, torch.nn.Sequential) else nn
            in_channels = getattr(first, "in_features", getattr(first, "in_channels", None))
            if in_channels is None:
                raise ValueError("GINEConv: cannot read the input size of 'nn' to map edge features")
            lin: Optional[torch.nn.Module] = linear(edge_dim, in_channels)
        else:
            lin = None
        super().__init__(nn, eps, train_eps, aggr, flow)
        self.lin = lin

    def reset_parameters(self) -> None:
        super().reset_parameters()
        if getattr(self, "lin", None) is not None:
            self.lin.reset_parameters()

    def forward(self, x: Union[Tensor, PairTensor], edge_index: Adj, edge_attr: Optional[Tensor] = None,
                size: Optional[Tuple[int, int]] = None, node_mask: Optional[Tensor] = None) -> Tensor:
        x_src, x_dst = (x, x) if isinstance(x, Tensor) else x
        out = self.propagate(edge_index, x=(x_src, x_dst), edge_attr=edge_attr, size=size)
        return self._combine(out, x_dst, node_mask)

    def message(self, x_j: Tensor, edge_attr: Tensor) -> Tensor:
        if edge_attr is None:
            raise ValueError("GINEConv needs edge_attr (edge features added to each message)")
        if self.lin is None and x_j.size(-1) != edge_attr.size(-1):
            raise ValueError(
                f"GINEConv: node features have size {x_j.size(-1)} but edge_attr has size "
                f"{edge_attr.size(-1)}; set 'edge_dim' to map them"
            )
        if self.lin is not None:
            edge_attr = self.lin(edge_attr)
        return (x_j + edge_attr).relu()
