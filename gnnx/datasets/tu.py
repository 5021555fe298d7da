"""TU Dortmund graph kernel benchmark format (files the user downloads themselves).

Files in ``root/NAME/`` (or ``root/NAME/raw`` or ``root``), all comma-separated text:
``NAME_A.txt`` (edges ``i, j``, 1-based global node ids), ``NAME_graph_indicator.txt``
(graph id of node ``i``, 1-based), ``NAME_graph_labels.txt`` (one label per graph);
optional ``NAME_node_labels.txt`` (one-hot encoded), ``NAME_node_attributes.txt``,
``NAME_edge_labels.txt`` (one-hot), ``NAME_edge_attributes.txt``. Graph labels map to
``0..C-1`` in sorted order. Errors name the file and line.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, List, Optional, Sequence, Union

import torch
from torch import Tensor

from gnnx.datasets.arguments import name_and_root
from gnnx.datasets.graph_classification import DatasetFormatError
from gnnx.graph import Graph


def _read(path: Path, columns: Optional[int], kind=int) -> List[List]:
    rows = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split(",")]
        if columns is not None and len(parts) != columns:
            raise DatasetFormatError(f"{path}, line {number}: expected {columns} comma-separated values, "
                                     f"got {len(parts)}")
        try:
            rows.append([kind(p) for p in parts])
        except ValueError:
            raise DatasetFormatError(f"{path}, line {number}: not a number in {line.strip()!r}") from None
    return rows


def _attributes(path: Path) -> torch.Tensor:
    rows = _read(path, None, float)
    widths = {len(r) for r in rows}
    if len(widths) > 1:
        raise DatasetFormatError(f"{path}: rows have different numbers of values ({sorted(widths)})")
    values = torch.tensor(rows, dtype=torch.float32)
    bad = (~torch.isfinite(values)).any(1).nonzero()
    if bad.numel() > 0:
        raise DatasetFormatError(f"{path}, line {int(bad[0]) + 1}: NaN or infinite value")
    return values


def _one_hot(values: List[int]) -> torch.Tensor:
    keys = sorted(set(values))
    index = {v: i for i, v in enumerate(keys)}
    out = torch.zeros(len(values), len(keys))
    out[torch.arange(len(values)), torch.tensor([index[v] for v in values])] = 1.0
    return out


class TUDataset:
    """Graphs of a TU-format dataset: ``x`` from node labels/attributes (a constant 1 if
    neither exists), ``edge_attr`` from edge labels/attributes, and a 0-dim ``y``."""

    def __init__(self, name_or_root: Optional[Union[str, os.PathLike]] = None,
                 root: Optional[Union[str, os.PathLike]] = None, *, name: Optional[str] = None,
                 **pyg_kwargs: Any) -> None:
        # gnnx's TUDataset(name, root) and PyG's TUDataset(root, name=...); PyG's download
        # options (pyg_kwargs) are ignored: the files are read locally.
        name, root = name_and_root(name_or_root, root, name)
        if root is None:
            raise ValueError("TUDataset needs the folder holding the NAME_*.txt files (root)")
        root = Path(root)
        folder = next((f for f in (root / name, root / name / "raw", root) if (f / f"{name}_A.txt").is_file()), None)
        if folder is None:
            raise FileNotFoundError(f"no {name}_A.txt under {root}, {root / name} or {root / name / 'raw'}")
        path = lambda part: folder / f"{name}_{part}.txt"  # noqa: E731
        edges = _read(path("A"), 2)
        indicator = [r[0] for r in _read(path("graph_indicator"), 1)]
        labels = [r[0] for r in _read(path("graph_labels"), 1)]
        num_nodes, num_graphs = len(indicator), len(labels)
        if indicator and (min(indicator) < 1 or max(indicator) > num_graphs):
            raise DatasetFormatError(f"{path('graph_indicator')}: graph ids must lie in 1..{num_graphs} "
                                     f"(the number of graph labels), found {min(indicator)}..{max(indicator)}")
        for number in range(1, num_nodes):  # each graph's nodes are one block, in graph order
            if indicator[number] < indicator[number - 1]:
                raise DatasetFormatError(f"{path('graph_indicator')}, line {number + 1}: graph id {indicator[number]} "
                                         f"after {indicator[number - 1]}; nodes must be grouped by graph, in order")
        present = set(indicator)
        empty = next((g for g in range(1, num_graphs + 1) if g not in present), None)
        if empty is not None:
            raise DatasetFormatError(f"{path('graph_indicator')}: graph {empty} has no nodes")
        for number, (i, j) in enumerate(edges, 1):
            if not (1 <= i <= num_nodes and 1 <= j <= num_nodes):
                raise DatasetFormatError(f"{path('A')}, line {number}: node id outside 1..{num_nodes}")
            if indicator[i - 1] != indicator[j - 1]:
                raise DatasetFormatError(f"{path('A')}, line {number}: edge joins two graphs")
        features = []
        if path("node_labels").is_file():
            features.append(_one_hot([r[0] for r in _read(path("node_labels"), 1)]))
        if path("node_attributes").is_file():
            features.append(_attributes(path("node_attributes")))
        x = torch.cat(features, 1) if features else torch.ones(num_nodes, 1)
        edge_features = []
        if path("edge_labels").is_file():
            edge_features.append(_one_hot([r[0] for r in _read(path("edge_labels"), 1)]))
        if path("edge_attributes").is_file():
            edge_features.append(_attributes(path("edge_attributes")))
        edge_attr = torch.cat(edge_features, 1) if edge_features else None
        for what, t in (("node", x), ("edge", edge_attr)):
            expected = num_nodes if what == "node" else len(edges)
            if t is not None and t.size(0) != expected:
                raise DatasetFormatError(f"{folder}: {what} label/attribute files have {t.size(0)} rows, "
                                         f"expected {expected}")
        self.label_values = sorted(set(labels))
        label_index = {v: i for i, v in enumerate(self.label_values)}
        graph_of_node = torch.tensor(indicator) - 1
        starts = torch.zeros(num_graphs + 1, dtype=torch.long)
        starts[1:] = torch.cumsum(torch.bincount(graph_of_node, minlength=num_graphs), 0)
        edge_tensor = torch.tensor(edges, dtype=torch.long).view(-1, 2).t() - 1
        graph_of_edge = graph_of_node[edge_tensor[0]] if edges else torch.zeros(0, dtype=torch.long)
        self.graphs: List[Graph] = []
        for g in range(num_graphs):
            mask = graph_of_edge == g
            lo, hi = int(starts[g]), int(starts[g + 1])
            try:  # validated: what a reader builds is checked as any Graph is
                self.graphs.append(Graph(edge_tensor[:, mask] - lo, hi - lo, x=x[lo:hi],
                                         y=torch.tensor(label_index[labels[g]]),
                                         edge_attr=None if edge_attr is None else edge_attr[mask]))
            except (TypeError, ValueError) as error:
                raise DatasetFormatError(f"{folder}: graph {g + 1}: {error}") from None
        self.name = name
        self.num_classes = len(self.label_values)
        self.num_features = x.size(1)

    def __len__(self) -> int:
        return len(self.graphs)

    def __getitem__(self, index: Union[int, slice, Sequence[int], Tensor]) -> Union[Graph, "TUDataset"]:
        """A graph for an int; a dataset of the selected graphs for a slice, an index list
        or tensor (as PyG's ``dataset[a:b]``)."""
        if isinstance(index, int) or (isinstance(index, Tensor) and index.dim() == 0):
            return self.graphs[int(index)]
        picked = self.graphs[index] if isinstance(index, slice) else [self.graphs[int(i)] for i in index]
        subset = object.__new__(TUDataset)
        subset.__dict__.update(self.__dict__)
        subset.graphs = picked
        return subset

    def shuffle(self, generator: Optional[torch.Generator] = None) -> "TUDataset":
        """The graphs in a random order (PyG's ``dataset.shuffle()``)."""
        return self[torch.randperm(len(self.graphs), generator=generator)]

    def __repr__(self) -> str:
        return f"TUDataset({self.name}: {len(self)} graphs, {self.num_classes} classes)"
