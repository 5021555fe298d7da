"""Layers that repeat a fixed, normalised propagation: SGConv, MixHopConv, TAGConv, APPNP,
LGConv, SimpleConv, SSGConv, GCN2Conv.

Each is a few :func:`gnnx.ops.spmm` hops over GCN-normalised edge weights
(:func:`gnnx.structure.gcn_norm`), composed as in the papers.
"""
from __future__ import annotations

import math
from typing import List, Optional, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor

from gnnx.graph import Graph, csr_with_self_loops
from gnnx.nn.conv.gcn import WeightedPropagation
from gnnx.nn.inits import glorot, linear, zeros
from gnnx.nn.message_passing import Adj, edge_tensor
from gnnx.ops import dispatch
from gnnx.structure import add_self_loops


class SGConv(WeightedPropagation):
    r"""Simplified graph convolution, `"Simplifying Graph Convolutional Networks"
    <https://arxiv.org/abs/1902.07153>`_:
    :math:`\mathbf{X}' = (\hat{\mathbf{D}}^{-1/2}\hat{\mathbf{A}}\hat{\mathbf{D}}^{-1/2})^K \mathbf{X}\mathbf{\Theta}`.

    Args: ``in_channels``, ``out_channels``, ``K`` hops, ``cached`` (as PyG's: keep the
    propagated features :math:`\hat{\mathbf{A}}^K \mathbf{X}` of the first call, ``_cached_x``,
    and reuse them: transductive learning on one graph and fixed features only),
    ``add_self_loops``, ``bias``.
    Shapes: ``x [N, in]``, ``edge_index [2, E]``, ``edge_weight [E]`` (optional) -> ``[N, out]``.
    """

    def __init__(self, in_channels: int, out_channels: int, K: int = 1, cached: bool = False,
                 add_self_loops: bool = True, bias: bool = True) -> None:
        super().__init__(aggr="add")
        self.in_channels, self.out_channels, self.K = in_channels, out_channels, K
        self.cached, self.add_self_loops, self._cache = cached, add_self_loops, None
        self._cached_x: Optional[Tensor] = None
        self.lin = linear(in_channels, out_channels, bias=bias)

    def reset_parameters(self) -> None:
        self.lin.reset_parameters()
        self._cache = self._cached_x = None

    def forward(self, x: Tensor, edge_index: Adj, edge_weight: Optional[Tensor] = None) -> Tensor:
        if self._cached_x is not None:
            return self.lin(self._cached_x)
        edge_index, edge_weight = self._normalized(x, edge_index, edge_weight, False, self.add_self_loops)
        for _ in range(self.K):
            x = self.propagate(edge_index, x=x, edge_weight=edge_weight)
        if self.cached:
            self._cached_x = x
        return self.lin(x)

    def __repr__(self) -> str:  # PyG's
        return f"{type(self).__name__}({self.in_channels}, {self.out_channels}, K={self.K})"


