r"""Knowledge-graph embeddings (PyG's ``torch_geometric.nn.kge``): a score
:math:`f(h, r, t)` for each triple (head entity, relation, tail entity) from learned entity and
relation embeddings, trained against triples whose head or tail is replaced at random.

:class:`KGEModel` holds the embeddings (``node_emb``, ``rel_emb``: PyG's names), the negative
sampling, a triple loader and the link-prediction evaluation; :class:`TransE`,
:class:`DistMult`, :class:`ComplEx` and :class:`RotatE` are its scores and losses, PyG's to
the bit for the same seed. Scoring is elementwise work on gathered rows, so a model compiles
with a dynamic number of triples and exports.

Where gnnx differs: :meth:`KGEModel.test` ranks a block of test triples against every tail
at once (PyG: one triple at a time, each with an ``argsort`` and a host read), scoring them
with one matrix product (DistMult, ComplEx) or one distance matrix (TransE, RotatE) over the
entity embeddings (:meth:`KGEModel.score_tails`) instead of one score per pair; a rank counts
the tails scoring strictly higher than the true one. The ranks are PyG's unless two tails'
scores lie within rounding of each other (the products sum in another order) or tie exactly.
"""
from __future__ import annotations

import math
from typing import List, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from gnnx.ops.dispatch import check_index_range


class KGTripletLoader(torch.utils.data.DataLoader):
    """Mini-batches of triples ``(head_index, rel_type, tail_index)``; keyword arguments go to
    :class:`torch.utils.data.DataLoader` (``batch_size``, ``shuffle``, ...)."""

    def __init__(self, head_index: Tensor, rel_type: Tensor, tail_index: Tensor, **kwargs) -> None:
        if not head_index.numel() == rel_type.numel() == tail_index.numel():
            raise ValueError(f"KGTripletLoader: head_index, rel_type and tail_index must hold one entry per triple, "
                             f"got {head_index.numel()}, {rel_type.numel()} and {tail_index.numel()}")
        self.head_index, self.rel_type, self.tail_index = head_index, rel_type, tail_index
        super().__init__(range(head_index.numel()), collate_fn=self.sample, **kwargs)

    def sample(self, index: List[int]) -> Tuple[Tensor, Tensor, Tensor]:
        index = torch.tensor(index, device=self.head_index.device)
        return self.head_index[index], self.rel_type[index], self.tail_index[index]


