"""Edge and graph measures (PyG's ``normalized_cut``, ``assortativity``)."""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from gnnx.utils.edges import coalesce, degree


def normalized_cut(edge_index: Tensor, edge_attr: Tensor, num_nodes: Optional[int] = None) -> Tensor:
    r"""Per edge :math:`w_{ij} (1/d_i + 1/d_j)`, with :math:`d` the in-degrees counted over
    ``edge_index[1]`` (Graclus's edge weights)."""
    row, col = edge_index[0], edge_index[1]
    inverse = 1.0 / degree(col, num_nodes, edge_attr.dtype)
    return edge_attr * (inverse[row] + inverse[col])


def assortativity(edge_index: Tensor) -> float:
    """The degree assortativity coefficient: the Pearson correlation of the out-degree of
    each edge's source with the in-degree of its destination (Newman, 2003)."""
    if type(edge_index).__name__ == "SparseTensor":
        row, col, _ = edge_index.coo()
    else:
        row, col = edge_index[0], edge_index[1]
    out_deg, in_deg = degree(row, dtype=torch.long), degree(col, dtype=torch.long)
    degrees = torch.unique(torch.cat([out_deg, in_deg]))
    mapping = row.new_zeros(int(degrees.max()) + 1)
    mapping[degrees] = torch.arange(degrees.size(0), device=row.device)
    pairs = torch.stack([mapping[out_deg[row]], mapping[in_deg[col]]], dim=0)
    pairs, occurrence = coalesce(pairs, torch.ones(pairs.size(1), device=row.device))
    joint = torch.zeros(degrees.size(0), degrees.size(0), device=row.device)
    joint[pairs[0], pairs[1]] = occurrence
    joint /= joint.sum()
    x = degrees.float()
    a, b = joint.sum(0), joint.sum(1)
    var_a = (a * x ** 2).sum() - ((a * x).sum()) ** 2
    var_b = (b * x ** 2).sum() - ((b * x).sum()) ** 2
    out = (torch.outer(x, x) * (joint - torch.outer(a, b))).sum() / (var_a * var_b).sqrt()
    return out.item()
