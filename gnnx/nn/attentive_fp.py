r"""AttentiveFP, `"Pushing the Boundaries of Molecular Representation for Drug Discovery with
the Graph Attention Mechanism" <https://pubs.acs.org/doi/10.1021/acs.jmedchem.9b00959>`_
(PyG's ``AttentiveFP`` and its ``GATEConv``: arguments, keys, repr, values): atom embeddings
refined by attention and GRU cells, then a molecule embedding refined the same way against
its atoms.

``GATEConv``, the first layer, attends over bonds with their features:

.. math::
    \mathbf{h}_{j,i} = \mathrm{LeakyReLU}\big(\mathbf{W}_1 [\mathbf{x}_j \Vert \mathbf{e}_{j,i}]\big),
    \qquad \alpha_{j,i} = \operatorname{softmax}_{j}\, \mathrm{LeakyReLU}\big(\mathbf{a}_l^\top
    \mathbf{h}_{j,i} + \mathbf{a}_r^\top \mathbf{x}_i\big), \qquad
    \mathbf{x}'_i = \sum_j \alpha_{j,i} \mathbf{W}_2 \mathbf{x}_j + \mathbf{b}.

The later atom layers are ``GATConv`` (no self loops, slope 0.01); the readout starts from
the sum of each molecule's atoms and, ``num_timesteps`` times, attends from the molecule to
its atoms (a bipartite ``GATConv``) and updates it with a GRU cell.
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from gnnx import ops
from gnnx.nn.conv.gat import GATConv
from gnnx.nn.inits import glorot, zeros
from gnnx.nn.message_passing import check_adjacency
from gnnx.nn.pool import global_add_pool
from gnnx.ops.dispatch import as_int64


class GATEConv(torch.nn.Module):
    """AttentiveFP's first layer (module docstring); ``forward(x, edge_index, edge_attr)``."""

    def __init__(self, in_channels: int, out_channels: int, edge_dim: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.dropout = dropout
        self.att_l = torch.nn.Parameter(torch.empty(1, out_channels))
        self.att_r = torch.nn.Parameter(torch.empty(1, in_channels))
        self.lin1 = torch.nn.Linear(in_channels + edge_dim, out_channels, False)
        self.lin2 = torch.nn.Linear(out_channels, out_channels, False)
        self.bias = torch.nn.Parameter(torch.empty(out_channels))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for weight in (self.att_l, self.att_r, self.lin1.weight, self.lin2.weight):
            glorot(weight)
        zeros(self.bias)

    def forward(self, x: Tensor, edge_index: Tensor, edge_attr: Tensor) -> Tensor:
        edge_index = as_int64(edge_index)
        check_adjacency(edge_index, x.size(0), edge_attr=edge_attr)
        src, dst = edge_index[0], edge_index[1]
        hidden = F.leaky_relu(self.lin1(torch.cat([x.index_select(0, src), edge_attr], dim=-1)))
        score = (hidden @ self.att_l.t()).squeeze(-1) + (x @ self.att_r.t()).squeeze(-1).index_select(0, dst)
        alpha = ops.segment_softmax(F.leaky_relu(score), dst, x.size(0))
        alpha = F.dropout(alpha, p=self.dropout, training=self.training)
        # W_2 x_j per node, then gathered: the same as PyG's per-edge product, once per atom
        messages = self.lin2(x).index_select(0, src) * alpha.unsqueeze(-1)
        return ops.scatter(messages, dst, x.size(0), "sum") + self.bias


class AttentiveFP(torch.nn.Module):
    """``forward(x, edge_index, edge_attr, batch, batch_size=None)``: one vector per molecule
    ``[B, out_channels]``; pass ``batch_size`` to keep the number of molecules off the host
    (compiled and exported models)."""

    def __init__(self, in_channels: int, hidden_channels: int, out_channels: int, edge_dim: int, num_layers: int,
                 num_timesteps: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.in_channels, self.hidden_channels, self.out_channels = in_channels, hidden_channels, out_channels
        self.edge_dim, self.num_layers, self.num_timesteps, self.dropout = edge_dim, num_layers, num_timesteps, dropout
        self.lin1 = torch.nn.Linear(in_channels, hidden_channels)
        self.gate_conv = GATEConv(hidden_channels, hidden_channels, edge_dim, dropout)
        self.gru = torch.nn.GRUCell(hidden_channels, hidden_channels)
        self.atom_convs = torch.nn.ModuleList(
            GATConv(hidden_channels, hidden_channels, dropout=dropout, add_self_loops=False, negative_slope=0.01)
            for _ in range(num_layers - 1))
        self.atom_grus = torch.nn.ModuleList(torch.nn.GRUCell(hidden_channels, hidden_channels)
                                             for _ in range(num_layers - 1))
        self.mol_conv = GATConv(hidden_channels, hidden_channels, dropout=dropout, add_self_loops=False,
                                negative_slope=0.01)
        self.mol_conv.explain = False  # its node -> molecule edges are not the graph's: no edge mask fits (PyG's)
        self.mol_gru = torch.nn.GRUCell(hidden_channels, hidden_channels)
        self.lin2 = torch.nn.Linear(hidden_channels, out_channels)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for module in (self.lin1, self.gate_conv, self.gru, *self.atom_convs, *self.atom_grus, self.mol_conv,
                       self.mol_gru, self.lin2):
            module.reset_parameters()

    def forward(self, x: Tensor, edge_index: Tensor, edge_attr: Tensor, batch: Tensor,
                batch_size: Optional[int] = None) -> Tensor:
        x = F.leaky_relu(self.lin1(x))
        h = F.dropout(F.elu(self.gate_conv(x, edge_index, edge_attr)), p=self.dropout, training=self.training)
        x = self.gru(h, x).relu()
        for conv, gru in zip(self.atom_convs, self.atom_grus):
            h = F.dropout(F.elu(conv(x, edge_index)), p=self.dropout, training=self.training)
            x = gru(h, x).relu()
        atom_to_molecule = torch.stack([torch.arange(batch.size(0), device=batch.device), batch])
        out = global_add_pool(x, batch, batch_size).relu()
        for _ in range(self.num_timesteps):
            h = F.dropout(F.elu(self.mol_conv((x, out), atom_to_molecule)), p=self.dropout, training=self.training)
            out = self.mol_gru(h, out).relu()
        return self.lin2(F.dropout(out, p=self.dropout, training=self.training))

    def __repr__(self) -> str:  # PyG's
        return (f"{type(self).__name__}(in_channels={self.in_channels}, hidden_channels={self.hidden_channels}, "
                f"out_channels={self.out_channels}, edge_dim={self.edge_dim}, num_layers={self.num_layers}, "
                f"num_timesteps={self.num_timesteps})")
