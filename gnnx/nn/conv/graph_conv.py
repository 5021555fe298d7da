"""GraphConv: the Weisfeiler-Leman GNN operator (Morris et al., 2019)."""
from __future__ import annotations

from typing import Any, Optional, Tuple, Union

from torch import Tensor

from gnnx.nn.inits import linear
from gnnx.nn.message_passing import Adj, Adjacency, MessagePassing

PairTensor = Tuple[Tensor, Optional[Tensor]]


class GraphConv(MessagePassing):
    r"""The graph neural network operator from `"Weisfeiler and Leman Go Neural: Higher-order
    Graph Neural Networks" <https://arxiv.org/abs/1810.02244>`_.

    .. math::
        \mathbf{x}'_i = \mathbf{W}_1 \mathbf{x}_i + \mathbf{W}_2
        \bigoplus_{j \in \mathcal{N}(i)} e_{j,i} \cdot \mathbf{x}_j

    Args:
        in_channels: feature size, or ``(source, destination)`` sizes.
        out_channels: output size.
        aggr: ``"add"`` (default), ``"mean"``, ``"max"``, ``"min"`` or a list.
        bias: learn a bias in :math:`\mathbf{W}_2`.

    Shapes:
        input ``x [N, F_in]`` or a pair, ``edge_index [2, E]`` or :class:`~gnnx.Graph`,
        ``edge_weight [E]`` (optional); output ``[N_dst, out_channels]``.
    """

    def __init__(
        self,
        in_channels: Union[int, Tuple[int, int]],
        out_channels: int,
        aggr: Union[str, list] = "add",
        bias: bool = True,
        flow: str = "source_to_target",
        **kwargs: Any,
    ) -> None:
        super().__init__(aggr=aggr, flow=flow, **kwargs)  # kwargs: aggr_kwargs, as PyG's **kwargs
        self.in_channels, self.out_channels = in_channels, out_channels  # as given, as PyG keeps it
        if isinstance(in_channels, int):
            in_channels = (in_channels, in_channels)
        self.lin_rel = linear(self.aggr_out_channels(in_channels[0]), out_channels, bias=bias)
        self.lin_root = linear(in_channels[1], out_channels, bias=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.lin_rel.reset_parameters()
        self.lin_root.reset_parameters()

    def forward(
        self,
        x: Union[Tensor, PairTensor],
        edge_index: Adj,
        edge_weight: Optional[Tensor] = None,
        size: Optional[Tuple[int, int]] = None,
    ) -> Tensor:
        x_src, x_dst = (x, x) if isinstance(x, Tensor) else x
        out = self.lin_rel(self.propagate(edge_index, x=(x_src, x_dst), edge_weight=edge_weight, size=size))
        if x_dst is not None:
            out = out + self.lin_root(x_dst)
        return out

    def message(self, x_j: Tensor, edge_weight: Optional[Tensor]) -> Tensor:
        return x_j if edge_weight is None else edge_weight.view(-1, 1) * x_j

    def fused_message_and_aggregate(self, adj: Adjacency, x: PairTensor, edge_weight: Optional[Tensor] = None) -> Tensor:
        return self.spmm(adj, x[0], edge_weight)
