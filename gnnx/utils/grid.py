"""A 2-D grid graph (PyG's ``grid``): each pixel joined to its 8 neighbours and itself."""
from __future__ import annotations

from typing import Optional, Tuple

import torch
from torch import Tensor

from gnnx.utils.edges import coalesce


def grid(height: int, width: int, dtype: Optional[torch.dtype] = None,
         device: Optional[torch.device] = None) -> Tuple[Tensor, Tensor]:
    """``(edge_index, pos)`` of a ``height x width`` grid: edges to the 3 x 3 neighbourhood
    (self loops included), positions ``(column, height - 1 - row)``."""
    w = width
    kernel = torch.tensor([-w - 1, -1, w - 1, -w, 0, w, -w + 1, 1, w + 1], device=device)
    row = torch.arange(height * width, dtype=torch.long, device=device).view(-1, 1).repeat(1, kernel.size(0))
    col = row + kernel.view(1, -1)
    row, col = row.view(height, -1), col.view(height, -1)
    inner = torch.arange(3, row.size(1) - 3, dtype=torch.long, device=device)
    row, col = row[:, inner].view(-1), col[:, inner].view(-1)
    keep = (col >= 0) & (col < height * width)
    edge_index = coalesce(torch.stack([row[keep], col[keep]], dim=0), num_nodes=height * width)
    dtype = torch.float if dtype is None else dtype
    x = torch.arange(width, dtype=dtype, device=device).repeat(height)
    y = ((height - 1) - torch.arange(height, dtype=dtype, device=device)).unsqueeze(-1).repeat(1, width).view(-1)
    return edge_index, torch.stack([x, y], dim=-1)
