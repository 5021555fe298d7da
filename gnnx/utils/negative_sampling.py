"""Negative edges: node pairs that are not edges (PyG's ``negative_sampling``), and a
static-shape form for compiled training loops.

``negative_sampling`` returns distinct non-edges (no self loops unless the graph is
bipartite), as many as asked when the graph leaves room: its output size depends on the
data (rejection sampling with up to three rounds, as PyG's). ``negative_sampling_static``
always returns ``num_neg_samples`` pairs with a validity mask (a drawn pair that is an
edge or a self loop is marked invalid instead of being redrawn): no host sync, so it runs
inside ``torch.compile`` and CUDA graphs.
"""
from __future__ import annotations

from typing import Optional, Tuple, Union

import torch
from torch import Tensor

from gnnx.utils.functions import unique_first
from gnnx.utils.num_nodes import maybe_num_nodes

Size = Union[int, Tuple[int, int], None]


def _sizes(edge_index: Tensor, num_nodes: Size) -> Tuple[int, int, bool]:
    if isinstance(num_nodes, (tuple, list)):
        return int(num_nodes[0]), int(num_nodes[1]), True
    count = maybe_num_nodes(edge_index, num_nodes)
    return count, count, False


def _is_edge(keys_sorted: Tensor, candidates: Tensor) -> Tensor:
    if keys_sorted.numel() == 0:
        return torch.zeros_like(candidates, dtype=torch.bool)
    position = torch.searchsorted(keys_sorted, candidates).clamp(max=keys_sorted.numel() - 1)
    return keys_sorted[position] == candidates


