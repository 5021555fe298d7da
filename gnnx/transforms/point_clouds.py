"""Point-cloud and mesh transforms (PyG's ``Polar``, ``Spherical``, ``PointPairFeatures``,
``GenerateMeshNormals``, ``LinearTransformation``, ``RandomJitter``, ``RandomFlip``,
``RandomScale``, ``RandomRotate``, ``RandomShear``, ``NormalizeRotation``, ``SamplePoints``,
``FixedPoints``, ``GridSampling``), PyG's arguments, results and random draws (torch's,
Python's ``random`` and numpy's generators where PyG uses them)."""
from __future__ import annotations

import math
import random
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from gnnx.graph import Graph, attribute_kind
from gnnx.transforms.geometry import positions
from gnnx.transforms.node_features import _append_edge_feature
from gnnx.transforms.transform import BaseTransform
from gnnx.utils import one_hot, scatter


def _edge_vectors(graph: Graph, transform: object, dim: int) -> Tensor:
    pos = positions(graph, transform)
    if pos.dim() != 2 or pos.size(1) != dim:
        raise ValueError(f"{type(transform).__name__} needs {dim}-D positions, got pos of shape {list(pos.shape)}")
    row, col = graph.edge_index[0], graph.edge_index[1]
    return pos[col] - pos[row]


class _EdgeCoordinates(BaseTransform):
    """Edge features from each edge's vector in polar or spherical coordinates."""

    dim = 2

    def __init__(self, norm: bool = True, max_value: Optional[float] = None, cat: bool = True) -> None:
        self.norm, self.max, self.cat = norm, max_value, cat

    def _coordinates(self, cart: Tensor, rho: Tensor) -> List[Tensor]:
        """The angles; :math:`\theta \\in [0, 2\\pi)` in the x-y plane (normalised by
        :math:`2\\pi` when ``norm``)."""
        theta = torch.atan2(cart[..., 1], cart[..., 0]).view(-1, 1)
        theta = theta + (theta < 0).type_as(theta) * (2 * math.pi)
        return [theta / (2 * math.pi) if self.norm else theta]

    def forward(self, data: Graph) -> Graph:
        cart = _edge_vectors(data, self, self.dim)
        rho = torch.norm(cart, p=2, dim=-1).view(-1, 1)
        angles = self._coordinates(cart, rho)
        if self.norm:
            rho = rho / (rho.max() if self.max is None else self.max)
        return _append_edge_feature(data, torch.cat([rho] + angles, dim=-1).type_as(data.pos), self.cat)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(norm={self.norm}, max_value={self.max})"


class Polar(_EdgeCoordinates):
    """Each 2-D edge's polar coordinates ``(rho, theta)`` as edge features (``rho`` divided
    by the largest, or ``max_value``, and ``theta`` by ``2 pi`` when ``norm``)."""


class Spherical(_EdgeCoordinates):
    """Each 3-D edge's spherical coordinates ``(rho, theta, phi)`` as edge features
    (normalised by the largest ``rho``, ``2 pi`` and ``pi`` when ``norm``)."""

    dim = 3

    def _coordinates(self, cart: Tensor, rho: Tensor) -> List[Tensor]:
        phi = torch.acos(cart[..., 2] / rho.view(-1)).view(-1, 1)
        return super()._coordinates(cart, rho) + [phi / math.pi if self.norm else phi]


