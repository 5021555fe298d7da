r"""Graph construction from point sets: k nearest neighbours and radius neighbourhoods.

Plain torch, batch-aware (points connect only within their own graph, given ``batch``),
with static output shapes so the ops export with a dynamic number of points:

* :func:`knn_graph` gives exactly ``N * k`` edges. A point whose graph has too few other
  points gets self loops in the missing slots (documented, so ``N * k`` stays static).
* :func:`radius_graph` gives ``N * max_num_neighbors`` candidate edges and a mask of the
  ones within ``r``; the masked-out slots are self loops. With ``static=False`` it returns
  only the valid edges (a data-dependent shape, as PyG/torch_cluster do).

Distances come from one matrix product, ``|a|^2 + |b|^2 - 2 a.b`` (``torch.cdist`` adds
a size guard under export). This builds an ``N x N`` matrix: fine for the CPU reference
and moderate ``N``; a tiled GPU kernel that avoids it is future work.
Edges follow PyG's ``flow="source_to_target"``: ``edge_index[0]`` are the neighbours,
``edge_index[1]`` the centre points.
"""
from __future__ import annotations

from typing import Optional, Tuple, Union

import torch
from torch import Tensor


def _sq_distances(x: Tensor, batch: Optional[Tensor], loop: bool) -> Tensor:
    sq = (x * x).sum(-1)
    dist = (sq.unsqueeze(1) + sq.unsqueeze(0) - 2.0 * x @ x.t()).clamp(min=0.0)
    if batch is not None:
        dist = dist.masked_fill(batch.unsqueeze(1) != batch.unsqueeze(0), float("inf"))
    if not loop:
        eye = torch.eye(x.size(0), dtype=torch.bool, device=x.device)
        dist = dist.masked_fill(eye, float("inf"))
    return dist


def _check(x: Tensor, batch: Optional[Tensor]) -> None:
    if x.dim() != 2:
        raise ValueError(f"points must have shape [N, D], got {list(x.shape)}")
    if batch is not None and (batch.dim() != 1 or batch.size(0) != x.size(0)):
        raise ValueError(f"batch must have one entry per point ({x.size(0)}), got shape {list(batch.shape)}")


def knn_graph(x: Tensor, k: int, batch: Optional[Tensor] = None, loop: bool = False,
              flow: str = "source_to_target") -> Tensor:
    """Edges from each point's ``k`` nearest neighbours (same graph only): ``[2, N * k]``."""
    _check(x, batch)
    dist = _sq_distances(x, batch, loop)
    values, nbr = dist.topk(k, dim=1, largest=False)
    centre = torch.arange(x.size(0), device=x.device).unsqueeze(1).expand(-1, k)
    nbr = torch.where(torch.isinf(values), centre, nbr)  # too few points in the graph: self loop
    edge_index = torch.stack([nbr.reshape(-1), centre.reshape(-1)])
    return edge_index if flow == "source_to_target" else edge_index.flip(0)


def radius_graph(x: Tensor, r: float, batch: Optional[Tensor] = None, loop: bool = False,
                 max_num_neighbors: int = 32, flow: str = "source_to_target",
                 static: bool = True) -> Union[Tensor, Tuple[Tensor, Tensor]]:
    """Edges to each point from up to ``max_num_neighbors`` points within distance ``r``
    (nearest first). ``static=True``: ``(edge_index [2, N * max_num_neighbors], mask)``;
    ``static=False``: only the valid edges."""
    _check(x, batch)
    k = min(max_num_neighbors, x.size(0))
    dist = _sq_distances(x, batch, loop)
    values, nbr = dist.topk(k, dim=1, largest=False)
    centre = torch.arange(x.size(0), device=x.device).unsqueeze(1).expand(-1, k)
    valid = values <= r * r
    nbr = torch.where(valid, nbr, centre)
    edge_index = torch.stack([nbr.reshape(-1), centre.reshape(-1)])
    if flow != "source_to_target":
        edge_index = edge_index.flip(0)
    mask = valid.reshape(-1)
    if static:
        return edge_index, mask
    return edge_index[:, mask]
