"""Layers that repeat a fixed, normalised propagation: SGConv, TAGConv, APPNP, SimpleConv.

Each is a few :func:`gnnx.ops.spmm` hops over GCN-normalised edge weights
(:func:`gnnx.structure.gcn_norm`), composed as in the papers.
"""
from __future__ import annotations

from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from gnnx.nn.conv.gcn import WeightedPropagation
from gnnx.nn.inits import zeros
from gnnx.nn.message_passing import Adj


class SGConv(WeightedPropagation):
    r"""Simplified graph convolution, `"Simplifying Graph Convolutional Networks"
    <https://arxiv.org/abs/1902.07153>`_:
    :math:`\mathbf{X}' = (\hat{\mathbf{D}}^{-1/2}\hat{\mathbf{A}}\hat{\mathbf{D}}^{-1/2})^K \mathbf{X}\mathbf{\Theta}`.

    Args: ``in_channels``, ``out_channels``, ``K`` hops, ``cached``, ``add_self_loops``, ``bias``.
    Shapes: ``x [N, in]``, ``edge_index [2, E]``, ``edge_weight [E]`` (optional) -> ``[N, out]``.
    """

    def __init__(self, in_channels: int, out_channels: int, K: int = 1, cached: bool = False,
                 add_self_loops: bool = True, bias: bool = True) -> None:
        super().__init__(aggr="add")
        self.in_channels, self.out_channels, self.K = in_channels, out_channels, K
        self.cached, self.add_self_loops, self._cache = cached, add_self_loops, None
        self.lin = torch.nn.Linear(in_channels, out_channels, bias=bias)

    def reset_parameters(self) -> None:
        self.lin.reset_parameters()
        self._cache = None

    def forward(self, x: Tensor, edge_index: Adj, edge_weight: Optional[Tensor] = None) -> Tensor:
        edge_index, edge_weight = self._normalized(x, edge_index, edge_weight, False, self.add_self_loops)
        for _ in range(self.K):
            x = self.propagate(edge_index, x=x, edge_weight=edge_weight)
        return self.lin(x)


class TAGConv(WeightedPropagation):
    r"""Topology adaptive graph convolution, `"Topology Adaptive Graph Convolutional Networks"
    <https://arxiv.org/abs/1710.10370>`_:
    :math:`\mathbf{X}' = \sum_{k=0}^{K} (\mathbf{D}^{-1/2}\mathbf{A}\mathbf{D}^{-1/2})^k \mathbf{X}\mathbf{W}_k`
    (no self loops added).

    Args: ``in_channels``, ``out_channels``, ``K``, ``bias``, ``normalize``.
    Shapes: ``x [N, in]``, ``edge_index [2, E]``, ``edge_weight [E]`` (optional) -> ``[N, out]``.
    """

    def __init__(self, in_channels: int, out_channels: int, K: int = 3, bias: bool = True,
                 normalize: bool = True) -> None:
        super().__init__(aggr="add")
        self.in_channels, self.out_channels, self.K, self.normalize = in_channels, out_channels, K, normalize
        self.lins = torch.nn.ModuleList(torch.nn.Linear(in_channels, out_channels, bias=False) for _ in range(K + 1))
        self.bias = torch.nn.Parameter(torch.empty(out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for lin in self.lins:
            lin.reset_parameters()
        zeros(self.bias)

    def forward(self, x: Tensor, edge_index: Adj, edge_weight: Optional[Tensor] = None) -> Tensor:
        if self.normalize:
            edge_index, edge_weight = self._normalized(x, edge_index, edge_weight, False, False)
        out = self.lins[0](x)
        for lin in self.lins[1:]:
            x = self.propagate(edge_index, x=x, edge_weight=edge_weight)
            out = out + lin(x)
        return out if self.bias is None else out + self.bias


class APPNP(WeightedPropagation):
    r"""Personalised-PageRank propagation, `"Predict then Propagate"
    <https://arxiv.org/abs/1810.05997>`_:
    :math:`\mathbf{X}^{(k+1)} = (1-\alpha)\hat{\mathbf{D}}^{-1/2}\hat{\mathbf{A}}\hat{\mathbf{D}}^{-1/2}\mathbf{X}^{(k)} + \alpha\mathbf{X}^{(0)}`.

    Args: ``K``, ``alpha``, ``dropout`` (on edge weights while training), ``cached``,
    ``add_self_loops``, ``normalize``. No parameters.
    Shapes: ``x [N, F]`` -> ``[N, F]``.
    """

    def __init__(self, K: int, alpha: float, dropout: float = 0.0, cached: bool = False,
                 add_self_loops: bool = True, normalize: bool = True) -> None:
        super().__init__(aggr="add")
        self.K, self.alpha, self.dropout = K, alpha, dropout
        self.cached, self.add_self_loops, self.normalize, self._cache = cached, add_self_loops, normalize, None

    def reset_parameters(self) -> None:
        self._cache = None

    def forward(self, x: Tensor, edge_index: Adj, edge_weight: Optional[Tensor] = None) -> Tensor:
        if self.normalize:
            edge_index, edge_weight = self._normalized(x, edge_index, edge_weight, False, self.add_self_loops)
        h = x
        for _ in range(self.K):
            w = edge_weight
            if self.dropout > 0 and self.training and w is not None:
                w = F.dropout(w, p=self.dropout)
            x = self.propagate(edge_index, x=x, edge_weight=w) * (1 - self.alpha) + self.alpha * h
        return x

    def __repr__(self) -> str:
        return f"APPNP(K={self.K}, alpha={self.alpha})"


class SimpleConv(WeightedPropagation):
    r"""Parameter-free aggregation :math:`\mathbf{x}'_i = \bigoplus_{j} e_{j,i}\mathbf{x}_j`,
    optionally combined with the root: ``combine_root`` ``None``, ``"sum"`` or ``"cat"``.

    Shapes: ``x [N, F]`` -> ``[N, F]`` (``[N, 2F]`` with ``"cat"``).
    """

    def __init__(self, aggr: str = "sum", combine_root: Optional[str] = None) -> None:
        if combine_root not in (None, "sum", "cat"):
            raise ValueError(f"combine_root must be None, 'sum' or 'cat', got {combine_root!r}")
        super().__init__(aggr=aggr)
        self.combine_root = combine_root

    def forward(self, x: Tensor, edge_index: Adj, edge_weight: Optional[Tensor] = None,
                size: Optional[Tuple[int, int]] = None) -> Tensor:
        out = self.propagate(edge_index, x=x, edge_weight=edge_weight, size=size)
        if self.combine_root == "sum":
            return out + x
        if self.combine_root == "cat":
            return torch.cat([x, out], dim=-1)
        return out
