"""Node features and positions: ``Constant``, ``OneHotDegree``, ``Center``, ``NormalizeScale``
(PyG's arguments and results)."""
from __future__ import annotations

from typing import List, Optional, Union

import torch

from gnnx.graph import Graph
from gnnx.hetero_graph import HeteroGraph
from gnnx.transforms.geometry import positions
from gnnx.utils import degree, one_hot


def _with_column(x: Optional[torch.Tensor], column: torch.Tensor, cat: bool) -> torch.Tensor:
    if x is not None and cat:
        x = x.view(-1, 1) if x.dim() == 1 else x
        return torch.cat([x, column.to(x.dtype)], dim=-1)
    return column


class Constant:
    """Append (``cat``) or set a constant feature ``value`` per node: features for graphs
    that have none (the GIN protocol's social networks). On a :class:`~gnnx.HeteroGraph`,
    every node type or those of ``node_types``, as PyG's."""

    def __init__(self, value: float = 1.0, cat: bool = True,
                 node_types: Optional[Union[str, List[str]]] = None) -> None:
        self.value, self.cat = value, cat
        self.node_types = [node_types] if isinstance(node_types, str) else node_types

    def __call__(self, graph):
        if isinstance(graph, HeteroGraph):
            out = graph.copy()
            for node_type in self.node_types or graph.node_types:
                store = out[node_type]
                x = store["x"] if "x" in store else None
                column = torch.full((int(store.num_nodes), 1), self.value)
                store.x = _with_column(x, column.to(x.device) if x is not None else column, self.cat)
            return out
        column = torch.full((graph.num_nodes, 1), self.value, device=graph.edge_index.device)
        return graph.replace(x=_with_column(graph.x, column, self.cat))

    def __repr__(self) -> str:
        return f"Constant(value={self.value})"


class OneHotDegree:
    """Append (``cat``) or set each node's degree as a one-hot vector of ``max_degree + 1``
    entries (out-degree by default; ``in_degree=True`` counts incoming edges), as PyG."""

    def __init__(self, max_degree: int, in_degree: bool = False, cat: bool = True) -> None:
        self.max_degree, self.in_degree, self.cat = max_degree, in_degree, cat

    def __call__(self, graph: Graph) -> Graph:
        index = graph.edge_index[1 if self.in_degree else 0]
        deg = degree(index, graph.num_nodes, dtype=torch.long)
        if deg.numel() and int(deg.max()) > self.max_degree:
            raise ValueError(f"OneHotDegree: a node has degree {int(deg.max())} > max_degree={self.max_degree}")
        return graph.replace(x=_with_column(graph.x, one_hot(deg, self.max_degree + 1, torch.float), self.cat))

    def __repr__(self) -> str:
        return f"OneHotDegree({self.max_degree})"


class Center:
    """Positions moved so their mean is the origin."""

    def __call__(self, graph: Graph) -> Graph:
        pos = positions(graph, self)
        return graph.replace(pos=pos - pos.mean(dim=-2, keepdim=True))

    def __repr__(self) -> str:
        return "Center()"


class NormalizeScale:
    """Positions centred and scaled into ``(-1, 1)``."""

    def __call__(self, graph: Graph) -> Graph:
        pos = positions(graph, self)
        pos = pos - pos.mean(dim=-2, keepdim=True)
        top = pos.abs().max() if pos.numel() else pos.new_zeros(())
        # all points at their mean (e.g. one point): nothing to scale (PyG divides by 0: NaN)
        scale = torch.where(top > 0, 0.999999 / top, torch.ones_like(top))
        return graph.replace(pos=pos * scale)

    def __repr__(self) -> str:
        return "NormalizeScale()"


