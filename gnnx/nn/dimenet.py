r"""DimeNet and DimeNet++ (Gasteiger et al., `arXiv:2003.03123
<https://arxiv.org/abs/2003.03123>`_ and `arXiv:2011.14115 <https://arxiv.org/abs/2011.14115>`_):
directional message passing on molecules, PyG's models.

Messages live on directed edges :math:`j \to i` within ``cutoff``. Each interaction updates
a message from the messages :math:`k \to j` into its source, weighted by the distance
:math:`d_{kj}` and the angle :math:`\alpha_{kji}` between the two edges,

.. math::
    \mathbf{m}_{ji}^{(l+1)} = f_{\text{update}}\Big(\mathbf{m}_{ji}^{(l)},
    \sum_{k \in \mathcal{N}_j \setminus \{i\}} f_{\text{int}}\big(\mathbf{m}_{kj}^{(l)},
    \mathbf{e}_{\text{RBF}}(d_{ji}), \mathbf{a}_{\text{SBF}}(d_{kj}, \alpha_{kji})\big)\Big),

with the Bessel radial basis :math:`\mathbf{e}_{\text{RBF}}` and the spherical basis
:math:`\mathbf{a}_{\text{SBF}}` of :mod:`gnnx.nn.dimenet_basis`; output blocks sum the
messages into atoms and atoms into molecules. DimeNet's interaction is a bilinear layer,
DimeNet++'s a down-projection, an elementwise product and an up-projection.

PyG's model needs ``torch-cluster`` (radius graph), ``torch-sparse`` (triplets) and scipy
(the basis' zeros); this one needs none of them. Eager calls take the edges that exist
(gnnx's exact ``radius_graph``) and their triplets (:func:`triplets`, plain torch), as PyG's.
Compiled and exported calls (or ``static=True``) use fixed slots instead: ``max_num_neighbors``
edge slots per atom and ``max_num_neighbors`` triplet slots per edge (:func:`static_triplets`),
with masks, so no size is read from the data and the model compiles without recompiling and
exports with a dynamic atom count; masked slots get a safe distance and angle and contribute
nothing. ``from_qm9_pretrained`` is refused: nothing is downloaded or unpickled.
"""
from __future__ import annotations

import math
from typing import Callable, Optional, Tuple, Union

import torch
from torch import Tensor
from torch.nn import Embedding, Linear

from gnnx import ops
from gnnx.nn.dimenet_basis import angular_functions, radial_functions
from gnnx.nn.inits import activation, glorot_orthogonal
from gnnx.nn.point_sets import radius_graph
from gnnx.utils import scatter


class Envelope(torch.nn.Module):
    """The polynomial cutoff :math:`u(x) = 1/x + a x^{p-1} + b x^p + c x^{p+1}` for
    :math:`x < 1` (0 beyond), smooth to second order at the cutoff."""

    def __init__(self, exponent: int) -> None:
        super().__init__()
        self.p = exponent + 1
        self.a = -(self.p + 1) * (self.p + 2) / 2
        self.b = self.p * (self.p + 2)
        self.c = -self.p * (self.p + 1) / 2

    def forward(self, x: Tensor) -> Tensor:
        power = x.pow(self.p - 1)
        return (1.0 / x + self.a * power + self.b * power * x + self.c * power * x * x) * (x < 1.0).to(x.dtype)


class BesselBasisLayer(torch.nn.Module):
    """:math:`u(d/c) \\sin(f_n d/c)` with trainable frequencies :math:`f_n` (starting at
    :math:`n\\pi`)."""

    def __init__(self, num_radial: int, cutoff: float = 5.0, envelope_exponent: int = 5) -> None:
        super().__init__()
        self.cutoff = cutoff
        self.envelope = Envelope(envelope_exponent)
        self.freq = torch.nn.Parameter(torch.empty(num_radial))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        with torch.no_grad():
            torch.arange(1, self.freq.numel() + 1, out=self.freq).mul_(math.pi)
        self.freq.requires_grad_()

    def forward(self, dist: Tensor) -> Tensor:
        dist = dist.unsqueeze(-1) / self.cutoff
        return self.envelope(dist) * (self.freq * dist).sin()


