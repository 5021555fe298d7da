"""SAGEConv: GraphSAGE's neighbourhood aggregation (Hamilton et al., 2017)."""
from __future__ import annotations

from typing import Any, Optional, Tuple, Union

import torch.nn.functional as F
from torch import Tensor

from gnnx.nn.inits import linear
from gnnx.nn.message_passing import Adj, Adjacency, MessagePassing

PairTensor = Tuple[Tensor, Optional[Tensor]]


class SAGEConv(MessagePassing):
    r"""The GraphSAGE operator from `"Inductive Representation Learning on Large Graphs"
    <https://arxiv.org/abs/1706.02216>`_.

    .. math::
        \mathbf{x}'_i = \mathbf{W}_1 \mathbf{x}_i + \mathbf{W}_2 \cdot
        \bigoplus_{j \in \mathcal{N}(i)} \mathbf{x}_j

    With ``project=True`` the neighbours are first mapped by
    :math:`\mathbf{x}_j \leftarrow \sigma(\mathbf{W}_3 \mathbf{x}_j + \mathbf{b})`.

    Args:
        in_channels: feature size, or ``(source, destination)`` sizes for bipartite input.
        out_channels: output size.
        aggr: ``"mean"``, ``"max"``, ``"sum"`` (or a list of them).
        normalize: L2-normalise the output rows.
        root_weight: add the transformed root features :math:`\mathbf{W}_1 \mathbf{x}_i`.
        project: project neighbours through a linear layer and ReLU first.
        bias: learn a bias in :math:`\mathbf{W}_2`.

    Shapes:
        input ``x [N, F_in]`` or a pair ``([N_src, F_src], [N_dst, F_dst])``,
        ``edge_index [2, E]`` or :class:`~gnnx.Graph`; output ``[N_dst, out_channels]``.
    """

    def __init__(
        self,
        in_channels: Union[int, Tuple[int, int]],
        out_channels: int,
        aggr: Union[str, list] = "mean",
        normalize: bool = False,
        root_weight: bool = True,
        project: bool = False,
        bias: bool = True,
        flow: str = "source_to_target",
        **kwargs: Any,
    ) -> None:
        self.in_channels, self.out_channels = in_channels, out_channels  # as given, as PyG keeps it
        if isinstance(in_channels, int):
            in_channels = (in_channels, in_channels)
        if aggr == "lstm":  # GraphSAGE's LSTM aggregator keeps the width, as in PyG
            kwargs["aggr_kwargs"] = {"in_channels": in_channels[0], "out_channels": in_channels[0],
                                     **(kwargs.get("aggr_kwargs") or {})}
        super().__init__(aggr=aggr, flow=flow, **kwargs)  # kwargs: aggr_kwargs, as PyG's **kwargs
        self.normalize, self.root_weight, self.project = normalize, root_weight, project
        if project:
            self.lin = linear(in_channels[0], in_channels[0], bias=True)
        aggr_channels = self.aggr_out_channels(in_channels[0])
        self.lin_l = linear(aggr_channels, out_channels, bias=bias)
        if root_weight:
            self.lin_r = linear(in_channels[1], out_channels, bias=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for name in ("lin", "lin_l", "lin_r"):
            if hasattr(self, name):
                getattr(self, name).reset_parameters()

    def forward(self, x: Union[Tensor, PairTensor], edge_index: Adj, size: Optional[Tuple[int, int]] = None) -> Tensor:
        x_src, x_dst = (x, x) if isinstance(x, Tensor) else x
        if self.project:
            x_src = self.lin(x_src).relu()
        out = self.lin_l(self.propagate(edge_index, x=(x_src, x_dst), size=size))
        if self.root_weight and x_dst is not None:
            out = out + self.lin_r(x_dst)
        return F.normalize(out, p=2.0, dim=-1) if self.normalize else out

    def fused_message_and_aggregate(self, adj: Adjacency, x: PairTensor) -> Tensor:
        return self.spmm(adj, x[0])

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.in_channels}, {self.out_channels}, aggr={self.aggr})"
