r"""Propagation weighted by attention without a projection of the features: AGNNConv (cosine
similarity), FAConv (signed, from two per-node scores)."""
from __future__ import annotations

from typing import Optional, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor

from gnnx import ops
from gnnx.nn.conv.gcn import WeightedPropagation
from gnnx.nn.inits import linear, one_value
from gnnx.nn.message_passing import Adj, MessagePassing, check_adjacency, edge_tensor
from gnnx.ops import dispatch
from gnnx.structure import memoised_fresh_self_loops, with_fresh_self_loops


class AGNNConv(MessagePassing):
    r"""The attention-based propagation of `"Attention-based Graph Neural Network for
    Semi-Supervised Learning" <https://arxiv.org/abs/1803.03735>`_:

    .. math::
        \mathbf{x}'_i = \sum_{j \in \mathcal{N}(i) \cup \{i\}} \alpha_{i,j}\mathbf{x}_j, \qquad
        \alpha_{i,j} = \operatorname{softmax}_j\Big(\beta \cos(\mathbf{x}_i, \mathbf{x}_j)\Big)

    with :math:`\beta` trainable (``requires_grad=True``, initialised to 1) or fixed at 1.

    Args: ``requires_grad``, ``add_self_loops`` (existing loops are replaced by one per node,
    as PyG removes then adds them). State: ``beta`` (a parameter, or a buffer when fixed), as PyG's.
    Shapes: ``x [N, F]``, ``edge_index [2, E]`` -> ``[N, F]``.
    """

    def __init__(self, requires_grad: bool = True, add_self_loops: bool = True, **kwargs) -> None:
        kwargs.setdefault("aggr", "add")
        super().__init__(**kwargs)
        self.requires_grad, self.add_self_loops = requires_grad, add_self_loops
        one_value(self, "beta", requires_grad, 1.0)

    def reset_parameters(self) -> None:
        with torch.no_grad():
            self.beta.fill_(1.0)

    def forward(self, x: Tensor, edge_index: Adj) -> Tensor:
        num_nodes = x.size(0)
        check_adjacency(edge_index, num_nodes)
        tensor, stale = edge_tensor(edge_index), None
        graph = dispatch.as_graph(edge_index, num_nodes)
        if self.add_self_loops:
            if graph is not None:
                tensor, stale = memoised_fresh_self_loops(graph, num_nodes)
            else:
                tensor, _, stale = with_fresh_self_loops(tensor, None, num_nodes, 0.0)
        src, dst = tensor[0], tensor[1]
        x_norm = F.normalize(x, p=2.0, dim=-1)
        score = self.beta * (x_norm.index_select(0, dst) * x_norm.index_select(0, src)).sum(-1)
        if stale is not None:  # the old loops, replaced by the fresh ones
            score = score.masked_fill(stale, float("-inf"))
        alpha = ops.segment_softmax(score, dst, num_nodes)
        if self._messages_observed():  # hooks or explain mode: the messages visible
            return self.propagate(tensor, x=x, alpha=alpha)
        csr = graph.csr if not self.add_self_loops and graph is not None else None
        return ops.spmm(x, tensor, num_nodes, alpha, "sum", csr=csr)

    def message(self, x_j: Tensor, alpha: Tensor) -> Tensor:
        return alpha.view(-1, 1) * x_j

    def __repr__(self) -> str:  # PyG's
        return "AGNNConv()"


class FAConv(WeightedPropagation):
    r"""Frequency-adaptive graph convolution, `"Beyond Low-frequency Information in Graph
    Convolutional Networks" <https://arxiv.org/abs/2101.00797>`_:

    .. math::
        \mathbf{x}'_i = \epsilon\,\mathbf{x}^{(0)}_i + \sum_{j \in \mathcal{N}(i)}
        \frac{\alpha_{i,j}}{\sqrt{d_i d_j}}\mathbf{x}_j, \qquad
        \alpha_{i,j} = \tanh\big(\mathbf{a}_l^\top\mathbf{x}_j + \mathbf{a}_r^\top\mathbf{x}_i\big)

    (signed coefficients: low- and high-frequency signals both pass). ``normalize=True``
    computes the GCN weights :math:`1/\sqrt{d_i d_j}` (self loops where ``add_self_loops``) and
    takes no ``edge_weight``; ``normalize=False`` needs one.

    Args: ``channels``, ``eps``, ``dropout`` (on the coefficients, in training), ``cached``,
    ``add_self_loops``, ``normalize``. State: ``att_l``, ``att_r`` (PyG's keys).
    Shapes: ``x [N, F]``, ``x_0 [N, F]``, ``edge_index [2, E]``, ``edge_weight [E]`` -> ``[N, F]``;
    with ``return_attention_weights=True`` also ``(edge_index, alpha [E])`` (the edges
    propagated over, loops included, and :math:`\alpha` before dropout; for a sparse adjacency
    input a sparse weight matrix and its values, as PyG's).
    """

    def __init__(self, channels: int, eps: float = 0.1, dropout: float = 0.0, cached: bool = False,
                 add_self_loops: bool = True, normalize: bool = True, **kwargs) -> None:
        kwargs.setdefault("aggr", "add")
        super().__init__(**kwargs)
        self.channels, self.eps, self.dropout = channels, eps, dropout
        self.cached, self.add_self_loops, self.normalize = cached, add_self_loops, normalize
        self._cache = None
        self.att_l = linear(channels, 1, bias=False)
        self.att_r = linear(channels, 1, bias=False)

    def reset_parameters(self) -> None:
        self.att_l.reset_parameters()
        self.att_r.reset_parameters()
        self._cache = None

    def forward(self, x: Tensor, x_0: Tensor, edge_index: Adj, edge_weight: Optional[Tensor] = None,
                return_attention_weights: Optional[bool] = None
                ) -> Union[Tensor, Tuple[Tensor, Tuple[Tensor, Tensor]]]:
        if self.normalize:
            if edge_weight is not None:
                raise ValueError("FAConv(normalize=True) computes its own edge weights: give no edge_weight "
                                 "(or normalize=False)")
            edge_index, edge_weight = self._normalized(x, edge_index, None, False, self.add_self_loops)
        elif edge_weight is None:
            raise ValueError("FAConv(normalize=False) needs an edge_weight")
        else:
            check_adjacency(edge_index, x.size(0), edge_weight=edge_weight)
            edge_weight = self._weight_vector(edge_weight)
        tensor = edge_tensor(edge_index)
        pairs = tensor if self.flow == "source_to_target" else tensor.flip(0)
        score_l, score_r = self.att_l(x).view(-1), self.att_r(x).view(-1)
        alpha = (score_l.index_select(0, pairs[0]) + score_r.index_select(0, pairs[1])).tanh()
        coefficient = F.dropout(alpha, p=self.dropout, training=self.training) * edge_weight
        if self._messages_observed():
            out = self.propagate(edge_index, x=x, edge_weight=coefficient)
        else:
            out = ops.spmm(x, pairs, x.size(0), coefficient, "sum")
        if self.eps != 0.0:
            out = out + self.eps * x_0
        if return_attention_weights:
            return out, self._attention_weights(tensor, alpha, x.size(0), x.size(0))
        return out

    _alpha: Optional[Tensor] = None  # (PyG's scratch slot for the weights; always None here)

    def __repr__(self) -> str:  # PyG's
        return f"{type(self).__name__}({self.channels}, eps={self.eps})"
