r"""Geodesic distances on a triangle mesh (PyG's ``geodesic_distance``; the exact algorithm
of Mitchell, Mount and Papadimitriou through the ``gdist`` package, ``pip install gdist``).

With ``norm`` the distances are divided by :math:`\sqrt{A}`, :math:`A` the mesh's surface
area, so meshes of different scales compare.
"""
from __future__ import annotations

import multiprocessing
from typing import Optional

import numpy as np
import torch
from torch import Tensor

from gnnx._optional import require


def geodesic_distance(pos: Tensor, face: Tensor, src: Optional[Tensor] = None, dst: Optional[Tensor] = None,
                      norm: bool = True, max_distance: Optional[float] = None, num_workers: int = 0,
                      **kwargs: Optional[Tensor]) -> Tensor:
    """Geodesic distances over the mesh ``pos [V, 3]``, ``face [3, F]``: ``[V, V]`` between all
    vertices (zero beyond ``max_distance``, from gdist's sparse matrix) when neither ``src`` nor
    ``dst`` is given; ``[S, V]`` from each source vertex; ``[S]`` from ``src[i]`` to ``dst[i]``
    when both are. ``num_workers`` processes share the sources (``-1``: one per CPU).
    ``dest`` is PyG's older name of ``dst``."""
    gdist = require("gdist", "geodesic_distance")
    if "dest" in kwargs:
        import warnings

        warnings.warn("'dest' attribute in 'geodesic_distance' is deprecated and will be removed in a future "
                      "release. Use the 'dst' argument instead.", stacklevel=2)
        dst = kwargs["dest"]
    if face.dim() != 2 or face.size(0) != 3:
        raise ValueError(f"geodesic_distance needs face of shape [3, num_faces], got {list(face.shape)}")
    if src is not None and dst is not None and src.numel() != dst.numel():
        raise ValueError(f"geodesic_distance: src and dst pair up, got {src.numel()} and {dst.numel()} vertices")
    scale = _surface_scale(pos, face) if norm else 1.0
    limit = (float("inf") if max_distance is None else max_distance) * scale
    vertices = pos.detach().cpu().double().numpy()
    triangles = face.detach().t().cpu().int().numpy()
    if src is None and dst is None:
        return torch.from_numpy(gdist.local_gdist_matrix(vertices, triangles, limit).toarray() / scale).to(pos.dtype)
    sources = (torch.arange(pos.size(0)) if src is None else src.detach().cpu()).int().numpy()
    targets = None if dst is None else dst.detach().cpu().int().numpy()
    jobs = [(vertices, triangles, sources[i:i + 1], None if targets is None else targets[i:i + 1], limit)
            for i in range(len(sources))]
    workers = multiprocessing.cpu_count() if num_workers <= -1 else num_workers
    if workers > 0:
        with multiprocessing.Pool(workers) as pool:
            rows = pool.starmap(gdist.compute_gdist, jobs)
    else:
        rows = [gdist.compute_gdist(*job) for job in jobs]
    out = torch.from_numpy(np.concatenate(rows) / scale).to(pos.dtype) if rows else pos.new_empty(0)
    return out if dst is not None else out.view(-1, pos.size(0))


def _surface_scale(pos: Tensor, face: Tensor) -> float:
    """The square root of the mesh's surface area."""
    edges = pos[face[1]] - pos[face[0]], pos[face[2]] - pos[face[0]]
    return float((torch.linalg.cross(*edges, dim=1).norm(dim=1) / 2).sum().sqrt())
