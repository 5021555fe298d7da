r"""PyG's ``GNNFF`` (`"Accurate and scalable graph neural network force field and molecular
dynamics with direct force architecture" <https://www.nature.com/articles/s41524-021-00543-3>`_):
atomic forces predicted directly, as a sum over each atom's edges of a learnt magnitude times
the edge's unit vector,

.. math::
    \mathbf{F}_i = \sum_{j \in \mathcal{N}(i)} f(\mathbf{e}_{ij})\,
    \frac{\mathbf{r}_i - \mathbf{r}_j}{\lVert \mathbf{r}_i - \mathbf{r}_j \rVert},

where node embeddings :math:`\mathbf{h}` and edge embeddings :math:`\mathbf{e}` (Gaussian filters
of distance, then gated updates from the edge's atoms and from every two-edge path
``k -> j -> i``) alternate for ``num_layers`` blocks. The forces are translation invariant and
rotate with the molecule. PyG's keys, arguments and values; PyG's needs torch-cluster and
torch-sparse for the radius graph and triplets, gnnx's uses its own (:func:`gnnx.nn.radius_graph`,
:func:`gnnx.nn.dimenet.triplets`). Eager, as PyG's: the edges and triplets come from the data.
Two differences: the output has a row per atom even where the last atoms have no neighbour
(PyG's sum stops at the last atom with an edge), and ``reset_parameters`` also resets the force
predictor (PyG's leaves it).
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor
from torch.nn import BatchNorm1d, Embedding, Linear, ModuleList, Sequential

from gnnx.nn.dimenet import triplets
from gnnx.nn.inits import reset
from gnnx.nn.point_sets import radius_graph
from gnnx.nn.schnet import ShiftedSoftplus
from gnnx.ops.scatter import scatter


def _gate(values: Tensor) -> Tensor:
    """``sigmoid(filter) * tanh(core)`` of the two halves of ``values``."""
    gate, core = values.chunk(2, dim=1)
    return gate.sigmoid() * core.tanh()


class GaussianFilter(torch.nn.Module):
    """Distances expanded on ``num_gaussians`` Gaussians evenly spaced in ``[start, stop]``."""

    def __init__(self, start: float = 0.0, stop: float = 5.0, num_gaussians: int = 50) -> None:
        super().__init__()
        offset = torch.linspace(start, stop, num_gaussians)
        self.coeff = -0.5 / (float(offset[1]) - float(offset[0])) ** 2
        self.register_buffer("offset", offset)

    def reset_parameters(self) -> None:
        pass

    def forward(self, dist: Tensor) -> Tensor:
        return torch.exp(self.coeff * (dist.view(-1, 1) - self.offset.view(1, -1)).pow(2))


class NodeBlock(torch.nn.Module):
    """Node update: the gated messages of each atom's edges, summed, added to its embedding."""

    def __init__(self, hidden_node_channels: int, hidden_edge_channels: int) -> None:
        super().__init__()
        self.lin_c1 = Linear(hidden_node_channels + hidden_edge_channels, 2 * hidden_node_channels)
        self.bn_c1 = BatchNorm1d(2 * hidden_node_channels)
        self.bn = BatchNorm1d(hidden_node_channels)

    def reset_parameters(self) -> None:
        for module in (self.lin_c1, self.bn_c1, self.bn):
            module.reset_parameters()

    def forward(self, node_emb: Tensor, edge_emb: Tensor, i: Tensor) -> Tensor:
        messages = _gate(self.bn_c1(self.lin_c1(torch.cat([node_emb[i], edge_emb], dim=1))))
        return (node_emb + self.bn(scatter(messages, i, node_emb.size(0), "sum"))).tanh()


