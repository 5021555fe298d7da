r"""ViSNet, `"Enhancing Geometric Representations for Molecules with Equivariant Vector-Scalar
Interactive Message Passing" <https://arxiv.org/abs/2210.16518>`_ (PyG's ``ViSNet`` and its
parts: arguments, state_dict keys, repr, initial draws and values).

Each atom carries a scalar :math:`\mathbf{x}_i` and a vector feature :math:`\vec{\mathbf{v}}_i`
(``(lmax + 1)^2 - 1`` spherical components per channel); each edge a distance expansion
:math:`\mathbf{f}_{ij}` and the spherical harmonics :math:`\mathbf{d}_{ij}` of its direction. A
ViS-MP layer weighs neighbours by a multi-head attention modulated by the edge,

.. math::
    \alpha^h_{ij} = \mathrm{SiLU}\big(\textstyle\sum_c q^h_{ic}\, k^h_{jc}\,
    \mathrm{SiLU}(\mathbf{W}_{dk}\mathbf{f}_{ij})^h_c\big)\, \phi(r_{ij}), \qquad
    \mathbf{m}_{ij} = \alpha_{ij}\, \mathbf{v}_j \odot \mathrm{SiLU}(\mathbf{W}_{dv}\mathbf{f}_{ij}),

and sums scalar messages :math:`\mathbf{m}_{ij}` and vector messages
:math:`\vec{\mathbf{v}}_j \odot \mathbf{s}^1_{ij} + \mathbf{s}^2_{ij} \otimes \mathbf{d}_{ij}`
(:math:`[\mathbf{s}^1, \mathbf{s}^2] = \mathrm{SiLU}(\mathbf{W}_s \mathbf{m}_{ij})`) per atom; the
edge features are updated from the vector rejections of both ends' vectors. An equivariant
output head and a sum per molecule give the energy, and (``derivative=True``) its negative
position gradient the forces.

The interaction graph is where gnnx differs from PyG, on purpose, as in
:class:`~gnnx.nn.SchNet`: :class:`Distance` keeps a static ``max_num_neighbors`` slots per atom
(the atom itself first, then the nearest within ``cutoff``) with a mask, instead of the edges
that exist, so the model reads no size from the data and compiles without recompiles as atom
counts change. Values equal PyG's wherever ``max_num_neighbors`` does not truncate (torch-cluster
keeps the first neighbours it meets, gnnx the nearest). :class:`VecLayerNorm` drops PyG's
all-zero early return (a host sync), whose result the general formula gives anyway.
``ViS_MP_Vertex`` keeps PyG's edge update as written (its second rejection reads the target's
vector twice), so checkpoints trained with PyG load and give the same values.
"""
from __future__ import annotations

import math
from typing import Optional, Tuple

import torch
from torch import Tensor
from torch.nn import Embedding, LayerNorm, Linear, Parameter

from gnnx import ops


class CosineCutoff(torch.nn.Module):
    r""":math:`\tfrac{1}{2}(\cos(\pi d / c) + 1)` inside the cutoff :math:`c`, 0 beyond."""

    def __init__(self, cutoff: float) -> None:
        super().__init__()
        self.cutoff = cutoff

    def forward(self, distances: Tensor) -> Tensor:
        cutoffs = 0.5 * ((distances * math.pi / self.cutoff).cos() + 1.0)
        return cutoffs * (distances < self.cutoff).to(distances.dtype)


