r"""Exact :math:`k`-nearest-neighbour search over a stored set of embeddings: PyG's
``KNNIndex`` API (``torch_geometric.nn.pool``) without faiss.

An index holds the points :math:`\mathbf{E} \in \mathbb{R}^{N \times F}` given to :meth:`add`;
:meth:`~KNNIndex.search` returns, for each query :math:`\mathbf{q}`, the :math:`k` best points
and their scores, best first:

.. math::
    \text{L2:}\ \ s(\mathbf{q}, \mathbf{e}) = \lVert \mathbf{q} - \mathbf{e} \rVert_2^2
    \ \text{(smallest first)}, \qquad
    \text{MIPS:}\ \ s(\mathbf{q}, \mathbf{e}) = \mathbf{q}^\top \mathbf{e}
    \ \text{(largest first)},

as faiss' ``IndexFlatL2`` and ``IndexFlatIP`` give them. Scores come from one matrix product
per block of queries (on the points' device, CPU or GPU), so memory stays at a block of
``[queries, N]`` scores. ``exclude_links`` (``[2, L]``: query, point) removes pairs (a user's
known interactions in recommendation) before the top :math:`k` is taken, so every query gets
its :math:`k` best remaining points; PyG asks faiss for :math:`k` plus the largest exclusion
count and caps that at 2,048, gnnx has no cap. Rows with fewer than :math:`k` remaining
points are padded as PyG pads them (score ``-inf``, index ``-1``).

The approximate classes (``ApproxL2KNNIndex``, ``ApproxMIPSKNNIndex``: faiss' IVF-PQ) take
PyG's arguments and search exactly: they give what an ideal approximate index would, with no
training step and no minimum number of points.
"""
from __future__ import annotations

from typing import NamedTuple, Optional

import torch
from torch import Tensor

BLOCK_SCORES = 1 << 24  # scores held at once per search block (64 MiB in fp32)


class KNNOutput(NamedTuple):
    score: Tensor
    index: Tensor


