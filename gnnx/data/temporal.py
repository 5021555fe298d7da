r"""Temporal graphs as a stream of events (PyG's ``TemporalData`` and ``TemporalDataLoader``).

A continuous-time dynamic graph is a list of events :math:`(s_k, d_k, t_k, \mathbf{m}_k)`:
source, destination, time stamp and message (feature row). ``TemporalData`` holds them as
per-event tensors of one length (``src``, ``dst``, ``t``, ``msg`` and any other attribute,
e.g. ``y``), indexes and slices them together (``events[:100]``, ``events[mask]``), and splits
them by time (:meth:`TemporalData.train_val_test_split`). ``TemporalDataLoader`` cuts the
stream into consecutive batches of events, with PyG's negative destinations and ``n_id``.

::

    events = TemporalData(src=src, dst=dst, t=t, msg=msg)   # checked: events.validate()
    train, val, test = events.train_val_test_split(val_ratio=0.15, test_ratio=0.15)
    for batch in TemporalDataLoader(train, batch_size=200, neg_sampling_ratio=1.0):
        batch.src, batch.dst, batch.neg_dst, batch.n_id, batch.t, batch.msg

The memory model that consumes such batches (TGN) is :class:`gnnx.nn.TGNMemory`.
"""
from __future__ import annotations

import copy
from typing import Any, Dict, Iterator, List, Optional, Tuple, Union

import torch
from torch import Tensor

from gnnx.hetero_graph import Store

EVENT_INDEX_FIELDS = ("src", "dst")


