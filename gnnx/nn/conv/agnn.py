r"""AGNNConv: attention from the cosine similarity of node features, no projection."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from gnnx import ops
from gnnx.nn.message_passing import Adj, MessagePassing, check_adjacency, edge_tensor
from gnnx.ops import dispatch
from gnnx.structure import with_fresh_self_loops


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
        if requires_grad:
            self.beta = torch.nn.Parameter(torch.empty(1))
        else:
            self.register_buffer("beta", torch.ones(1))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.requires_grad:
            torch.nn.init.ones_(self.beta)

    def forward(self, x: Tensor, edge_index: Adj) -> Tensor:
        num_nodes = x.size(0)
        check_adjacency(edge_index, num_nodes)
        tensor, stale = edge_tensor(edge_index), None
        graph = dispatch.as_graph(edge_index, num_nodes)
        if self.add_self_loops:
            if graph is not None:  # once per graph (the memo GAT shares)
                tensor, _, stale = graph.memo("fresh_self_loops", lambda: with_fresh_self_loops(
                    graph.edge_index, None, num_nodes, 0.0))
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
