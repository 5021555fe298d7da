"""Label homophily of a graph (PyG's ``homophily``: edge, node and class-insensitive)."""
from __future__ import annotations

from typing import Optional, Union

import torch
from torch import Tensor

from gnnx import ops
from gnnx.ops.dispatch import check_index_range


def homophily(edge_index: Tensor, y: Tensor, batch: Optional[Tensor] = None,
              method: str = "edge") -> Union[float, Tensor]:
    """Share of edges joining nodes of one class (``"edge"``), its mean over nodes
    (``"node"``), or the class-insensitive measure of Lim et al. (``"edge_insensitive"``);
    per graph with ``batch``."""
    if method not in ("edge", "node", "edge_insensitive"):
        raise ValueError(f"method must be 'edge', 'node' or 'edge_insensitive', got {method!r}")
    y = y.squeeze(-1) if y.dim() > 1 else y
    check_index_range(edge_index, y.size(0), "edge_index", "{count} labels of y", "node index")
    row, col = edge_index[0], edge_index[1]
    same = (y[row] == y[col]).float()
    if method == "edge":
        if batch is None:
            return float(same.mean())
        return ops.scatter(same, batch[col], dim_size=int(batch.max()) + 1, reduce="mean")
    if method == "node":
        per_node = ops.scatter(same, col, dim_size=y.size(0), reduce="mean")
        if batch is None:
            return float(per_node.mean())
        return ops.scatter(per_node, batch, dim_size=int(batch.max()) + 1, reduce="mean")
    num_classes = int(y.max()) + 1
    if num_classes < 2:
        raise ValueError("edge_insensitive homophily needs at least two classes")
    batch = torch.zeros_like(y) if batch is None else batch
    num_nodes = torch.bincount(batch)
    num_graphs = num_nodes.numel()
    groups = num_classes * batch + y
    h = ops.scatter(same, groups[col], dim_size=num_classes * num_graphs, reduce="mean").view(num_graphs, num_classes)
    counts = torch.bincount(groups, minlength=num_classes * num_graphs).view(num_graphs, num_classes)
    out = (h - counts / num_nodes.view(-1, 1)).clamp(min=0).sum(dim=-1) / (num_classes - 1)
    return out if out.numel() > 1 else float(out)