class ExpNormalSmearing(torch.nn.Module):
    r"""Distances expanded on ``num_rbf`` exponential-normal functions,
    :math:`\phi(d)\exp(-\beta_k(e^{-\alpha d} - \mu_k)^2)`, :math:`\alpha = 5 / c`."""

    def __init__(self, cutoff: float = 5.0, num_rbf: int = 128, trainable: bool = True) -> None:
        super().__init__()
        self.cutoff = cutoff
        self.num_rbf = num_rbf
        self.trainable = trainable
        self.cutoff_fn = CosineCutoff(cutoff)
        self.alpha = 5.0 / cutoff
        means, betas = self._initial_params()
        if trainable:
            self.register_parameter("means", Parameter(means))
            self.register_parameter("betas", Parameter(betas))
        else:
            self.register_buffer("means", means)
            self.register_buffer("betas", betas)

    def _initial_params(self) -> Tuple[Tensor, Tensor]:
        start_value = torch.exp(torch.tensor(-self.cutoff))
        means = torch.linspace(start_value, 1, self.num_rbf)
        betas = torch.tensor([(2 / self.num_rbf * (1 - start_value)) ** -2] * self.num_rbf)
        return means, betas

    def reset_parameters(self) -> None:
        means, betas = self._initial_params()
        self.means.data.copy_(means)
        self.betas.data.copy_(betas)

    def forward(self, dist: Tensor) -> Tensor:
        dist = dist.unsqueeze(-1)
        return self.cutoff_fn(dist) * (-self.betas * ((self.alpha * -dist).exp() - self.means) ** 2).exp()


class Sphere(torch.nn.Module):
    """Real spherical harmonics of degrees 1 to ``lmax`` (1 or 2) of unit vectors, ``[*, 3]``
    to ``[*, (lmax + 1)^2 - 1]``."""

    def __init__(self, lmax: int = 2) -> None:
        super().__init__()
        self.lmax = lmax

    def forward(self, edge_vec: Tensor) -> Tensor:
        return self._spherical_harmonics(self.lmax, edge_vec[..., 0], edge_vec[..., 1], edge_vec[..., 2])

    @staticmethod
    def _spherical_harmonics(lmax: int, x: Tensor, y: Tensor, z: Tensor) -> Tensor:
        if lmax == 1:
            return torch.stack([x, y, z], dim=-1)
        if lmax == 2:
            root3 = math.sqrt(3.0)
            return torch.stack([x, y, z, root3 * x * z, root3 * x * y, y.pow(2) - 0.5 * (x.pow(2) + z.pow(2)),
                                root3 * y * z, root3 / 2.0 * (z.pow(2) - x.pow(2))], dim=-1)
        raise ValueError(f"'lmax' needs to be 1 or 2 (got {lmax})")


class VecLayerNorm(torch.nn.Module):
    """A per-channel scale of vector features ``[N, 3 or 8, C]``; with ``norm_type="max_min"``
    each degree's lengths are first rescaled to ``[0, 1]`` over the channels of each atom."""

    def __init__(self, hidden_channels: int, trainable: bool, norm_type: Optional[str] = "max_min") -> None:
        super().__init__()
        self.hidden_channels = hidden_channels
        self.norm_type = norm_type
        self.eps = 1e-12
        weight = torch.ones(self.hidden_channels)
        if trainable:
            self.register_parameter("weight", Parameter(weight))
        else:
            self.register_buffer("weight", weight)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        torch.nn.init.ones_(self.weight)

    def max_min_norm(self, vec: Tensor) -> Tensor:
        # all-zero vectors give zeros here too (PyG returns them early, after a host sync)
        dist = torch.norm(vec, dim=1, keepdim=True).clamp(min=self.eps)
        direct = vec / dist
        max_val, _ = dist.max(dim=-1)
        min_val, _ = dist.min(dim=-1)
        delta = (max_val - min_val).view(-1)
        delta = torch.where(delta == 0, torch.ones_like(delta), delta)
        dist = (dist - min_val.view(-1, 1, 1)) / delta.view(-1, 1, 1)
        return dist.relu() * direct

    def forward(self, vec: Tensor) -> Tensor:
        if vec.size(1) not in (3, 8):
            raise ValueError(f"'{type(self).__name__}' only support 3 or 8 channels (got {vec.size(1)})")
        if self.norm_type == "max_min":
            parts = torch.split(vec, [3, 5], dim=1) if vec.size(1) == 8 else (vec,)
            vec = torch.cat([self.max_min_norm(part) for part in parts], dim=1)
        return vec * self.weight.unsqueeze(0).unsqueeze(0)


