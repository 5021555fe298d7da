r"""Graph auto-encoders for link prediction: ``InnerProductDecoder``, ``GAE``, ``VGAE`` and
the adversarially regularised ``ARGA``, ``ARGVA`` (PyG's classes, names and losses), and
ranking metrics in plain torch.

.. math::
    \hat{A}_{ij} = \sigma(\mathbf{z}_i^\top \mathbf{z}_j), \qquad
    \mathcal{L}_{\text{recon}} = -\overline{\log \hat{A}_{\text{pos}}}
                                - \overline{\log(1 - \hat{A}_{\text{neg}})}

(Kipf and Welling, `"Variational Graph Auto-Encoders" <https://arxiv.org/abs/1611.07308>`_);
``VGAE`` adds the KL term of its Gaussian posterior. ``test`` returns ROC AUC and average
precision as PyG's (computed here without scikit-learn).
"""
from __future__ import annotations

from typing import Optional, Tuple

import torch
from torch import Tensor

from gnnx.nn.inits import reset

EPS = 1e-15
MAX_LOGSTD = 10


def roc_auc_score(y_true: Tensor, y_score: Tensor) -> float:
    """Area under the ROC curve (the Mann-Whitney statistic; tied scores count half)."""
    y_true, y_score = y_true.flatten().double(), y_score.flatten().double()
    positives = float(y_true.sum())
    negatives = y_true.numel() - positives
    if positives == 0 or negatives == 0:
        raise ValueError("roc_auc_score needs both classes")
    order = torch.argsort(y_score)
    ranks = torch.empty_like(y_score)
    ranks[order] = torch.arange(1, y_score.numel() + 1, dtype=torch.double, device=y_score.device)
    _, inverse = torch.unique(y_score, return_inverse=True)  # ties share their mean rank
    mean_rank = torch.zeros(int(inverse.max()) + 1, dtype=torch.double, device=y_score.device)
    mean_rank = mean_rank.index_add(0, inverse, ranks) / torch.bincount(inverse).double()
    ranks = mean_rank[inverse]
    return float(((ranks * y_true).sum() - positives * (positives + 1) / 2) / (positives * negatives))


def average_precision_score(y_true: Tensor, y_score: Tensor) -> float:
    """Average precision: the precision at each distinct score threshold, weighted by the
    recall it adds (scikit-learn's definition)."""
    y_true, y_score = y_true.flatten().double(), y_score.flatten().double()
    order = torch.argsort(y_score, descending=True, stable=True)
    y, score = y_true[order], y_score[order]
    last = torch.cat([score[1:] != score[:-1], torch.ones(1, dtype=torch.bool, device=score.device)])
    hits = torch.cumsum(y, 0)[last]
    seen = (torch.arange(1, y.numel() + 1, device=y.device, dtype=torch.double))[last]
    precision, recall = hits / seen, hits / y.sum()
    gained = recall - torch.cat([recall.new_zeros(1), recall[:-1]])
    return float((gained * precision).sum())


class InnerProductDecoder(torch.nn.Module):
    """:math:`\\sigma(\\mathbf{z}_i^\\top \\mathbf{z}_j)` for the pairs of ``edge_index``
    (``forward_all``: every pair, ``[N, N]``)."""

    def forward(self, z: Tensor, edge_index: Tensor, sigmoid: bool = True) -> Tensor:
        value = (z.index_select(0, edge_index[0]) * z.index_select(0, edge_index[1])).sum(dim=1)
        return torch.sigmoid(value) if sigmoid else value

    def forward_all(self, z: Tensor, sigmoid: bool = True) -> Tensor:
        adj = z @ z.t()
        return torch.sigmoid(adj) if sigmoid else adj


class GAE(torch.nn.Module):
    """An encoder (any model giving node embeddings) with a pair decoder (inner product by
    default); ``recon_loss`` draws negatives with :func:`gnnx.utils.negative_sampling` when
    none are given."""

    def __init__(self, encoder: torch.nn.Module, decoder: Optional[torch.nn.Module] = None) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder = InnerProductDecoder() if decoder is None else decoder
        GAE.reset_parameters(self)

    def reset_parameters(self) -> None:
        reset(self.encoder)
        reset(self.decoder)

    def forward(self, *args, **kwargs) -> Tensor:
        return self.encoder(*args, **kwargs)

    def encode(self, *args, **kwargs) -> Tensor:
        return self.encoder(*args, **kwargs)

    def decode(self, *args, **kwargs) -> Tensor:
        return self.decoder(*args, **kwargs)

    def recon_loss(self, z: Tensor, pos_edge_index: Tensor, neg_edge_index: Optional[Tensor] = None) -> Tensor:
        pos_loss = -torch.log(self.decoder(z, pos_edge_index, sigmoid=True) + EPS).mean()
        if neg_edge_index is None:
            from gnnx.utils import negative_sampling

            neg_edge_index = negative_sampling(pos_edge_index, z.size(0))
        neg_loss = -torch.log(1 - self.decoder(z, neg_edge_index, sigmoid=True) + EPS).mean()
        return pos_loss + neg_loss

    def test(self, z: Tensor, pos_edge_index: Tensor, neg_edge_index: Tensor) -> Tuple[float, float]:
        """``(ROC AUC, average precision)`` of positive against negative pairs."""
        y = torch.cat([z.new_ones(pos_edge_index.size(1)), z.new_zeros(neg_edge_index.size(1))])
        pred = torch.cat([self.decoder(z, pos_edge_index, sigmoid=True), self.decoder(z, neg_edge_index, sigmoid=True)])
        y, pred = y.detach().cpu(), pred.detach().cpu()
        return roc_auc_score(y, pred), average_precision_score(y, pred)


