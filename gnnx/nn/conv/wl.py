r"""WLConv, one round of Weisfeiler-Lehman colour refinement, `"A Reduction of a Graph to a
Canonical Form and an Algebra Arising During this Reduction"
<https://www.iti.zcu.cz/wl2018/pdf/wl_paper_translation.pdf>`_ (PyG's results and histograms):

.. math::
    c'_i = \operatorname{id}\big(c_i, \{\!\{ c_j : j \in \mathcal{N}(i) \}\!\}\big),

new colour ids handed out in order of first appearance and kept across calls, so graphs
coloured by one module share a palette (graph kernels, expressivity tests). Colours are
integers (or one-hot rows); the refinement is a table lookup per node, eager only, without
gradients, as PyG's.

:class:`WLConvContinuous` is the refinement for continuous attributes, `"Wasserstein
Weisfeiler-Lehman Graph Kernels" <https://arxiv.org/abs/1906.01277>`_: a node's features
averaged with the degree-scaled weighted sum of its neighbours',

.. math::
    \mathbf{x}'_i = \tfrac{1}{2}\Big(\mathbf{x}_i + \frac{1}{\deg(i)}
    \sum_{j \in \mathcal{N}(i)} e_{j,i}\, \mathbf{x}_j\Big), \qquad
    \deg(i) = \sum_{j \in \mathcal{N}(i)} e_{j,i}

(no incoming edges: the sum counts 0); differentiable, compiles and exports.
"""
from __future__ import annotations

from typing import Dict, Optional, Tuple, Union

import torch
from torch import Tensor

from gnnx import ops
from gnnx.nn.message_passing import Adj, Adjacency, MessagePassing, check_adjacency, edge_tensor
from gnnx.nn.sparse_input import ReadsSparseInputs
from gnnx.ops.dispatch import as_int64


class WLConv(ReadsSparseInputs):
    """``forward(x, edge_index)``: each node's new colour ``[N]``; ``histogram(x, batch=None,
    norm=False)``: colour counts per graph ``[B, num_colours]``."""

    def __init__(self) -> None:
        super().__init__()
        self.hashmap: Dict[Tuple[int, ...], int] = {}

    def reset_parameters(self) -> None:
        self.hashmap = {}

    @torch.no_grad()
    def forward(self, x: Tensor, edge_index: Adj) -> Tensor:
        if x.dim() == 1 and x.dtype != torch.long:
            raise TypeError(f"WLConv: colours must be int64 (or one-hot rows), got {x.dtype}")
        if x.dim() > 1:  # one-hot rows, of any dtype (PyG's one_hot gives float)
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


class WLConvContinuous(MessagePassing):
    """``forward(x, edge_index, edge_weight=None, size=None)``: ``x [N, F]`` or a pair
    ``(x_src, x_dst)`` (``x_dst`` ``None``: the scaled sum alone); output ``[N_dst, F]``
    (module docstring)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(aggr="add", **kwargs)

    def forward(self, x: Union[Tensor, Tuple[Tensor, Optional[Tensor]]], edge_index: Adj,
                edge_weight: Optional[Tensor] = None, size: Optional[Tuple[int, int]] = None) -> Tensor:
        x_src, x_dst = (x, x) if isinstance(x, Tensor) else x
        out = self.propagate(edge_index, x=(x_src, x_dst), edge_weight=edge_weight, size=size)
        dst = edge_tensor(edge_index)[1 if self.flow == "source_to_target" else 0]
        weight = edge_weight if edge_weight is not None else x_src.new_ones(dst.numel())
        deg = ops.scatter(weight, as_int64(dst), out.size(0), "sum")
        deg_inv = torch.where(deg == 0, torch.zeros_like(deg), 1.0 / deg)  # PyG's: 1/0 -> 0
        out = deg_inv.view(-1, 1) * out
        return out if x_dst is None else 0.5 * (x_dst + out)

    def message(self, x_j: Tensor, edge_weight: Optional[Tensor]) -> Tensor:
        return x_j if edge_weight is None else edge_weight.view(-1, 1) * x_j

    def fused_message_and_aggregate(self, adj: Adjacency, x, edge_weight: Optional[Tensor] = None) -> Tensor:
        return self.spmm(adj, x[0], edge_weight)