class EdgeBlock(torch.nn.Module):
    """Edge update: a gate of its two atoms and the summed gates of its two-edge paths."""

    def __init__(self, hidden_node_channels: int, hidden_edge_channels: int) -> None:
        super().__init__()
        self.lin_c2 = Linear(hidden_node_channels, 2 * hidden_edge_channels)
        self.lin_c3 = Linear(3 * hidden_node_channels + 2 * hidden_edge_channels, 2 * hidden_edge_channels)
        self.bn_c2 = BatchNorm1d(2 * hidden_edge_channels)
        self.bn_c3 = BatchNorm1d(2 * hidden_edge_channels)
        self.bn_c2_2 = BatchNorm1d(hidden_edge_channels)
        self.bn_c3_2 = BatchNorm1d(hidden_edge_channels)

    def reset_parameters(self) -> None:
        for module in (self.lin_c2, self.lin_c3, self.bn_c2, self.bn_c3, self.bn_c2_2, self.bn_c3_2):
            module.reset_parameters()

    def forward(self, node_emb: Tensor, edge_emb: Tensor, i: Tensor, j: Tensor, idx_i: Tensor, idx_j: Tensor,
                idx_k: Tensor, idx_ji: Tensor, idx_kj: Tensor) -> Tensor:
        pair = self.bn_c2_2(_gate(self.bn_c2(self.lin_c2(node_emb[i] * node_emb[j]))))
        paths = torch.cat([node_emb[idx_i], node_emb[idx_j], node_emb[idx_k], edge_emb[idx_ji], edge_emb[idx_kj]], 1)
        path = _gate(self.bn_c3(self.lin_c3(paths)))
        path = self.bn_c3_2(scatter(path, idx_ji, edge_emb.size(0), "sum"))
        return (edge_emb + pair + path).tanh()


class GNNFF(torch.nn.Module):
    """PyG's ``GNNFF(hidden_node_channels, hidden_edge_channels, num_layers, cutoff=5.0,
    max_num_neighbors=32)``; ``forward(z, pos, batch=None)`` gives a force per atom ``[N, 3]``."""

    def __init__(self, hidden_node_channels: int, hidden_edge_channels: int, num_layers: int, cutoff: float = 5.0,
                 max_num_neighbors: int = 32) -> None:
        super().__init__()
        self.cutoff, self.max_num_neighbors = cutoff, max_num_neighbors
        self.node_emb = Sequential(Embedding(95, hidden_node_channels), ShiftedSoftplus(),
                                   Linear(hidden_node_channels, hidden_node_channels), ShiftedSoftplus(),
                                   Linear(hidden_node_channels, hidden_node_channels))
        self.edge_emb = GaussianFilter(0.0, 5.0, hidden_edge_channels)
        self.node_blocks = ModuleList(NodeBlock(hidden_node_channels, hidden_edge_channels)
                                      for _ in range(num_layers))
        self.edge_blocks = ModuleList(EdgeBlock(hidden_node_channels, hidden_edge_channels)
                                      for _ in range(num_layers))
        self.force_predictor = Sequential(Linear(hidden_edge_channels, hidden_edge_channels), ShiftedSoftplus(),
                                          Linear(hidden_edge_channels, hidden_edge_channels), ShiftedSoftplus(),
                                          Linear(hidden_edge_channels, 1))

    def reset_parameters(self) -> None:
        reset(self.node_emb)
        self.edge_emb.reset_parameters()
        for block in (*self.node_blocks, *self.edge_blocks):
            block.reset_parameters()
        reset(self.force_predictor)

    def forward(self, z: Tensor, pos: Tensor, batch: Optional[Tensor] = None) -> Tensor:
        if z.dim() != 1 or z.dtype != torch.long or pos.shape != (z.size(0), 3):
            raise ValueError(f"GNNFF: z must be int64 [N] atomic numbers and pos [N, 3], got z {z.dtype} "
                             f"{list(z.shape)} and pos {list(pos.shape)}")
        edge_index = radius_graph(pos, r=self.cutoff, batch=batch, max_num_neighbors=self.max_num_neighbors)
        i, j, idx_i, idx_j, idx_k, idx_kj, idx_ji = triplets(edge_index, num_nodes=z.size(0))
        offset = pos[i] - pos[j]
        dist = offset.pow(2).sum(dim=-1).sqrt()
        unit = offset / dist.view(-1, 1)
        node_emb, edge_emb = self.node_emb(z), self.edge_emb(dist)
        for node_block, edge_block in zip(self.node_blocks, self.edge_blocks):
            node_emb = node_block(node_emb, edge_emb, i)
            edge_emb = edge_block(node_emb, edge_emb, i, j, idx_i, idx_j, idx_k, idx_ji, idx_kj)
        return scatter(self.force_predictor(edge_emb) * unit, i, z.size(0), "sum")