class KNNIndex:
    r"""Exact :math:`k`-NN search under the :math:`L_2` metric (PyG's base class, whose
    ``index_factory`` names a faiss index; every faiss factory index approximates or equals
    this search).

    Args:
        index_factory: kept for PyG's signature (``None`` or a faiss factory string).
        emb: points to add (``[N, F]``).
        reserve: kept for PyG's signature (faiss' GPU pre-allocation).
    """

    largest = False  # whether a larger score is better (inner products) or a smaller one (distances)

    def __init__(self, index_factory: Optional[str] = None, emb: Optional[Tensor] = None,
                 reserve: Optional[int] = None) -> None:
        self.index_factory = index_factory
        self.reserve = reserve
        self._emb: Optional[Tensor] = None
        if emb is not None:
            self.add(emb)

    @property
    def numel(self) -> int:
        """The number of points to search in."""
        return 0 if self._emb is None else self._emb.size(0)

    def add(self, emb: Tensor) -> None:
        """Add points (``[N, F]``, the same width and device as the points added before)."""
        _check_points("emb", emb)
        emb = emb.detach()
        if self._emb is None:
            self._emb = emb.clone()
            return
        if emb.size(1) != self._emb.size(1) or emb.device != self._emb.device:
            raise ValueError(f"{type(self).__name__}.add: the index holds {self._emb.size(1)}-wide points on "
                             f"{self._emb.device}, got emb of shape {list(emb.shape)} on {emb.device}")
        self._emb = torch.cat([self._emb, emb.to(self._emb.dtype)])

    def search(self, emb: Tensor, k: int, exclude_links: Optional[Tensor] = None) -> KNNOutput:
        """The ``k`` best points for each query of ``emb`` (``[M, F]``): ``(score, index)``, each
        ``[M, min(k, numel)]`` (``[M, k]`` with ``exclude_links``, padded as PyG pads)."""
        points = self._points()
        _check_points("emb", emb)
        if emb.size(1) != points.size(1) or emb.device != points.device:
            raise ValueError(f"{type(self).__name__}.search: the index holds {points.size(1)}-wide points on "
                             f"{points.device}, got emb of shape {list(emb.shape)} on {emb.device}")
        if k < 1:
            raise ValueError(f"{type(self).__name__}.search: k must be at least 1, got {k}")
        exclude = None if exclude_links is None else _check_links(exclude_links, emb.size(0), self.numel)
        queries = emb.detach().to(points.dtype)
        width = min(k, self.numel)
        block = max(1, BLOCK_SCORES // max(self.numel, 1))
        scores, indices = [], []
        for start in range(0, queries.size(0), block):
            score = self._scores(queries[start:start + block], points)
            if exclude is not None:
                rows = (exclude[0] >= start) & (exclude[0] < start + score.size(0))
                score[exclude[0][rows] - start, exclude[1][rows]] = float("-inf") if self.largest else float("inf")
            best, index = score.topk(width, dim=1, largest=self.largest)
            scores.append(best)
            indices.append(index)
        score = torch.cat(scores) if scores else points.new_empty((0, width))
        index = torch.cat(indices) if indices else torch.empty((0, width), dtype=torch.long, device=points.device)
        if exclude is None:
            return KNNOutput(score, index)
        # excluded pairs (and pads past the points) become PyG's fill: score -inf, index -1
        removed = torch.isinf(score) & ((score > 0) != self.largest)
        score, index = score.masked_fill(removed, float("-inf")), index.masked_fill(removed, -1)
        if width < k:
            score = torch.cat([score, score.new_full((score.size(0), k - width), float("-inf"))], dim=1)
            index = torch.cat([index, index.new_full((index.size(0), k - width), -1)], dim=1)
        return KNNOutput(score, index)

    def get_emb(self) -> Tensor:
        """A copy of the points held, in the order added."""
        return self._points().clone()

    def _points(self) -> Tensor:
        if self._emb is None:
            raise RuntimeError(f"'{type(self).__name__}' is not yet initialized. Please call `add(...)` first.")
        return self._emb

    def _scores(self, queries: Tensor, points: Tensor) -> Tensor:
        """Squared distances ``[queries, points]`` (``|q|^2 - 2 q.e + |e|^2``, faiss' form)."""
        return (queries.square().sum(1, keepdim=True) - 2 * queries @ points.t()
                + points.square().sum(1)).clamp_min_(0)


class L2KNNIndex(KNNIndex):
    r"""Exact :math:`k`-NN search under the :math:`L_2` metric (squared distances, smallest
    first), as faiss' ``IndexFlatL2`` in PyG's class.

    Args:
        emb: points to add (``[N, F]``).
    """

    def __init__(self, emb: Optional[Tensor] = None) -> None:
        super().__init__(index_factory=None, emb=emb)


class MIPSKNNIndex(KNNIndex):
    r"""Exact maximum-inner-product search (scores :math:`\mathbf{q}^\top \mathbf{e}`, largest
    first), as faiss' ``IndexFlatIP`` in PyG's class.

    Args:
        emb: points to add (``[N, F]``).
    """

    largest = True

    def __init__(self, emb: Optional[Tensor] = None) -> None:
        super().__init__(index_factory=None, emb=emb)

    def _scores(self, queries: Tensor, points: Tensor) -> Tensor:
        return queries @ points.t()


class _IVFPQArguments:
    """PyG's IVF-PQ index arguments, kept; the search stays exact (module docstring).

    Args:
        num_cells, num_cells_to_visit, bits_per_vector: faiss' IVF-PQ settings.
        emb: points to add (``[N, F]``).
        reserve: kept for PyG's signature.
    """

    def __init__(self, num_cells: int, num_cells_to_visit: int, bits_per_vector: int,
                 emb: Optional[Tensor] = None, reserve: Optional[int] = None) -> None:
        self.num_cells, self.num_cells_to_visit, self.bits_per_vector = num_cells, num_cells_to_visit, bits_per_vector
        KNNIndex.__init__(self, index_factory=None, emb=emb, reserve=reserve)


class ApproxL2KNNIndex(_IVFPQArguments, L2KNNIndex):
    """PyG's IVF-PQ :math:`L_2` index, searched exactly (:class:`L2KNNIndex`)."""


class ApproxMIPSKNNIndex(_IVFPQArguments, MIPSKNNIndex):
    """PyG's IVF-PQ inner-product index, searched exactly (:class:`MIPSKNNIndex`)."""


def _check_points(name: str, emb: Tensor) -> None:
    if not isinstance(emb, Tensor) or emb.dim() != 2:
        shape = f"{emb.dim()} dimensions" if isinstance(emb, Tensor) else type(emb).__name__
        raise ValueError(f"'{name}' needs to be two-dimensional (got {shape})")
    if not emb.is_floating_point():
        raise ValueError(f"'{name}' needs floating-point points, got {emb.dtype}")
    if not bool(torch.isfinite(emb).all()):
        raise ValueError(f"'{name}' holds NaN or infinite values")


def _check_links(links: Tensor, num_queries: int, num_points: int) -> Tensor:
    if not isinstance(links, Tensor) or links.dim() != 2 or links.size(0) != 2 or links.is_floating_point():
        raise ValueError(f"exclude_links must be an integer tensor of shape [2, num_links], got "
                         f"{list(links.shape) if isinstance(links, Tensor) else type(links).__name__}")
    links = links.long()
    if links.numel() and (bool((links < 0).any()) or int(links[0].max()) >= num_queries
                          or int(links[1].max()) >= num_points):
        raise ValueError(f"exclude_links holds pairs outside {num_queries} queries x {num_points} points")
    return links
