"""PyG's sampling-loader options, read once for gnnx's loaders.

PyG's ``NeighborLoader``, ``LinkNeighborLoader`` and ``HGTLoader`` are torch ``DataLoader`` s
with sampler options on top. gnnx's sample in the calling process, so of torch's options
the worker ones (``num_workers``, ``pin_memory``, ...) change nothing and are accepted;
``sampler`` orders the inputs (e.g. :class:`~gnnx.loader.ImbalancedSampler`) and
``transform`` is applied to every batch, as PyG does. PyG's sampler options are accepted at the
values that describe what gnnx's loaders do; any other value raises, naming it, rather than
being ignored (a silently ignored ``time_attr`` or ``disjoint=True`` would give other batches
than the user asked for).
"""
from __future__ import annotations

import warnings
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import torch
from torch import Tensor

from gnnx.graph import Graph, attribute_kind
from gnnx.utils.functions import unique_first

# torch DataLoader options that do not change the batches when sampling runs in this process
WORKER_OPTIONS = frozenset({"num_workers", "pin_memory", "pin_memory_device", "persistent_workers", "prefetch_factor",
                            "timeout", "worker_init_fn", "multiprocessing_context", "in_order", "filter_per_worker",
                            "is_sorted", "collate_fn"})
# PyG's sampler options, and the values at which they describe gnnx's sampling
ACCEPTED_VALUES: Dict[str, tuple] = {
    "subgraph_type": ("directional", "bidirectional", None),
    "directed": (True,),
    "disjoint": (False,),
    "time_attr": (None,),
    "weight_attr": (None,),
    "temporal_strategy": ("uniform",),
    "input_time": (None,),
    "neighbor_sampler": (None,),
    "transform_sampler_output": (None,),
    "edge_label_time": (None,),
    "batch_sampler": (None,),
}


def num_batches(count: int, batch_size: int, drop_last: bool) -> int:
    """Batches of ``batch_size`` out of ``count`` items (a smaller last one unless ``drop_last``)."""
    full, rest = divmod(count, batch_size)
    return full + (0 if drop_last or rest == 0 else 1)


def batches_of(items: Tensor, batch_size: int, shuffle: bool, drop_last: bool,
               generator: Optional[torch.Generator]) -> Iterator[Tensor]:
    """``items`` (seed nodes, link ids) in consecutive batches, shuffled first if asked."""
    if shuffle:
        items = items[torch.randperm(items.numel(), generator=generator, device=items.device)]
    for i in range(num_batches(items.numel(), batch_size, drop_last)):
        yield items[i * batch_size:(i + 1) * batch_size]


# what a link loader puts on an edge store: about the batch's links, not its sampled edges
LINK_FIELDS = frozenset({"edge_index", "edge_label_index", "edge_label", "edge_label_time", "input_id"})


# PyG's disjoint and temporal sampling options, for the loaders that implement them
TEMPORAL_OPTIONS = ("disjoint", "time_attr", "temporal_strategy", "input_time")


class LoaderOptions:
    """The options of one loader that change its batches: ``sampler``, ``transform``,
    ``subgraph_type`` and, where the loader takes them (``temporal=True``), PyG's disjoint and
    temporal sampling options (``disjoint``, ``time_attr``, ``temporal_strategy``, ``input_time``)."""

    def __init__(self, owner: str, options: Dict[str, Any], temporal: bool = False) -> None:
        options = dict(options)
        self.disjoint, self.time_attr, self.temporal_strategy, self.input_time = False, None, "uniform", None
        if temporal:
            self.disjoint = bool(options.pop("disjoint", False))
            self.time_attr = options.pop("time_attr", None)
            strategy = options.pop("temporal_strategy", "uniform")
            self.temporal_strategy = getattr(strategy, "value", strategy)
            self.input_time = options.pop("input_time", None)
            self.disjoint = self.disjoint or self.time_attr is not None  # temporal sampling is disjoint, as PyG's
        self.sampler = options.pop("sampler", None)
        self.transform: Optional[Callable[[Any], Any]] = options.pop("transform", None)
        options = {key: getattr(value, "value", value) for key, value in options.items()}  # PyG's enums
        self.bidirectional = options.get("subgraph_type") == "bidirectional"
        for key, value in options.items():
            if key in WORKER_OPTIONS:
                continue
            if key not in ACCEPTED_VALUES:
                raise TypeError(f"{owner} got an unexpected option {key!r}")
            if not any(value is accepted or (accepted is not None and value == accepted)
                       for accepted in ACCEPTED_VALUES[key]):
                shown = f"<tensor {list(value.shape)}>" if isinstance(value, Tensor) else repr(value)
                raise ValueError(f"{owner}: {key}={shown} is not supported by gnnx's sampling "
                                 f"(supported: {ACCEPTED_VALUES[key]})")
        if self.sampler is not None and not hasattr(self.sampler, "__iter__"):
            raise TypeError(f"{owner}: sampler must be an iterable of input positions (a torch Sampler), "
                            f"got {type(self.sampler).__name__}")

    def num_batches(self, count: int, batch_size: int, drop_last: bool) -> int:
        return num_batches(len(self.sampler) if self.sampler is not None else count, batch_size, drop_last)

    def batches(self, items: Tensor, batch_size: int, shuffle: bool, drop_last: bool,
                generator: Optional[torch.Generator]) -> Iterator[Tensor]:
        """``items`` in batches: in the sampler's order (positions into ``items``) if one was
        given, else shuffled or in order."""
        if self.sampler is not None:
            positions = torch.as_tensor(list(iter(self.sampler)), dtype=torch.long, device=items.device)
            items = items.index_select(0, positions)
            shuffle = False
        yield from batches_of(items, batch_size, shuffle, drop_last, generator)

    def finish(self, batch: Any) -> Any:
        """The batch as the options make it: bidirectional (``subgraph_type``), transformed."""
        if self.bidirectional:
            batch = bidirectional_batch(batch)
        return batch if self.transform is None else self.transform(batch)