def negative_sampling(edge_index: Tensor, num_nodes: Size = None, num_neg_samples: Union[int, float, None] = None,
                      method: str = "sparse", force_undirected: bool = False,
                      generator: Optional[torch.Generator] = None) -> Tensor:
    """Up to ``num_neg_samples`` (default: as many as edges; a float: that share of them)
    distinct pairs ``(i, j)`` that are not edges. ``(N_src, N_dst)`` sizes: bipartite.
    ``force_undirected``: pairs with ``i < j`` returned in both directions. ``method`` is
    accepted for PyG's signature (one algorithm serves both)."""
    if method not in ("sparse", "dense"):
        raise ValueError(f"method must be 'sparse' or 'dense', got {method!r}")
    num_src, num_dst, bipartite = _sizes(edge_index, num_nodes)
    force_undirected = force_undirected and not bipartite
    device = edge_index.device
    if force_undirected:  # pairs as (smaller, larger): an edge in either direction excludes both
        low, high = torch.minimum(edge_index[0], edge_index[1]), torch.maximum(edge_index[0], edge_index[1])
        keys = torch.unique(low * num_dst + high)
        existing = int((keys // num_dst < keys % num_dst).sum())
        population = num_src * (num_src - 1) // 2
    else:
        keys = torch.unique(edge_index[0] * num_dst + edge_index[1])
        loops = 0 if bipartite else int((keys // num_dst == keys % num_dst).sum())
        existing = int(keys.numel()) - loops
        population = num_src * num_dst - (0 if bipartite else num_src)
    wanted = edge_index.size(1) if num_neg_samples is None else num_neg_samples
    if isinstance(wanted, float):
        wanted = int(wanted * edge_index.size(1))
    if force_undirected:
        wanted //= 2
    if existing >= population or wanted <= 0:
        return edge_index.new_empty((2, 0))
    chosen = torch.empty(0, dtype=torch.long, device=device)
    rate = 1.0 - existing / population
    for _ in range(3):
        draw = max(1, int(1.1 * (wanted - chosen.numel()) / rate) + 8)
        src = torch.randint(num_src, (draw,), device=device, generator=generator)
        dst = torch.randint(num_dst, (draw,), device=device, generator=generator)
        if force_undirected:
            src, dst = torch.minimum(src, dst), torch.maximum(src, dst)
        candidate = src * num_dst + dst
        valid = ~_is_edge(keys, candidate)
        if not bipartite:
            valid &= src != dst
        candidate = candidate[valid]
        # distinct, in drawing order, none already chosen
        unique, first = unique_first(torch.cat([chosen, candidate]))
        chosen = unique[torch.argsort(first)]
        if chosen.numel() >= wanted:
            break
    chosen = chosen[:wanted]
    out = torch.stack([chosen // num_dst, chosen % num_dst])
    if force_undirected:
        out = torch.cat([out, out.flip(0)], dim=1)
    return out


def batched_negative_sampling(edge_index: Tensor, batch: Union[Tensor, Tuple[Tensor, Tensor]],
                              num_neg_samples: Union[int, float, None] = None, method: str = "sparse",
                              force_undirected: bool = False,
                              generator: Optional[torch.Generator] = None) -> Tensor:
    """:func:`negative_sampling` within each graph of a batch (pairs never cross graphs);
    ``num_neg_samples`` per graph (default: that graph's edge count)."""
    src_batch, dst_batch = batch if isinstance(batch, (tuple, list)) else (batch, batch)
    bipartite = isinstance(batch, (tuple, list))
    graphs = int(src_batch.max()) + 1 if src_batch.numel() else 0
    src_counts = torch.bincount(src_batch, minlength=graphs)
    dst_counts = torch.bincount(dst_batch, minlength=graphs)
    src_first = torch.cumsum(src_counts, 0) - src_counts
    dst_first = torch.cumsum(dst_counts, 0) - dst_counts
    owner = src_batch[edge_index[0]]
    outs = []
    for g in range(graphs):
        local = edge_index[:, owner == g] - torch.stack([src_first[g], dst_first[g]]).view(2, 1)
        size = (int(src_counts[g]), int(dst_counts[g])) if bipartite else int(src_counts[g])
        neg = negative_sampling(local, size, num_neg_samples, method, force_undirected, generator)
        outs.append(neg + torch.stack([src_first[g], dst_first[g]]).view(2, 1))
    return torch.cat(outs, dim=1) if outs else edge_index.new_empty((2, 0))


def negative_sampling_static(edge_index: Tensor, num_nodes: Union[int, Tuple[int, int]], num_neg_samples: int,
                             generator: Optional[torch.Generator] = None) -> Tuple[Tensor, Tensor]:
    """Exactly ``num_neg_samples`` uniform pairs and a mask of the valid ones (not an edge,
    not a self loop unless bipartite). Static shapes, no host sync: compile-clean.
    Duplicates among the pairs are possible (rare for sparse graphs)."""
    bipartite = isinstance(num_nodes, (tuple, list))
    num_src, num_dst = (num_nodes[0], num_nodes[1]) if bipartite else (num_nodes, num_nodes)
    keys, _ = torch.sort(edge_index[0] * num_dst + edge_index[1])
    src = torch.randint(num_src, (num_neg_samples,), device=edge_index.device, generator=generator)
    dst = torch.randint(num_dst, (num_neg_samples,), device=edge_index.device, generator=generator)
    valid = ~_is_edge(keys, src * num_dst + dst)
    if not bipartite:
        valid &= src != dst
    return torch.stack([src, dst]), valid


def _joined_keys(row: Tensor, col: Tensor, num_nodes: int, contains_neg_self_loops: bool) -> Tensor:
    """``row * N + col`` of the pairs a negative may not be: the edges, and each ``(i, i)``
    unless ``contains_neg_self_loops``."""
    keys = row * num_nodes + col
    if not contains_neg_self_loops:
        keys = torch.cat([keys, torch.arange(num_nodes) * (num_nodes + 1)])
    return keys


def _every_source_has_a_negative(row: Tensor, keys: Tensor, num_nodes: int) -> bool:
    taken = torch.bincount(torch.unique(keys) // max(num_nodes, 1), minlength=num_nodes)
    return bool((taken[row.unique()] < num_nodes).all()) if row.numel() else True


def structured_negative_sampling_feasible(edge_index: Tensor, num_nodes: Optional[int] = None,
                                          contains_neg_self_loops: bool = True) -> bool:
    """Whether every source node of ``edge_index`` has a node it is not joined to (PyG's):
    else :func:`structured_negative_sampling` cannot draw one for it."""
    num_nodes = maybe_num_nodes(edge_index, num_nodes)
    row, col = edge_index.cpu()
    return _every_source_has_a_negative(row, _joined_keys(row, col, num_nodes, contains_neg_self_loops), num_nodes)


def structured_negative_sampling(edge_index: Tensor, num_nodes: Optional[int] = None,
                                 contains_neg_self_loops: bool = True) -> Tuple[Tensor, Tensor, Tensor]:
    """``(i, j, k)`` per edge ``(i, j)``: a uniform node ``k`` with ``(i, k)`` not an edge (nor
    ``k == i`` with ``contains_neg_self_loops=False``), redrawn until so (PyG's; with the same
    seed PyG's draws). Eager, on the CPU; a source joined to every node raises instead of
    looping forever."""
    num_nodes = maybe_num_nodes(edge_index, num_nodes)
    row, col = edge_index.cpu()
    taken = _joined_keys(row, col, num_nodes, contains_neg_self_loops)
    if not _every_source_has_a_negative(row, taken, num_nodes):
        raise ValueError("structured_negative_sampling: a source node is joined to every node, so it has no "
                         "negative to draw (see structured_negative_sampling_feasible)")
    rand = torch.randint(num_nodes, (row.size(0),), dtype=torch.long)
    rest = torch.isin(row * num_nodes + rand, taken).nonzero().view(-1)
    while rest.numel() > 0:
        draw = torch.randint(num_nodes, (rest.size(0),), dtype=torch.long)
        rand[rest] = draw
        rest = rest[torch.isin(row[rest] * num_nodes + draw, taken)]
    return edge_index[0], edge_index[1], rand.to(edge_index.device)
