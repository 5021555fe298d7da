r"""PyG's ``ShaDowKHopSampler``: one small subgraph around each seed, batched.

ShaDow-GNN (Zeng et al., `"Decoupling the Depth and Scope of Graph Neural Networks"
<https://arxiv.org/abs/2201.07858>`_) runs a deep GNN on a shallow neighbourhood of each
target node. For every seed the sampler walks ``depth`` hops over incoming edges, each newly
reached node drawing up to ``num_neighbors`` of its in-neighbours (breadth first, a node
expanded once per seed, as torch-sparse's ``ego_k_hop_sample_adj``), and keeps the subgraph
*induced* by the reached nodes: every edge of the graph between two of them. The seeds'
subgraphs are then batched as disjoint graphs (``batch``, ``ptr``), each seed's position in
``root_n_id``, so a model reads its output at ``out[batch.root_n_id]``.

PyG's sampler needs torch-sparse; this one runs on gnnx's CSR in plain torch, every seed of a
batch at once (no per-seed loop). With ``num_neighbors`` at least the largest in-degree the
subgraphs are the exact ``depth``-hop induced subgraphs, PyG's ``k_hop_subgraph`` ones
(``tests/data/test_shadow.py``).
"""
from __future__ import annotations

from typing import Any, Optional, Tuple

import torch
from torch import Tensor

from gnnx.data.batch import Batch, as_graph
from gnnx.data.sampling import draw_neighbours, draw_with_replacement
from gnnx.graph import CSR, EDGE_ATTRS, attribute_kind


class ShaDowKHopSampler(torch.utils.data.DataLoader):
    """Batches of the ``depth``-hop subgraphs of ``batch_size`` seeds (PyG's arguments).

    Args:
        data: a :class:`~gnnx.Graph` (or PyG ``Data``).
        depth: hops to walk from each seed.
        num_neighbors: in-neighbours drawn per reached node and hop.
        node_idx: the seeds (int64 indices or a bool mask; default: every node).
        replace: draw neighbours with replacement.
        **kwargs: :class:`torch.utils.data.DataLoader` arguments (``batch_size``, ``shuffle``, ...).

    Each batch is a :class:`~gnnx.data.Batch` of the subgraphs with ``n_id`` (global node
    ids), ``e_id`` (global edge ids), ``root_n_id``, ``batch``/``ptr``, every per-node and
    per-edge tensor of ``data`` cut to match, and ``y`` taken at the seeds (PyG's).
    """

    def __init__(self, data: Any, depth: int, num_neighbors: int, node_idx: Optional[Tensor] = None,
                 replace: bool = False, **kwargs: Any) -> None:
        graph = as_graph(data)
        if isinstance(depth, bool) or not isinstance(depth, int) or depth < 0:
            raise ValueError(f"ShaDowKHopSampler: depth must be a non-negative int, got {depth!r}")
        if isinstance(num_neighbors, bool) or not isinstance(num_neighbors, int) or num_neighbors < 1:
            raise ValueError(f"ShaDowKHopSampler: num_neighbors must be a positive int, got {num_neighbors!r}")
        if node_idx is None:
            node_idx = torch.arange(graph.num_nodes)
        elif node_idx.dtype == torch.bool:
            if node_idx.numel() != graph.num_nodes:
                raise ValueError(f"ShaDowKHopSampler: a node_idx mask needs {graph.num_nodes} entries, "
                                 f"got {node_idx.numel()}")
            node_idx = node_idx.nonzero().view(-1)
        elif node_idx.dtype != torch.long:
            raise TypeError(f"ShaDowKHopSampler: node_idx must be int64 indices or a bool mask, got {node_idx.dtype}")
        if node_idx.numel() and (int(node_idx.min()) < 0 or int(node_idx.max()) >= graph.num_nodes):
            raise ValueError(f"ShaDowKHopSampler: node_idx holds nodes outside [0, {graph.num_nodes})")
        self.data, self.depth, self.num_neighbors, self.replace = graph.to("cpu"), depth, num_neighbors, replace
        self.node_idx = node_idx.cpu()
        super().__init__(self.node_idx.tolist(), collate_fn=self._collate, **kwargs)

    def _collate(self, seeds: Any) -> Batch:
        return shadow_subgraphs(self.data, torch.as_tensor(seeds, dtype=torch.long), self.depth, self.num_neighbors,
                                self.replace)


