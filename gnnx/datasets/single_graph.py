"""Datasets of one graph (a citation network, the karate club): PyG's ``dataset[0]`` and
``len(dataset) == 1``, with the sizes a model is built from."""
from __future__ import annotations

from typing import Callable, Optional

from gnnx.graph import Graph


class SingleGraph:
    """``graph`` (``transform`` applied once), ``num_classes`` and ``num_features`` (of the graph
    before the transform, as PyG), indexed as a dataset of one graph."""

    name: str

    def __init__(self, graph: Graph, transform: Optional[Callable[[Graph], Graph]] = None) -> None:
        self.graph = transform(graph) if transform is not None else graph
        self.num_classes = int(graph.y.max()) + 1
        self.num_features = graph.x.size(1)

    def __len__(self) -> int:
        return 1

    def __getitem__(self, index: int) -> Graph:
        if index not in (0, -1):
            raise IndexError(f"{self.name} holds one graph; index {index} is out of range")
        return self.graph