class KGEModel(torch.nn.Module):
    """Base of the knowledge-graph embedding models: ``num_nodes`` entity and ``num_relations``
    relation embeddings of ``hidden_channels`` (``sparse``: sparse embedding gradients).
    Subclasses define :meth:`forward` (the score, higher for likelier triples) and :meth:`loss`."""

    def __init__(self, num_nodes: int, num_relations: int, hidden_channels: int, sparse: bool = False) -> None:
        super().__init__()
        self.num_nodes, self.num_relations, self.hidden_channels = num_nodes, num_relations, hidden_channels
        self.node_emb = torch.nn.Embedding(num_nodes, hidden_channels, sparse=sparse)
        self.rel_emb = torch.nn.Embedding(num_relations, hidden_channels, sparse=sparse)

    def reset_parameters(self) -> None:
        self.node_emb.reset_parameters()
        self.rel_emb.reset_parameters()

    def forward(self, head_index: Tensor, rel_type: Tensor, tail_index: Tensor) -> Tensor:
        """The score of each triple, ``[T]``."""
        raise NotImplementedError

    def loss(self, head_index: Tensor, rel_type: Tensor, tail_index: Tensor) -> Tensor:
        """The training loss of the triples against randomly corrupted ones."""
        raise NotImplementedError

    def check_triples(self, head_index: Tensor, rel_type: Tensor, tail_index: Tensor) -> None:
        """Eager CPU calls: an error naming an entity or relation index out of range (CUDA and
        traced calls are not read back)."""
        name = type(self).__name__
        check_index_range(head_index, self.num_nodes, f"{name}: head_index", "{count} entities")
        check_index_range(tail_index, self.num_nodes, f"{name}: tail_index", "{count} entities")
        check_index_range(rel_type, self.num_relations, f"{name}: rel_type", "{count} relations")

    def loader(self, head_index: Tensor, rel_type: Tensor, tail_index: Tensor, **kwargs) -> KGTripletLoader:
        """A :class:`KGTripletLoader` over the triples."""
        return KGTripletLoader(head_index, rel_type, tail_index, **kwargs)

    @torch.no_grad()
    def random_sample(self, head_index: Tensor, rel_type: Tensor, tail_index: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        """Negative triples: the first half get a random head, the rest a random tail (PyG's
        draw: one ``randint`` over all entities)."""
        num_negatives = head_index.numel() // 2
        random_index = torch.randint(self.num_nodes, head_index.size(), device=head_index.device)
        head_index, tail_index = head_index.clone(), tail_index.clone()
        head_index[:num_negatives] = random_index[:num_negatives]
        tail_index[num_negatives:] = random_index[num_negatives:]
        return head_index, rel_type, tail_index

    def score_tails(self, head_index: Tensor, rel_type: Tensor, tails: Tensor) -> Tensor:
        """``[B, C]``: the score of each triple ``(head_index[b], rel_type[b], tails[c])``. This
        calls :meth:`forward` on every pair; the models here override it with one product or
        one distance matrix over the entity embeddings."""
        count = tails.numel()
        return self(head_index[:, None].expand(-1, count).reshape(-1), rel_type[:, None].expand(-1, count).reshape(-1),
                    tails.repeat(head_index.numel())).view(head_index.numel(), count)

    @torch.no_grad()
    def tail_ranks(self, head_index: Tensor, rel_type: Tensor, tail_index: Tensor, batch_size: int,
                   log: bool = False) -> Tensor:
        """For each triple, how many entities score higher as its tail than the true one
        (``[T]``, 0 is best). Blocks of triples are scored against every entity with
        :meth:`score_tails`: ``batch_size`` (triple, entity) pairs per call where it goes pair
        by pair (PyG's meaning), blocks of about ``batch_size * hidden_channels`` scores where
        a model scores all tails at once (the memory of PyG's per-call gathers)."""
        if batch_size < 1:
            raise ValueError(f"tail_ranks: batch_size must be positive, got {batch_size}")
        pairwise = type(self).score_tails is KGEModel.score_tails
        budget = batch_size if pairwise else batch_size * self.hidden_channels
        rows = max(1, budget // self.num_nodes)
        columns = max(1, budget // rows)
        self.check_triples(head_index, rel_type, tail_index)
        entities = torch.arange(self.num_nodes, device=head_index.device)
        starts = range(0, head_index.numel(), rows)
        ranks = []
        for start in _progress(starts, log, head_index.numel(), rows):
            h, r, t = (v[start:start + rows] for v in (head_index, rel_type, tail_index))
            scores = torch.cat([self.score_tails(h, r, c) for c in entities.split(columns)], dim=1)
            ranks.append((scores > scores.gather(1, t[:, None])).sum(1))
        return torch.cat(ranks) if ranks else head_index.new_zeros(0)

    @torch.no_grad()
    def test(self, head_index: Tensor, rel_type: Tensor, tail_index: Tensor, batch_size: int, k: int = 10,
             log: bool = True) -> Tuple[float, float, float]:
        """Link prediction over all tails: ``(mean rank, MRR, Hits@k)`` with ranks from
        :meth:`tail_ranks` (``log``: a progress bar, where tqdm is installed)."""
        ranks = self.tail_ranks(head_index, rel_type, tail_index, batch_size, log)
        return (float(ranks.float().mean()), float((1.0 / (ranks.double() + 1)).float().mean()),
                float((ranks < k).sum()) / max(ranks.numel(), 1))

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.num_nodes}, num_relations={self.num_relations}, "
                f"hidden_channels={self.hidden_channels})")


def _progress(starts: range, log: bool, total: int, step: int):
    """``starts``, behind a tqdm bar counting triples where asked for and installed."""
    if not log:
        return starts
    try:
        from tqdm import tqdm
    except ImportError:
        return starts
    bar = tqdm(total=total)

    def steps():
        for start in starts:
            yield start
            bar.update(min(step, total - start))
        bar.close()
    return steps()


def _true_and_corrupted_scores(model: KGEModel, head_index: Tensor, rel_type: Tensor,
                               tail_index: Tensor) -> Tuple[Tensor, Tensor]:
    return model(head_index, rel_type, tail_index), model(*model.random_sample(head_index, rel_type, tail_index))


def _margin_loss(model: KGEModel, head_index: Tensor, rel_type: Tensor, tail_index: Tensor,
                 margin: float) -> Tensor:
    positive, negative = _true_and_corrupted_scores(model, head_index, rel_type, tail_index)
    return F.margin_ranking_loss(positive, negative, target=torch.ones_like(positive), margin=margin)


def _logistic_loss(model: KGEModel, head_index: Tensor, rel_type: Tensor, tail_index: Tensor) -> Tensor:
    positive, negative = _true_and_corrupted_scores(model, head_index, rel_type, tail_index)
    target = torch.cat([torch.ones_like(positive), torch.zeros_like(negative)])
    return F.binary_cross_entropy_with_logits(torch.cat([positive, negative]), target)


class TransE(KGEModel):
    r"""TransE ("Translating Embeddings for Modeling Multi-Relational Data"): a relation
    translates its head onto its tail,

    .. math::
        f(h, r, t) = -\big\| \bar{\mathbf{e}}_h + \mathbf{r}_r - \bar{\mathbf{e}}_t \big\|_p,

    with :math:`\bar{\mathbf{e}}` the entity embeddings normalised in the :math:`p`-norm
    (``p_norm``); trained with a margin ranking loss (``margin``) against corrupted triples."""

    def __init__(self, num_nodes: int, num_relations: int, hidden_channels: int, margin: float = 1.0,
                 p_norm: float = 1.0, sparse: bool = False) -> None:
        super().__init__(num_nodes, num_relations, hidden_channels, sparse)
        self.p_norm, self.margin = p_norm, margin
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 6.0 / math.sqrt(self.hidden_channels)
        torch.nn.init.uniform_(self.node_emb.weight, -bound, bound)
        torch.nn.init.uniform_(self.rel_emb.weight, -bound, bound)
        with torch.no_grad():
            self.rel_emb.weight.copy_(F.normalize(self.rel_emb.weight, p=self.p_norm, dim=-1))

    def _translated_head(self, head_index: Tensor, rel_type: Tensor) -> Tensor:
        return F.normalize(self.node_emb(head_index), p=self.p_norm, dim=-1) + self.rel_emb(rel_type)

    def _tail(self, tail_index: Tensor) -> Tensor:
        return F.normalize(self.node_emb(tail_index), p=self.p_norm, dim=-1)

    def forward(self, head_index: Tensor, rel_type: Tensor, tail_index: Tensor) -> Tensor:
        self.check_triples(head_index, rel_type, tail_index)
        return -(self._translated_head(head_index, rel_type) - self._tail(tail_index)).norm(p=self.p_norm, dim=-1)

    def score_tails(self, head_index: Tensor, rel_type: Tensor, tails: Tensor) -> Tensor:
        return -torch.cdist(self._translated_head(head_index, rel_type), self._tail(tails), p=self.p_norm,
                            compute_mode="donot_use_mm_for_euclid_dist")

    def loss(self, head_index: Tensor, rel_type: Tensor, tail_index: Tensor) -> Tensor:
        return _margin_loss(self, head_index, rel_type, tail_index, self.margin)


class DistMult(KGEModel):
    r"""DistMult ("Embedding Entities and Relations for Learning and Inference in Knowledge
    Bases"): a diagonal bilinear score,

    .. math::
        f(h, r, t) = \langle \mathbf{e}_h, \mathbf{r}_r, \mathbf{e}_t \rangle
        = \textstyle\sum_k e_{h,k}\, r_{r,k}\, e_{t,k},

    trained with a margin ranking loss (``margin``) against corrupted triples."""

    def __init__(self, num_nodes: int, num_relations: int, hidden_channels: int, margin: float = 1.0,
                 sparse: bool = False) -> None:
        super().__init__(num_nodes, num_relations, hidden_channels, sparse)
        self.margin = margin
        self.reset_parameters()

    def reset_parameters(self) -> None:
        torch.nn.init.xavier_uniform_(self.node_emb.weight)
        torch.nn.init.xavier_uniform_(self.rel_emb.weight)

    def forward(self, head_index: Tensor, rel_type: Tensor, tail_index: Tensor) -> Tensor:
        self.check_triples(head_index, rel_type, tail_index)
        return (self.node_emb(head_index) * self.rel_emb(rel_type) * self.node_emb(tail_index)).sum(dim=-1)

    def loss(self, head_index: Tensor, rel_type: Tensor, tail_index: Tensor) -> Tensor:
        return _margin_loss(self, head_index, rel_type, tail_index, self.margin)

    def score_tails(self, head_index: Tensor, rel_type: Tensor, tails: Tensor) -> Tensor:
        return (self.node_emb(head_index) * self.rel_emb(rel_type)) @ self.node_emb(tails).t()


def _triple_dot(x: Tensor, y: Tensor, z: Tensor) -> Tensor:
    return (x * y * z).sum(dim=-1)


class ComplEx(KGEModel):
    r"""ComplEx ("Complex Embeddings for Simple Link Prediction"): complex entity and relation
    embeddings (real parts ``node_emb``/``rel_emb``, imaginary parts ``node_emb_im``/``rel_emb_im``),

    .. math::
        f(h, r, t) = \mathrm{Re}\,\langle \mathbf{e}_h, \mathbf{r}_r, \overline{\mathbf{e}_t} \rangle,

    trained with binary cross-entropy on the scores of true and corrupted triples."""

    def __init__(self, num_nodes: int, num_relations: int, hidden_channels: int, sparse: bool = False) -> None:
        super().__init__(num_nodes, num_relations, hidden_channels, sparse)
        self.node_emb_im = torch.nn.Embedding(num_nodes, hidden_channels, sparse=sparse)
        self.rel_emb_im = torch.nn.Embedding(num_relations, hidden_channels, sparse=sparse)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for embedding in (self.node_emb, self.node_emb_im, self.rel_emb, self.rel_emb_im):
            torch.nn.init.xavier_uniform_(embedding.weight)

    def forward(self, head_index: Tensor, rel_type: Tensor, tail_index: Tensor) -> Tensor:
        self.check_triples(head_index, rel_type, tail_index)
        head_re, head_im = self.node_emb(head_index), self.node_emb_im(head_index)
        rel_re, rel_im = self.rel_emb(rel_type), self.rel_emb_im(rel_type)
        tail_re, tail_im = self.node_emb(tail_index), self.node_emb_im(tail_index)
        return (_triple_dot(head_re, rel_re, tail_re) + _triple_dot(head_im, rel_re, tail_im)
                + _triple_dot(head_re, rel_im, tail_im) - _triple_dot(head_im, rel_im, tail_re))

    def score_tails(self, head_index: Tensor, rel_type: Tensor, tails: Tensor) -> Tensor:
        # Re<h, r, conj(t)> = (h_re r_re - h_im r_im) . t_re + (h_im r_re + h_re r_im) . t_im
        head_re, head_im = self.node_emb(head_index), self.node_emb_im(head_index)
        rel_re, rel_im = self.rel_emb(rel_type), self.rel_emb_im(rel_type)
        query = torch.cat([head_re * rel_re - head_im * rel_im, head_im * rel_re + head_re * rel_im], dim=-1)
        return query @ torch.cat([self.node_emb(tails), self.node_emb_im(tails)], dim=-1).t()

    def loss(self, head_index: Tensor, rel_type: Tensor, tail_index: Tensor) -> Tensor:
        return _logistic_loss(self, head_index, rel_type, tail_index)


class RotatE(KGEModel):
    r"""RotatE ("RotatE: Knowledge Graph Embedding by Relational Rotation in Complex Space"): a
    relation rotates its head in the complex plane (phases ``rel_emb``),

    .. math::
        f(h, r, t) = \gamma - \big\| \mathbf{e}_h \circ e^{i\boldsymbol{\theta}_r} - \mathbf{e}_t \big\|_2,

    with entity real and imaginary parts ``node_emb``/``node_emb_im`` and :math:`\gamma` the
    ``margin``; trained with binary cross-entropy on the scores of true and corrupted triples."""

    def __init__(self, num_nodes: int, num_relations: int, hidden_channels: int, margin: float = 1.0,
                 sparse: bool = False) -> None:
        super().__init__(num_nodes, num_relations, hidden_channels, sparse)
        self.margin = margin
        self.node_emb_im = torch.nn.Embedding(num_nodes, hidden_channels, sparse=sparse)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        torch.nn.init.xavier_uniform_(self.node_emb.weight)
        torch.nn.init.xavier_uniform_(self.node_emb_im.weight)
        torch.nn.init.uniform_(self.rel_emb.weight, 0, 2 * math.pi)

    def _rotated_head(self, head_index: Tensor, rel_type: Tensor) -> Tuple[Tensor, Tensor]:
        """The head rotated by the relation's phases: real and imaginary parts."""
        head_re, head_im = self.node_emb(head_index), self.node_emb_im(head_index)
        theta = self.rel_emb(rel_type)
        rel_re, rel_im = torch.cos(theta), torch.sin(theta)
        return rel_re * head_re - rel_im * head_im, rel_re * head_im + rel_im * head_re

    def forward(self, head_index: Tensor, rel_type: Tensor, tail_index: Tensor) -> Tensor:
        self.check_triples(head_index, rel_type, tail_index)
        rotated_re, rotated_im = self._rotated_head(head_index, rel_type)
        re_score = rotated_re - self.node_emb(tail_index)
        im_score = rotated_im - self.node_emb_im(tail_index)
        return self.margin - torch.linalg.vector_norm(torch.stack([re_score, im_score], dim=2), dim=(1, 2))

    def score_tails(self, head_index: Tensor, rel_type: Tensor, tails: Tensor) -> Tensor:
        rotated = torch.cat(self._rotated_head(head_index, rel_type), dim=-1)
        tail = torch.cat([self.node_emb(tails), self.node_emb_im(tails)], dim=-1)
        return self.margin - torch.cdist(rotated, tail, compute_mode="donot_use_mm_for_euclid_dist")

    def loss(self, head_index: Tensor, rel_type: Tensor, tail_index: Tensor) -> Tensor:
        return _logistic_loss(self, head_index, rel_type, tail_index)
