"""Loaders that wrap another loader (PyG's ``PrefetchLoader`` and ``CachedLoader``).

* :class:`PrefetchLoader` copies the next batch to the GPU on a side CUDA stream while the
  model works on the current one (``pin_memory=True`` in the wrapped loader makes the copy
  truly asynchronous).
* :class:`CachedLoader` keeps the batches of its first pass (after ``transform``, on
  ``device``) and replays them: sampling once for several epochs, or for evaluation.

Both take any batch gnnx's loaders yield: a tensor, a :class:`~gnnx.Graph` (``Batch``), a
:class:`~gnnx.HeteroGraph`, ``TemporalData``, or tuples, lists and dicts of them.
"""
from __future__ import annotations

from typing import Any, Callable, Iterator, List, Optional, Union

import torch


def to_device(batch: Any, device: Optional[Union[str, torch.device]], non_blocking: bool = False) -> Any:
    """``batch`` with every tensor on ``device`` (unchanged for ``device=None``)."""
    if device is None:
        return batch
    if isinstance(batch, (list, tuple)):
        moved = [to_device(item, device, non_blocking) for item in batch]
        return type(batch)(moved) if not hasattr(batch, "_fields") else type(batch)(*moved)
    if isinstance(batch, dict):
        return {key: to_device(value, device, non_blocking) for key, value in batch.items()}
    if hasattr(batch, "to"):
        return batch.to(device, non_blocking=non_blocking)
    return batch


class PrefetchLoader:
    """Iterate ``loader`` with each batch copied to ``device`` (default: CUDA if present) one
    step ahead, on a side stream; on a CPU device the batches pass through unchanged."""

    def __init__(self, loader: Any, device: Optional[Union[str, torch.device]] = None) -> None:
        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.loader, self.device = loader, torch.device(device)
        self.is_cuda = torch.cuda.is_available() and self.device.type == "cuda"

    def __iter__(self) -> Iterator[Any]:
        if not self.is_cuda:
            yield from self.loader
            return
        stream = torch.cuda.Stream(device=self.device)
        pending = None
        for batch in self.loader:
            with torch.cuda.stream(stream):
                batch = to_device(batch, self.device, non_blocking=True)
            if pending is not None:
                yield pending
            # the main stream may use the batch only after its copy
            torch.cuda.current_stream(self.device).wait_stream(stream)
            pending = batch
        if pending is not None:
            yield pending

    def __len__(self) -> int:
        return len(self.loader)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.loader})"


class CachedLoader:
    """Iterate ``loader`` once, keeping each batch (``transform``-ed, moved to ``device``), and
    replay the kept batches on every later pass until :meth:`clear`. A pass stopped early
    keeps nothing, so the next one reads ``loader`` again."""

    def __init__(self, loader: Any, device: Optional[Union[str, torch.device]] = None,
                 transform: Optional[Callable] = None) -> None:
        self.loader, self.device, self.transform = loader, device, transform
        self._cache: List[Any] = []

    def clear(self) -> None:
        """Forget the kept batches: the next pass reads ``loader`` again."""
        self._cache = []

    def __iter__(self) -> Iterator[Any]:
        if self._cache:
            yield from self._cache
            return
        kept = []
        for batch in self.loader:
            if self.transform is not None:
                batch = self.transform(batch)
            batch = to_device(batch, self.device)
            kept.append(batch)
            yield batch
        self._cache = kept  # only a whole pass is kept (PyG's keeps a pass broken off halfway)

    def __len__(self) -> int:
        return len(self.loader)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.loader})"


__all__ = ["CachedLoader", "PrefetchLoader", "to_device"]
