r"""SchNet, `"SchNet: A Continuous-filter Convolutional Neural Network for Modeling Quantum
Interactions" <https://arxiv.org/abs/1706.08566>`_ (PyG's ``SchNet`` and its parts:
arguments, state_dict keys, repr and values): atoms embedded by atomic number, refined by
interaction blocks whose continuous-filter convolution weighs each neighbour within ``cutoff``
by a filter of its distance,

.. math::
    \mathbf{x}'_i = \sum_{j \in \mathcal{N}(i)} \mathbf{x}_j \odot
    h_{\mathbf{\Theta}}\big(\exp(-\gamma(d_{j,i} - \boldsymbol{\mu})^2)\big)\,
    \tfrac{1}{2}\big(\cos(\pi d_{j,i} / c) + 1\big),

then a per-atom MLP and a sum (or mean) per molecule.

The interaction graph is where gnnx differs from PyG, on purpose: :class:`RadiusInteractionGraph`
keeps a static ``max_num_neighbors`` slots per atom with a mask (nearest first; slots beyond
``cutoff`` or past the molecule's atoms are masked out of the sums) instead of the edges that
exist, so the model reads no size from the data: it compiles without recompiles as the atom
count changes, exports with a dynamic atom count and runs from an AOTInductor package. Values
equal PyG's wherever ``max_num_neighbors`` does not truncate (torch-cluster keeps the first
neighbours it meets, gnnx the nearest). A user's ``interaction_graph`` callable that returns
PyG's ``(edge_index, edge_weight)`` is called as in PyG.
"""
from __future__ import annotations

import math
from typing import Callable, Optional, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn import Embedding, Linear, ModuleList, Sequential

from gnnx import ops
from gnnx.nn.aggr import resolve_aggregation
from gnnx.nn.message_passing import MessagePassing


class GaussianSmearing(torch.nn.Module):
    r"""Distances expanded on ``num_gaussians`` Gaussians centred evenly on ``[start, stop]``:
    :math:`\exp(-\tfrac{1}{2}(d - \mu_k)^2 / \Delta^2)`, :math:`\Delta` their spacing."""

    def __init__(self, start: float = 0.0, stop: float = 5.0, num_gaussians: int = 50) -> None:
        super().__init__()
        offset = torch.linspace(start, stop, num_gaussians)
        self.coeff = -0.5 / (offset[1] - offset[0]).item() ** 2
        self.register_buffer("offset", offset)

    def forward(self, dist: Tensor) -> Tensor:
        return torch.exp(self.coeff * (dist.view(-1, 1) - self.offset.view(1, -1)).pow(2))


class ShiftedSoftplus(torch.nn.Module):
    r""":math:`\mathrm{softplus}(x) - \log 2` (zero at zero)."""

    def __init__(self) -> None:
        super().__init__()
        self.shift = math.log(2.0)

    def forward(self, x: Tensor) -> Tensor:
        return F.softplus(x) - self.shift


class CFConv(MessagePassing):
    r"""The continuous-filter convolution (module docstring): ``lin1``, the filtered sum over
    neighbours, ``lin2``. ``edge_mask`` (bool ``[E]``, gnnx's) leaves edges out of the sum."""

    def __init__(self, in_channels: int, out_channels: int, num_filters: int, nn: Sequential,
                 cutoff: float) -> None:
        super().__init__(aggr="add")
        self.lin1 = Linear(in_channels, num_filters, bias=False)
        self.lin2 = Linear(num_filters, out_channels)
        self.nn = nn
        self.cutoff = cutoff
        self.reset_parameters()

    def reset_parameters(self) -> None:
        torch.nn.init.xavier_uniform_(self.lin1.weight)
        torch.nn.init.xavier_uniform_(self.lin2.weight)
        self.lin2.bias.data.fill_(0)

    def forward(self, x: Tensor, edge_index: Tensor, edge_weight: Tensor, edge_attr: Tensor,
                edge_mask: Optional[Tensor] = None) -> Tensor:
        envelope = 0.5 * (torch.cos(edge_weight * math.pi / self.cutoff) + 1.0)
        filters = self.nn(edge_attr) * envelope.view(-1, 1)
        mask = {} if edge_mask is None else {"edge_mask": edge_mask}
        return self.lin2(self.propagate(edge_index, x=self.lin1(x), W=filters, **mask))

    def message(self, x_j: Tensor, W: Tensor) -> Tensor:
        return x_j * W


