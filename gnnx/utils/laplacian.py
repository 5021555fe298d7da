"""The graph Laplacian as an edge list (PyG's ``get_laplacian``) and degree-normalised
adjacency weights (``normalize_edge_index``)."""
from __future__ import annotations

from typing import Optional, Tuple

import torch
from torch import Tensor

from gnnx import ops
from gnnx.utils.edges import to_undirected
from gnnx.utils.loop import add_self_loops, remove_self_loops
from gnnx.utils.num_nodes import maybe_num_nodes

_add_self_loops = add_self_loops  # normalize_edge_index's parameter of that name hides the function


def get_laplacian(edge_index: Tensor, edge_weight: Optional[Tensor] = None, normalization: Optional[str] = None,
                  dtype: Optional[torch.dtype] = None, num_nodes: Optional[int] = None) -> Tuple[Tensor, Tensor]:
    r"""``L = D - A`` (``None``), :math:`I - D^{-1/2} A D^{-1/2}` (``"sym"``) or
    :math:`I - D^{-1} A` (``"rw"``) as ``(edge_index, edge_weight)``: off-diagonal entries
    first, then one diagonal entry per node. Self loops of the input are dropped first."""
    if normalization not in (None, "sym", "rw"):
        raise ValueError(f"normalization must be None, 'sym' or 'rw', got {normalization!r}")
    edge_index, edge_weight = remove_self_loops(edge_index, edge_weight)
    if edge_weight is None:
        edge_weight = torch.ones(edge_index.size(1), dtype=dtype, device=edge_index.device)
    count = maybe_num_nodes(edge_index, num_nodes)
    row, col = edge_index[0], edge_index[1]
    deg = ops.scatter(edge_weight, row, dim_size=count, reduce="sum")
    if normalization is None:
        loops, _ = add_self_loops(edge_index, num_nodes=count)
        return loops, torch.cat([-edge_weight, deg], dim=0)
    if normalization == "sym":
        scale = deg.pow(-0.5).masked_fill(deg == 0, 0)
        weight = scale[row] * edge_weight * scale[col]
    else:
        scale = (1.0 / deg).masked_fill(deg == 0, 0)
        weight = scale[row] * edge_weight
    return add_self_loops(edge_index, -weight, fill_value=1.0, num_nodes=count)


def normalize_edge_index(edge_index: Tensor, num_nodes: Optional[int] = None, add_self_loops: bool = True,
                         symmetric: bool = True) -> Tuple[Tensor, Tensor]:
    r"""``(edge_index, edge_weight)`` normalised by out-degrees (PyG's): :math:`D^{-1/2} A D^{-1/2}`
    (``symmetric``) or :math:`D^{-1} A`, after adding a self loop to every node (``add_self_loops``);
    a node of degree 0 gets weight 0."""
    num_nodes = maybe_num_nodes(edge_index, num_nodes)
    if add_self_loops:
        edge_index, _ = _add_self_loops(edge_index, num_nodes=num_nodes)
    row, col = edge_index[0], edge_index[1]
    deg = torch.zeros(num_nodes, dtype=torch.get_default_dtype(), device=row.device).index_add_(
        0, row, torch.ones(row.numel(), dtype=torch.get_default_dtype(), device=row.device))
    if symmetric:
        inv_sqrt = deg.pow(-0.5).masked_fill(deg == 0, 0.0)
        return edge_index, inv_sqrt[row] * inv_sqrt[col]
    return edge_index, deg.pow(-1).masked_fill(deg == 0, 0.0)[row]


def get_mesh_laplacian(pos: Tensor, face: Tensor, normalization: Optional[str] = None) -> Tuple[Tensor, Tensor]:
    r"""The cotangent Laplacian of a triangle mesh (PyG's): off-diagonal weights
    :math:`\tfrac12(\cot\alpha_{ij} + \cot\beta_{ij})` over each edge's two opposite angles, the
    diagonal their negated row sums; ``"sym"``/``"rw"`` divide by the nodes' barycentric areas
    (:math:`A^{-1/2} L A^{-1/2}` / :math:`A^{-1} L`). Returns ``(edge_index, edge_weight)``."""
    if pos.dim() != 2 or pos.size(1) != 3 or face.dim() != 2 or face.size(0) != 3:
        raise ValueError(f"get_mesh_laplacian: pos must be [N, 3] and face [3, F], got {list(pos.shape)} and "
                         f"{list(face.shape)}")
    if normalization not in (None, "sym", "rw"):
        raise ValueError(f"get_mesh_laplacian: normalization must be None, 'sym' or 'rw', got {normalization!r}")
    num_nodes = pos.size(0)
    corners = [(face[0], face[2], face[1]), (face[1], face[0], face[2]), (face[0], face[1], face[2])]
    index = torch.cat([face[:2], face[1:], face[::2]], dim=1)

    def per_corner(value) -> Tuple[Tensor, Tensor]:
        """A value per (left, centre, right) corner, on the corner's opposite edge, made undirected."""
        weights = []
        for left, centre, right in corners:
            left_vec, right_vec = pos[left] - pos[centre], pos[right] - pos[centre]
            weights.append(value(left_vec, right_vec))
        return to_undirected(index, torch.cat(weights), num_nodes=num_nodes)

    cross = lambda a, b: torch.linalg.norm(torch.cross(a, b, dim=1), dim=1)  # noqa: E731
    cot_index, cot_weight = per_corner(lambda a, b: (a * b).sum(1) / cross(a, b) / 2.0)
    cot_deg = torch.zeros(num_nodes, dtype=cot_weight.dtype, device=pos.device).index_add_(0, cot_index[0], cot_weight)
    edge_index, _ = add_self_loops(cot_index, num_nodes=num_nodes)
    edge_weight = torch.cat([cot_weight, -cot_deg])
    if normalization is None:
        return edge_index, edge_weight
    area_index, area_weight = per_corner(lambda a, b: cross(a, b) / 12.0)  # a third of the triangle, counted twice
    area = torch.zeros(num_nodes, dtype=area_weight.dtype, device=pos.device).index_add_(0, area_index[0], area_weight)
    if normalization == "sym":
        inv_sqrt = area.pow(-0.5).masked_fill(area == 0, 0.0)
        return edge_index, inv_sqrt[edge_index[0]] * edge_weight * inv_sqrt[edge_index[1]]
    return edge_index, (1.0 / area).masked_fill(area == 0, 0.0)[edge_index[0]] * edge_weight
