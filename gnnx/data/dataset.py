"""Base classes for a user's own datasets (PyG's ``Dataset`` and ``InMemoryDataset``), so a
PyG dataset class ports by its imports: ``raw_file_names``, ``processed_file_names``,
``download``, ``process``, ``transform`` / ``pre_transform`` / ``pre_filter``,
``force_reload``, indexing by int, slice, index or mask, ``shuffle``, ``num_classes``,
``num_features``.

Processed files are written with ``torch.save`` and read back with ``weights_only=True``:
graphs (:class:`~gnnx.Graph`, :class:`~gnnx.HeteroGraph`) and tensors load, arbitrary
pickled objects do not. gnnx never downloads: ``download`` runs only if the class defines one
and the raw files are missing.
"""
from __future__ import annotations

import copy
import os
import sys
import warnings
from typing import Any, Callable, List, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor

IndexType = Union[slice, Tensor, Sequence[int]]


def _files(names: Any) -> List[str]:
    names = names() if callable(names) else names
    return [names] if isinstance(names, str) else list(names)


def _overrides(cls: type, name: str) -> bool:
    return getattr(cls, name) is not getattr(Dataset, name)


def _repr(value: Any) -> str:
    return "None" if value is None else repr(value)


class Dataset(torch.utils.data.Dataset):
    """A dataset of graphs kept on disk or built on the fly: define ``len`` and ``get``
    (and, where files are involved, ``raw_file_names``, ``processed_file_names``,
    ``download``, ``process``). ``transform`` runs on every access, ``pre_transform`` and
    ``pre_filter`` once in ``process``."""

    @property
    def raw_file_names(self) -> Union[str, List[str], Tuple[str, ...]]:
        raise NotImplementedError

    @property
    def processed_file_names(self) -> Union[str, List[str], Tuple[str, ...]]:
        raise NotImplementedError

    def download(self) -> None:
        raise NotImplementedError

    def process(self) -> None:
        raise NotImplementedError

    def len(self) -> int:
        raise NotImplementedError

    def get(self, idx: int) -> Any:
        raise NotImplementedError

    def __init__(self, root: Optional[str] = None, transform: Optional[Callable] = None,
                 pre_transform: Optional[Callable] = None, pre_filter: Optional[Callable] = None, log: bool = True,
                 force_reload: bool = False) -> None:
        super().__init__()
        self.root = os.path.expanduser(os.path.normpath(root)) if isinstance(root, str) else (root or "???")
        self.transform, self.pre_transform, self.pre_filter = transform, pre_transform, pre_filter
        self.log, self.force_reload = log, force_reload
        self._indices: Optional[Sequence[int]] = None
        if _overrides(type(self), "download"):
            self._download()
        if _overrides(type(self), "process"):
            self._process()

    def indices(self) -> Sequence[int]:
        return range(self.len()) if self._indices is None else self._indices

    @property
    def raw_dir(self) -> str:
        return os.path.join(self.root, "raw")

    @property
    def processed_dir(self) -> str:
        return os.path.join(self.root, "processed")

    @property
    def raw_paths(self) -> List[str]:
        return [os.path.join(self.raw_dir, name) for name in _files(self.raw_file_names)]

    @property
    def processed_paths(self) -> List[str]:
        return [os.path.join(self.processed_dir, name) for name in _files(self.processed_file_names)]

    def _download(self) -> None:
        if all(os.path.exists(path) for path in self.raw_paths):
            return
        os.makedirs(self.raw_dir, exist_ok=True)
        self.download()

    def _process(self) -> None:
        for name, value in (("pre_transform", self.pre_transform), ("pre_filter", self.pre_filter)):
            path = os.path.join(self.processed_dir, f"{name}.pt")
            if not self.force_reload and os.path.exists(path) and torch.load(path, weights_only=True) != _repr(value):
                warnings.warn(f"The `{name}` argument differs from the one used in the pre-processed version of "
                              f"this dataset. If you want to make use of another one, pass `force_reload=True` "
                              f"explicitly to reload the dataset.", stacklevel=3)
        if not self.force_reload and self.processed_paths and all(os.path.exists(p) for p in self.processed_paths):
            return
        if self.log and "PYTEST_CURRENT_TEST" not in os.environ:
            print("Processing...", file=sys.stderr)
        os.makedirs(self.processed_dir, exist_ok=True)
        self.process()
        for name, value in (("pre_transform", self.pre_transform), ("pre_filter", self.pre_filter)):
            torch.save(_repr(value), os.path.join(self.processed_dir, f"{name}.pt"))
        if self.log and "PYTEST_CURRENT_TEST" not in os.environ:
            print("Done!", file=sys.stderr)

    def __len__(self) -> int:
        return len(self.indices())

    def __getitem__(self, idx: Union[int, IndexType]) -> Any:
        """A graph (``transform`` applied) for an int; a dataset view for a slice (ints or
        fractions of the length), an index list or tensor, or a boolean mask."""
        if isinstance(idx, int) or (isinstance(idx, Tensor) and idx.dim() == 0):
            data = self.get(self.indices()[int(idx)])
            return data if self.transform is None else self.transform(data)
        return self.index_select(idx)

    def __iter__(self):
        for index in range(len(self)):
            yield self[index]

    def index_select(self, idx: IndexType) -> "Dataset":
        indices = self.indices()
        if isinstance(idx, slice):
            start, stop = idx.start, idx.stop
            start = round(start * len(self)) if isinstance(start, float) else start
            stop = round(stop * len(self)) if isinstance(stop, float) else stop
            picked = list(indices[slice(start, stop, idx.step)])
        elif isinstance(idx, Tensor) and idx.dtype == torch.bool:
            if idx.numel() != len(self):
                raise IndexError(f"a boolean mask of {idx.numel()} entries for a dataset of {len(self)}")
            picked = [indices[i] for i in idx.flatten().nonzero().view(-1).tolist()]
        elif isinstance(idx, Tensor):
            picked = [indices[i] for i in idx.flatten().tolist()]
        elif isinstance(idx, Sequence) and not isinstance(idx, str):
            picked = [indices[i] for i in idx]
        else:
            raise IndexError(f"Only slices (':'), list, tuples, torch.tensor and np.ndarray of dtype long or bool "
                             f"are valid indices (got '{type(idx).__name__}')")
        out = copy.copy(self)
        out._indices = picked
        return out

    def shuffle(self, return_perm: bool = False) -> Union["Dataset", Tuple["Dataset", Tensor]]:
        """The dataset in a random order (``torch.randperm``, as PyG)."""
        perm = torch.randperm(len(self))
        out = self.index_select(perm)
        return (out, perm) if return_perm else out

    @property
    def num_node_features(self) -> int:
        graph = self[0]
        x = getattr(graph, "x", None)
        return 0 if x is None else (1 if x.dim() == 1 else x.size(-1))

    @property
    def num_features(self) -> int:
        return self.num_node_features

    @property
    def num_edge_features(self) -> int:
        edge_attr = getattr(self[0], "edge_attr", None)
        return 0 if edge_attr is None else (1 if edge_attr.dim() == 1 else edge_attr.size(-1))

    @property
    def num_classes(self) -> int:
        """The largest integer label plus one (the number of distinct float labels; the
        width of multi-label targets)."""
        labels = [getattr(graph, "y", None) for graph in self]
        labels = [y for y in labels if y is not None]
        if not labels:
            return 0
        y = torch.cat([y.view(-1) if y.dim() <= 1 else y for y in labels]) if isinstance(labels[0], Tensor) \
            else torch.as_tensor(labels)
        if y.numel() == y.size(0) and not torch.is_floating_point(y):
            return int(y.max()) + 1
        if y.numel() == y.size(0):
            return torch.unique(y).numel()
        return y.size(-1)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self) if self.len.__func__ is not Dataset.len else ''})"