class InteractionBlock(torch.nn.Module):
    """A filter network, :class:`CFConv`, shifted softplus and a linear layer (PyG's keys)."""

    def __init__(self, hidden_channels: int, num_gaussians: int, num_filters: int, cutoff: float) -> None:
        super().__init__()
        self.mlp = Sequential(Linear(num_gaussians, num_filters), ShiftedSoftplus(), Linear(num_filters, num_filters))
        self.conv = CFConv(hidden_channels, hidden_channels, num_filters, self.mlp, cutoff)
        self.act = ShiftedSoftplus()
        self.lin = Linear(hidden_channels, hidden_channels)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for layer in (self.mlp[0], self.mlp[2]):
            torch.nn.init.xavier_uniform_(layer.weight)
            layer.bias.data.fill_(0)
        self.conv.reset_parameters()
        torch.nn.init.xavier_uniform_(self.lin.weight)
        self.lin.bias.data.fill_(0)

    def forward(self, x: Tensor, edge_index: Tensor, edge_weight: Tensor, edge_attr: Tensor,
                edge_mask: Optional[Tensor] = None) -> Tensor:
        return self.lin(self.act(self.conv(x, edge_index, edge_weight, edge_attr, edge_mask)))


class RadiusInteractionGraph(torch.nn.Module):
    """Edges to each atom from the atoms of its molecule within ``cutoff``, up to
    ``max_num_neighbors`` (nearest first), and their lengths. ``static=True`` (default):
    ``(edge_index [2, N * k], edge_weight [N * k], edge_mask [N * k])`` with
    ``k = max_num_neighbors``, the masked slots pointing at the atom itself (length 0, so no
    NaN in a gradient); ``static=False``: PyG's ``(edge_index, edge_weight)`` of the
    edges that exist (their count read on the host)."""

    def __init__(self, cutoff: float = 10.0, max_num_neighbors: int = 32, static: bool = True) -> None:
        super().__init__()
        self.cutoff, self.max_num_neighbors, self.static = cutoff, max_num_neighbors, static

    def forward(self, pos: Tensor, batch: Optional[Tensor]) -> Union[Tuple[Tensor, Tensor], Tuple[Tensor, Tensor, Tensor]]:
        found = ops.radius_graph(pos, self.cutoff, batch, max_num_neighbors=self.max_num_neighbors,
                                 static=self.static)
        edge_index, mask = found if self.static else (found, None)
        row, col = edge_index
        edge_weight = (pos.index_select(0, row) - pos.index_select(0, col)).norm(dim=-1)
        return (edge_index, edge_weight) if mask is None else (edge_index, edge_weight, mask)