def shadow_subgraphs(graph, seeds: Tensor, depth: int, num_neighbors: int, replace: bool = False,
                     generator: Optional[torch.Generator] = None) -> Batch:
    """The batched subgraphs of :class:`ShaDowKHopSampler` for ``seeds`` (module docstring)."""
    num_nodes = graph.num_nodes
    seeds = seeds.to(graph.csr.rowptr.device)
    keys = reach(graph.csr, num_nodes, seeds, depth, num_neighbors, replace, generator)
    ego, n_id = keys // num_nodes, keys % num_nodes
    src, dst, e_id = induced_edges(graph.csr, num_nodes, keys)
    order = torch.argsort(src * keys.numel() + dst)  # PyG's edge order: by source, then destination
    src, dst, e_id = src[order], dst[order], e_id[order]
    ptr = torch.cat([seeds.new_zeros(1), torch.cumsum(torch.bincount(ego, minlength=seeds.numel()), 0)])
    root_n_id = torch.searchsorted(keys, torch.arange(seeds.numel(), device=keys.device) * num_nodes + seeds)
    fields = {}
    for name, value in {"x": graph.x, "pos": graph.pos, **{e: getattr(graph, e) for e in EDGE_ATTRS},
                        **graph.attrs}.items():
        kind = attribute_kind(name, value, num_nodes, graph.num_edges)
        fields[name] = value[n_id] if kind == "node" else value[e_id] if kind == "edge" else value
    if graph.y is not None:
        fields["y"] = graph.y[n_id][root_n_id] if graph.y.dim() > 0 and graph.y.size(0) == num_nodes else graph.y
    out = Batch(torch.stack([src, dst]), keys.numel(), batch=ego, validate=False, n_id=n_id, e_id=e_id,
                root_n_id=root_n_id, **fields)
    out.ptr, out.num_graphs, out.y_is_graph_level = ptr, seeds.numel(), graph.y is not None  # y: one per seed
    return out


def reach(csr: CSR, num_nodes: int, seeds: Tensor, depth: int, num_neighbors: int, replace: bool = False,
          generator: Optional[torch.Generator] = None) -> Tensor:
    """The nodes each seed reaches in ``depth`` hops over incoming edges, each newly reached
    node drawing up to ``num_neighbors`` in-neighbours (all of them for ``-1``), as sorted keys
    ``i * num_nodes + node`` for seed position ``i`` (one vector serves every seed)."""
    keys = torch.arange(seeds.numel(), device=seeds.device) * num_nodes + seeds
    frontier = keys
    for _ in range(depth):
        nodes = frontier % num_nodes
        if replace:
            sources, valid = draw_with_replacement(csr, nodes, num_neighbors, generator)
            owner = torch.arange(nodes.numel(), device=nodes.device).repeat_interleave(num_neighbors)[valid]
            sources = sources[valid]
        else:
            sources, owner = draw_neighbours(csr, nodes, num_neighbors, generator)
        reached = torch.unique((frontier[owner] // num_nodes) * num_nodes + sources)
        frontier = reached[~torch.isin(reached, keys)]  # each node expanded once per seed
        keys = torch.cat([keys, frontier])
    return torch.sort(keys).values


def induced_edges(csr: CSR, num_nodes: int, keys: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
    """The edges of each subgraph induced by sorted ``keys`` (``subgraph * num_nodes + node``):
    every incoming edge of a member whose source is a member of the same subgraph, as
    ``(source position, destination position, edge id)`` with positions into ``keys``."""
    start = csr.rowptr[keys % num_nodes]
    count = csr.rowptr[keys % num_nodes + 1] - start
    total = int(count.sum())
    dst = torch.repeat_interleave(torch.arange(keys.numel(), device=keys.device), count, output_size=total)
    slot = start[dst] + torch.arange(total, device=keys.device) - torch.repeat_interleave(
        torch.cumsum(count, 0) - count, count, output_size=total)
    source_key = (keys[dst] // num_nodes) * num_nodes + csr.col[slot]
    src = torch.searchsorted(keys, source_key).clamp(max=max(keys.numel() - 1, 0))
    inside = keys[src] == source_key
    return src[inside], dst[inside], csr.perm[slot[inside]]