class InMemoryDataset(Dataset):
    """A dataset small enough to hold in memory: ``process`` builds a list of graphs and
    ``self.save(data_list, self.processed_paths[0])`` stores it; the constructor of a
    subclass then calls ``self.load(self.processed_paths[0])``. PyG's older form
    (``self.data, self.slices = self.collate(data_list)`` with ``torch.save`` /
    ``torch.load`` of that pair) works too."""

    def __init__(self, root: Optional[str] = None, transform: Optional[Callable] = None,
                 pre_transform: Optional[Callable] = None, pre_filter: Optional[Callable] = None, log: bool = True,
                 force_reload: bool = False) -> None:
        self._graphs: List[Any] = []
        super().__init__(root, transform, pre_transform, pre_filter, log, force_reload)

    def len(self) -> int:
        return len(self._graphs)

    def get(self, idx: int) -> Any:
        return copy.copy(self._graphs[idx])

    @classmethod
    def save(cls, data_list: Sequence[Any], path: str) -> None:
        """Write the graphs to ``path`` (read back with ``weights_only=True``)."""
        torch.save(list(data_list), path)

    def load(self, path: str, data_cls: Any = None) -> None:
        """Read the graphs ``save`` wrote (``data_cls`` is accepted for PyG's signature)."""
        self._graphs = list(torch.load(path, weights_only=True))

    @staticmethod
    def collate(data_list: Sequence[Any]) -> Tuple[List[Any], None]:
        """PyG's older storage form: here the list itself (and no slices)."""
        return list(data_list), None

    @property
    def data(self) -> List[Any]:
        return self._graphs

    @data.setter
    def data(self, value: Any) -> None:  # ``self.data, self.slices = torch.load(...)``
        self._graphs = list(value) if isinstance(value, (list, tuple)) else [value]

    @property
    def slices(self) -> None:
        return None

    @slices.setter
    def slices(self, value: Any) -> None:
        if value is not None:
            raise ValueError("gnnx's InMemoryDataset keeps a list of graphs: store what self.collate(data_list) "
                             "returns, not PyG's (data, slices) pair")

    def copy(self, idx: Optional[IndexType] = None) -> "InMemoryDataset":
        """A dataset holding its own list of (the selected) graphs."""
        view = self if idx is None else self.index_select(idx)
        out = copy.copy(view)
        out._graphs = [view.get(i) for i in view.indices()]
        out._indices = None
        return out