def _norm(v: Tensor, dim: int) -> Tensor:
    """``torch.norm(v, dim=dim)`` whose derivatives at a zero vector are 0, not NaN: self loops
    and masked slots have zero edge vectors, an atom without neighbours keeps zero vector
    features, and force training differentiates twice. PyG's second derivative is NaN there;
    values and first derivatives are the same."""
    zero = (v == 0).all(dim, keepdim=True)
    safe = torch.where(zero, torch.ones_like(v), v)  # torch.norm itself elsewhere: PyG's rounding
    return torch.where(zero.squeeze(dim), 0.0, torch.norm(safe, dim=dim))


class Distance(torch.nn.Module):
    """The interaction graph: ``(edge_index [2, N * k], edge_weight, edge_vec, edge_mask)`` with
    ``k = max_num_neighbors`` slots per atom (its self loop first where ``add_self_loops``);
    masked slots point at the atom itself. ``edge_vec`` is ``pos_j - pos_i``; self loops (and
    masked slots) have weight 0."""

    def __init__(self, cutoff: float, max_num_neighbors: int = 32, add_self_loops: bool = True) -> None:
        super().__init__()
        self.cutoff = cutoff
        self.max_num_neighbors = max_num_neighbors
        self.add_self_loops = add_self_loops

    def forward(self, pos: Tensor, batch: Optional[Tensor]) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
        edge_index, edge_mask = ops.radius_graph(pos, self.cutoff, batch, loop=self.add_self_loops,
                                                 max_num_neighbors=self.max_num_neighbors)
        edge_vec = pos.index_select(0, edge_index[0]) - pos.index_select(0, edge_index[1])
        return edge_index, _norm(edge_vec, dim=-1), edge_vec, edge_mask


class NeighborEmbedding(torch.nn.Module):
    r"""Each atom's embedding combined with the sum of its neighbours' (self loops and masked
    slots left out) weighted by a projection of the edge's distance expansion:
    :math:`\mathbf{W}_c[\mathbf{x}_i \Vert \sum_j \mathbf{e}_{z_j} \odot \mathbf{W}_d\mathbf{f}_{ij}\phi(r_{ij})]`."""

    def __init__(self, hidden_channels: int, num_rbf: int, cutoff: float, max_z: int = 100) -> None:
        super().__init__()
        self.embedding = Embedding(max_z, hidden_channels)
        self.distance_proj = Linear(num_rbf, hidden_channels)
        self.combine = Linear(hidden_channels * 2, hidden_channels)
        self.cutoff = CosineCutoff(cutoff)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.embedding.reset_parameters()
        torch.nn.init.xavier_uniform_(self.distance_proj.weight)
        torch.nn.init.xavier_uniform_(self.combine.weight)
        self.distance_proj.bias.data.zero_()
        self.combine.bias.data.zero_()

    def forward(self, z: Tensor, x: Tensor, edge_index: Tensor, edge_weight: Tensor, edge_attr: Tensor,
                edge_mask: Optional[Tensor] = None) -> Tensor:
        keep = edge_index[0] != edge_index[1]
        if edge_mask is not None:
            keep = keep & edge_mask
        weights = self.distance_proj(edge_attr) * self.cutoff(edge_weight).view(-1, 1)
        messages = self.embedding(z).index_select(0, edge_index[0]) * weights
        neighbours = ops.scatter(messages, edge_index[1], x.size(0), mask=keep)
        return self.combine(torch.cat([x, neighbours], dim=1))

    def __repr__(self) -> str:  # PyG's MessagePassing repr
        return f"{type(self).__name__}()"


