"""GCNConv: graph convolution with symmetric normalisation (Kipf & Welling, 2017)."""
from __future__ import annotations

from typing import Optional, Tuple

import torch
from torch import Tensor

from gnnx.graph import Graph, csr_with_self_loops
from gnnx.nn.inits import glorot, linear, zeros
from gnnx.nn.message_passing import Adj, Adjacency, MessagePassing, check_adjacency, edge_tensor
from gnnx.ops import dispatch
from gnnx.structure import gcn_norm


class WeightedPropagation(MessagePassing):
    """Base of layers that propagate ``edge_weight * x_j`` (fused into one SpMM), optionally
    over GCN-normalised weights that ``cached=True`` layers compute once."""

    cached: bool = False
    _cache: Optional[Tuple[Tensor, Tensor]] = None


    def _weight_vector(self, edge_weight: Optional[Tensor]) -> Optional[Tensor]:
        """``edge_weight`` as ``[E]``: PyG's normalisations take ``[E, 1]`` alike; other shapes
        are named."""
        if edge_weight is None or edge_weight.dim() == 1:
            return edge_weight
        if edge_weight.dim() != 2 or edge_weight.size(1) != 1:
            raise ValueError(f"{type(self).__name__}: edge_weight must hold one weight per edge ([E] or [E, 1]), "
                             f"got shape {list(edge_weight.shape)}")
        return edge_weight.view(-1)

    def _normalized(self, x: Tensor, edge_index: Adj, edge_weight: Optional[Tensor], improved: bool,
                    add_self_loops: bool) -> Tuple[Tensor, Tensor]:
        if self._cache is not None:
            return self._cache
        num_nodes = x.size(-2)
        check_adjacency(edge_index, num_nodes, edge_weight=edge_weight)
        edge_weight = self._weight_vector(edge_weight)
        tensor = edge_tensor(edge_index)
        # With a prepared structure (a Graph, or the structure cache's for a bare edge_index),
        # the weights of an unweighted graph are computed once per graph, and the CSR of the
        # looped edges grows from the graph's own without a sort.
        graph = dispatch.as_graph(edge_index, num_nodes) if self.flow == "source_to_target" else None

        def normalize() -> Tuple[Adj, Tensor]:
            looped, weight = gcn_norm(tensor, edge_weight, num_nodes, improved, add_self_loops, self.flow, x.dtype)
            if graph is None:
                return looped, weight
            csr = graph.csr
            if add_self_loops:
                csr = graph.memo("csr_with_self_loops", lambda: csr_with_self_loops(graph.csr, tensor, num_nodes))
            return Graph(looped, num_nodes, validate=False, csr=csr), weight

        if graph is not None and edge_weight is None:
            normalized = graph.memo(("gcn_norm", improved, add_self_loops, x.dtype), normalize)
        else:
            normalized = normalize()
        if self.cached:
            self._cache = normalized
        return normalized

    def message(self, x_j: Tensor, edge_weight: Optional[Tensor]) -> Tensor:
        return x_j if edge_weight is None else edge_weight.view(-1, 1) * x_j

    def fused_message_and_aggregate(self, adj: Adjacency, x: Tensor, edge_weight: Optional[Tensor] = None) -> Tensor:
        return self.spmm(adj, x, edge_weight)


class GCNConv(WeightedPropagation):
    r"""The graph convolutional operator from `"Semi-supervised Classification with Graph
    Convolutional Networks" <https://arxiv.org/abs/1609.02907>`_.

    .. math::
        \mathbf{X}' = \hat{\mathbf{D}}^{-1/2} \hat{\mathbf{A}} \hat{\mathbf{D}}^{-1/2} \mathbf{X} \mathbf{\Theta},
        \qquad \mathbf{x}'_i = \mathbf{\Theta}^\top \sum_{j \in \mathcal{N}(i) \cup \{i\}}
        \frac{e_{j,i}}{\sqrt{\hat{d}_j \hat{d}_i}} \mathbf{x}_j

    with :math:`\hat{\mathbf{A}} = \mathbf{A} + \mathbf{I}` and :math:`\hat{d}_i = 1 + \sum_j e_{j,i}`.

    Args:
        in_channels, out_channels: feature sizes.
        improved: use :math:`\mathbf{A} + 2\mathbf{I}`; as in PyG, only when edge weights are
            given (an unweighted graph gets :math:`\mathbf{A} + \mathbf{I}`).
        cached: normalise the first graph seen and reuse it (transductive learning only).
        add_self_loops: add self loops before normalising.
        normalize: normalise in the forward; pass ``False`` when the graph already carries
            normalised weights (:class:`gnnx.transforms.GCNNorm`), the fast choice.
        bias: learn an additive bias.
        aggr, flow: as in :class:`~gnnx.nn.MessagePassing`.

    Shapes:
        input ``x [N, in_channels]``, ``edge_index [2, E]`` or :class:`~gnnx.Graph`,
        ``edge_weight [E]`` (optional); output ``[N, out_channels]``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        improved: bool = False,
        cached: bool = False,
        add_self_loops: Optional[bool] = None,
        normalize: bool = True,
        bias: bool = True,
        aggr: str = "sum",
        flow: str = "source_to_target",
    ) -> None:
        super().__init__(aggr=aggr, flow=flow)
        if add_self_loops is None:
            add_self_loops = normalize
        if add_self_loops and not normalize:
            raise ValueError("GCNConv does not support adding self-loops to the graph when no on-the-fly "
                             "normalization is applied (add_self_loops=True with normalize=False)")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.improved, self.cached = improved, cached
        self.add_self_loops, self.normalize = add_self_loops, normalize
        self._cache = None
        self.lin = linear(in_channels, out_channels, bias=False, weight_initializer="glorot")
        self.bias = torch.nn.Parameter(torch.empty(out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        glorot(self.lin.weight)
        zeros(self.bias)
        self._cache = None

    def prepare_structure(self, graph: Graph, x: Tensor) -> None:
        """Normalise ``graph``'s unweighted edges once, stored with it (:func:`gnnx.compile`)."""
        if self.normalize and not self.cached:
            self._normalized(x, graph, None, self.improved, self.add_self_loops)

    def forward(self, x: Tensor, edge_index: Adj, edge_weight: Optional[Tensor] = None) -> Tensor:
        extra = {}
        if self.normalize:
            given = edge_tensor(edge_index).size(1)
            edge_index, edge_weight = self._normalized(x, edge_index, edge_weight, self.improved,
                                                       self.add_self_loops)
            if self.add_self_loops and self.aggrs != ["sum"]:
                # Replaced loops carry weight 0, which only a sum ignores: mask them out of max/mean.
                looped = edge_tensor(edge_index)
                position = torch.arange(looped.size(1), device=looped.device)
                extra["edge_mask"] = (position >= given) | (looped[0] != looped[1])
        out = self.propagate(edge_index, x=self.lin(x), edge_weight=edge_weight, **extra)
        return out if self.bias is None else out + self.bias