class SphericalBasisLayer(torch.nn.Module):
    """The spherical basis of each triplet: the radial functions of its ``k -> j`` edge's
    distance times the angular functions of its angle (``[T, num_spherical * num_radial]``)."""

    def __init__(self, num_spherical: int, num_radial: int, cutoff: float = 5.0, envelope_exponent: int = 5) -> None:
        super().__init__()
        if num_radial > 64:
            raise ValueError(f"SphericalBasisLayer supports up to 64 radial functions (got {num_radial})")
        self.num_spherical, self.num_radial, self.cutoff = num_spherical, num_radial, cutoff
        self.envelope = Envelope(envelope_exponent)
        self.bessel_funcs = radial_functions(num_spherical, num_radial)
        self.sph_funcs = angular_functions(num_spherical)

    def forward(self, dist: Tensor, angle: Tensor, idx_kj: Tensor) -> Tensor:
        dist = dist / self.cutoff
        rbf = self.envelope(dist).unsqueeze(-1) * torch.stack([f(dist) for f in self.bessel_funcs], dim=1)
        cbf = torch.stack([f(angle) for f in self.sph_funcs], dim=1)
        n, k = self.num_spherical, self.num_radial
        return (rbf[idx_kj].view(-1, n, k) * cbf.view(-1, n, 1)).view(-1, n * k)


class EmbeddingBlock(torch.nn.Module):
    """Initial edge messages from both atoms' embeddings and the edge's radial basis."""

    def __init__(self, num_radial: int, hidden_channels: int, act: Callable) -> None:
        super().__init__()
        self.act = act
        self.emb = Embedding(95, hidden_channels)
        self.lin_rbf = Linear(num_radial, hidden_channels)
        self.lin = Linear(3 * hidden_channels, hidden_channels)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.emb.weight.data.uniform_(-math.sqrt(3), math.sqrt(3))
        self.lin_rbf.reset_parameters()
        self.lin.reset_parameters()

    def forward(self, x: Tensor, rbf: Tensor, i: Tensor, j: Tensor) -> Tensor:
        x = self.emb(x)
        return self.act(self.lin(torch.cat([x[i], x[j], self.act(self.lin_rbf(rbf))], dim=-1)))


def _reset_dense(layer: Linear) -> None:
    """DimeNet's initialisation of a dense layer: orthogonal, scale 2; zero bias."""
    glorot_orthogonal(layer.weight, scale=2.0)
    if layer.bias is not None:
        layer.bias.data.fill_(0)


class ResidualLayer(torch.nn.Module):
    """:math:`x + \\sigma(W_2 \\sigma(W_1 x))`."""

    def __init__(self, hidden_channels: int, act: Callable) -> None:
        super().__init__()
        self.act = act
        self.lin1 = Linear(hidden_channels, hidden_channels)
        self.lin2 = Linear(hidden_channels, hidden_channels)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _reset_dense(self.lin1)
        _reset_dense(self.lin2)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.act(self.lin2(self.act(self.lin1(x))))


class _Interaction(torch.nn.Module):
    """The residual stacks around an interaction's message update (both variants)."""

    def _residuals(self, hidden_channels: int, num_before_skip: int, num_after_skip: int, act: Callable) -> None:
        self.layers_before_skip = torch.nn.ModuleList(ResidualLayer(hidden_channels, act)
                                                      for _ in range(num_before_skip))
        self.lin = Linear(hidden_channels, hidden_channels)
        self.layers_after_skip = torch.nn.ModuleList(ResidualLayer(hidden_channels, act)
                                                     for _ in range(num_after_skip))

    def _reset_residuals(self) -> None:
        for layer in self.layers_before_skip:
            layer.reset_parameters()
        _reset_dense(self.lin)
        for layer in self.layers_after_skip:
            layer.reset_parameters()

    def _update(self, x: Tensor, h: Tensor) -> Tensor:
        for layer in self.layers_before_skip:
            h = layer(h)
        h = self.act(self.lin(h)) + x
        for layer in self.layers_after_skip:
            h = layer(h)
        return h


