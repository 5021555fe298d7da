"""Graphs from geometry: ``KNNGraph``, ``RadiusGraph``, ``Delaunay``, ``FaceToEdge``, and edge features
from positions: ``Distance``, ``Cartesian``, ``LocalCartesian`` (PyG's arguments and results)."""
from __future__ import annotations

from typing import Optional, Tuple

import torch
from torch import Tensor

from gnnx import ops
from gnnx._optional import require
from gnnx.graph import Graph
from gnnx.ops.dispatch import check_index_range
from gnnx.utils import to_undirected


def positions(graph: Graph, transform: object) -> Tensor:
    """``graph.pos``, or an error naming ``transform`` when the graph has none."""
    if getattr(graph, "pos", None) is None:
        raise ValueError(f"{type(transform).__name__} needs node positions: the graph has no 'pos' ([N, D])")
    return graph.pos


class KNNGraph:
    """Edges from each point's ``k`` nearest neighbours (exact; pairs never cross graphs of
    a ``batch``); existing edge attributes are dropped, as PyG."""

    def __init__(self, k: int = 6, loop: bool = False, force_undirected: bool = False,
                 flow: str = "source_to_target", cosine: bool = False, num_workers: int = 1) -> None:
        self.k, self.loop, self.force_undirected, self.flow, self.cosine = k, loop, force_undirected, flow, cosine

    def __call__(self, graph: Graph) -> Graph:
        edge_index = ops.knn_graph(positions(graph, self), self.k, graph.batch, loop=self.loop, flow=self.flow,
                                   cosine=self.cosine)
        if not self.loop:  # graphs with k or fewer points: gnnx's static form fills with self loops
            edge_index = edge_index[:, edge_index[0] != edge_index[1]]
        if self.force_undirected:
            edge_index = to_undirected(edge_index, num_nodes=graph.num_nodes)
        return graph.replace(edge_index=edge_index, edge_attr=None, edge_weight=None)

    def __repr__(self) -> str:
        return f"KNNGraph(k={self.k})"


class RadiusGraph:
    """Edges between points closer than ``r`` (at most ``max_num_neighbors`` per point)."""

    def __init__(self, r: float, loop: bool = False, max_num_neighbors: int = 32, flow: str = "source_to_target",
                 num_workers: int = 1) -> None:
        self.r, self.loop, self.max_num_neighbors, self.flow = r, loop, max_num_neighbors, flow

    def __call__(self, graph: Graph) -> Graph:
        edge_index = ops.radius_graph(positions(graph, self), self.r, graph.batch, loop=self.loop,
                                      max_num_neighbors=self.max_num_neighbors, flow=self.flow, static=False)
        return graph.replace(edge_index=edge_index, edge_attr=None, edge_weight=None)

    def __repr__(self) -> str:
        return f"RadiusGraph(r={self.r})"


class FaceToEdge:
    """Triangle faces (``face [3, F]``) to undirected edges; the faces are dropped unless
    ``remove_faces=False``."""

    def __init__(self, remove_faces: bool = True) -> None:
        self.remove_faces = remove_faces

    def __call__(self, graph: Graph) -> Graph:
        face = getattr(graph, "face", None)
        if not isinstance(face, Tensor) or face.dim() != 2 or face.size(0) != 3 or face.dtype != torch.long:
            described = f"{face.dtype} of shape {list(face.shape)}" if isinstance(face, Tensor) else repr(face)
            raise ValueError(f"FaceToEdge needs graph.face as an int64 tensor of shape [3, num_faces], got {described}")
        check_index_range(face, graph.num_nodes, "face", "{count} nodes", unit="node index")
        edge_index = torch.cat([face[:2], face[1:], face[::2]], dim=1)
        edge_index = to_undirected(edge_index, num_nodes=graph.num_nodes)
        changes = {"edge_index": edge_index, "edge_attr": None, "edge_weight": None}
        if self.remove_faces:
            changes["face"] = None
        return graph.replace(**changes)

    def __repr__(self) -> str:
        return "FaceToEdge()"


