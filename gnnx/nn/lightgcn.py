r"""LightGCN, `"LightGCN: Simplifying and Powering Graph Convolution Network for
Recommendation" <https://arxiv.org/abs/2002.02126>`_: node embeddings propagated by
:class:`~gnnx.nn.LGConv` and averaged over the layers,

.. math::
    \mathbf{x}_i = \sum_{l=0}^{L} \alpha_l \mathbf{x}^{(l)}_i, \qquad
    \mathbf{x}^{(l+1)}_i = \sum_{j \in \mathcal{N}(i)} \frac{1}{\sqrt{\deg(i)\deg(j)}} \mathbf{x}^{(l)}_j,

scored per node pair by a dot product. PyG's arguments, parameter names (``embedding.weight``,
the ``alpha`` buffer) and heads: link prediction (:meth:`LightGCN.predict_link`,
:meth:`LightGCN.link_pred_loss`) and recommendation (:meth:`LightGCN.recommend`,
:meth:`LightGCN.recommendation_loss`, the BPR loss).
"""
from __future__ import annotations

from typing import Any, Optional, Union

import torch
import torch.nn.functional as F
from torch import Tensor

from gnnx.nn.conv.propagation import LGConv
from gnnx.nn.message_passing import Adj, edge_tensor


class LightGCN(torch.nn.Module):
    """LightGCN (module docstring).

    Args: ``num_nodes``, ``embedding_dim``, ``num_layers``, ``alpha`` (per-layer weights: a
    float for all, a ``[num_layers + 1]`` tensor, or ``None`` for ``1 / (num_layers + 1)``),
    ``**kwargs`` of :class:`~gnnx.nn.LGConv`.
    """

    def __init__(self, num_nodes: int, embedding_dim: int, num_layers: int,
                 alpha: Optional[Union[float, Tensor]] = None, **kwargs: Any) -> None:
        super().__init__()
        self.num_nodes, self.embedding_dim, self.num_layers = num_nodes, embedding_dim, num_layers
        if alpha is None:
            alpha = 1.0 / (num_layers + 1)
        if isinstance(alpha, Tensor):
            if alpha.shape != (num_layers + 1,):
                raise ValueError(f"LightGCN: alpha must hold num_layers + 1 = {num_layers + 1} weights, "
                                 f"got shape {list(alpha.shape)}")
        else:
            alpha = torch.tensor([float(alpha)] * (num_layers + 1))
        self.register_buffer("alpha", alpha)
        self.embedding = torch.nn.Embedding(num_nodes, embedding_dim)
        self.convs = torch.nn.ModuleList(LGConv(**kwargs) for _ in range(num_layers))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        torch.nn.init.xavier_uniform_(self.embedding.weight)
        for conv in self.convs:
            conv.reset_parameters()

    def get_embedding(self, edge_index: Adj, edge_weight: Optional[Tensor] = None) -> Tensor:
        """``[num_nodes, embedding_dim]``: the layers' embeddings weighted by ``alpha``."""
        x = self.embedding.weight
        out = x * self.alpha[0]
        for i, conv in enumerate(self.convs):
            x = conv(x, edge_index, edge_weight)
            out = out + x * self.alpha[i + 1]
        return out

    def forward(self, edge_index: Adj, edge_label_index: Optional[Tensor] = None,
                edge_weight: Optional[Tensor] = None) -> Tensor:
        """Dot-product scores of the pairs ``edge_label_index [2, L]`` (default: the edges of
        ``edge_index``), propagated over ``edge_index``."""
        if edge_label_index is None:
            edge_label_index = edge_tensor(edge_index)
        out = self.get_embedding(edge_index, edge_weight)
        return (out[edge_label_index[0]] * out[edge_label_index[1]]).sum(dim=-1)

    def predict_link(self, edge_index: Adj, edge_label_index: Optional[Tensor] = None,
                     edge_weight: Optional[Tensor] = None, prob: bool = False) -> Tensor:
        """Link probabilities (``prob=True``) or 0/1 predictions of the pairs."""
        pred = self(edge_index, edge_label_index, edge_weight).sigmoid()
        return pred if prob else pred.round()

    def recommend(self, edge_index: Adj, edge_weight: Optional[Tensor] = None, src_index: Optional[Tensor] = None,
                  dst_index: Optional[Tensor] = None, k: int = 1, sorted: bool = True) -> Tensor:
        """``[len(src_index), k]``: the ``k`` best-scoring nodes of ``dst_index`` (default:
        all) for each node of ``src_index`` (default: all)."""
        out_src = out_dst = self.get_embedding(edge_index, edge_weight)
        if src_index is not None:
            out_src = out_src[src_index]
        if dst_index is not None:
            out_dst = out_dst[dst_index]
        top = (out_src @ out_dst.t()).topk(k, dim=-1, sorted=sorted).indices
        return top if dst_index is None else dst_index[top.view(-1)].view(top.shape)

    def link_pred_loss(self, pred: Tensor, edge_label: Tensor, **kwargs: Any) -> Tensor:
        """Binary cross-entropy on the scores (``kwargs`` of ``BCEWithLogitsLoss``)."""
        return torch.nn.BCEWithLogitsLoss(**kwargs)(pred, edge_label.to(pred.dtype))

    def recommendation_loss(self, pos_edge_rank: Tensor, neg_edge_rank: Tensor, node_id: Optional[Tensor] = None,
                            lambda_reg: float = 1e-4, **kwargs: Any) -> Tensor:
        """The BPR loss of matched positive and negative scores, with L2 regularisation of
        the embeddings of ``node_id`` (default: all)."""
        embedding = self.embedding.weight if node_id is None else self.embedding.weight[node_id]
        return BPRLoss(lambda_reg, **kwargs)(pos_edge_rank, neg_edge_rank, embedding)

    def __repr__(self) -> str:  # PyG's
        return f"{type(self).__name__}({self.num_nodes}, {self.embedding_dim}, num_layers={self.num_layers})"


class BPRLoss(torch.nn.modules.loss._Loss):
    r"""Bayesian personalised ranking loss (mean over pairs, as PyG's):

    .. math::
        L = -\frac{1}{M} \sum_{m} \ln \sigma(\hat{y}^{+}_m - \hat{y}^{-}_m)
        + \frac{\lambda}{M} \lVert \mathbf{x}^{(0)} \rVert^2 .
    """

    def __init__(self, lambda_reg: float = 0, **kwargs: Any) -> None:
        super().__init__(None, None, "sum", **kwargs)
        self.lambda_reg = lambda_reg

    def forward(self, positives: Tensor, negatives: Tensor, parameters: Optional[Tensor] = None) -> Tensor:
        log_prob = F.logsigmoid(positives - negatives).mean()
        regularization = 0
        if self.lambda_reg != 0:
            if parameters is None:
                raise ValueError("BPRLoss: lambda_reg != 0 needs the parameters to regularise")
            regularization = self.lambda_reg * parameters.norm(p=2).pow(2) / positives.size(0)
        return -log_prob + regularization