class InteractionBlock(_Interaction):
    """DimeNet's interaction: a bilinear layer over the spherical basis and the ``k -> j``
    messages."""

    def __init__(self, hidden_channels: int, num_bilinear: int, num_spherical: int, num_radial: int,
                 num_before_skip: int, num_after_skip: int, act: Callable) -> None:
        super().__init__()
        self.act = act
        self.lin_rbf = Linear(num_radial, hidden_channels, bias=False)
        self.lin_sbf = Linear(num_spherical * num_radial, num_bilinear, bias=False)
        self.lin_kj = Linear(hidden_channels, hidden_channels)
        self.lin_ji = Linear(hidden_channels, hidden_channels)
        self.W = torch.nn.Parameter(torch.empty(hidden_channels, num_bilinear, hidden_channels))
        self._residuals(hidden_channels, num_before_skip, num_after_skip, act)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for layer in (self.lin_rbf, self.lin_sbf, self.lin_kj, self.lin_ji):
            _reset_dense(layer)
        self.W.data.normal_(mean=0, std=2 / self.W.size(0))
        self._reset_residuals()

    def forward(self, x: Tensor, rbf: Tensor, sbf: Tensor, idx_kj: Tensor, idx_ji: Tensor) -> Tensor:
        x_ji = self.act(self.lin_ji(x))
        x_kj = self.act(self.lin_kj(x)) * self.lin_rbf(rbf)
        x_kj = torch.einsum("wj,wl,ijl->wi", self.lin_sbf(sbf), x_kj[idx_kj], self.W)
        x_kj = scatter(x_kj, idx_ji, dim=0, dim_size=x.size(0), reduce="sum")
        return self._update(x, x_ji + x_kj)


class InteractionPPBlock(_Interaction):
    """DimeNet++'s interaction: messages projected down to ``int_emb_size``, multiplied by
    the (two-layer) spherical basis embedding, summed, projected up."""

    def __init__(self, hidden_channels: int, int_emb_size: int, basis_emb_size: int, num_spherical: int,
                 num_radial: int, num_before_skip: int, num_after_skip: int, act: Callable) -> None:
        super().__init__()
        self.act = act
        self.lin_rbf1 = Linear(num_radial, basis_emb_size, bias=False)
        self.lin_rbf2 = Linear(basis_emb_size, hidden_channels, bias=False)
        self.lin_sbf1 = Linear(num_spherical * num_radial, basis_emb_size, bias=False)
        self.lin_sbf2 = Linear(basis_emb_size, int_emb_size, bias=False)
        self.lin_kj = Linear(hidden_channels, hidden_channels)
        self.lin_ji = Linear(hidden_channels, hidden_channels)
        self.lin_down = Linear(hidden_channels, int_emb_size, bias=False)
        self.lin_up = Linear(int_emb_size, hidden_channels, bias=False)
        self._residuals(hidden_channels, num_before_skip, num_after_skip, act)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for layer in (self.lin_rbf1, self.lin_rbf2, self.lin_sbf1, self.lin_sbf2, self.lin_kj, self.lin_ji,
                      self.lin_down, self.lin_up):
            _reset_dense(layer)
        self._reset_residuals()

    def forward(self, x: Tensor, rbf: Tensor, sbf: Tensor, idx_kj: Tensor, idx_ji: Tensor) -> Tensor:
        x_ji = self.act(self.lin_ji(x))
        x_kj = self.act(self.lin_kj(x)) * self.lin_rbf2(self.lin_rbf1(rbf))
        x_kj = self.act(self.lin_down(x_kj))
        x_kj = x_kj[idx_kj] * self.lin_sbf2(self.lin_sbf1(sbf))
        x_kj = self.act(self.lin_up(scatter(x_kj, idx_ji, dim=0, dim_size=x.size(0), reduce="sum")))
        return self._update(x, x_ji + x_kj)


