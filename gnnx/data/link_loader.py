"""``LinkNeighborLoader``: mini-batches of links with the sampled neighbourhoods of their
endpoints (PyG's signature), for link prediction on graphs too large for full batches,
homogeneous or heterogeneous (the links of one edge type, e.g. users rating movies).

Each batch holds the sampled subgraph and ``input_id`` (the links' positions in the loader's
list). Negative links (PyG's ``neg_sampling``):

* ``"binary"`` (or ``neg_sampling_ratio``): ``ceil(amount * B)`` random links join the ``B``
  positives in ``edge_label_index`` (local node ids) with label 0; positives keep their
  ``edge_label`` (1 when none is given; labels holding 0 are shifted up by one, as PyG's).
* ``"triplet"``: each positive gets ``amount`` random destinations; the batch holds
  ``src_index``, ``dst_pos_index`` and ``dst_neg_index`` (``[B]`` or ``[B, amount]``) instead.

Negatives are drawn uniformly over the endpoint's nodes, or by ``src_weight``/``dst_weight``
(PyG's ``NegativeSampling``). A heterogeneous batch keeps ``edge_label_index``,
``edge_label`` and ``input_id`` on the links' edge type, the triplet indices on the node
types, as PyG's.

``static=True`` (gnnx's, homogeneous) samples a computation tree from both endpoints of every
link (:func:`~gnnx.data.sample_static`): every batch of ``B`` links has the same number of
nodes and edges and the links' local ids are fixed blocks (``edge_label_index`` always
``[[0..B), [B..2B)]``), so a compiled model sees one shape. Otherwise sampling is exact (PyG's
default): endpoints de-duplicated, neighbourhoods without replacement.
"""
from __future__ import annotations

import math
from typing import Any, Dict, Optional, Tuple, Union

import torch
from torch import Tensor

from gnnx.data.batch import pyg_base
from gnnx.data.hetero_sampling import sample_hetero_seeds
from gnnx.data.loader_options import LoaderOptions
from gnnx.data.sampling import sample_exact, sample_static
from gnnx.graph import Graph
from gnnx.hetero_graph import EdgeType, HeteroGraph


class NegativeSampling:
    """PyG's negative-sampling settings: ``mode`` (``"binary"`` or ``"triplet"``), ``amount``
    (negatives per positive; whole for triplets) and optional node weights per endpoint."""

    def __init__(self, mode: str, amount: Union[int, float] = 1, src_weight: Optional[Tensor] = None,
                 dst_weight: Optional[Tensor] = None) -> None:
        if mode not in ("binary", "triplet"):
            raise ValueError(f"neg_sampling: mode must be 'binary' or 'triplet', got {mode!r}")
        if amount <= 0:
            raise ValueError(f"neg_sampling: amount must be positive, got {amount}")
        if mode == "triplet" and amount != math.ceil(amount):
            raise ValueError(f"neg_sampling: 'triplet' needs a whole amount of negatives per positive, got {amount}")
        self.mode, self.amount = mode, (math.ceil(amount) if mode == "triplet" else amount)
        self.src_weight, self.dst_weight = src_weight, dst_weight

    @classmethod
    def cast(cls, value: Any, ratio: Optional[float]) -> Optional["NegativeSampling"]:
        """From PyG's forms: a mode string, a dict, PyG's ``NegativeSampling``, or the older
        ``neg_sampling_ratio`` (binary)."""
        if ratio:
            return cls("binary", ratio)
        if value is None or isinstance(value, cls):
            return value
        if isinstance(value, str):
            return cls(value)
        if isinstance(value, dict):
            return cls(**value)
        return cls(value.mode.value if hasattr(value.mode, "value") else value.mode, value.amount,
                   getattr(value, "src_weight", None), getattr(value, "dst_weight", None))

    def draw(self, count: int, num_nodes: int, endpoint: str, generator: torch.Generator,
             device: torch.device) -> Tensor:
        weight = self.src_weight if endpoint == "src" else self.dst_weight
        if weight is None:
            return torch.randint(num_nodes, (count,), generator=generator, device=device)
        if weight.numel() != num_nodes:
            raise ValueError(f"neg_sampling: {endpoint}_weight needs one entry per node ({num_nodes}), "
                             f"got {weight.numel()}")
        return torch.multinomial(weight.to(device).float(), count, replacement=True, generator=generator)


