r"""Random walks over a source-sorted CSR, uniform or node2vec's biased second-order walks
(`"node2vec" <https://arxiv.org/abs/1607.00653>`_), in plain torch on any device: every walk
steps at once, one step a few tensor ops.

From node :math:`v`, having come from :math:`t`, the walk moves to a neighbour :math:`x`
with probability proportional to :math:`1/p` if :math:`x = t`, 1 if :math:`x` neighbours
:math:`t`, :math:`1/q` otherwise (uniform when ``p = q = 1``). Biased steps use rejection
sampling, as ``pyg-lib`` does: a uniform neighbour is kept with probability
:math:`\pi(x) / \max(1/p, 1, 1/q)`, and rejected walks draw again; a node without
neighbours keeps the walk where it is (``torch-cluster``'s and ``pyg-lib``'s rule).
"""
from __future__ import annotations

import torch
from torch import Tensor

MAX_REJECTION_ROUNDS = 1000  # a round keeps each walk with probability >= min(1/p, 1, 1/q) / max(...)


def random_walk(rowptr: Tensor, col: Tensor, start: Tensor, walk_length: int, p: float = 1.0, q: float = 1.0,
                generator: torch.Generator = None) -> Tensor:
    """Walks of ``walk_length`` steps from each node of ``start``: ``[len(start), walk_length + 1]``
    node indices, the start first. ``rowptr``/``col``: the graph's CSR by source, with each
    node's neighbours sorted (needed for ``p, q != 1``)."""
    if p <= 0 or q <= 0:
        raise ValueError(f"random_walk: p and q must be positive, got p={p}, q={q}")
    degree = rowptr[1:] - rowptr[:-1]
    walk = [start]
    previous, current = None, start
    biased = p != 1.0 or q != 1.0
    if biased:
        num_nodes = rowptr.numel() - 1
        source = torch.repeat_interleave(torch.arange(num_nodes, device=col.device), degree)
        edge_keys = source * num_nodes + col  # sorted: the CSR is by source, neighbours sorted
        top = max(1.0 / p, 1.0, 1.0 / q)
    for _ in range(walk_length):
        nxt = _uniform_step(rowptr, col, degree, current, generator)
        if biased and previous is not None:
            pending = torch.ones_like(current, dtype=torch.bool)
            for _ in range(MAX_REJECTION_ROUNDS):
                weight = torch.where(nxt == previous, 1.0 / p, torch.where(
                    _are_edges(edge_keys, previous * num_nodes + nxt), 1.0, 1.0 / q))
                keep = torch.rand(current.shape, device=col.device, generator=generator) * top < weight
                pending = pending & ~(keep | (degree[current] == 0))
                if not bool(pending.any()):
                    break
                nxt = torch.where(pending, _uniform_step(rowptr, col, degree, current, generator), nxt)
        previous, current = current, nxt
        walk.append(current)
    return torch.stack(walk, 1)


def _uniform_step(rowptr: Tensor, col: Tensor, degree: Tensor, current: Tensor, generator) -> Tensor:
    count = degree[current]
    offset = (torch.rand(current.shape, device=col.device, generator=generator) * count).long()
    offset = torch.minimum(offset, (count - 1).clamp(min=0))
    chosen = col[(rowptr[current] + offset).clamp(max=max(col.numel() - 1, 0))] if col.numel() else current
    return torch.where(count > 0, chosen, current)


def _are_edges(edge_keys: Tensor, keys: Tensor) -> Tensor:
    if edge_keys.numel() == 0:
        return torch.zeros_like(keys, dtype=torch.bool)
    position = torch.searchsorted(edge_keys, keys).clamp(max=edge_keys.numel() - 1)
    return edge_keys[position] == keys
