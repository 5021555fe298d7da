"""Graph-classification benchmarks in the GIN/DGCNN text format (MUTAG, PROTEINS, PTC ship).

Format of ``NAME.txt`` (Xu et al. 2019's code, Zhang et al. 2018's files): line 1 is the
number of graphs; each graph starts with ``n label``, then ``n`` lines
``tag m j1 ... jm [f1 ... fd]`` (node tag, neighbour count, neighbours, optional
continuous attributes). Node tags are one-hot encoded over the tags of the whole dataset
(sorted); graph labels are mapped to ``0..C-1`` in sorted order (``label_values`` keeps
the original values). The 10-fold splits come from ``10fold_idx/{train,test}_idx-K.txt``.
Malformed files raise :class:`DatasetFormatError` naming the file and line.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import List, Optional, Tuple, Union

import torch

from gnnx.datasets.errors import DatasetFormatError
from gnnx.datasets.planetoid import _verify_checksums
from gnnx.graph import Graph

PACKAGED = Path(__file__).parent / "raw" / "graph-classification"
SHIPPED = ("MUTAG", "PROTEINS", "PTC")


class _Lines:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.lines = path.read_text().splitlines()
        self.number = 0

    def next_ints(self, what: str) -> List[str]:
        while self.number < len(self.lines):
            self.number += 1
            parts = self.lines[self.number - 1].split()
            if parts:
                return parts
        self.number = len(self.lines) + 1
        raise self.error(f"file ends early: expected {what}")

    def error(self, message: str) -> DatasetFormatError:
        return DatasetFormatError(f"{self.path}, line {self.number}: {message}")


def _int(lines: _Lines, token: str, what: str) -> int:
    try:
        return int(token)
    except ValueError:
        raise lines.error(f"{what} must be an integer, got {token!r}") from None


def read_gin_format(path: Union[str, Path]) -> List[Tuple[int, List[int], List[List[int]], list]]:
    """Parse ``NAME.txt`` into raw graphs ``(label, tags, neighbour lists, attributes)``."""
    lines = _Lines(Path(path))
    count = _int(lines, lines.next_ints("the number of graphs")[0], "the number of graphs")
    graphs = []
    width = None  # attributes per node: the same for every node of the file
    for g in range(count):
        header = lines.next_ints(f"the header of graph {g}")
        if len(header) != 2:
            raise lines.error(f"graph {g} header must be 'num_nodes label', got {len(header)} values")
        n, label = _int(lines, header[0], "num_nodes"), _int(lines, header[1], "label")
        if n <= 0:
            raise lines.error(f"graph {g} has {n} nodes")
        tags, neighbours, attributes = [], [], []
        for i in range(n):
            parts = lines.next_ints(f"node {i} of graph {g}")
            if len(parts) < 2:
                raise lines.error(f"node {i} of graph {g} needs 'tag num_neighbours ...', got {len(parts)} values")
            tag, m = _int(lines, parts[0], "node tag"), _int(lines, parts[1], "neighbour count")
            if len(parts) < 2 + m:
                raise lines.error(f"node {i} of graph {g} lists {len(parts) - 2} neighbours but says {m}")
            nbrs = [_int(lines, t, "neighbour index") for t in parts[2:2 + m]]
            bad = [j for j in nbrs if not 0 <= j < n]
            if bad:
                raise lines.error(f"node {i} of graph {g} has neighbour {bad[0]} outside [0, {n})")
            values = [_float(lines, t) for t in parts[2 + m:]]
            if width is None:
                width = len(values)
            elif len(values) != width:
                raise lines.error(f"node {i} of graph {g} has {len(values)} attributes, earlier nodes {width}")
            tags.append(tag)
            neighbours.append(nbrs)
            attributes.append(values)
        graphs.append((label, tags, neighbours, attributes))
    rest = next((k for k in range(lines.number, len(lines.lines)) if lines.lines[k].strip()), None)
    if rest is not None:
        lines.number = rest + 1
        raise lines.error(f"more lines after the {count} graphs that line 1 announces")
    return graphs


def _float(lines: _Lines, token: str) -> float:
    try:
        value = float(token)
    except ValueError:
        raise lines.error(f"node attribute must be a number, got {token!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise lines.error(f"node attribute {token!r} is NaN or infinite")
    return value


class GraphClassification:
    """A list of graphs with ``x`` (one-hot tags, plus attributes if any), a 0-dim ``y``,
    and the 10-fold splits.

    Args:
        name: ``"MUTAG"``, ``"PROTEINS"``, ``"PTC"`` (shipped) or another dataset in the same
            format under ``root``.
        root: folder holding ``NAME/NAME.txt`` (or ``NAME.txt``) and ``10fold_idx``.
    """

    def __init__(self, name: str, root: Optional[Union[str, os.PathLike]] = None) -> None:
        folder = self._folder(name, root)
        _verify_checksums(folder)
        raw = read_gin_format(folder / f"{name}.txt")
        all_tags = sorted({t for _, tags, _, _ in raw for t in tags})
        tag_index = {t: i for i, t in enumerate(all_tags)}
        self.label_values = sorted({label for label, _, _, _ in raw})
        label_index = {v: i for i, v in enumerate(self.label_values)}
        self.name, self.folder = name, folder
        self.graphs: List[Graph] = []
        for label, tags, neighbours, attributes in raw:
            n = len(tags)
            src = [j for i, nbrs in enumerate(neighbours) for j in nbrs]
            dst = [i for i, nbrs in enumerate(neighbours) for _ in nbrs]
            x = torch.zeros(n, len(all_tags))
            x[torch.arange(n), torch.tensor([tag_index[t] for t in tags])] = 1.0
            if attributes and attributes[0]:
                x = torch.cat([x, torch.tensor(attributes, dtype=torch.float32)], 1)
            self.graphs.append(Graph(torch.tensor([src, dst], dtype=torch.long).view(2, -1), n, x=x,
                                     y=torch.tensor(label_index[label]), validate=False))
        self.num_classes = len(self.label_values)
        self.num_features = self.graphs[0].x.size(1)

    @staticmethod
    def _folder(name: str, root) -> Path:
        if root is None:
            if name not in SHIPPED:
                raise ValueError(f"{name}: only {', '.join(SHIPPED)} ship with gnnx; pass root=")
            return PACKAGED / name
        root = Path(root)
        for folder in (root / name, root):
            if (folder / f"{name}.txt").is_file():
                return folder
        raise FileNotFoundError(f"no {name}.txt under {root} or {root / name}")

    def fold(self, k: int) -> Tuple[List[int], List[int]]:
        """Train and test graph indices of fold ``k`` (1..10)."""
        if not 1 <= k <= 10:
            raise ValueError(f"fold must be in 1..10, got {k}")
        out = []
        for part in ("train", "test"):
            path = self.folder / "10fold_idx" / f"{part}_idx-{k}.txt"
            lines = _Lines(path)
            indices = []
            for number, line in enumerate(lines.lines, 1):
                if line.strip():
                    lines.number = number
                    index = _int(lines, line.strip(), "graph index")
                    if not 0 <= index < len(self.graphs):
                        raise lines.error(f"graph index {index} outside [0, {len(self.graphs)})")
                    indices.append(index)
            out.append(indices)
        return out[0], out[1]

    def __len__(self) -> int:
        return len(self.graphs)

    def __getitem__(self, index):
        if isinstance(index, (list, tuple)):
            return [self.graphs[i] for i in index]
        return self.graphs[index]

    def __repr__(self) -> str:
        return f"GraphClassification({self.name}: {len(self)} graphs, {self.num_classes} classes)"