class SchNet(torch.nn.Module):
    r"""SchNet (module docstring), with PyG's arguments:

    Args:
        hidden_channels: atom embedding size.
        num_filters: filters of each continuous-filter convolution.
        num_interactions: interaction blocks.
        num_gaussians: Gaussians :math:`\mu` of the distance expansion.
        cutoff: interaction radius (also the envelope's zero).
        interaction_graph: ``(pos, batch) -> (edge_index, edge_weight)`` (PyG's), or with an
            edge mask as a third element; ``None``: :class:`RadiusInteractionGraph`.
        max_num_neighbors: neighbours kept per atom by the default interaction graph.
        readout: ``"add"`` or ``"mean"`` per molecule.
        dipole: predict the dipole moment's magnitude (atomic masses from ``ase``, as PyG).
        mean, std: the target's statistics, applied to each atom's output.
        atomref: per-element reference values ``[100]`` (or ``[100, 1]``) added per atom.

    ``forward(z, pos, batch=None, batch_size=None)``: atomic numbers ``[N]`` (0 pads: a zero
    embedding), positions ``[N, 3]``, molecule of each atom; ``batch_size`` (gnnx's), the
    molecule count, keeps it off the host, so compiled and exported calls need it when
    ``batch`` is given. Returns ``[num_molecules, 1]``.
    """

    def __init__(self, hidden_channels: int = 128, num_filters: int = 128, num_interactions: int = 6,
                 num_gaussians: int = 50, cutoff: float = 10.0, interaction_graph: Optional[Callable] = None,
                 max_num_neighbors: int = 32, readout: str = "add", dipole: bool = False,
                 mean: Optional[float] = None, std: Optional[float] = None, atomref: Optional[Tensor] = None) -> None:
        super().__init__()
        self.hidden_channels, self.num_filters = hidden_channels, num_filters
        self.num_interactions, self.num_gaussians, self.cutoff = num_interactions, num_gaussians, cutoff
        self.dipole, self.mean, self.std, self.scale = dipole, mean, std, None
        self.readout = resolve_aggregation("sum" if dipole else readout)
        if dipole:
            import ase  # the atomic masses, as PyG takes them

            self.register_buffer("atomic_mass", torch.from_numpy(ase.data.atomic_masses).float())
        self.embedding = Embedding(100, hidden_channels, padding_idx=0)
        self.interaction_graph = (interaction_graph if interaction_graph is not None
                                  else RadiusInteractionGraph(cutoff, max_num_neighbors))
        self.distance_expansion = GaussianSmearing(0.0, cutoff, num_gaussians)
        self.interactions = ModuleList([InteractionBlock(hidden_channels, num_gaussians, num_filters, cutoff)
                                        for _ in range(num_interactions)])
        self.lin1 = Linear(hidden_channels, hidden_channels // 2)
        self.act = ShiftedSoftplus()
        self.lin2 = Linear(hidden_channels // 2, 1)
        self.register_buffer("initial_atomref", atomref)
        self.atomref = None
        if atomref is not None:
            self.atomref = Embedding(100, 1)
            self.atomref.weight.data.copy_(atomref.view(100, 1))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.embedding.reset_parameters()
        for interaction in self.interactions:
            interaction.reset_parameters()
        for layer in (self.lin1, self.lin2):
            torch.nn.init.xavier_uniform_(layer.weight)
            layer.bias.data.fill_(0)
        if self.atomref is not None:
            self.atomref.weight.data.copy_(self.initial_atomref.view(100, 1))

    @classmethod
    def from_qm9_pretrained(cls, *args, **kwargs):
        raise NotImplementedError("SchNet.from_qm9_pretrained: gnnx downloads nothing and loads no pickled "
                                  "checkpoints; load a state_dict saved from PyG's model instead")

    def forward(self, z: Tensor, pos: Tensor, batch: Optional[Tensor] = None,
                batch_size: Optional[int] = None) -> Tensor:
        if z.dim() != 1 or z.dtype.is_floating_point or pos.dim() != 2 or pos.size(0) != z.size(0):
            raise ValueError(f"SchNet: z must be an integer vector of atomic numbers and pos [N, 3] with one row "
                             f"per atom, got z {z.dtype} of shape {list(z.shape)} and pos of shape {list(pos.shape)}")
        graph = self.interaction_graph(pos, batch)
        edge_index, edge_weight = graph[0], graph[1]
        edge_mask = graph[2] if len(graph) > 2 else None
        edge_attr = self.distance_expansion(edge_weight)
        h = self.embedding(z)
        for interaction in self.interactions:
            h = h + interaction(h, edge_index, edge_weight, edge_attr, edge_mask)
        h = self.lin2(self.act(self.lin1(h)))
        index = torch.zeros_like(z) if batch is None else batch
        size = 1 if batch is None else batch_size
        if self.dipole:  # from the centre of mass
            mass = self.atomic_mass.index_select(0, z).view(-1, 1)
            centre = (self.readout(mass * pos, index, dim_size=size)
                      / self.readout(mass, index, dim_size=size))
            h = h * (pos - centre.index_select(0, index))
        if not self.dipole and self.mean is not None and self.std is not None:
            h = h * self.std + self.mean
        if not self.dipole and self.atomref is not None:
            h = h + self.atomref(z)
        out = self.readout(h, index, dim_size=size)
        if self.dipole:
            out = torch.norm(out, dim=-1, keepdim=True)
        if self.scale is not None:
            out = self.scale * out
        return out

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(hidden_channels={self.hidden_channels}, num_filters={self.num_filters}, "
                f"num_interactions={self.num_interactions}, num_gaussians={self.num_gaussians}, "
                f"cutoff={self.cutoff})")