class MixHopConv(WeightedPropagation):
    r"""Mix-hop convolution, `"MixHop: Higher-Order Graph Convolutional Architectures via
    Sparsified Neighborhood Mixing" <https://arxiv.org/abs/1905.00067>`_:

    .. math::
        \mathbf{X}' = \Big\Vert_{p \in P} \big(\hat{\mathbf{D}}^{-1/2}\hat{\mathbf{A}}
        \hat{\mathbf{D}}^{-1/2}\big)^p \mathbf{X}\mathbf{\Theta}_p

    (:math:`\hat{\mathbf{A}}` with self loops where ``add_self_loops``), one hop at a time up to
    the largest power, each listed power projected by its own weight and concatenated in the
    order given.

    Args: ``in_channels``, ``out_channels``, ``powers`` (default ``[0, 1, 2]``),
    ``add_self_loops``, ``bias``. State: ``lins.{p}`` for each power ``p`` (PyG's keys),
    ``bias``.
    Shapes: ``x [N, in]``, ``edge_index [2, E]``, ``edge_weight [E]`` (optional) ->
    ``[N, len(powers) * out]``.
    """

    def __init__(self, in_channels: int, out_channels: int, powers: Optional[List[int]] = None,
                 add_self_loops: bool = True, bias: bool = True, **kwargs) -> None:
        kwargs.setdefault("aggr", "add")
        super().__init__(**kwargs)
        powers = [0, 1, 2] if powers is None else list(powers)
        if not powers or min(powers) < 0:
            raise ValueError(f"MixHopConv: powers must be a non-empty list of hops >= 0, got {powers}")
        self.in_channels, self.out_channels, self.powers = in_channels, out_channels, powers
        self.add_self_loops = add_self_loops
        self.lins = torch.nn.ModuleList(linear(in_channels, out_channels, bias=False) if p in powers
                                        else torch.nn.Identity() for p in range(max(powers) + 1))
        self.bias = torch.nn.Parameter(torch.empty(len(powers) * out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for lin in self.lins:
            if hasattr(lin, "reset_parameters"):
                lin.reset_parameters()
        zeros(self.bias)

    def forward(self, x: Tensor, edge_index: Adj, edge_weight: Optional[Tensor] = None) -> Tensor:
        edge_index, edge_weight = self._normalized(x, edge_index, edge_weight, False, self.add_self_loops)
        outs = [self.lins[0](x)]
        for lin in self.lins[1:]:
            x = self.propagate(edge_index, x=x, edge_weight=edge_weight)
            outs.append(lin(x))
        out = torch.cat([outs[p] for p in self.powers], dim=-1)
        return out + self.bias if self.bias is not None else out

    def __repr__(self) -> str:  # PyG's
        return f"{type(self).__name__}({self.in_channels}, {self.out_channels}, powers={self.powers})"


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
        self.lins = torch.nn.ModuleList(linear(in_channels, out_channels, bias=False) for _ in range(K + 1))
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

    def __repr__(self) -> str:  # PyG's
        return f"{type(self).__name__}({self.in_channels}, {self.out_channels}, K={self.K})"


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


class LGConv(WeightedPropagation):
    r"""LightGCN's propagation, `"LightGCN: Simplifying and Powering Graph Convolution Network
    for Recommendation" <https://arxiv.org/abs/2002.02126>`_:

    .. math::
        \mathbf{x}'_i = \sum_{j \in \mathcal{N}(i)} \frac{e_{j,i}}{\sqrt{\deg(i)\deg(j)}} \mathbf{x}_j

    (no self loops, no weights; ``normalize=False``: :math:`\sum_j e_{j,i}\mathbf{x}_j`).

    Args: ``normalize``. No parameters.
    Shapes: ``x [N, F]``, ``edge_index [2, E]``, ``edge_weight [E]`` (optional) -> ``[N, F]``.
    """

    def __init__(self, normalize: bool = True) -> None:
        super().__init__(aggr="add")
        self.normalize = normalize

    def reset_parameters(self) -> None:
        pass

    def forward(self, x: Tensor, edge_index: Adj, edge_weight: Optional[Tensor] = None) -> Tensor:
        if self.normalize:
            edge_index, edge_weight = self._normalized(x, edge_index, edge_weight, False, False)
        return self.propagate(edge_index, x=x, edge_weight=edge_weight)

    def __repr__(self) -> str:  # PyG's
        return "LGConv()"


class SimpleConv(WeightedPropagation):
    r"""Parameter-free aggregation :math:`\mathbf{x}'_i = \bigoplus_{j} e_{j,i}\mathbf{x}_j`,
    optionally combined with the root: ``combine_root`` ``None``, ``"sum"``, ``"cat"`` or
    ``"self_loop"`` (a loop of weight 1 appended per node, so the root joins the aggregation).

    Shapes: ``x [N, F]`` or a pair ``(x_src, x_dst)`` -> ``[N_dst, F]`` (``[N_dst, 2F]`` with ``"cat"``).
    """

    def __init__(self, aggr: str = "sum", combine_root: Optional[str] = None, **kwargs) -> None:
        if combine_root not in (None, "sum", "cat", "self_loop"):
            raise ValueError(f"combine_root must be None, 'sum', 'cat' or 'self_loop', got {combine_root!r}")
        super().__init__(aggr=aggr, **kwargs)
        self.combine_root = combine_root

    def forward(self, x: Union[Tensor, Tuple[Tensor, Optional[Tensor]]], edge_index: Adj,
                edge_weight: Optional[Tensor] = None, size: Optional[Tuple[int, int]] = None) -> Tensor:
        x_src, x_dst = (x, x) if isinstance(x, Tensor) else x
        if self.combine_root == "self_loop":
            if x_dst is None or x_src.size(0) != x_dst.size(0):
                raise ValueError("SimpleConv(combine_root='self_loop') needs as many source as destination nodes")
            edge_index, edge_weight = self._looped(edge_index, edge_weight, x_src.size(0))
        out = self.propagate(edge_index, x=(x_src, x_dst), edge_weight=edge_weight, size=size)
        if self.combine_root == "sum" and x_dst is not None:
            return out + x_dst
        if self.combine_root == "cat" and x_dst is not None:
            return torch.cat([x_dst, out], dim=-1)
        return out

    def _looped(self, edge_index: Adj, edge_weight: Optional[Tensor], num_nodes) -> Tuple[Adj, Optional[Tensor]]:
        """``edge_index`` with one loop per node appended (weight 1); once per graph where the
        structure is prepared (the looped CSR grows from the graph's own, without a sort)."""
        tensor = edge_tensor(edge_index)
        graph = dispatch.as_graph(edge_index, num_nodes) if self.flow == "source_to_target" else None
        if graph is None:
            return add_self_loops(tensor, edge_weight, 1.0, num_nodes)
        looped = graph.memo("self_loops", lambda: Graph(
            add_self_loops(tensor, None, 1.0, num_nodes)[0], num_nodes, validate=False,
            csr=graph.memo("csr_with_self_loops", lambda: csr_with_self_loops(graph.csr, tensor, num_nodes))))
        if edge_weight is not None:
            edge_weight = torch.cat([edge_weight, edge_weight.new_ones(num_nodes)])
        return looped, edge_weight

    def fused_message_and_aggregate(self, adj, x, edge_weight: Optional[Tensor] = None) -> Tensor:
        return self.spmm(adj, x[0], edge_weight)


class SSGConv(WeightedPropagation):
    r"""Simple spectral graph convolution, `"Simple Spectral Graph Convolution"
    <https://openreview.net/forum?id=CYO5T-YjWZV>`_ (Markov diffusion kernel):
    :math:`\mathbf{X}' = \frac{1}{K}\sum_{k=1}^{K}\big((1-\alpha)\hat{\mathbf{T}}^k\mathbf{X} + \alpha\mathbf{X}\big)\mathbf{\Theta}`,
    :math:`\hat{\mathbf{T}} = \hat{\mathbf{D}}^{-1/2}\hat{\mathbf{A}}\hat{\mathbf{D}}^{-1/2}`.

    Args: ``in_channels``, ``out_channels``, ``alpha``, ``K``, ``cached`` (keep the
    propagated features: transductive only), ``add_self_loops``, ``bias``.
    Shapes: ``x [N, in]``, ``edge_index [2, E]``, ``edge_weight [E]`` (optional) -> ``[N, out]``.
    """

    def __init__(self, in_channels: int, out_channels: int, alpha: float, K: int = 1, cached: bool = False,
                 add_self_loops: bool = True, bias: bool = True) -> None:
        super().__init__(aggr="add")
        self.in_channels, self.out_channels, self.alpha, self.K = in_channels, out_channels, alpha, K
        self.cached, self.add_self_loops, self._cached_h = cached, add_self_loops, None
        self.lin = linear(in_channels, out_channels, bias=bias)

    def reset_parameters(self) -> None:
        self.lin.reset_parameters()
        self._cached_h = None

    def forward(self, x: Tensor, edge_index: Adj, edge_weight: Optional[Tensor] = None) -> Tensor:
        if self._cached_h is not None:
            return self.lin(self._cached_h)
        edge_index, edge_weight = self._normalized(x, edge_index, edge_weight, False, self.add_self_loops)
        h = x * self.alpha
        for _ in range(self.K):
            x = self.propagate(edge_index, x=x, edge_weight=edge_weight)
            h = h + (1 - self.alpha) / self.K * x
        if self.cached:
            self._cached_h = h.detach()
        return self.lin(h)

    def __repr__(self) -> str:
        return f"SSGConv({self.in_channels}, {self.out_channels}, K={self.K}, alpha={self.alpha})"


class GCN2Conv(WeightedPropagation):
    r"""GCNII, `"Simple and Deep Graph Convolutional Networks" <https://arxiv.org/abs/2007.02133>`_:
    initial residual and identity mapping,

    .. math::
        \mathbf{X}' = \big((1-\alpha)\hat{\mathbf{P}}\mathbf{X} + \alpha\mathbf{X}^{(0)}\big)
        \big((1-\beta)\mathbf{I} + \beta\mathbf{\Theta}\big), \qquad \beta = \log(\theta/\ell + 1)

    (``shared_weights=False``: separate :math:`\mathbf{\Theta}_1, \mathbf{\Theta}_2` for the two terms).

    Args: ``channels``, ``alpha``, ``theta`` and ``layer`` (both or neither; neither gives
    :math:`\beta = 1`), ``shared_weights``, ``cached``, ``add_self_loops``, ``normalize``.
    Shapes: ``x [N, C]``, ``x_0 [N, C]``, ``edge_index``, ``edge_weight [E]`` (optional) -> ``[N, C]``.
    """

    def __init__(self, channels: int, alpha: float, theta: Optional[float] = None, layer: Optional[int] = None,
                 shared_weights: bool = True, cached: bool = False, add_self_loops: bool = True,
                 normalize: bool = True) -> None:
        super().__init__(aggr="add")
        if (theta is None) != (layer is None):
            raise ValueError("GCN2Conv: give both theta and layer, or neither")
        self.channels, self.alpha = channels, alpha
        self.beta = math.log(theta / layer + 1) if theta is not None else 1.0
        self.cached, self.add_self_loops, self.normalize, self._cache = cached, add_self_loops, normalize, None
        self.weight1 = torch.nn.Parameter(torch.empty(channels, channels))
        self.weight2 = None if shared_weights else torch.nn.Parameter(torch.empty(channels, channels))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        glorot(self.weight1)
        glorot(self.weight2)
        self._cache = None

    def forward(self, x: Tensor, x_0: Tensor, edge_index: Adj, edge_weight: Optional[Tensor] = None) -> Tensor:
        if self.normalize:
            edge_index, edge_weight = self._normalized(x, edge_index, edge_weight, False, self.add_self_loops)
        x = self.propagate(edge_index, x=x, edge_weight=edge_weight) * (1 - self.alpha)
        x_0 = self.alpha * x_0[: x.size(0)]
        beta = self.beta
        if self.weight2 is None:
            out = x + x_0
            return torch.addmm(out, out, self.weight1, beta=1.0 - beta, alpha=beta)
        return (torch.addmm(x, x, self.weight1, beta=1.0 - beta, alpha=beta)
                + torch.addmm(x_0, x_0, self.weight2, beta=1.0 - beta, alpha=beta))

    def __repr__(self) -> str:
        return f"GCN2Conv({self.channels}, alpha={self.alpha}, beta={self.beta})"