class PointPairFeatures(BaseTransform):
    """PPFNet's rotation-invariant edge features from positions and surface normals
    (``graph.norm``): distance and the three angles between the normals and the edge."""

    def __init__(self, cat: bool = True) -> None:
        self.cat = cat

    def forward(self, data: Graph) -> Graph:
        from gnnx.nn.conv.geometric import point_pair_features

        pos, normal = positions(data, self), getattr(data, "norm", None)
        if normal is None or normal.size() != pos.size() or pos.size(-1) != 3:
            raise ValueError(f"PointPairFeatures needs 3-D 'pos' and normals 'norm' of the same shape, got "
                             f"{list(pos.shape)} and {None if normal is None else list(normal.shape)}")
        row, col = data.edge_index[0], data.edge_index[1]
        return _append_edge_feature(data, point_pair_features(pos[row], pos[col], normal[row], normal[col]), self.cat)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class GenerateMeshNormals(BaseTransform):
    """Per-vertex normals ``norm`` of a triangle mesh (``face [3, F]``): the normalised sum
    of its faces' unit normals."""

    def forward(self, data: Graph) -> Graph:
        pos, face = positions(data, self), getattr(data, "face", None)
        if face is None:
            raise ValueError("GenerateMeshNormals needs triangle faces: the graph has no 'face' ([3, F])")
        face_normal = F.normalize((pos[face[1]] - pos[face[0]]).cross(pos[face[2]] - pos[face[0]], dim=1), p=2, dim=-1)
        summed = scatter(face_normal.repeat(3, 1), face.view(-1), 0, pos.size(0), reduce="sum")
        return data.replace(norm=F.normalize(summed, p=2, dim=-1))


class LinearTransformation(BaseTransform):
    """``pos @ matrix^T`` for a square ``matrix``."""

    def __init__(self, matrix: Union[Tensor, Sequence[Sequence[float]]]) -> None:
        matrix = matrix if isinstance(matrix, Tensor) else torch.tensor(matrix)
        if matrix.dim() != 2 or matrix.size(0) != matrix.size(1):
            raise ValueError(f"Transformation matrix should be square and two-dimensional (got {matrix.size()})")
        self.matrix = matrix.t()

    def forward(self, data: Graph) -> Graph:
        pos = positions(data, self)
        pos = pos.view(-1, 1) if pos.dim() == 1 else pos
        if pos.size(-1) != self.matrix.size(-2):
            raise ValueError(f"LinearTransformation: {pos.size(-1)}-D positions and a {self.matrix.size(0)} x "
                             f"{self.matrix.size(0)} matrix")
        return data.replace(pos=pos @ self.matrix.to(pos.device, pos.dtype))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(\n{self.matrix.cpu().numpy()}\n)"


class RandomJitter(BaseTransform):
    """Each position moved by a uniform offset in ``[-translate, translate]`` per dimension."""

    def __init__(self, translate: Union[float, int, Sequence[Union[float, int]]]) -> None:
        self.translate = translate

    def forward(self, data: Graph) -> Graph:
        pos = positions(data, self)
        count, dim = pos.size()
        translate = [self.translate] * dim if isinstance(self.translate, (int, float)) else list(self.translate)
        if len(translate) != dim:
            raise ValueError(f"RandomJitter got {len(translate)} translations for {dim}-D positions")
        jitter = pos.new_empty(count, dim)
        for d in range(dim):
            jitter[:, d].uniform_(-abs(translate[d]), abs(translate[d]))
        return data.replace(pos=pos + jitter)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.translate})"


class RandomFlip(BaseTransform):
    """Mirror the positions along ``axis`` with probability ``p``."""

    def __init__(self, axis: int, p: float = 0.5) -> None:
        self.axis, self.p = axis, p

    def forward(self, data: Graph) -> Graph:
        pos = positions(data, self)
        if random.random() < self.p:
            pos = pos.clone()
            pos[..., self.axis] = -pos[..., self.axis]
            return data.replace(pos=pos)
        return data

    def __repr__(self) -> str:
        return f"{type(self).__name__}(axis={self.axis}, p={self.p})"


class RandomScale(BaseTransform):
    """Scale the positions by one factor drawn uniformly from ``scales = (low, high)``."""

    def __init__(self, scales: Tuple[float, float]) -> None:
        if not isinstance(scales, (tuple, list)) or len(scales) != 2:
            raise ValueError(f"RandomScale needs scales as (low, high), got {scales!r}")
        self.scales = scales

    def forward(self, data: Graph) -> Graph:
        return data.replace(pos=positions(data, self) * random.uniform(*self.scales))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.scales})"


