r"""PyG's ``MetaLayer``: the Graph Network block of `"Relational Inductive Biases, Deep
Learning, and Graph Networks" <https://arxiv.org/abs/1806.01261>`_ (the interaction networks
of particle-physics tracking), an edge, a node and a global update in turn,

.. math::
    \mathbf{e}'_{ij} = \phi^e(\mathbf{x}_i, \mathbf{x}_j, \mathbf{e}_{ij}, \mathbf{u}), \qquad
    \mathbf{x}'_i = \phi^x(\mathbf{x}_i, \{\mathbf{e}'_{ij}\}, \mathbf{u}), \qquad
    \mathbf{u}' = \phi^u(\{\mathbf{x}'_i\}, \{\mathbf{e}'_{ij}\}, \mathbf{u}),

each a user module with PyG's call signature (any of them ``None`` to skip it).
"""
from __future__ import annotations

from typing import Optional, Tuple

import torch
from torch import Tensor

from gnnx.nn.message_passing import check_adjacency
from gnnx.ops.dispatch import as_int64


class MetaLayer(torch.nn.Module):
    """``edge_model(src, dst, edge_attr, u, edge_batch)`` with ``src = x[edge_index[0]]``,
    ``dst = x[edge_index[1]]`` and ``edge_batch = batch[edge_index[0]]`` (or ``None``);
    ``node_model(x, edge_index, edge_attr, u, batch)``; ``global_model(x, edge_index,
    edge_attr, u, batch)``. Returns ``(x, edge_attr, u)``, as PyG's."""

    def __init__(self, edge_model: Optional[torch.nn.Module] = None, node_model: Optional[torch.nn.Module] = None,
                 global_model: Optional[torch.nn.Module] = None) -> None:
        super().__init__()
        self.edge_model, self.node_model, self.global_model = edge_model, node_model, global_model
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for model in (self.node_model, self.edge_model, self.global_model):
            if hasattr(model, "reset_parameters"):
                model.reset_parameters()

    def forward(self, x: Tensor, edge_index: Tensor, edge_attr: Optional[Tensor] = None, u: Optional[Tensor] = None,
                batch: Optional[Tensor] = None) -> Tuple[Tensor, Optional[Tensor], Optional[Tensor]]:
        index = as_int64(edge_index)
        check_adjacency(index, x.size(0), x.size(0), edge_attr=edge_attr)
        if self.edge_model is not None:
            src, dst = index[0], index[1]
            edge_batch = None if batch is None else batch.index_select(0, src)
            edge_attr = self.edge_model(x.index_select(0, src), x.index_select(0, dst), edge_attr, u, edge_batch)
        if self.node_model is not None:
            x = self.node_model(x, edge_index, edge_attr, u, batch)
        if self.global_model is not None:
            u = self.global_model(x, edge_index, edge_attr, u, batch)
        return x, edge_attr, u

    def __repr__(self) -> str:  # PyG's
        return (f"{type(self).__name__}(\n  edge_model={self.edge_model},\n  node_model={self.node_model},\n"
                f"  global_model={self.global_model}\n)")