class TemporalData(Store):
    """Events of a temporal graph: per-event tensors of one length (PyG's ``TemporalData``).

    Args:
        src, dst: int64 ``[num_events]`` node indices.
        t: ``[num_events]`` time stamps (integer or floating point).
        msg: ``[num_events, num_features]`` event features.
        **kwargs: other attributes (per-event tensors are indexed with the events).

    Reading an attribute that was never set raises ``AttributeError``, as PyG's does.
    """

    def __init__(self, src: Optional[Tensor] = None, dst: Optional[Tensor] = None, t: Optional[Tensor] = None,
                 msg: Optional[Tensor] = None, **kwargs: Any) -> None:
        super().__init__("TemporalData")
        for name, value in dict(src=src, dst=dst, t=t, msg=msg, **kwargs).items():
            setattr(self, name, value)

    @classmethod
    def from_dict(cls, mapping: Dict[str, Any]) -> "TemporalData":
        return cls(**mapping)

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["_data"][name]
        except KeyError:
            raise AttributeError(f"TemporalData has no attribute {name!r}") from None

    # -- sizes ---------------------------------------------------------------------------
    @property
    def num_events(self) -> int:
        return self.src.size(0)

    @property
    def num_edges(self) -> int:
        """PyG's alias of :attr:`num_events`."""
        return self.num_events

    @property
    def num_nodes(self) -> int:
        """``max(src.max(), dst.max()) + 1`` (0 without events)."""
        if self.num_events == 0:
            return 0
        return max(int(self.src.max()), int(self.dst.max())) + 1

    @property
    def edge_index(self) -> Tensor:
        """``[2, num_events]``: ``src`` over ``dst`` (or a stored ``edge_index``)."""
        if "edge_index" in self._data:
            return self._data["edge_index"]
        return torch.stack([self.src, self.dst], dim=0)

    def size(self, dim: Optional[int] = None) -> Union[Tuple[int, int], int]:
        """PyG's ``(src.max(), dst.max())``."""
        size = (int(self.src.max()), int(self.dst.max()))
        return size if dim is None else size[dim]

    def __len__(self) -> int:
        return self.num_events

    # -- indexing --------------------------------------------------------------------------
    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, str):
            return self._data[index]
        return self.index_select(index)

    def __delitem__(self, name: str) -> None:
        self._data.pop(name, None)

    def __iter__(self) -> Iterator["TemporalData"]:
        for i in range(self.num_events):
            yield self[i]

    def __call__(self, *names: str) -> Iterator[Tuple[str, Any]]:
        for name, value in self._data.items():
            if not names or name in names:
                yield name, value

    def index_select(self, index: Any) -> "TemporalData":
        """The events at ``index`` (an int, slice, list, int64 or bool tensor); every tensor
        with ``num_events`` rows is indexed, other attributes are kept."""
        index = _event_index(index)
        num_events = self.num_events
        out = copy.copy(self)
        for name, value in self._data.items():
            if isinstance(value, Tensor) and value.dim() > 0 and value.size(0) == num_events:
                out._data[name] = value[index]
        return out

    def __copy__(self) -> "TemporalData":
        out = object.__new__(type(self))
        object.__setattr__(out, "_key", self._key)
        object.__setattr__(out, "_data", dict(self._data))
        return out

    def to_dict(self) -> Dict[str, Any]:
        return dict(self._data)

    # -- checks and devices ---------------------------------------------------------------------
    def validate(self) -> "TemporalData":
        """Raise ``TypeError``/``ValueError`` naming the first bad field: ``src``/``dst`` must be
        int64 vectors of one length with non-negative entries, ``t`` a vector of that length,
        ``msg`` that many rows of finite values. Returns the events, for chaining."""
        for name in EVENT_INDEX_FIELDS + ("t",):
            value = self._data.get(name)
            if not isinstance(value, Tensor):
                raise TypeError(f"TemporalData.{name} must be a torch.Tensor, got {type(value).__name__}")
            if value.dim() != 1:
                raise ValueError(f"TemporalData.{name} must be a vector [num_events], got shape {list(value.shape)}")
        for name in EVENT_INDEX_FIELDS:
            value = self._data[name]
            if value.dtype != torch.long:
                raise TypeError(f"TemporalData.{name} must have dtype torch.int64, got {value.dtype}")
            if value.numel() and int(value.min()) < 0:
                raise ValueError(f"TemporalData.{name} has a negative node index ({int(value.min())})")
        for name in ("dst", "t"):
            if self._data[name].size(0) != self.src.size(0):
                raise ValueError(f"TemporalData.{name} has {self._data[name].size(0)} entries, src has "
                                 f"{self.src.size(0)} (one per event)")
        if self.t.is_floating_point() and not bool(torch.isfinite(self.t).all()):
            raise ValueError("TemporalData.t contains NaN or infinite time stamps")
        msg = self._data.get("msg")
        if msg is not None:
            if not isinstance(msg, Tensor) or msg.dim() == 0 or msg.size(0) != self.num_events:
                shape = list(msg.shape) if isinstance(msg, Tensor) else type(msg).__name__
                raise ValueError(f"TemporalData.msg must have one row per event ({self.num_events}), got {shape}")
            if msg.is_floating_point() and not bool(torch.isfinite(msg).all()):
                raise ValueError("TemporalData.msg contains NaN or infinite values")
        return self

    def to(self, device: Any, non_blocking: bool = False) -> "TemporalData":
        out = copy.copy(self)
        for name, value in self._data.items():
            if isinstance(value, Tensor):
                out._data[name] = value.to(device, non_blocking=non_blocking)
        return out

    def cpu(self) -> "TemporalData":
        return self.to("cpu")

    def cuda(self, device: Any = None, non_blocking: bool = False) -> "TemporalData":
        return self.to("cuda" if device is None else device, non_blocking=non_blocking)

    def clone(self) -> "TemporalData":
        out = copy.copy(self)
        out._data.update({k: v.clone() for k, v in self._data.items() if isinstance(v, Tensor)})
        return out

    # -- splits and conversion -------------------------------------------------------------------
    def train_val_test_split(self, val_ratio: float = 0.15,
                             test_ratio: float = 0.15) -> Tuple["TemporalData", "TemporalData", "TemporalData"]:
        """Three consecutive slices cut at the time quantiles ``1 - val - test`` and
        ``1 - test`` (numpy's linear interpolation, as PyG's): events up to the first cut
        train, up to the second validate, the rest test. Events are assumed in time order."""
        times = self.t.detach().cpu().to(torch.float64)
        cuts = torch.quantile(times, torch.tensor([1.0 - val_ratio - test_ratio, 1.0 - test_ratio],
                                                  dtype=torch.float64))
        val_start, test_start = (int((times <= cut).sum()) for cut in cuts)
        return self[:val_start], self[val_start:test_start], self[test_start:]

    @classmethod
    def from_pyg(cls, data: Any) -> "TemporalData":
        """Events from a ``torch_geometric.data.TemporalData`` (tensors shared)."""
        return cls(**data.to_dict())

    def to_pyg(self) -> Any:
        from torch_geometric.data import TemporalData as PyGTemporalData

        return PyGTemporalData(**self._data)

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={list(v.shape) if isinstance(v, Tensor) else v}" for k, v in self._data.items())
        return f"TemporalData({inner})"


