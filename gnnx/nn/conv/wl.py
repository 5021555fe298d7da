r"""WLConv, one round of Weisfeiler-Lehman colour refinement, `"A Reduction of a Graph to a
Canonical Form and an Algebra Arising During this Reduction"
<https://www.iti.zcu.cz/wl2018/pdf/wl_paper_translation.pdf>`_ (PyG's results and histograms):

.. math::
    c'_i = \operatorname{id}\big(c_i, \{\!\{ c_j : j \in \mathcal{N}(i) \}\!\}\big),

new colour ids handed out in order of first appearance and kept across calls, so graphs
coloured by one module share a palette (graph kernels, expressivity tests). Colours are
integers (or one-hot rows); the refinement is a table lookup per node, eager only, without
gradients, as PyG's.
"""
from __future__ import annotations

from typing import Dict, Optional, Tuple

import torch
from torch import Tensor

from gnnx.nn.message_passing import Adj, check_adjacency, edge_tensor
from gnnx.ops.dispatch import as_int64


class WLConv(torch.nn.Module):
    """``forward(x, edge_index)``: each node's new colour ``[N]``; ``histogram(x, batch=None,
    norm=False)``: colour counts per graph ``[B, num_colours]``."""

    def __init__(self) -> None:
        super().__init__()
        self.hashmap: Dict[Tuple[int, ...], int] = {}

    def reset_parameters(self) -> None:
        self.hashmap = {}

    @torch.no_grad()
    def forward(self, x: Tensor, edge_index: Adj) -> Tensor:
        if x.dtype != torch.long:
            raise TypeError(f"WLConv: colours must be int64 (or one-hot int64 rows), got {x.dtype}")
        if x.dim() > 1:
            if not bool((x.sum(dim=-1) == 1).all()):
                raise ValueError("WLConv: a two-dimensional x must be one-hot (one 1 per row)")
            x = x.argmax(dim=-1)
        tensor = as_int64(edge_tensor(edge_index))
        check_adjacency(tensor, x.size(0))
        src, dst = tensor[0], tensor[1]
        # neighbour colours grouped by destination, each group sorted
        order = torch.argsort(dst * (int(x.max()) + 1 if x.numel() else 1) + x[src])
        degree = torch.bincount(dst, minlength=x.size(0)).tolist()
        colours = []
        for node, neighbours in zip(x.tolist(), x[src[order]].split(degree)):
            signature = (node, *neighbours.tolist())
            colours.append(self.hashmap.setdefault(signature, len(self.hashmap)))
        return torch.tensor(colours, dtype=torch.long, device=x.device)

    def histogram(self, x: Tensor, batch: Optional[Tensor] = None, norm: bool = False) -> Tensor:
        if batch is None:
            batch = torch.zeros(x.size(0), dtype=torch.long, device=x.device)
        num_colours, batch_size = len(self.hashmap), int(batch.max()) + 1
        counts = torch.bincount(batch * num_colours + x, minlength=num_colours * batch_size)
        out = counts.view(batch_size, num_colours)
        if norm:
            out = out.to(torch.float)
            out = out / out.norm(dim=-1, keepdim=True)
        return out