class RandomRotate(BaseTransform):
    """Rotate the positions by an angle drawn from ``degrees`` (an interval, or ``+-degrees``)
    about ``axis`` (2-D positions: in the plane)."""

    def __init__(self, degrees: Union[Tuple[float, float], float], axis: int = 0) -> None:
        if isinstance(degrees, (int, float)):
            degrees = (-abs(degrees), abs(degrees))
        if not isinstance(degrees, (tuple, list)) or len(degrees) != 2:
            raise ValueError(f"RandomRotate needs degrees as a number or (low, high), got {degrees!r}")
        self.degrees, self.axis = degrees, axis

    def forward(self, data: Graph) -> Graph:
        angle = math.pi * random.uniform(*self.degrees) / 180.0
        sin, cos = math.sin(angle), math.cos(angle)
        if positions(data, self).size(-1) == 2:
            matrix = [[cos, sin], [-sin, cos]]
        elif self.axis == 0:
            matrix = [[1, 0, 0], [0, cos, sin], [0, -sin, cos]]
        elif self.axis == 1:
            matrix = [[cos, 0, -sin], [0, 1, 0], [sin, 0, cos]]
        else:
            matrix = [[cos, sin, 0], [-sin, cos, 0], [0, 0, 1]]
        return LinearTransformation(torch.tensor(matrix))(data)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.degrees}, axis={self.axis})"


class RandomShear(BaseTransform):
    """Shear the positions by a matrix with unit diagonal and off-diagonal entries drawn from
    ``[-shear, shear]``."""

    def __init__(self, shear: Union[float, int]) -> None:
        self.shear = abs(shear)

    def forward(self, data: Graph) -> Graph:
        pos = positions(data, self)
        dim = pos.size(-1)
        matrix = pos.new_empty(dim, dim).uniform_(-self.shear, self.shear)
        eye = torch.arange(dim, dtype=torch.long)
        matrix[eye, eye] = 1
        return LinearTransformation(matrix)(data)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.shear})"


class NormalizeRotation(BaseTransform):
    """Rotate the positions onto their principal axes (eigenvectors of the centred points'
    scatter matrix, from at most ``max_points`` random points; ``sort``: by eigenvalue)."""

    def __init__(self, max_points: int = -1, sort: bool = False) -> None:
        self.max_points, self.sort = max_points, sort

    def forward(self, data: Graph) -> Graph:
        pos = positions(data, self)
        sample = pos
        if 0 < self.max_points < pos.size(0):
            sample = pos[torch.randperm(pos.size(0))[:self.max_points]]
        sample = sample - sample.mean(dim=0, keepdim=True)
        values, vectors = torch.linalg.eig(torch.matmul(sample.t(), sample))
        values, vectors = torch.view_as_real(values), vectors.real
        if self.sort:
            vectors = vectors.t()[values[:, 0].argsort(descending=True)].t()
        changes = {"pos": torch.matmul(pos, vectors)}
        if getattr(data, "normal", None) is not None:
            changes["normal"] = F.normalize(torch.matmul(getattr(data, "normal"), vectors))
        return data.replace(**changes)


class SamplePoints(BaseTransform):
    """``num`` points drawn uniformly over a triangle mesh's surface (faces chosen in
    proportion to their area); ``include_normals`` adds each point's face normal as
    ``normal``."""

    def __init__(self, num: int, remove_faces: bool = True, include_normals: bool = False) -> None:
        self.num, self.remove_faces, self.include_normals = num, remove_faces, include_normals

    def forward(self, data: Graph) -> Graph:
        pos, face = positions(data, self), getattr(data, "face", None)
        if face is None or pos.size(1) != 3 or face.size(0) != 3:
            raise ValueError("SamplePoints needs 3-D 'pos' and triangle faces 'face' ([3, F])")
        scale = pos.abs().max()
        pos = pos / scale
        area = (pos[face[1]] - pos[face[0]]).cross(pos[face[2]] - pos[face[0]], dim=1).norm(p=2, dim=1).abs() / 2
        face = face[:, torch.multinomial(area / area.sum(), self.num, replacement=True)]
        frac = torch.rand(self.num, 2, device=pos.device)
        flip = frac.sum(dim=-1) > 1
        frac[flip] = 1 - frac[flip]
        vec1, vec2 = pos[face[1]] - pos[face[0]], pos[face[2]] - pos[face[0]]
        sampled = (pos[face[0]] + frac[:, :1] * vec1 + frac[:, 1:] * vec2) * scale
        changes = {"pos": sampled, "num_nodes": self.num, "edge_index": data.edge_index.new_zeros(2, 0),
                   "edge_attr": None, "edge_weight": None, "x": None, "y": data.y if _graph_level(data.y) else None}
        if self.include_normals:
            changes["normal"] = F.normalize(vec1.cross(vec2, dim=1), p=2)
        if self.remove_faces:
            changes["face"] = None
        return data.replace(**changes)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.num})"


