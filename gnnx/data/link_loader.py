"""``LinkNeighborLoader``: mini-batches of links with the sampled neighbourhoods of their
endpoints (PyG's signature), for link prediction on graphs too large for full batches.

Each batch is a :class:`~gnnx.Graph` holding the sampled subgraph, ``edge_label_index``
(the batch's links in local node ids), ``edge_label`` and ``input_id`` (the links'
positions in the loader's list). With ``neg_sampling_ratio`` each batch also gets that
many random negative links per positive (label 0; positives labelled 1 when no
``edge_label`` is given, else the given labels plus 1, as PyG's binary mode).

``static=True`` (gnnx's) samples a computation tree from both endpoints of every link
(:func:`~gnnx.data.sample_static`): every batch of ``B`` links has the same number of
nodes and edges and ``edge_label_index`` is always ``[[0..B), [B..2B)]``, so a compiled
model sees one shape. Otherwise sampling is exact (PyG's default): endpoints
de-duplicated, neighbourhoods without replacement.
"""
from __future__ import annotations

from typing import Any, Optional, Sequence

import torch
from torch import Tensor

from gnnx.data.batch import pyg_base
from gnnx.data.loader_options import LoaderOptions
from gnnx.data.sampling import sample_exact, sample_static
from gnnx.graph import Graph
from gnnx.hetero_graph import HeteroGraph


class LinkNeighborLoader:
    """Batches of links and their endpoints' sampled neighbourhoods (module docstring).

    Args:
        data: a :class:`~gnnx.Graph` (or PyG ``Data``) to sample from (its edges).
        num_neighbors: fan-out per hop, e.g. ``[10, 5]``.
        edge_label_index: the links ``[2, L]`` (default: every edge of ``data``).
        edge_label: their labels ``[L]`` (default: ones).
        neg_sampling_ratio: random negative links per positive in each batch.
        batch_size, shuffle, drop_last: as in PyG's loaders.
        static: static shapes (computation trees with replacement) instead of exact sampling.
        seed: the random generator's seed.
    """

    def __init__(self, data: Any, num_neighbors: Sequence[int], edge_label_index: Optional[Tensor] = None,
                 edge_label: Optional[Tensor] = None, neg_sampling_ratio: Optional[float] = None,
                 batch_size: int = 1, shuffle: bool = False, drop_last: bool = False, static: bool = False,
                 seed: int = 0, **pyg_kwargs: Any) -> None:
        if isinstance(data, HeteroGraph) or pyg_base(data) == "HeteroData":
            raise TypeError("LinkNeighborLoader samples homogeneous graphs (a Graph or PyG Data); gnnx has no "
                            "heterogeneous link loader yet")
        graph = data if isinstance(data, Graph) else Graph.from_pyg(data, validate=False)
        # PyG's neg_sampling: "binary", or {"mode": "binary", "amount": ratio}
        neg_sampling = pyg_kwargs.pop("neg_sampling", None)
        mode, amount = ((neg_sampling.get("mode", "binary"), neg_sampling.get("amount", 1.0))
                        if isinstance(neg_sampling, dict) else (neg_sampling, 1.0))
        if mode not in (None, "binary"):
            raise ValueError("LinkNeighborLoader: only binary negative sampling is supported")
        if mode is not None and neg_sampling_ratio is None:
            neg_sampling_ratio = amount
        device = graph.edge_index.device
        self.graph, self.num_neighbors = graph, list(num_neighbors)
        self.edge_label_index = (graph.edge_index if edge_label_index is None else edge_label_index).to(device)
        self.edge_label = edge_label.to(device) if edge_label is not None else None
        self.neg_sampling_ratio = neg_sampling_ratio or 0.0
        self.batch_size, self.shuffle, self.drop_last, self.static = batch_size, shuffle, drop_last, static
        self.generator = torch.Generator(device=device).manual_seed(seed)
        self.options = LoaderOptions("LinkNeighborLoader", pyg_kwargs)

    def __len__(self) -> int:
        return self.options.num_batches(self.edge_label_index.size(1), self.batch_size, self.drop_last)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def _labelled(self, ids: Tensor):
        links = self.edge_label_index[:, ids]
        labels = self.edge_label[ids] if self.edge_label is not None else torch.ones(ids.numel(), device=ids.device)
        num_neg = int(self.neg_sampling_ratio * ids.numel())
        if num_neg:
            if self.edge_label is not None:
                labels = labels + 1  # PyG's binary mode: 0 is reserved for negatives
            n = self.graph.num_nodes
            negatives = torch.randint(n, (2, num_neg), device=ids.device, generator=self.generator)
            links = torch.cat([links, negatives], dim=1)
            labels = torch.cat([labels, labels.new_zeros(num_neg)])
        return links, labels

    def __iter__(self):
        every = torch.arange(self.edge_label_index.size(1), device=self.edge_label_index.device)
        for ids in self.options.batches(every, self.batch_size, self.shuffle, self.drop_last, self.generator):
            yield self.options.finish(self.collate_fn(ids))

    @property
    def num_inputs(self) -> int:
        """The number of links (:class:`~gnnx.loader.ZipLoader` zips loaders over it)."""
        return self.edge_label_index.size(1)

    def __call__(self, index: Any) -> Graph:
        """PyG's loaders are callable on input positions: the finished batch of those links."""
        return self.options.finish(self.collate_fn(index))

    def collate_fn(self, index: Tensor) -> Graph:
        """The batch of the links at positions ``index`` (PyG's ``collate_fn``)."""
        device = self.edge_label_index.device
        ids = torch.as_tensor(index, dtype=torch.long, device=device)
        links, labels = self._labelled(ids)
        if self.static:
            seeds = torch.cat([links[0], links[1]])
            batch = sample_static(self.graph, seeds, self.num_neighbors, self.generator)
            local = torch.arange(2 * links.size(1), device=device).view(2, -1)
        else:
            seeds, inverse = torch.unique(links.reshape(-1), return_inverse=True)
            batch = sample_exact(self.graph, seeds, self.num_neighbors, self.generator)
            local = inverse.view(2, -1)
        return batch.replace(edge_label_index=local, edge_label=labels, input_id=ids)
