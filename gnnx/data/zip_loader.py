"""Several loaders over the same input positions, one tuple of batches per step (PyG's ``ZipLoader``)."""
from __future__ import annotations

from typing import Any, Iterator, Optional, Sequence, Tuple

import torch

from gnnx.data.loader_options import batches_of, num_batches


class ZipLoader:
    """Batches from several node or link loaders at once: each step takes a batch of input
    positions and asks every loader for the batch of its own inputs at those positions
    (``loader.collate_fn(index)``), so the ``i``-th input of each loader travels together, e.g.
    positive and negative links, or the same seeds sampled two ways.

    Args:
        loaders: :class:`~gnnx.loader.NeighborLoader` or :class:`~gnnx.loader.LinkNeighborLoader`
            instances (anything with ``collate_fn`` and ``num_inputs``); the shortest sets the length.
        filter_per_worker: kept for PyG's signature (sampling runs in this process).
        batch_size, shuffle, drop_last: over the positions, as a ``DataLoader``'s (PyG's defaults:
            one position a batch, in order).
        seed: the shuffle's random generator seed.
    """

    def __init__(self, loaders: Sequence[Any], filter_per_worker: Optional[bool] = None, batch_size: int = 1,
                 shuffle: bool = False, drop_last: bool = False, seed: int = 0, **kwargs: Any) -> None:
        if not loaders:
            raise ValueError("ZipLoader needs at least one loader")
        for loader in loaders:
            if not callable(getattr(loader, "collate_fn", None)) or not hasattr(loader, "num_inputs"):
                raise ValueError(f"ZipLoader: '{type(loader).__name__}' has no 'collate_fn' and 'num_inputs' "
                                 f"(use gnnx's NeighborLoader or LinkNeighborLoader)")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"ZipLoader: batch_size must be a positive int, got {batch_size!r}")
        self.loaders, self.filter_per_worker = list(loaders), filter_per_worker
        self.batch_size, self.shuffle, self.drop_last = batch_size, shuffle, drop_last
        self.num_inputs = min(loader.num_inputs for loader in self.loaders)
        self.dataset = range(self.num_inputs)  # PyG's: the input positions it batches
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return num_batches(self.num_inputs, self.batch_size, self.drop_last)

    def __iter__(self) -> Iterator[Tuple[Any, ...]]:
        positions = torch.arange(self.num_inputs)
        for index in batches_of(positions, self.batch_size, self.shuffle, self.drop_last, self.generator):
            yield self(index)

    def __call__(self, index: Any) -> Tuple[Any, ...]:
        """The loaders' batches of the inputs at positions ``index``."""
        index = torch.as_tensor(index, dtype=torch.long)
        # a loader's finished batch (its transform and subgraph type applied) where it is callable, as PyG's
        return tuple(loader(index) if callable(loader) else loader.collate_fn(index) for loader in self.loaders)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(loaders={self.loaders})"