def _graph_level(y: Optional[Tensor]) -> bool:
    return isinstance(y, Tensor) and (y.dim() == 0 or y.numel() == 1)


class FixedPoints(BaseTransform):
    """Keep ``num`` nodes drawn at random (with replacement by default, as PyG's; else a
    permutation, repeated where ``allow_duplicates`` and ``num`` exceeds the nodes), cutting
    every per-node tensor. Edges are dropped (a point cloud's are rebuilt afterwards)."""

    def __init__(self, num: int, replace: bool = True, allow_duplicates: bool = False) -> None:
        self.num, self.replace, self.allow_duplicates = num, replace, allow_duplicates

    def forward(self, data: Graph) -> Graph:
        count = data.num_nodes
        if self.replace:
            choice = torch.from_numpy(np.random.choice(count, self.num, replace=True)).long()
        elif not self.allow_duplicates:
            choice = torch.randperm(count)[:self.num]
        else:
            choice = torch.cat([torch.randperm(count) for _ in range(math.ceil(self.num / count))])[:self.num]
        fields = {"x": data.x, "y": data.y, "pos": data.pos, "batch": data.batch, **data.attrs}
        changes = {name: value[choice] for name, value in fields.items()
                   if attribute_kind(name, value, count, data.num_edges) == "node" and value.size(0) != 1}
        changes.update(num_nodes=choice.size(0), edge_index=data.edge_index.new_zeros(2, 0), edge_attr=None,
                       edge_weight=None)
        return data.replace(**changes)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.num}, replace={self.replace})"


class GridSampling(BaseTransform):
    """One point per voxel of edge ``size``: per-node tensors averaged over each voxel's
    points (``y`` by majority, ``batch`` kept). The graph must have no edges to coarsen."""

    def __init__(self, size: Union[float, List[float], Tensor], start: Optional[Union[float, List[float], Tensor]] = None,
                 end: Optional[Union[float, List[float], Tensor]] = None) -> None:
        self.size, self.start, self.end = size, start, end

    def forward(self, data: Graph) -> Graph:
        from gnnx.nn import consecutive_cluster, voxel_grid

        if data.num_edges or data.edge_attr is not None or data.edge_weight is not None or any(
                "edge" in name for name, value in data.attrs.items() if isinstance(value, Tensor)):
            raise ValueError(f"'{type(self).__name__}' does not support coarsening of edges")
        count = data.num_nodes
        cluster, perm = consecutive_cluster(voxel_grid(positions(data, self), self.size, data.batch, self.start,
                                                       self.end))
        fields = {"x": data.x, "y": data.y, "pos": data.pos, "batch": data.batch, **data.attrs}
        changes = {"num_nodes": int(cluster.max()) + 1}
        for name, value in fields.items():
            if attribute_kind(name, value, count, data.num_edges) != "node":
                continue
            if name == "y":
                changes[name] = scatter(one_hot(value), cluster, dim=0, reduce="sum").argmax(dim=-1)
            elif name == "batch":
                changes[name] = value[perm]
            else:
                changes[name] = scatter(value, cluster, dim=0, reduce="mean")
        return data.replace(**changes)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(size={self.size})"