def to_bidirectional(edge_index: Tensor, reverse: Tensor, num_src: int) -> Tuple[Tensor, Tensor]:
    """``edge_index`` joined with the flipped ``reverse`` edges, each edge once, sorted by
    destination (PyG's ``to_bidirectional``), and where each came from: position ``k`` in
    ``edge_index``, or ``len(edge_index) + k`` for the flip of ``reverse``'s edge ``k``."""
    both = torch.cat([edge_index, reverse.flip(0)], 1)
    _, first = unique_first(both[1] * max(num_src, 1) + both[0])
    return both[:, first], first


def _rewrite(store: Any, edge_index: Tensor) -> None:
    """An edge store with new edges: the old edges' own attributes (``e_id``, ``edge_attr``,
    per-hop counts) no longer line up and go, as in PyG; the links' fields stay."""
    for name in store.keys():
        if name not in LINK_FIELDS:
            setattr(store, name, None)
    store.edge_index = edge_index


def bidirectional_batch(batch: Any) -> Any:
    """A sampled batch whose edges also run the other way (PyG's ``subgraph_type=
    "bidirectional"``). A homogeneous batch's edges are joined with their reverses, a reverse
    edge keeping its edge's ``e_id`` and attributes, as PyG's. In a heterogeneous batch an
    edge type is joined with its ``rev_`` type (both rewritten), with itself (from a node type
    to itself), or with the one edge type running the other way; their ``e_id`` and edge
    attributes go, as in PyG. The per-hop counts go too: edges no longer come hop by hop."""
    from gnnx.hetero_graph import HeteroGraph

    if not isinstance(batch, HeteroGraph):
        num_edges = batch.num_edges
        edge_index, source = to_bidirectional(batch.edge_index, batch.edge_index, batch.num_nodes)
        edge = source % max(num_edges, 1)
        fields = {"x": batch.x, "y": batch.y, "pos": batch.pos, "batch": batch.batch, "edge_weight": batch.edge_weight,
                  "edge_attr": batch.edge_attr, **batch.attrs}
        kept = {}
        for name, value in fields.items():
            if value is None or name in ("num_sampled_nodes", "num_sampled_edges"):
                continue
            on_edges = name == "e_id" or (name not in LINK_FIELDS
                                          and attribute_kind(name, value, batch.num_nodes, num_edges) == "edge")
            kept[name] = value[edge] if on_edges else value
        return Graph(edge_index, batch.num_nodes, validate=False, **kept)
    original = {e: batch[e].edge_index for e in batch.edge_types}  # every type joins its reverse's sampled edges
    between: Dict[Tuple[str, str], List[Tuple[str, str, str]]] = {}
    for edge_type in original:
        between.setdefault((edge_type[0], edge_type[2]), []).append(edge_type)
    for edge_type in original:
        src, rel, dst = edge_type
        if rel.startswith("rev_"):
            continue
        reverse_type = (dst, f"rev_{rel}", src)
        if reverse_type in original:  # the pair is rewritten together
            edge_index, _ = to_bidirectional(original[edge_type], original[reverse_type], batch[src].num_nodes)
            _rewrite(batch[reverse_type], edge_index.flip(0))
        elif src == dst:
            edge_index, _ = to_bidirectional(original[edge_type], original[edge_type], batch[src].num_nodes)
        elif len(between.get((dst, src), [])) == 1:  # a reverse type by its endpoints, if unique
            edge_index, _ = to_bidirectional(original[edge_type], original[between[(dst, src)][0]],
                                             batch[src].num_nodes)
        else:
            warnings.warn(f"subgraph_type='bidirectional': edge type {edge_type} has no reverse edge type; its "
                          "edges stay directional", stacklevel=2)
            continue
        _rewrite(batch[edge_type], edge_index)
    for node_type in batch.node_types:
        batch[node_type].num_sampled_nodes = None
    return batch
