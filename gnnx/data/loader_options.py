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

from typing import Any, Callable, Dict, Iterator, Optional

import torch
from torch import Tensor

from gnnx.data.subgraph_types import bidirectional_batch, induced_batch

# torch DataLoader options that do not change the batches when sampling runs in this process
WORKER_OPTIONS = frozenset({"num_workers", "pin_memory", "pin_memory_device", "persistent_workers", "prefetch_factor",
                            "timeout", "worker_init_fn", "multiprocessing_context", "in_order", "filter_per_worker",
                            "is_sorted", "collate_fn"})
# PyG's sampler options, and the values at which they describe gnnx's sampling
ACCEPTED_VALUES: Dict[str, tuple] = {
    "subgraph_type": ("directional", "bidirectional", "induced", None),
    "directed": (True, False),
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


class LoaderOptions:
    """The options of one loader that change its batches: ``sampler``, ``transform``,
    ``subgraph_type`` and, where the loader takes them (``temporal=True``: the node loaders),
    PyG's disjoint, temporal and weighted sampling options (``disjoint``, ``time_attr``,
    ``temporal_strategy``, ``input_time``, ``weight_attr``)."""

    def __init__(self, owner: str, options: Dict[str, Any], temporal: bool = False) -> None:
        options = dict(options)
        self.disjoint, self.time_attr, self.temporal_strategy, self.input_time = False, None, "uniform", None
        self.weight_attr = None
        if temporal:
            self.weight_attr = options.pop("weight_attr", None)
            self.disjoint = bool(options.pop("disjoint", False))
            self.time_attr = options.pop("time_attr", None)
            strategy = options.pop("temporal_strategy", "uniform")
            self.temporal_strategy = getattr(strategy, "value", strategy)
            self.input_time = options.pop("input_time", None)
            self.disjoint = self.disjoint or self.time_attr is not None  # temporal sampling is disjoint, as PyG's
            if self.weight_attr is not None and self.disjoint:
                raise ValueError(f"{owner}: weighted sampling (weight_attr) is not supported with disjoint or temporal "
                                 "sampling")
        self.sampler = options.pop("sampler", None)
        self.transform: Optional[Callable[[Any], Any]] = options.pop("transform", None)
        options = {key: getattr(value, "value", value) for key, value in options.items()}  # PyG's enums
        self.bidirectional = options.get("subgraph_type") == "bidirectional"
        # PyG's "induced" (directed=False in its older spelling): every edge between the sampled nodes
        self.induced = options.get("subgraph_type") == "induced" or options.get("directed") is False
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

    def finish(self, batch: Any, graph: Any = None) -> Any:
        """The batch as the options make it: induced by ``graph`` or bidirectional
        (``subgraph_type``), transformed."""
        if self.induced:
            batch = induced_batch(graph, batch)
        if self.bidirectional:
            batch = bidirectional_batch(batch)
        return batch if self.transform is None else self.transform(batch)
