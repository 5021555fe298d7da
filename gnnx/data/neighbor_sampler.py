"""PyG's older ``NeighborSampler`` (GraphSAGE's layer-wise bipartite blocks), for code written
against it: ``for batch_size, n_id, adjs in NeighborSampler(edge_index, sizes=[25, 10], ...)``.

Each batch starts from ``batch_size`` target nodes. For each entry of ``sizes`` every node
gathered so far draws up to that many incoming edges (without replacement; ``-1``: all), the
new sources join ``n_id`` after the nodes already there (in the order they were first drawn),
and the hop's edges become one bipartite block ``EdgeIndex(edge_index, e_id, size)``:
``edge_index`` from positions in the enlarged ``n_id`` to positions of the targets, ``e_id``
the edges' ids, ``size = (len(n_id) after, len(n_id) before)``. The blocks come outermost
first, so layer ``i`` of a model uses ``adjs[i]``, its targets being the first ``size[1]`` rows:
``x_target = x[:size[1]]; x = conv((x, x_target), edge_index)``. PyG's needs torch-sparse;
this one draws over gnnx's CSR (:func:`gnnx.data.sampling.draw_slots`). Its newer
replacement is :class:`~gnnx.data.NeighborLoader`.
"""
from __future__ import annotations

from typing import Any, Callable, List, NamedTuple, Optional, Tuple, Union

import torch
from torch import Tensor

from gnnx.data.sampling import draw_slots
from gnnx.graph import build_csr, check_edge_index


class EdgeIndex(NamedTuple):
    """One bipartite block: ``edge_index`` (source position, target position), edge ids, ``size``."""

    edge_index: Tensor
    e_id: Optional[Tensor]
    size: Tuple[int, int]

    def to(self, *args: Any, **kwargs: Any) -> "EdgeIndex":
        e_id = self.e_id.to(*args, **kwargs) if self.e_id is not None else None
        return EdgeIndex(self.edge_index.to(*args, **kwargs), e_id, self.size)


class NeighborSampler(torch.utils.data.DataLoader):
    """PyG's ``NeighborSampler(edge_index, sizes, node_idx=None, num_nodes=None,
    return_e_id=True, transform=None, **loader_kwargs)`` (module docstring); a torch sparse
    adjacency (``adj_t``, rows = targets) is taken for ``edge_index`` too."""

    def __init__(self, edge_index: Union[Tensor, Any], sizes: List[int], node_idx: Optional[Tensor] = None,
                 num_nodes: Optional[int] = None, return_e_id: bool = True, transform: Optional[Callable] = None,
                 **kwargs: Any) -> None:
        kwargs.pop("dataset", None)
        kwargs.pop("collate_fn", None)
        if isinstance(edge_index, Tensor) and edge_index.layout != torch.strided:  # adj_t: [target, source]
            coo = edge_index.to_sparse_coo().coalesce()
            num_nodes = coo.size(0) if num_nodes is None else num_nodes
            edge_index = coo.indices().flip(0)
        edge_index = edge_index.cpu()
        check_edge_index(edge_index)
        if num_nodes is None and node_idx is not None and node_idx.dtype == torch.bool:
            num_nodes = node_idx.numel()
        if num_nodes is None:
            biggest = int(edge_index.max()) if edge_index.numel() else -1
            if node_idx is not None and node_idx.numel():
                biggest = max(biggest, int(node_idx.max()))
            num_nodes = biggest + 1
        check_edge_index(edge_index, num_nodes)
        if node_idx is None:
            node_idx = torch.arange(num_nodes)
        elif node_idx.dtype == torch.bool:
            node_idx = node_idx.nonzero().view(-1)
        if node_idx.numel() and (int(node_idx.min()) < 0 or int(node_idx.max()) >= num_nodes):
            raise ValueError(f"NeighborSampler: node_idx holds nodes outside [0, {num_nodes})")
        self.edge_index, self.num_nodes, self.sizes = edge_index, num_nodes, list(sizes)
        self.node_idx, self.return_e_id, self.transform = node_idx, return_e_id, transform
        self.csr = build_csr(edge_index, num_nodes)  # incoming edges per node
        super().__init__(node_idx.view(-1).tolist(), collate_fn=self.sample, **kwargs)

    def sample(self, batch: Any):
        """``(batch_size, n_id, adjs)`` for the target nodes ``batch``."""
        n_id = torch.as_tensor(batch, dtype=torch.long)
        batch_size = n_id.numel()
        position = torch.full((self.num_nodes,), -1, dtype=torch.long)
        position[n_id] = torch.arange(batch_size)
        adjs = []
        for size in self.sizes:
            slot, owner = draw_slots(self.csr, n_id, size, None)
            order = torch.argsort(owner, stable=True)  # grouped by target, as torch-sparse's blocks
            slot, owner = slot[order], owner[order]
            sources = self.csr.col[slot]
            fresh = sources[position[sources] < 0]
            if fresh.numel():
                unique, inverse = torch.unique(fresh, return_inverse=True)
                first = torch.full((unique.numel(),), fresh.numel(), dtype=torch.long).scatter_reduce(
                    0, inverse, torch.arange(fresh.numel()), "amin")
                new = unique[torch.argsort(first)]  # in the order first drawn
                position[new] = torch.arange(n_id.numel(), n_id.numel() + new.numel())
                grown = torch.cat([n_id, new])
            else:
                grown = n_id
            e_id = self.csr.perm[slot] if self.return_e_id else None
            adjs.append(EdgeIndex(torch.stack([position[sources], owner]), e_id, (grown.numel(), n_id.numel())))
            n_id = grown
        adjs = adjs[0] if len(adjs) == 1 else adjs[::-1]
        out = (batch_size, n_id, adjs)
        return self.transform(*out) if self.transform is not None else out

    def __repr__(self) -> str:
        return f"{type(self).__name__}(sizes={self.sizes})"