class OutputBlock(torch.nn.Module):
    """Messages weighted by the radial basis, summed into their target atoms, then an MLP;
    ``output_up`` (DimeNet++) projects to ``out_emb_channels`` first."""

    def __init__(self, num_radial: int, hidden_channels: int, out_channels: int, num_layers: int, act: Callable,
                 output_initializer: str = "zeros", out_emb_channels: Optional[int] = None) -> None:
        super().__init__()
        if output_initializer not in ("zeros", "glorot_orthogonal"):
            raise ValueError(f"output_initializer must be 'zeros' or 'glorot_orthogonal' (got {output_initializer!r})")
        self.act, self.output_initializer = act, output_initializer
        self.lin_rbf = Linear(num_radial, hidden_channels, bias=False)
        width = hidden_channels
        if out_emb_channels is not None:
            self.lin_up = Linear(hidden_channels, out_emb_channels, bias=False)
            width = out_emb_channels
        self.lins = torch.nn.ModuleList(Linear(width, width) for _ in range(num_layers))
        self.lin = Linear(width, out_channels, bias=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _reset_dense(self.lin_rbf)
        if hasattr(self, "lin_up"):
            _reset_dense(self.lin_up)
        for layer in self.lins:
            _reset_dense(layer)
        if self.output_initializer == "zeros":
            self.lin.weight.data.fill_(0)
        else:
            glorot_orthogonal(self.lin.weight, scale=2.0)

    def forward(self, x: Tensor, rbf: Tensor, i: Tensor, num_nodes: Optional[int] = None) -> Tensor:
        x = scatter(self.lin_rbf(rbf) * x, i, dim=0, dim_size=num_nodes, reduce="sum")
        if hasattr(self, "lin_up"):
            x = self.lin_up(x)
        for layer in self.lins:
            x = self.act(layer(x))
        return self.lin(x)


class OutputPPBlock(OutputBlock):
    """DimeNet++'s output block (an up-projection to ``out_emb_channels`` before the MLP)."""

    def __init__(self, num_radial: int, hidden_channels: int, out_emb_channels: int, out_channels: int,
                 num_layers: int, act: Callable, output_initializer: str = "zeros") -> None:
        super().__init__(num_radial, hidden_channels, out_channels, num_layers, act, output_initializer,
                         out_emb_channels=out_emb_channels)


def triplets(edge_index: Tensor, num_nodes: int) -> Tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
    """For the edges ``j -> i`` (``edge_index = [j; i]``): ``(i, j)`` per edge and, per
    triplet ``k -> j -> i`` with ``k != i``, ``(idx_i, idx_j, idx_k, idx_kj, idx_ji)`` (the
    two edges' ids). A pair's triplets come in the order of ``k``, as PyG's."""
    row, col = edge_index[0], edge_index[1]  # j -> i
    order = torch.argsort(col * num_nodes + row, stable=True)  # the edges into each node, by source
    in_degree = torch.bincount(col, minlength=num_nodes)
    start = torch.cumsum(in_degree, 0) - in_degree
    count = in_degree[row]  # edge j -> i meets every edge into j
    idx_ji = torch.arange(row.numel(), device=row.device).repeat_interleave(count)
    offset = torch.arange(idx_ji.numel(), device=row.device) - (torch.cumsum(count, 0) - count)[idx_ji]
    idx_kj = order[start[row][idx_ji] + offset]
    idx_i, idx_j, idx_k = col[idx_ji], row[idx_ji], row[idx_kj]
    keep = idx_i != idx_k
    return col, row, idx_i[keep], idx_j[keep], idx_k[keep], idx_kj[keep], idx_ji[keep]


def static_triplets(edge_index: Tensor, edge_mask: Tensor, slots: int) -> Tuple[Tensor, Tensor, Tensor]:
    """Triplets over the static edge slots of :func:`gnnx.ops.radius_graph` (edge ``e = i *
    slots + a`` into atom ``i``): for each edge ``j -> i``, the ``slots`` edges into ``j``.
    Returns ``(idx_kj, idx_ji, valid)`` of ``E * slots`` entries; ``valid`` where both edges
    exist and ``k != i``."""
    src, dst = edge_index[0], edge_index[1]
    num_edges = src.numel()
    idx_ji = torch.arange(num_edges, device=src.device).repeat_interleave(slots)
    idx_kj = src.index_select(0, idx_ji) * slots + torch.arange(slots, device=src.device).repeat(num_edges)
    valid = (edge_mask.index_select(0, idx_ji) & edge_mask.index_select(0, idx_kj)
             & (src.index_select(0, idx_kj) != dst.index_select(0, idx_ji)))
    return idx_kj, idx_ji, valid


class DimeNet(torch.nn.Module):
    """DimeNet (module docstring); PyG's arguments and state-dict keys.

    ``forward(z, pos, batch=None)``: atomic numbers ``z [N]`` (< 95), positions
    ``pos [N, 3]``, the molecule of each atom; returns ``[num_molecules, out_channels]``.
    """

    def __init__(self, hidden_channels: int, out_channels: int, num_blocks: int, num_bilinear: int,
                 num_spherical: int, num_radial: int, cutoff: float = 5.0, max_num_neighbors: int = 32,
                 envelope_exponent: int = 5, num_before_skip: int = 1, num_after_skip: int = 2,
                 num_output_layers: int = 3, act: Union[str, Callable] = "swish",
                 output_initializer: str = "zeros", static: Optional[bool] = None) -> None:
        super().__init__()
        self.static = static  # None: static slots in compiled and exported calls only
        if num_spherical < 2:
            raise ValueError("'num_spherical' should be greater than 1")
        act = activation(act)
        self.cutoff, self.max_num_neighbors, self.num_blocks = cutoff, max_num_neighbors, num_blocks
        self.rbf = BesselBasisLayer(num_radial, cutoff, envelope_exponent)
        self.sbf = SphericalBasisLayer(num_spherical, num_radial, cutoff, envelope_exponent)
        self.emb = EmbeddingBlock(num_radial, hidden_channels, act)
        self.output_blocks = torch.nn.ModuleList(
            OutputBlock(num_radial, hidden_channels, out_channels, num_output_layers, act, output_initializer)
            for _ in range(num_blocks + 1))
        self.interaction_blocks = torch.nn.ModuleList(
            InteractionBlock(hidden_channels, num_bilinear, num_spherical, num_radial, num_before_skip,
                             num_after_skip, act) for _ in range(num_blocks))

    def reset_parameters(self) -> None:
        self.rbf.reset_parameters()
        self.emb.reset_parameters()
        for block in self.output_blocks:
            block.reset_parameters()
        for block in self.interaction_blocks:
            block.reset_parameters()

    @classmethod
    def from_qm9_pretrained(cls, root: str, dataset, target: int):
        raise NotImplementedError(f"{cls.__name__}.from_qm9_pretrained is not available in gnnx: it downloads "
                                  f"TensorFlow checkpoints. Train the model, or load a state_dict you trust.")

    def _vectors(self, pos: Tensor, idx_i: Tensor, idx_j: Tensor, idx_k: Tensor) -> Tuple[Tensor, Tensor]:
        """The two vectors whose angle is the triplet's (DimeNet: ``j - i`` and ``k - i``)."""
        return pos[idx_j] - pos[idx_i], pos[idx_k] - pos[idx_i]

    def _angles(self, pos: Tensor, idx_i: Tensor, idx_j: Tensor, idx_k: Tensor,
                valid: Optional[Tensor] = None) -> Tensor:
        first, second = self._vectors(pos, idx_i, idx_j, idx_k)
        if valid is not None:  # masked triplets: two orthogonal unit vectors (no 0/0 in a gradient)
            keep = valid.unsqueeze(-1)
            first = torch.where(keep, first, torch.tensor([1.0, 0.0, 0.0], dtype=pos.dtype, device=pos.device))
            second = torch.where(keep, second, torch.tensor([0.0, 1.0, 0.0], dtype=pos.dtype, device=pos.device))
        return torch.atan2(torch.cross(first, second, dim=1).norm(dim=-1), (first * second).sum(dim=-1))

    def _structure(self, pos: Tensor, batch: Optional[Tensor]):
        """``(i, j, idx_i, idx_j, idx_k, idx_kj, idx_ji, edge_mask, triplet_mask)``; the masks
        are ``None`` for the exact (eager) structure."""
        static = self.static if self.static is not None else (torch.compiler.is_compiling()
                                                             or torch.compiler.is_exporting())
        if not static:
            edge_index = radius_graph(pos, r=self.cutoff, batch=batch, max_num_neighbors=self.max_num_neighbors)
            return (*triplets(edge_index, num_nodes=pos.size(0)), None, None)
        edge_index, edge_mask = ops.radius_graph(pos, self.cutoff, batch, max_num_neighbors=self.max_num_neighbors,
                                                 static=True)
        idx_kj, idx_ji, valid = static_triplets(edge_index, edge_mask, self.max_num_neighbors)
        j, i = edge_index[0], edge_index[1]
        return i, j, i.index_select(0, idx_ji), j.index_select(0, idx_ji), j.index_select(0, idx_kj), idx_kj, \
            idx_ji, edge_mask, valid

    def forward(self, z: Tensor, pos: Tensor, batch: Optional[Tensor] = None,
                batch_size: Optional[int] = None) -> Tensor:
        """Per molecule, ``[num_molecules, out_channels]``; ``batch_size`` (gnnx's), the molecule
        count, keeps it off the host, so compiled and exported calls need it with ``batch``."""
        if z.dim() != 1 or pos.dim() != 2 or pos.size(-1) != 3 or pos.size(0) != z.size(0):
            raise ValueError(f"{type(self).__name__} takes atomic numbers z [N] and positions pos [N, 3], got "
                             f"{list(z.shape)} and {list(pos.shape)}")
        i, j, idx_i, idx_j, idx_k, idx_kj, idx_ji, edge_mask, valid = self._structure(pos, batch)
        vector = pos.index_select(0, i) - pos.index_select(0, j)
        angle_args = (pos, idx_i, idx_j, idx_k)
        if edge_mask is not None:
            # masked slots: a safe length (the envelope divides by it, and a square root's
            # gradient at 0 is not finite) and angle; they get zero weight below
            safe = vector.new_tensor([0.5 * self.cutoff, 0.0, 0.0])
            vector = torch.where(edge_mask.unsqueeze(-1), vector, safe)
            angle_args = (pos, idx_i, idx_j, idx_k, valid)
        dist = vector.pow(2).sum(dim=-1).sqrt()
        rbf = self.rbf(dist)
        sbf = self.sbf(dist, self._angles(*angle_args), idx_kj)
        if valid is not None:
            sbf = sbf * valid.unsqueeze(-1).to(sbf.dtype)
            rbf_out = rbf * edge_mask.unsqueeze(-1).to(rbf.dtype)  # what the output blocks see
        else:
            rbf_out = rbf
        x = self.emb(z, rbf, i, j)
        out = self.output_blocks[0](x, rbf_out, i, num_nodes=pos.size(0))
        for interaction, output in zip(self.interaction_blocks, self.output_blocks[1:]):
            x = interaction(x, rbf, sbf, idx_kj, idx_ji)
            out = out + output(x, rbf_out, i, num_nodes=pos.size(0))
        if batch is None:
            return out.sum(dim=0)
        return scatter(out, batch, dim=0, dim_size=batch_size, reduce="sum")


class DimeNetPlusPlus(DimeNet):
    """DimeNet++ (module docstring); PyG's arguments and state-dict keys."""

    def __init__(self, hidden_channels: int, out_channels: int, num_blocks: int, int_emb_size: int,
                 basis_emb_size: int, out_emb_channels: int, num_spherical: int, num_radial: int,
                 cutoff: float = 5.0, max_num_neighbors: int = 32, envelope_exponent: int = 5,
                 num_before_skip: int = 1, num_after_skip: int = 2, num_output_layers: int = 3,
                 act: Union[str, Callable] = "swish", output_initializer: str = "zeros",
                 static: Optional[bool] = None) -> None:
        act = activation(act)
        super().__init__(hidden_channels, out_channels, num_blocks, 1, num_spherical, num_radial, cutoff,
                         max_num_neighbors, envelope_exponent, num_before_skip, num_after_skip, num_output_layers,
                         act, output_initializer, static)
        self.output_blocks = torch.nn.ModuleList(
            OutputPPBlock(num_radial, hidden_channels, out_emb_channels, out_channels, num_output_layers, act,
                          output_initializer) for _ in range(num_blocks + 1))
        self.interaction_blocks = torch.nn.ModuleList(
            InteractionPPBlock(hidden_channels, int_emb_size, basis_emb_size, num_spherical, num_radial,
                               num_before_skip, num_after_skip, act) for _ in range(num_blocks))
        self.reset_parameters()

    def _vectors(self, pos: Tensor, idx_i: Tensor, idx_j: Tensor, idx_k: Tensor) -> Tuple[Tensor, Tensor]:
        """DimeNet++'s angle is between ``i - j`` and ``j - k``."""
        return pos[idx_i] - pos[idx_j], pos[idx_j] - pos[idx_k]