class EdgeEmbedding(torch.nn.Module):
    r"""Edge features :math:`(\mathbf{x}_i + \mathbf{x}_j) \odot \mathbf{W}\mathbf{f}_{ij}`."""

    def __init__(self, num_rbf: int, hidden_channels: int) -> None:
        super().__init__()
        self.edge_proj = Linear(num_rbf, hidden_channels)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        torch.nn.init.xavier_uniform_(self.edge_proj.weight)
        self.edge_proj.bias.data.zero_()

    def forward(self, edge_index: Tensor, edge_attr: Tensor, x: Tensor) -> Tensor:
        return (x.index_select(0, edge_index[1]) + x.index_select(0, edge_index[0])) * self.edge_proj(edge_attr)


class ViS_MP(torch.nn.Module):  # noqa: N801 (PyG's name)
    """One ViS-MP layer (module docstring): ``(dx, dvec, df_ij)`` updates of the scalars,
    vectors and (except in the last layer) edge features."""

    def __init__(self, num_heads: int, hidden_channels: int, cutoff: float, vecnorm_type: Optional[str],
                 trainable_vecnorm: bool, last_layer: bool = False) -> None:
        super().__init__()
        if hidden_channels % num_heads != 0:
            raise ValueError(f"The number of hidden channels (got {hidden_channels}) must be evenly divisible by "
                             f"the number of attention heads (got {num_heads})")
        self.num_heads = num_heads
        self.hidden_channels = hidden_channels
        self.head_dim = hidden_channels // num_heads
        self.last_layer = last_layer
        self.layernorm = LayerNorm(hidden_channels)
        self.vec_layernorm = VecLayerNorm(hidden_channels, trainable=trainable_vecnorm, norm_type=vecnorm_type)
        self.act = torch.nn.SiLU()
        self.attn_activation = torch.nn.SiLU()
        self.cutoff = CosineCutoff(cutoff)
        self.vec_proj = Linear(hidden_channels, hidden_channels * 3, False)
        self.q_proj = Linear(hidden_channels, hidden_channels)
        self.k_proj = Linear(hidden_channels, hidden_channels)
        self.v_proj = Linear(hidden_channels, hidden_channels)
        self.dk_proj = Linear(hidden_channels, hidden_channels)
        self.dv_proj = Linear(hidden_channels, hidden_channels)
        self.s_proj = Linear(hidden_channels, hidden_channels * 2)
        if not self.last_layer:
            self.f_proj = Linear(hidden_channels, hidden_channels)
            self.w_src_proj = Linear(hidden_channels, hidden_channels, False)
            self.w_trg_proj = Linear(hidden_channels, hidden_channels, False)
        self.o_proj = Linear(hidden_channels, hidden_channels * 3)
        self.reset_parameters()

    @staticmethod
    def vector_rejection(vec: Tensor, d_ij: Tensor) -> Tensor:
        """``vec`` less its component along ``d_ij`` (per channel)."""
        vec_proj = (vec * d_ij.unsqueeze(2)).sum(dim=1, keepdim=True)
        return vec - vec_proj * d_ij.unsqueeze(2)

    def reset_parameters(self) -> None:
        self.layernorm.reset_parameters()
        self.vec_layernorm.reset_parameters()
        for lin in (self.q_proj, self.k_proj, self.v_proj, self.o_proj, self.s_proj):
            torch.nn.init.xavier_uniform_(lin.weight)
            lin.bias.data.zero_()
        if not self.last_layer:
            torch.nn.init.xavier_uniform_(self.f_proj.weight)
            self.f_proj.bias.data.zero_()
            torch.nn.init.xavier_uniform_(self.w_src_proj.weight)
            torch.nn.init.xavier_uniform_(self.w_trg_proj.weight)
        torch.nn.init.xavier_uniform_(self.vec_proj.weight)
        for lin in (self.dk_proj, self.dv_proj):
            torch.nn.init.xavier_uniform_(lin.weight)
            lin.bias.data.zero_()

    def forward(self, x: Tensor, vec: Tensor, edge_index: Tensor, r_ij: Tensor, f_ij: Tensor, d_ij: Tensor,
                edge_mask: Optional[Tensor] = None) -> Tuple[Tensor, Tensor, Optional[Tensor]]:
        src, dst = edge_index[0], edge_index[1]
        x = self.layernorm(x)
        vec = self.vec_layernorm(vec)
        heads = (-1, self.num_heads, self.head_dim)
        q, k, v = (proj(x).reshape(heads) for proj in (self.q_proj, self.k_proj, self.v_proj))
        dk = self.act(self.dk_proj(f_ij)).reshape(heads)
        dv = self.act(self.dv_proj(f_ij)).reshape(heads)
        vec1, vec2, vec3 = torch.split(self.vec_proj(vec), self.hidden_channels, dim=-1)
        vec_dot = (vec1 * vec2).sum(dim=1)

        attn = (q.index_select(0, dst) * k.index_select(0, src) * dk).sum(dim=-1)
        attn = self.attn_activation(attn) * self.cutoff(r_ij).unsqueeze(1)
        v_j = (v.index_select(0, src) * dv * attn.unsqueeze(2)).view(-1, self.hidden_channels)
        s1, s2 = torch.split(self.act(self.s_proj(v_j)), self.hidden_channels, dim=1)
        vec_j = vec.index_select(0, src) * s1.unsqueeze(1) + s2.unsqueeze(1) * d_ij.unsqueeze(2)
        x = ops.scatter(v_j, dst, x.size(0), mask=edge_mask)
        vec_out = ops.scatter(vec_j, dst, x.size(0), mask=edge_mask)

        o1, o2, o3 = torch.split(self.o_proj(x), self.hidden_channels, dim=1)
        dx = vec_dot * o2 + o3
        dvec = vec3 * o1.unsqueeze(1) + vec_out
        if self.last_layer:
            return dx, dvec, None
        return dx, dvec, self.edge_update(vec.index_select(0, dst), vec.index_select(0, src), d_ij, f_ij)

    def edge_update(self, vec_i: Tensor, vec_j: Tensor, d_ij: Tensor, f_ij: Tensor) -> Tensor:
        w1 = self.vector_rejection(self.w_trg_proj(vec_i), d_ij)
        w2 = self.vector_rejection(self.w_src_proj(vec_j), -d_ij)
        return self.act(self.f_proj(f_ij)) * (w1 * w2).sum(dim=1)

    def __repr__(self) -> str:  # PyG's MessagePassing repr
        return f"{type(self).__name__}()"