def _event_index(index: Any) -> Any:
    """PyG's accepted event indices: an int (kept as a one-event slice), slice, list or tuple,
    int64 or bool tensor."""
    if isinstance(index, bool):
        raise IndexError("TemporalData events are indexed by ints, slices, lists and int64 or bool tensors, "
                         "got a bool")
    if isinstance(index, int):
        return slice(index, index + 1)
    if isinstance(index, (list, tuple)):
        return torch.tensor(index)
    if isinstance(index, slice) or (isinstance(index, Tensor) and index.dtype in (torch.long, torch.bool)):
        return index
    raise IndexError("TemporalData events are indexed by ints, slices, lists and int64 or bool tensors, got "
                     f"{type(index).__name__}" + (f" of dtype {index.dtype}" if isinstance(index, Tensor) else ""))


class TemporalDataLoader(torch.utils.data.DataLoader):
    """Consecutive batches of ``batch_size`` events (PyG's ``TemporalDataLoader``).

    With ``neg_sampling_ratio > 0`` each batch also holds ``neg_dst``: ``round(ratio *
    batch size)`` destinations drawn uniformly from ``[dst.min(), dst.max()]`` (PyG's draw,
    so the same seed gives the same negatives). ``batch.n_id`` is the sorted set of nodes
    the batch touches (``src``, ``dst``, ``neg_dst``). Events keep their order (no
    shuffling: a temporal model must see the past first).
    """

    def __init__(self, data: TemporalData, batch_size: int = 1, neg_sampling_ratio: float = 0.0,
                 **kwargs: Any) -> None:
        for name in ("dataset", "collate_fn", "shuffle"):  # set here (PyTorch Lightning passes them)
            kwargs.pop(name, None)
        if not isinstance(data, TemporalData) and type(data).__name__ == "TemporalData" and hasattr(data, "to_dict"):
            data = TemporalData.from_dict(data.to_dict())  # PyG's TemporalData: the same fields
        if not isinstance(data, TemporalData):
            raise TypeError(f"TemporalDataLoader takes a TemporalData, got {type(data).__name__}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if neg_sampling_ratio < 0:
            raise ValueError(f"neg_sampling_ratio must be non-negative, got {neg_sampling_ratio}")
        data.validate()
        self.data = data
        self.events_per_batch = batch_size
        self.neg_sampling_ratio = neg_sampling_ratio
        if neg_sampling_ratio > 0 and len(data):
            self.min_dst, self.max_dst = int(data.dst.min()), int(data.dst.max())
        if kwargs.get("drop_last", False) and len(data) % batch_size != 0:
            starts = range(0, len(data) - batch_size, batch_size)
        else:
            starts = range(0, len(data), batch_size)
        super().__init__(starts, 1, shuffle=False, collate_fn=self, **kwargs)

    def __call__(self, start: List[int]) -> TemporalData:
        batch = self.data[start[0]:start[0] + self.events_per_batch]
        touched = [batch.src, batch.dst]
        if self.neg_sampling_ratio > 0:
            batch.neg_dst = torch.randint(low=self.min_dst, high=self.max_dst + 1,
                                          size=(round(self.neg_sampling_ratio * batch.dst.size(0)),),
                                          dtype=batch.dst.dtype, device=batch.dst.device)
            touched.append(batch.neg_dst)
        batch.n_id = torch.cat(touched, dim=0).unique()
        return batch


torch.serialization.add_safe_globals([TemporalData])  # torch.load(weights_only=True), as Graph