class Delaunay:
    """The Delaunay triangulation of ``pos`` as ``face [3, F]`` (PyG's: scipy's Qhull with
    ``QJ``; two points get an edge each way, three one face; follow with :class:`FaceToEdge`)."""

    def __call__(self, graph: Graph) -> Graph:
        pos = positions(graph, self)
        device, count = pos.device, pos.size(0)
        if count < 2:
            return graph.replace(edge_index=torch.empty(2, 0, dtype=torch.long, device=device))
        if count == 2:
            return graph.replace(edge_index=torch.tensor([[0, 1], [1, 0]], device=device))
        if count == 3:
            return graph.replace(face=torch.tensor([[0], [1], [2]], device=device))
        spatial = require("scipy.spatial", "Delaunay (as PyG's)")
        simplices = spatial.Delaunay(pos.detach().cpu().numpy(), qhull_options="QJ").simplices
        return graph.replace(face=torch.from_numpy(simplices).t().contiguous().to(device, torch.long))

    def __repr__(self) -> str:
        return "Delaunay()"


def _append(graph: Graph, values: Tensor, cat: bool) -> Tensor:
    pseudo = graph.edge_attr
    if pseudo is not None and cat:
        pseudo = pseudo.view(-1, 1) if pseudo.dim() == 1 else pseudo
        return torch.cat([pseudo, values.type_as(pseudo)], dim=-1)
    return values


class Distance:
    """Each edge's Euclidean length as an edge feature (divided by the largest, or by
    ``max_value``, with ``norm``), appended to ``edge_attr`` with ``cat``."""

    def __init__(self, norm: bool = True, max_value: Optional[float] = None, cat: bool = True) -> None:
        self.norm, self.max_value, self.cat = norm, max_value, cat

    def __call__(self, graph: Graph) -> Graph:
        row, col = graph.edge_index
        pos = positions(graph, self)
        dist = torch.norm(pos[col] - pos[row], p=2, dim=-1).view(-1, 1)
        if self.norm and dist.numel() > 0:
            dist = dist / (dist.max() if self.max_value is None else self.max_value)
        return graph.replace(edge_attr=_append(graph, dist, self.cat))

    def __repr__(self) -> str:
        return f"Distance(norm={self.norm}, max_value={self.max_value})"


class Cartesian:
    """Each edge's relative position ``pos[src] - pos[dst]`` as edge features, mapped to
    ``[0, 1]`` with ``norm`` (by the largest absolute coordinate or ``max_value``)."""

    def __init__(self, norm: bool = True, max_value: Optional[float] = None, cat: bool = True) -> None:
        self.norm, self.max_value, self.cat = norm, max_value, cat

    def __call__(self, graph: Graph) -> Graph:
        row, col = graph.edge_index
        pos = positions(graph, self)
        cart = pos[row] - pos[col]
        cart = cart.view(-1, 1) if cart.dim() == 1 else cart
        if self.norm and cart.numel() > 0:
            max_value = cart.abs().max() if self.max_value is None else self.max_value
            cart = cart / (2 * max_value) + 0.5
        return graph.replace(edge_attr=_append(graph, cart, self.cat))

    def __repr__(self) -> str:
        return f"Cartesian(norm={self.norm}, max_value={self.max_value})"


class LocalCartesian:
    """Relative positions scaled per destination node (by its largest neighbour offset)
    into ``interval`` (finite also where a node's neighbours all coincide with it, where
    PyG's is NaN)."""

    def __init__(self, norm: bool = True, cat: bool = True, interval: Tuple[float, float] = (0.0, 1.0)) -> None:
        self.norm, self.cat, self.interval = norm, cat, interval

    def __call__(self, graph: Graph) -> Graph:
        row, col = graph.edge_index
        pos = positions(graph, self)
        cart = pos[row] - pos[col]
        cart = cart.view(-1, 1) if cart.dim() == 1 else cart
        if self.norm:
            max_value = ops.scatter(cart.abs(), col, dim_size=pos.size(0), reduce="max")
            max_value = max_value.max(dim=-1, keepdim=True)[0]
            length = self.interval[1] - self.interval[0]
            center = (self.interval[0] + self.interval[1]) / 2
            scale = max_value[col]
            # A node whose neighbours all sit on it (only self loops) has no extent: its edges
            # get the interval's centre, where PyG divides 0 by 0 (NaN).
            cart = torch.where(scale > 0, length * cart / (2 * scale.clamp(min=1e-30)) + center,
                               torch.full_like(cart, center))
        return graph.replace(edge_attr=_append(graph, cart, self.cat))

    def __repr__(self) -> str:
        return "LocalCartesian()"
