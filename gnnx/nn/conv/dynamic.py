"""Layers that build their graph from the features: DynamicEdgeConv and GravNetConv.

Both find k nearest neighbours (self included, as in PyG) with :func:`gnnx.ops.knn_graph`,
plain torch with static ``N * k`` edges, so unlike PyG 2.8 they need no ``pyg-lib`` and
export with a dynamic number of points (e.g. calorimeter hits). Given a pair
``(x_src, x_dst)`` (and ``(batch_src, batch_dst)``), as in PyG, each destination point takes
its k nearest source points (:func:`gnnx.ops.knn`, ``N_dst * k`` slots; the slots of a
destination whose graph has fewer than k source points are masked out of the aggregation).
"""
from __future__ import annotations

from typing import Callable, Optional, Tuple, Union

import torch
from torch import Tensor

from gnnx.graph import Graph
from gnnx.nn.conv.edge_conv import EdgeConv
from gnnx.nn.inits import linear, reset_layer
from gnnx.nn.message_passing import MessagePassing
from gnnx.ops import dispatch, knn, knn_graph

PairTensor = Tuple[Tensor, Tensor]
PairBatch = Union[Optional[Tensor], Tuple[Optional[Tensor], Optional[Tensor]]]


def _knn_pair(x_src: Tensor, x_dst: Tensor, k: int, batch: PairBatch) -> Tuple[Tensor, Tensor]:
    """``(edge_index src -> dst [2, N_dst * k], mask)`` of the k nearest sources of each destination."""
    b_src, b_dst = batch if isinstance(batch, (tuple, list)) else (batch, batch)
    pairs, mask = knn(x_src, x_dst, k, b_src, b_dst)
    return pairs.flip(0), mask


class DynamicEdgeConv(EdgeConv):
    r"""EdgeConv over the k-nearest-neighbour graph of the input features, recomputed every
    call (`"Dynamic Graph CNN" <https://arxiv.org/abs/1801.07829>`_).

    Shapes: ``x [N, F]``, optional ``batch [N]`` -> ``[N, F_out]``; or pairs
    ``(x_src, x_dst)``, ``(batch_src, batch_dst)`` -> ``[N_dst, F_out]``.
    """

    def __init__(self, nn: Callable, k: int, aggr: str = "max", num_workers: int = 1) -> None:
        super().__init__(nn, aggr=aggr)
        self.k = k

    def forward(self, x: Union[Tensor, PairTensor], batch: PairBatch = None) -> Tensor:  # type: ignore[override]
        if isinstance(x, Tensor):
            edge_index = knn_graph(x, self.k, batch, loop=True)
            if x.is_cuda and dispatch.uses_csr(x.device):  # a fresh graph per call: its CSR here
                edge_index = Graph(edge_index, x.size(0), validate=False)
            return super().forward(x, edge_index)
        edge_index, mask = _knn_pair(x[0], x[1], self.k, batch)
        return super().forward((x[0], x[1]), edge_index, edge_mask=mask)

    def __repr__(self) -> str:
        return f"DynamicEdgeConv(nn={self.nn}, k={self.k})"


class GravNetConv(MessagePassing):
    r"""GravNet, `"Learning Representations of Irregular Particle-detector Geometry with
    Distance-weighted Graph Networks" <https://arxiv.org/abs/1902.07987>`_: project to a
    learned space :math:`\mathbf{s}_i`, connect each point to its k nearest neighbours there,
    and aggregate :math:`\mathbf{h}_j e^{-10\,\lVert\mathbf{s}_j-\mathbf{s}_i\rVert^2}` by mean and max:
    :math:`\mathbf{x}'_i = \mathbf{W}_1\mathbf{x}_i + \mathbf{W}_2[\mathrm{mean}_j \Vert \max_j]`.

    Shapes: ``x [N, in]``, optional ``batch [N]`` -> ``[N, out]``; or pairs ``(x_src, x_dst)``,
    ``(batch_src, batch_dst)`` -> ``[N_dst, out]`` (each destination's k nearest sources).
    """

    def __init__(self, in_channels: int, out_channels: int, space_dimensions: int, propagate_dimensions: int,
                 k: int, num_workers: Optional[int] = None) -> None:
        super().__init__(aggr=["mean", "max"])
        self.in_channels, self.out_channels, self.k = in_channels, out_channels, k
        self.lin_s = linear(in_channels, space_dimensions)
        self.lin_h = linear(in_channels, propagate_dimensions)
        self.lin_out1 = linear(in_channels, out_channels, bias=False)
        self.lin_out2 = linear(2 * propagate_dimensions, out_channels)

    def reset_parameters(self) -> None:
        super().reset_parameters()
        reset_layer(self)

    def forward(self, x: Union[Tensor, PairTensor], batch: PairBatch = None) -> Tensor:
        if isinstance(x, Tensor):
            s = self.lin_s(x)
            edge_index = knn_graph(s, self.k, batch, loop=True)
            edge_weight = torch.exp(-10.0 * (s[edge_index[0]] - s[edge_index[1]]).pow(2).sum(-1))
            out = self.propagate(edge_index, x=self.lin_h(x), edge_weight=edge_weight)
            return self.lin_out1(x) + self.lin_out2(out)
        x_src, x_dst = x
        s_src, s_dst = self.lin_s(x_src), self.lin_s(x_dst)
        edge_index, mask = _knn_pair(s_src, s_dst, self.k, batch)
        edge_weight = torch.exp(-10.0 * (s_src[edge_index[0]] - s_dst[edge_index[1]]).pow(2).sum(-1))
        out = self.propagate(edge_index, x=(self.lin_h(x_src), None), edge_weight=edge_weight, edge_mask=mask,
                             size=(x_src.size(0), x_dst.size(0)))
        return self.lin_out1(x_dst) + self.lin_out2(out)

    def message(self, x_j: Tensor, edge_weight: Tensor) -> Tensor:
        return x_j * edge_weight.unsqueeze(1)

    def __repr__(self) -> str:
        return f"GravNetConv({self.in_channels}, {self.out_channels}, k={self.k})"
