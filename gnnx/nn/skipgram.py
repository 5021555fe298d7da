r"""The skip-gram objective that :class:`~gnnx.nn.Node2Vec` and :class:`~gnnx.nn.MetaPath2Vec`
train their embeddings with (PyG's): every ``context_size`` window of a walk pairs its first
node :math:`u` with the others :math:`v`, and walks of random nodes give negatives :math:`n`,

.. math::
    \mathcal{L} = -\overline{\log\big(\sigma(\mathbf{z}_u^\top \mathbf{z}_v) + \epsilon\big)}
                  - \overline{\log\big(1 - \sigma(\mathbf{z}_u^\top \mathbf{z}_n) + \epsilon\big)}.
"""
from __future__ import annotations

from typing import List, Tuple, Union

import torch
from torch import Tensor

from gnnx.nn.evaluation import linear_probe

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


class SkipGramModel(torch.nn.Module):
    """What walk-embedding models share (PyG's methods): ``sample(batch)`` gives windows of
    positive and negative walks from the subclass's ``pos_sample`` / ``neg_sample``; ``loss``
    is the skip-gram loss over ``self.embedding``; ``test`` a logistic-regression probe."""

    embedding: torch.nn.Embedding
    EPS = EPS

    def pos_sample(self, batch: Tensor) -> Tensor:
        raise NotImplementedError

    def neg_sample(self, batch: Tensor) -> Tensor:
        raise NotImplementedError

    def sample(self, batch: Union[List[int], Tensor]) -> Tuple[Tensor, Tensor]:
        if not isinstance(batch, Tensor):
            batch = torch.tensor(batch, dtype=torch.long)
        return self.pos_sample(batch), self.neg_sample(batch)

    def loss(self, pos_rw: Tensor, neg_rw: Tensor) -> Tensor:
        """The skip-gram loss of the module docstring."""
        return skipgram_loss(self.embedding, pos_rw, neg_rw, self.EPS)

    def test(self, train_z: Tensor, train_y: Tensor, test_z: Tensor, test_y: Tensor, solver: str = "lbfgs",
             *args, **kwargs) -> float:
        """Accuracy of a logistic regression fit on ``train_z`` (:func:`~gnnx.nn.evaluation.linear_probe`)."""
        return linear_probe(train_z, train_y, test_z, test_y, solver, *args, **kwargs)
