r"""The skip-gram objective that :class:`~gnnx.nn.Node2Vec` and :class:`~gnnx.nn.MetaPath2Vec`
train their embeddings with (PyG's): every ``context_size`` window of a walk pairs its first
node :math:`u` with the others :math:`v`, and walks of random nodes give negatives :math:`n`,

.. math::
    \mathcal{L} = -\overline{\log\big(\sigma(\mathbf{z}_u^\top \mathbf{z}_v) + \epsilon\big)}
                  - \overline{\log\big(1 - \sigma(\mathbf{z}_u^\top \mathbf{z}_n) + \epsilon\big)}.
"""
from __future__ import annotations

import torch
from torch import Tensor

EPS = 1e-15


def context_windows(walks: Tensor, context_size: int) -> Tensor:
    """Every ``context_size`` window of each walk ``[W, L]``, window by window: ``[W * (L + 1 -
    context_size), context_size]``."""
    count = walks.size(1) + 1 - context_size
    return torch.cat([walks[:, j:j + context_size] for j in range(count)], dim=0)


def _scores(embedding: torch.nn.Embedding, windows: Tensor) -> Tensor:
    """``z_start . z_other`` for every other node of each window."""
    start = embedding(windows[:, 0]).unsqueeze(1)
    rest = embedding(windows[:, 1:].reshape(-1)).view(windows.size(0), -1, embedding.embedding_dim)
    return (start * rest).sum(dim=-1).view(-1)


def skipgram_loss(embedding: torch.nn.Embedding, pos_rw: Tensor, neg_rw: Tensor, eps: float = EPS) -> Tensor:
    """The module docstring's loss over windows of positive and negative walks."""
    pos_loss = -torch.log(torch.sigmoid(_scores(embedding, pos_rw)) + eps).mean()
    neg_loss = -torch.log(1 - torch.sigmoid(_scores(embedding, neg_rw)) + eps).mean()
    return pos_loss + neg_loss