class VGAE(GAE):
    """A variational GAE: the encoder returns ``(mu, logstd)``; ``encode`` samples
    :math:`\\mathbf{z} = \\mu + \\epsilon\\,e^{\\log\\sigma}` in training (``mu`` in eval) and
    keeps both for ``kl_loss``, as PyG's."""

    def reparametrize(self, mu: Tensor, logstd: Tensor) -> Tensor:
        return mu + torch.randn_like(logstd) * torch.exp(logstd) if self.training else mu

    def encode(self, *args, **kwargs) -> Tensor:
        self.__mu__, self.__logstd__ = self.encoder(*args, **kwargs)
        self.__logstd__ = self.__logstd__.clamp(max=MAX_LOGSTD)
        return self.reparametrize(self.__mu__, self.__logstd__)

    def kl_loss(self, mu: Optional[Tensor] = None, logstd: Optional[Tensor] = None) -> Tensor:
        mu = self.__mu__ if mu is None else mu
        logstd = self.__logstd__ if logstd is None else logstd.clamp(max=MAX_LOGSTD)
        return -0.5 * torch.mean(torch.sum(1 + 2 * logstd - mu ** 2 - logstd.exp() ** 2, dim=1))


class ARGA(GAE):
    r"""The adversarially regularised graph auto-encoder of "Adversarially Regularized Graph
    Autoencoder for Graph Embedding": a :class:`GAE` whose embeddings a ``discriminator``
    (embeddings to one logit each) learns to tell from Gaussian samples, while the encoder
    learns to fool it:

    .. math::
        \mathcal{L}_{\text{reg}} = -\overline{\log \sigma(D(\mathbf{z}))}, \qquad
        \mathcal{L}_{D} = -\overline{\log \sigma(D(\boldsymbol{\epsilon}))}
        - \overline{\log\big(1 - \sigma(D(\mathbf{z}))\big)},\ \boldsymbol{\epsilon} \sim \mathcal{N}(0, I)

    (:math:`\mathbf{z}` detached in :math:`\mathcal{L}_D`). PyG's arguments, keys and draws."""

    def __init__(self, encoder: torch.nn.Module, discriminator: torch.nn.Module,
                 decoder: Optional[torch.nn.Module] = None) -> None:
        super().__init__(encoder, decoder)
        self.discriminator = discriminator
        reset(self.discriminator)

    def reset_parameters(self) -> None:
        super().reset_parameters()
        reset(self.discriminator)

    def reg_loss(self, z: Tensor) -> Tensor:
        """The encoder's adversarial loss: its embeddings judged real."""
        return -torch.log(torch.sigmoid(self.discriminator(z)) + EPS).mean()

    def discriminator_loss(self, z: Tensor) -> Tensor:
        """The discriminator's loss: Gaussian samples real, the (detached) embeddings fake."""
        real = torch.sigmoid(self.discriminator(torch.randn_like(z)))
        fake = torch.sigmoid(self.discriminator(z.detach()))
        return -torch.log(real + EPS).mean() - torch.log(1 - fake + EPS).mean()


class ARGVA(ARGA):
    """The variational :class:`ARGA`: the encoder returns ``(mu, logstd)`` and ``encode``,
    ``reparametrize`` and ``kl_loss`` are a :class:`VGAE`'s (held as ``VGAE``, sharing the
    encoder and decoder, so the state dict has PyG's keys)."""

    def __init__(self, encoder: torch.nn.Module, discriminator: torch.nn.Module,
                 decoder: Optional[torch.nn.Module] = None) -> None:
        super().__init__(encoder, discriminator, decoder)
        self.VGAE = VGAE(encoder, decoder)

    @property
    def __mu__(self) -> Tensor:
        return self.VGAE.__mu__

    @property
    def __logstd__(self) -> Tensor:
        return self.VGAE.__logstd__

    def reparametrize(self, mu: Tensor, logstd: Tensor) -> Tensor:
        return self.VGAE.reparametrize(mu, logstd)

    def encode(self, *args, **kwargs) -> Tensor:
        return self.VGAE.encode(*args, **kwargs)

    def kl_loss(self, mu: Optional[Tensor] = None, logstd: Optional[Tensor] = None) -> Tensor:
        return self.VGAE.kl_loss(mu, logstd)