class ViS_MP_Vertex(ViS_MP):  # noqa: N801 (PyG's name)
    """ViS-MP whose edge update adds a second, gated rejection term (PyG's, as written)."""

    def __init__(self, num_heads: int, hidden_channels: int, cutoff: float, vecnorm_type: Optional[str],
                 trainable_vecnorm: bool, last_layer: bool = False) -> None:
        super().__init__(num_heads, hidden_channels, cutoff, vecnorm_type, trainable_vecnorm, last_layer)
        if not self.last_layer:
            self.f_proj = Linear(hidden_channels, hidden_channels * 2)
            self.t_src_proj = Linear(hidden_channels, hidden_channels, False)
            self.t_trg_proj = Linear(hidden_channels, hidden_channels, False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        super().reset_parameters()
        if not self.last_layer:
            for name in ("t_src_proj", "t_trg_proj"):  # absent while the base class builds
                if hasattr(self, name):
                    torch.nn.init.xavier_uniform_(getattr(self, name).weight)

    def edge_update(self, vec_i: Tensor, vec_j: Tensor, d_ij: Tensor, f_ij: Tensor) -> Tensor:
        w1 = self.vector_rejection(self.w_trg_proj(vec_i), d_ij)
        w2 = self.vector_rejection(self.w_src_proj(vec_j), -d_ij)
        t1 = self.vector_rejection(self.t_trg_proj(vec_i), d_ij)
        t2 = self.vector_rejection(self.t_src_proj(vec_i), -d_ij)  # vec_i: PyG's, see the module docstring
        f1, f2 = torch.split(self.act(self.f_proj(f_ij)), self.hidden_channels, dim=-1)
        return f1 * (w1 * w2).sum(dim=1) + f2 * (t1 * t2).sum(dim=1)


class ViSNetBlock(torch.nn.Module):
    """ViSNet's representation: ``(x [N, hidden], vec [N, (lmax + 1)^2 - 1, hidden])`` per atom
    from atomic numbers ``z`` and positions ``pos``."""

    def __init__(self, lmax: int = 1, vecnorm_type: Optional[str] = None, trainable_vecnorm: bool = False,
                 num_heads: int = 8, num_layers: int = 6, hidden_channels: int = 128, num_rbf: int = 32,
                 trainable_rbf: bool = False, max_z: int = 100, cutoff: float = 5.0, max_num_neighbors: int = 32,
                 vertex: bool = False) -> None:
        super().__init__()
        self.lmax = lmax
        self.vecnorm_type = vecnorm_type
        self.trainable_vecnorm = trainable_vecnorm
        self.num_heads = num_heads
        self.num_layers = num_layers
        self.hidden_channels = hidden_channels
        self.num_rbf = num_rbf
        self.trainable_rbf = trainable_rbf
        self.max_z = max_z
        self.cutoff = cutoff
        self.max_num_neighbors = max_num_neighbors
        self.embedding = Embedding(max_z, hidden_channels)
        self.distance = Distance(cutoff, max_num_neighbors=max_num_neighbors)
        self.sphere = Sphere(lmax=lmax)
        self.distance_expansion = ExpNormalSmearing(cutoff, num_rbf, trainable_rbf)
        self.neighbor_embedding = NeighborEmbedding(hidden_channels, num_rbf, cutoff, max_z)
        self.edge_embedding = EdgeEmbedding(num_rbf, hidden_channels)
        layer = ViS_MP_Vertex if vertex else ViS_MP
        kwargs = dict(num_heads=num_heads, hidden_channels=hidden_channels, cutoff=cutoff,
                      vecnorm_type=vecnorm_type, trainable_vecnorm=trainable_vecnorm)
        self.vis_mp_layers = torch.nn.ModuleList(
            [layer(last_layer=False, **kwargs) for _ in range(num_layers - 1)] + [layer(last_layer=True, **kwargs)])
        self.out_norm = LayerNorm(hidden_channels)
        self.vec_out_norm = VecLayerNorm(hidden_channels, trainable=trainable_vecnorm, norm_type=vecnorm_type)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.embedding.reset_parameters()
        self.distance_expansion.reset_parameters()
        self.neighbor_embedding.reset_parameters()
        self.edge_embedding.reset_parameters()
        for layer in self.vis_mp_layers:
            layer.reset_parameters()
        self.out_norm.reset_parameters()
        self.vec_out_norm.reset_parameters()

    def forward(self, z: Tensor, pos: Tensor, batch: Optional[Tensor]) -> Tuple[Tensor, Tensor]:
        x = self.embedding(z)
        edge_index, edge_weight, edge_vec, edge_mask = self.distance(pos, batch)
        edge_attr = self.distance_expansion(edge_weight)
        loop = (edge_index[0] == edge_index[1]).unsqueeze(1)
        # unit directions; self loops (and masked slots) keep their zero vector
        edge_vec = torch.where(loop, edge_vec, edge_vec / edge_weight.unsqueeze(1).masked_fill(loop, 1.0))
        edge_vec = self.sphere(edge_vec)
        x = self.neighbor_embedding(z, x, edge_index, edge_weight, edge_attr, edge_mask)
        vec = x.new_zeros(x.size(0), (self.lmax + 1) ** 2 - 1, x.size(1))
        edge_attr = self.edge_embedding(edge_index, edge_attr, x)
        for layer in self.vis_mp_layers:
            dx, dvec, dedge_attr = layer(x, vec, edge_index, edge_weight, edge_attr, edge_vec, edge_mask)
            x, vec = x + dx, vec + dvec
            if dedge_attr is not None:
                edge_attr = edge_attr + dedge_attr
        return self.out_norm(x), self.vec_out_norm(vec)


class GatedEquivariantBlock(torch.nn.Module):
    """Scalars and vectors mixed through the vectors' norms, the vectors gated by scalars
    (Schütt et al., PaiNN)."""

    def __init__(self, hidden_channels: int, out_channels: int, intermediate_channels: Optional[int] = None,
                 scalar_activation: bool = False) -> None:
        super().__init__()
        self.out_channels = out_channels
        if intermediate_channels is None:
            intermediate_channels = hidden_channels
        self.vec1_proj = Linear(hidden_channels, hidden_channels, bias=False)
        self.vec2_proj = Linear(hidden_channels, out_channels, bias=False)
        self.update_net = torch.nn.Sequential(Linear(hidden_channels * 2, intermediate_channels), torch.nn.SiLU(),
                                              Linear(intermediate_channels, out_channels * 2))
        self.act = torch.nn.SiLU() if scalar_activation else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        torch.nn.init.xavier_uniform_(self.vec1_proj.weight)
        torch.nn.init.xavier_uniform_(self.vec2_proj.weight)
        for lin in (self.update_net[0], self.update_net[2]):
            torch.nn.init.xavier_uniform_(lin.weight)
            lin.bias.data.zero_()

    def forward(self, x: Tensor, v: Tensor) -> Tuple[Tensor, Tensor]:
        vec1 = _norm(self.vec1_proj(v), dim=-2)
        vec2 = self.vec2_proj(v)
        x, v = torch.split(self.update_net(torch.cat([x, vec1], dim=-1)), self.out_channels, dim=-1)
        v = v.unsqueeze(1) * vec2
        return (x if self.act is None else self.act(x)), v


class EquivariantScalar(torch.nn.Module):
    """Two gated equivariant blocks to one scalar per atom."""

    def __init__(self, hidden_channels: int) -> None:
        super().__init__()
        self.output_network = torch.nn.ModuleList([
            GatedEquivariantBlock(hidden_channels, hidden_channels // 2, scalar_activation=True),
            GatedEquivariantBlock(hidden_channels // 2, 1, scalar_activation=False)])
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for layer in self.output_network:
            layer.reset_parameters()

    def pre_reduce(self, x: Tensor, v: Tensor) -> Tensor:
        for layer in self.output_network:
            x, v = layer(x, v)
        return x + v.sum() * 0  # the vectors stay in the graph (their parameters get gradients), as PyG's


class Atomref(torch.nn.Module):
    """A learnt per-element offset added to each atom's output, starting at ``atomref``."""

    def __init__(self, atomref: Optional[Tensor] = None, max_z: int = 100) -> None:
        super().__init__()
        atomref = torch.zeros(max_z, 1) if atomref is None else torch.as_tensor(atomref)
        if atomref.ndim == 1:
            atomref = atomref.view(-1, 1)
        self.register_buffer("initial_atomref", atomref)
        self.atomref = Embedding(len(atomref), 1)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.atomref.weight.data.copy_(self.initial_atomref)

    def forward(self, x: Tensor, z: Tensor) -> Tensor:
        return x + self.atomref(z)


class ViSNet(torch.nn.Module):
    r"""ViSNet (module docstring): a molecule's energy from its atoms' numbers ``z`` and
    positions ``pos``, and with ``derivative=True`` the forces :math:`-\partial E / \partial
    \mathbf{pos}`. PyG's arguments; ``forward(z, pos, batch)`` returns ``(energy [B, 1], forces
    or None)``.

    Args:
        lmax: the highest spherical-harmonic degree of the vector features (1 or 2).
        vecnorm_type: ``"max_min"`` or ``None``: the vector features' normalisation.
        trainable_vecnorm: whether that normalisation has a learnt scale.
        num_heads: attention heads of each ViS-MP layer.
        num_layers: ViS-MP layers.
        hidden_channels: scalar and vector channels.
        num_rbf: distance-expansion functions.
        trainable_rbf: whether their centres and widths are learnt.
        max_z: atomic numbers below it.
        cutoff: interaction radius.
        max_num_neighbors: neighbour slots per atom, its self loop included.
        vertex: ViS-MP layers with the vertex edge update (``ViS_MP_Vertex``).
        atomref: per-element offsets ``[max_z]`` or ``[max_z, 1]``.
        reduce_op: per-molecule reduction of the atoms' outputs.
        mean, std: the outputs are ``std * out + mean``.
        derivative: also return the forces.
    """

    def __init__(self, lmax: int = 1, vecnorm_type: Optional[str] = None, trainable_vecnorm: bool = False,
                 num_heads: int = 8, num_layers: int = 6, hidden_channels: int = 128, num_rbf: int = 32,
                 trainable_rbf: bool = False, max_z: int = 100, cutoff: float = 5.0, max_num_neighbors: int = 32,
                 vertex: bool = False, atomref: Optional[Tensor] = None, reduce_op: str = "sum", mean: float = 0.0,
                 std: float = 1.0, derivative: bool = False) -> None:
        super().__init__()
        self.representation_model = ViSNetBlock(
            lmax=lmax, vecnorm_type=vecnorm_type, trainable_vecnorm=trainable_vecnorm, num_heads=num_heads,
            num_layers=num_layers, hidden_channels=hidden_channels, num_rbf=num_rbf, trainable_rbf=trainable_rbf,
            max_z=max_z, cutoff=cutoff, max_num_neighbors=max_num_neighbors, vertex=vertex)
        self.output_model = EquivariantScalar(hidden_channels=hidden_channels)
        self.prior_model = Atomref(atomref=atomref, max_z=max_z)
        self.reduce_op = reduce_op
        self.derivative = derivative
        self.register_buffer("mean", torch.tensor(mean))
        self.register_buffer("std", torch.tensor(std))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.representation_model.reset_parameters()
        self.output_model.reset_parameters()
        if self.prior_model is not None:
            self.prior_model.reset_parameters()

    def forward(self, z: Tensor, pos: Tensor, batch: Optional[Tensor] = None,
                batch_size: Optional[int] = None) -> Tuple[Tensor, Optional[Tensor]]:
        """``batch_size`` (molecules; pass it when compiling) is otherwise read from ``batch``."""
        if z.dim() != 1 or z.dtype.is_floating_point or pos.dim() != 2 or pos.size(1) != 3 or pos.size(0) != z.size(0):
            raise ValueError(f"ViSNet: z must be an integer vector of atomic numbers and pos [N, 3] with one row "
                             f"per atom, got z {z.dtype} of shape {list(z.shape)} and pos of shape {list(pos.shape)}")
        if batch is not None and batch.shape != z.shape:
            raise ValueError(f"ViSNet: batch must give one molecule per atom, got shape {list(batch.shape)} for "
                             f"{z.size(0)} atoms")
        if self.derivative:
            pos.requires_grad_(True)
        x, v = self.representation_model(z, pos, batch)
        x = self.output_model.pre_reduce(x, v) * self.std
        if self.prior_model is not None:
            x = self.prior_model(x, z)
        if batch is None:
            index, size = torch.zeros_like(z), 1
        else:
            index = batch
            size = batch_size if batch_size is not None else int(batch.max()) + 1 if batch.numel() else 0
        y = ops.scatter(x, index, size, self.reduce_op) + self.mean
        if not self.derivative:
            return y, None
        dy = torch.autograd.grad([y], [pos], grad_outputs=[torch.ones_like(y)], create_graph=True,
                                 retain_graph=True)[0]
        if dy is None:
            raise RuntimeError("Autograd returned None for the force prediction.")
        return y, -dy


__all__ = ["ViSNet", "ViSNetBlock", "ViS_MP", "ViS_MP_Vertex", "Distance", "Sphere", "VecLayerNorm",
           "ExpNormalSmearing", "CosineCutoff", "NeighborEmbedding", "EdgeEmbedding", "GatedEquivariantBlock",
           "EquivariantScalar", "Atomref"]