class LinkNeighborLoader:
    """Batches of links and their endpoints' sampled neighbourhoods (module docstring).

    Args:
        data: a :class:`~gnnx.Graph` or :class:`~gnnx.HeteroGraph` (or PyG ``Data`` /
            ``HeteroData``) to sample from.
        num_neighbors: fan-out per hop, e.g. ``[10, 5]`` (per edge type as a dict for a
            heterogeneous graph, as :class:`~gnnx.data.NeighborLoader`).
        edge_label_index: the links ``[2, L]`` (default: every edge of ``data``); for a
            heterogeneous graph an edge type (its edges) or ``(edge_type, [2, L])``.
        edge_label: their labels ``[L]``.
        neg_sampling: ``"binary"``, ``"triplet"``, a dict or PyG's ``NegativeSampling``.
        neg_sampling_ratio: binary negatives per positive (PyG's older argument).
        batch_size, shuffle, drop_last: as in PyG's loaders.
        static: static shapes (computation trees with replacement) instead of exact sampling.
        seed: the random generator's seed.
    """

    def __init__(self, data: Any, num_neighbors: Any, edge_label_index: Any = None,
                 edge_label: Optional[Tensor] = None, neg_sampling_ratio: Optional[float] = None,
                 batch_size: int = 1, shuffle: bool = False, drop_last: bool = False, static: bool = False,
                 seed: int = 0, neg_sampling: Any = None, **pyg_kwargs: Any) -> None:
        hetero = isinstance(data, HeteroGraph) or pyg_base(data) == "HeteroData"
        if hetero:
            graph: Union[Graph, HeteroGraph] = data if isinstance(data, HeteroGraph) else \
                HeteroGraph.from_pyg(data, validate=False)
            self.edge_type, links = _hetero_links(graph, edge_label_index)
            device = links.device
            if static:
                raise ValueError("LinkNeighborLoader: static=True samples homogeneous graphs only")
        else:
            graph = data if isinstance(data, Graph) else Graph.from_pyg(data, validate=False)
            self.edge_type, device = None, graph.edge_index.device
            links = graph.edge_index if edge_label_index is None else edge_label_index
        self.neg_sampling = NegativeSampling.cast(neg_sampling, neg_sampling_ratio)
        if edge_label is not None and self.neg_sampling is not None:
            if self.neg_sampling.mode == "triplet":
                raise ValueError("LinkNeighborLoader: 'triplet' negative sampling takes no edge_label (the batch's "
                                 "src_index, dst_pos_index and dst_neg_index tell positives from negatives)")
            if edge_label.numel() and int(edge_label.min()) == 0:
                edge_label = edge_label + 1  # 0 now means "negative", as PyG's binary mode
        self.graph, self.num_neighbors, self.hetero = graph, num_neighbors, hetero
        self.edge_label_index = links.to(device)
        self.edge_label = edge_label.to(device) if edge_label is not None else None
        self.batch_size, self.shuffle, self.drop_last, self.static = batch_size, shuffle, drop_last, static
        self.generator = torch.Generator(device=device).manual_seed(seed)
        self.options = LoaderOptions("LinkNeighborLoader", pyg_kwargs)

    def __len__(self) -> int:
        return self.options.num_batches(self.edge_label_index.size(1), self.batch_size, self.drop_last)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def __iter__(self):
        every = torch.arange(self.edge_label_index.size(1), device=self.edge_label_index.device)
        for ids in self.options.batches(every, self.batch_size, self.shuffle, self.drop_last, self.generator):
            yield self.options.finish(self.collate_fn(ids), self.graph)

    @property
    def num_inputs(self) -> int:
        """The number of links (:class:`~gnnx.loader.ZipLoader` zips loaders over it)."""
        return self.edge_label_index.size(1)

    def __call__(self, index: Any) -> Any:
        """PyG's loaders are callable on input positions: the finished batch of those links."""
        return self.options.finish(self.collate_fn(index), self.graph)

    def _num_nodes(self) -> Tuple[int, int]:
        if self.edge_type is None:
            return self.graph.num_nodes, self.graph.num_nodes
        return int(self.graph[self.edge_type[0]].num_nodes), int(self.graph[self.edge_type[2]].num_nodes)

    def _endpoints(self, ids: Tensor) -> Tuple[Tensor, Tensor, Optional[Tensor], Optional[Tensor]]:
        """``(src, dst, labels, dst_neg)``: the links with binary negatives appended (labels 0),
        or the triplet negatives apart (``dst_neg``, ``amount`` per positive)."""
        src, dst = self.edge_label_index[0, ids], self.edge_label_index[1, ids]
        labels = self.edge_label[ids] if self.edge_label is not None else None
        sampling, device = self.neg_sampling, ids.device
        if sampling is None:
            return src, dst, labels, None
        num_src, num_dst = self._num_nodes()
        if sampling.mode == "triplet":
            return src, dst, None, sampling.draw(ids.numel() * sampling.amount, num_dst, "dst", self.generator, device)
        num_neg = math.ceil(ids.numel() * sampling.amount)
        src = torch.cat([src, sampling.draw(num_neg, num_src, "src", self.generator, device)])
        dst = torch.cat([dst, sampling.draw(num_neg, num_dst, "dst", self.generator, device)])
        if labels is None:
            labels = torch.ones(ids.numel(), device=device)
        labels = torch.cat([labels, labels.new_zeros((num_neg,) + tuple(labels.shape[1:]))])
        return src, dst, labels, None

    def collate_fn(self, index: Any) -> Any:
        """The batch of the links at positions ``index`` (PyG's ``collate_fn``)."""
        ids = torch.as_tensor(index, dtype=torch.long, device=self.edge_label_index.device)
        src, dst, labels, dst_neg = self._endpoints(ids)
        num_pos = ids.numel()
        same_type = self.edge_type is None or self.edge_type[0] == self.edge_type[2]
        # the seeds: every endpoint, one node list per type (by type, de-duplicated unless static)
        if same_type:
            ends = torch.cat([src, dst] + ([dst_neg] if dst_neg is not None else []))
            if self.static:
                seeds, local = ends, torch.arange(ends.numel(), device=ends.device)
            else:
                seeds, local = torch.unique(ends, return_inverse=True)
            src_local, dst_local = local[:src.numel()], local[src.numel():]
        else:
            src_seeds, src_local = torch.unique(src, return_inverse=True)
            dst_ends = torch.cat([dst] + ([dst_neg] if dst_neg is not None else []))
            dst_seeds, dst_local = torch.unique(dst_ends, return_inverse=True)
        if self.edge_type is None:
            sample = sample_static if self.static else sample_exact
            batch = sample(self.graph, seeds, list(self.num_neighbors), self.generator)
            edge_store = node_src = node_dst = None
        else:
            seeds_dict = {self.edge_type[0]: seeds} if same_type else \
                {self.edge_type[0]: src_seeds, self.edge_type[2]: dst_seeds}
            batch = sample_hetero_seeds(self.graph, seeds_dict, self.num_neighbors, self.generator)
            edge_store, node_src, node_dst = batch[self.edge_type], batch[self.edge_type[0]], batch[self.edge_type[2]]
            batch.input_type = self.edge_type
        fields: Dict[str, Any]
        if dst_neg is None:
            fields = {"edge_label_index": torch.stack([src_local, dst_local[:src_local.numel()]]), "input_id": ids}
            if labels is not None:
                fields["edge_label"] = labels
            if edge_store is None:
                return batch.replace(**fields)
            for name, value in fields.items():
                edge_store[name] = value
            return batch
        negatives = dst_local[num_pos:].view(num_pos, -1).squeeze(-1)
        triplet = {"src_index": src_local, "dst_pos_index": dst_local[:num_pos], "dst_neg_index": negatives}
        if edge_store is None:
            return batch.replace(input_id=ids, **triplet)
        edge_store.input_id = ids
        node_src.src_index = triplet["src_index"]
        node_dst.dst_pos_index, node_dst.dst_neg_index = triplet["dst_pos_index"], triplet["dst_neg_index"]
        return batch


def _hetero_links(graph: HeteroGraph, edge_label_index: Any) -> Tuple[EdgeType, Tensor]:
    """The links' edge type and ``[2, L]`` ids from PyG's forms: an edge type (its edges), or
    ``(edge_type, links)``; edge types as ``(src, rel, dst)``, ``(src, dst)`` or ``rel``."""
    if edge_label_index is None:
        raise ValueError("LinkNeighborLoader on a heterogeneous graph needs edge_label_index: an edge type, or "
                         "(edge_type, [2, L] links)")
    links = None
    if isinstance(edge_label_index, tuple) and len(edge_label_index) == 2 and \
            (edge_label_index[1] is None or isinstance(edge_label_index[1], Tensor)):
        edge_label_index, links = edge_label_index
    edge_type = graph._edge_type(edge_label_index)
    if links is None:
        links = graph[edge_type].edge_index
    if not isinstance(links, Tensor) or links.dim() != 2 or links.size(0) != 2:
        raise ValueError(f"edge_label_index for {edge_type} must be a [2, L] tensor, got "
                         f"{list(links.shape) if isinstance(links, Tensor) else type(links).__name__}")
    return edge_type, links
