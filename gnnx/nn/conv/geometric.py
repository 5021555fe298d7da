r"""Layers over positions, normals or pseudo-coordinates: PointTransformerConv, PPFConv,
FeaStConv, GMMConv.

The first three replace a point's self loop as PyG does (remove, then add one per
point) without a data-dependent shape: old loops stay in the edge list but are left out
of the softmax and the aggregation through ``edge_mask``
(:func:`gnnx.structure.with_fresh_self_loops`).
"""
from __future__ import annotations

from typing import Callable, Optional, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn import ELU, BatchNorm1d, Conv1d, Linear, Sequential

from gnnx import ops
from gnnx.nn.inits import glorot, glorot_linear, lazy_parameters, linear, reset, zeros
from gnnx.nn.message_passing import Adj, MessagePassing, edge_tensor
from gnnx.nn.reshape import Reshape
from gnnx.ops.dispatch import can_check_on_host
from gnnx.structure import with_fresh_self_loops

PairTensor = Tuple[Tensor, Tensor]


def _pair(x):
    return (x, x) if isinstance(x, Tensor) else x


def _fresh_loops(edge_index: Adj, num_nodes) -> Tuple[Tensor, Tensor]:
    """Edges with one fresh loop per node, and the mask of edges that take part."""
    tensor, _, stale = with_fresh_self_loops(edge_tensor(edge_index), None, num_nodes, 0.0)
    return tensor, ~stale


class PointTransformerConv(MessagePassing):
    r"""Point Transformer layer, `"Point Transformer" <https://arxiv.org/abs/2012.09164>`_:

    .. math::
        \mathbf{x}'_i = \sum_{j \in \mathcal{N}(i) \cup \{i\}} \operatorname{softmax}_j\big(
        \gamma(\mathbf{W}_1\mathbf{x}_i - \mathbf{W}_2\mathbf{x}_j + \delta_{i,j})\big) \odot
        (\mathbf{W}_3\mathbf{x}_j + \delta_{i,j}), \qquad \delta_{i,j} = h(\mathbf{p}_i - \mathbf{p}_j)

    with the softmax taken per feature over a point's neighbours.

    Args: ``in_channels`` (int or pair), ``out_channels``, ``pos_nn`` (:math:`h`, default
    ``Linear(3, out)``), ``attn_nn`` (:math:`\gamma`, default identity), ``add_self_loops``.
    Shapes: ``x [N, in]``, ``pos [N, 3]`` (or pairs), ``edge_index`` -> ``[N_dst, out]``.
    """

    def __init__(self, in_channels: Union[int, Tuple[int, int]], out_channels: int,
                 pos_nn: Optional[Callable] = None, attn_nn: Optional[Callable] = None,
                 add_self_loops: bool = True) -> None:
        super().__init__(aggr="add")
        self.in_channels, self.out_channels, self.add_self_loops = in_channels, out_channels, add_self_loops
        in_channels = (in_channels, in_channels) if isinstance(in_channels, int) else in_channels
        self.pos_nn = pos_nn if pos_nn is not None else linear(3, out_channels)
        self.attn_nn = attn_nn
        self.lin = linear(in_channels[0], out_channels, bias=False)
        self.lin_src = linear(in_channels[0], out_channels, bias=False)
        self.lin_dst = linear(in_channels[1], out_channels, bias=False)

    def reset_parameters(self) -> None:
        reset(self.pos_nn)
        reset(self.attn_nn)
        for lin in (self.lin, self.lin_src, self.lin_dst):
            lin.reset_parameters()

    def forward(self, x: Union[Tensor, PairTensor], pos: Union[Tensor, PairTensor], edge_index: Adj) -> Tensor:
        x, pos = _pair(x), _pair(pos)
        alpha = (self.lin_src(x[0]), self.lin_dst(x[1]))
        x = (self.lin(x[0]), x[1])
        edge_mask = None
        if self.add_self_loops:
            edge_index, edge_mask = _fresh_loops(edge_index, min(pos[0].size(0), pos[1].size(0)))
        return self.propagate(edge_index, x=x, pos=pos, alpha=alpha, edge_mask=edge_mask,
                              size=(pos[0].size(0), pos[1].size(0)))

    def message(self, x_j: Tensor, pos_i: Tensor, pos_j: Tensor, alpha_i: Tensor, alpha_j: Tensor,
                index: Tensor, size_i, edge_mask: Optional[Tensor] = None) -> Tensor:
        delta = self.pos_nn(pos_i - pos_j)
        alpha = alpha_i - alpha_j + delta
        if self.attn_nn is not None:
            alpha = self.attn_nn(alpha)
        if edge_mask is not None:
            alpha = alpha.masked_fill(~edge_mask.view(-1, 1), float("-inf"))
        alpha = ops.segment_softmax(alpha, index, size_i)
        return alpha * (x_j + delta)

    def __repr__(self) -> str:
        return f"PointTransformerConv({self.in_channels}, {self.out_channels})"


def _angle(v1: Tensor, v2: Tensor) -> Tensor:
    # A zero vector (a self loop's offset) has angle 0 to anything. Without the where, the
    # sign of a zero dot product picks 0 or pi, and compiled code may flip that sign.
    dot = (v1 * v2).sum(dim=1)
    return torch.atan2(torch.cross(v1, v2, dim=1).norm(p=2, dim=1), torch.where(dot == 0, torch.zeros_like(dot), dot))


def point_pair_features(pos_i: Tensor, pos_j: Tensor, normal_i: Tensor, normal_j: Tensor) -> Tensor:
    r"""PPF of each edge: :math:`(\lVert\mathbf{d}\rVert, \angle(\mathbf{n}_i,\mathbf{d}),
    \angle(\mathbf{n}_j,\mathbf{d}), \angle(\mathbf{n}_i,\mathbf{n}_j))`, :math:`\mathbf{d} = \mathbf{p}_j - \mathbf{p}_i`."""
    d = pos_j - pos_i
    return torch.stack([d.norm(p=2, dim=1), _angle(normal_i, d), _angle(normal_j, d), _angle(normal_i, normal_j)],
                       dim=1)


class PPFConv(MessagePassing):
    r"""Point-pair-feature convolution, `"PPFNet" <https://arxiv.org/abs/1802.02669>`_:

    .. math::
        \mathbf{x}'_i = \gamma\Big(\max_{j \in \mathcal{N}(i) \cup \{i\}} h\big(\mathbf{x}_j,
        \mathrm{PPF}(\mathbf{p}_i, \mathbf{p}_j, \mathbf{n}_i, \mathbf{n}_j)\big)\Big)

    Args: ``local_nn`` (:math:`h`, input ``F + 4``), ``global_nn`` (:math:`\gamma`),
    ``add_self_loops``, ``aggr`` (default ``"max"``).
    Shapes: ``x [N, F]`` or ``None``, ``pos [N, 3]``, ``normal [N, 3]`` (or pairs),
    ``edge_index`` -> ``[N_dst, out]``.

    Difference from PyG: an angle to a zero offset (self loops) is 0; PyG returns 0 or
    :math:`\pi` depending on the sign of a zero dot product (:math:`\pi` when all three
    normal components are negative).
    """

    def __init__(self, local_nn: Optional[Callable] = None, global_nn: Optional[Callable] = None,
                 add_self_loops: bool = True, aggr: str = "max") -> None:
        super().__init__(aggr=aggr)
        self.local_nn, self.global_nn, self.add_self_loops = local_nn, global_nn, add_self_loops

    def reset_parameters(self) -> None:
        reset(self.local_nn)
        reset(self.global_nn)

    def forward(self, x: Optional[Union[Tensor, Tuple]], pos: Union[Tensor, PairTensor],
                normal: Union[Tensor, PairTensor], edge_index: Adj) -> Tensor:
        x = x if isinstance(x, tuple) else (x, None)
        pos, normal = _pair(pos), _pair(normal)
        edge_mask = None
        if self.add_self_loops:
            edge_index, edge_mask = _fresh_loops(edge_index, pos[1].size(0))
        out = self.propagate(edge_index, x=x, pos=pos, normal=normal, edge_mask=edge_mask,
                             size=(pos[0].size(0), pos[1].size(0)))
        return out if self.global_nn is None else self.global_nn(out)

    def message(self, x_j: Optional[Tensor], pos_i: Tensor, pos_j: Tensor, normal_i: Tensor,
                normal_j: Tensor) -> Tensor:
        msg = point_pair_features(pos_i, pos_j, normal_i, normal_j)
        if x_j is not None:
            msg = torch.cat([x_j, msg], dim=1)
        return msg if self.local_nn is None else self.local_nn(msg)

    def __repr__(self) -> str:
        return f"PPFConv(local_nn={self.local_nn}, global_nn={self.global_nn})"


class FeaStConv(MessagePassing):
    r"""Feature-steered convolution, `"FeaStNet" <https://arxiv.org/abs/1706.05206>`_:

    .. math::
        \mathbf{x}'_i = \frac{1}{|\mathcal{N}(i)|} \sum_{j \in \mathcal{N}(i) \cup \{i\}}
        \sum_{h=1}^{H} q_h(\mathbf{x}_i, \mathbf{x}_j)\, \mathbf{W}_h \mathbf{x}_j + \mathbf{b},
        \qquad q_h = \operatorname{softmax}_h\big(\mathbf{u}_h^\top(\mathbf{x}_j - \mathbf{x}_i) + c_h\big)

    Shapes: ``x [N, in]`` (or a pair), ``edge_index`` -> ``[N_dst, out]``.
    """

    def __init__(self, in_channels: int, out_channels: int, heads: int = 1, add_self_loops: bool = True,
                 bias: bool = True) -> None:
        super().__init__(aggr="mean", node_dim=0)
        self.in_channels, self.out_channels, self.heads = in_channels, out_channels, heads
        self.add_self_loops = add_self_loops
        self.lin = linear(in_channels, heads * out_channels, bias=False)
        self.u = linear(in_channels, heads, bias=False)
        self.c = torch.nn.Parameter(torch.empty(heads))
        self.bias = torch.nn.Parameter(torch.empty(out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.lin.reset_parameters()
        self.u.reset_parameters()
        with torch.no_grad():
            self.c.normal_(0, 0.1)
            if self.bias is not None:
                self.bias.normal_(0, 0.1)

    def forward(self, x: Union[Tensor, PairTensor], edge_index: Adj) -> Tensor:
        x = _pair(x)
        edge_mask = None
        if self.add_self_loops:
            edge_index, edge_mask = _fresh_loops(edge_index, x[1].size(0))
        # u(x_j - x_i) = u(x_j) - u(x_i) and W x_j are per-node products: compute them per node.
        score = (self.u(x[0]), self.u(x[1]))
        h = (self.lin(x[0]).view(-1, self.heads, self.out_channels), None)
        out = self.propagate(edge_index, score=score, h=h, edge_mask=edge_mask,
                             size=(x[0].size(0), x[1].size(0)))
        return out if self.bias is None else out + self.bias

    def message(self, score_i: Tensor, score_j: Tensor, h_j: Tensor) -> Tensor:
        q = F.softmax(score_j - score_i + self.c, dim=1)
        return (h_j * q.unsqueeze(-1)).sum(dim=1)

    def __repr__(self) -> str:
        return f"FeaStConv({self.in_channels}, {self.out_channels}, heads={self.heads})"


class GMMConv(MessagePassing):
    r"""Gaussian mixture model convolution, `"Geometric Deep Learning on Graphs and Manifolds
    using Mixture Model CNNs" <https://arxiv.org/abs/1611.08402>`_:

    .. math::
        \mathbf{x}'_i = \mathbf{\Theta}\mathbf{x}_i + \frac{1}{|\mathcal{N}(i)|}\sum_{j}
        \frac{1}{K}\sum_{k=1}^{K} w_k(\mathbf{e}_{i,j}) \odot \mathbf{\Theta}_k \mathbf{x}_j,
        \qquad w_k(\mathbf{e}) = \exp\big(-\tfrac12 (\mathbf{e}-\mu_k)^\top\Sigma_k^{-1}(\mathbf{e}-\mu_k)\big)

    with diagonal :math:`\Sigma_k` (``separate_gaussians``: one per input/output channel pair).
    The :math:`1/K` is folded into the weights, as in PyG.

    Shapes: ``x [N, in]`` (or a pair), ``edge_index``, ``edge_attr [E, dim]`` -> ``[N_dst, out]``.
    """

    def __init__(self, in_channels: Union[int, Tuple[int, int]], out_channels: int, dim: int, kernel_size: int,
                 separate_gaussians: bool = False, aggr: str = "mean", root_weight: bool = True,
                 bias: bool = True) -> None:
        super().__init__(aggr=aggr)
        self.in_channels, self.out_channels, self.dim, self.kernel_size = in_channels, out_channels, dim, kernel_size
        self.separate_gaussians, self.root_weight = separate_gaussians, root_weight
        in_channels = (in_channels, in_channels) if isinstance(in_channels, int) else in_channels
        self.rel_in_channels = in_channels[0]
        shape = (in_channels[0], out_channels, kernel_size, dim) if separate_gaussians else (kernel_size, dim)
        if in_channels[0] > 0:
            self.g = torch.nn.Parameter(torch.empty(in_channels[0], out_channels * kernel_size))
            self.mu = torch.nn.Parameter(torch.empty(shape))
            self.sigma = torch.nn.Parameter(torch.empty(shape))
        else:
            lazy_parameters(self, {"g": (-1, out_channels * kernel_size), "mu": shape, "sigma": shape})
        self.root = glorot_linear(in_channels[1], out_channels, bias=False) if root_weight else None
        self.bias = torch.nn.Parameter(torch.empty(out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        glorot(self.g)
        glorot(self.mu)
        glorot(self.sigma)
        if self.root is not None:
            glorot(self.root.weight)
        zeros(self.bias)

    def forward(self, x: Union[Tensor, PairTensor], edge_index: Adj, edge_attr: Optional[Tensor] = None,
                size: Optional[Tuple[int, int]] = None) -> Tensor:
        x = _pair(x)
        if not self.separate_gaussians:
            out = self.propagate(edge_index, x=(x[0] @ self.g, x[1]), edge_attr=edge_attr, size=size)
        else:
            out = self.propagate(edge_index, x=x, edge_attr=edge_attr, size=size)
        if self.root is not None and x[1] is not None:
            out = out + self.root(x[1])
        return out if self.bias is None else out + self.bias

    def message(self, x_j: Tensor, edge_attr: Tensor) -> Tensor:
        eps = 1e-15
        E, D = edge_attr.size(0), self.dim
        K, M, Fin = self.kernel_size, self.out_channels, self.g.size(0)
        if not self.separate_gaussians:
            gaussian = -0.5 * (edge_attr.view(E, 1, D) - self.mu.view(1, K, D)).pow(2)
            gaussian = torch.exp((gaussian / (eps + self.sigma.view(1, K, D).pow(2))).sum(dim=-1))
            return (x_j.view(E, K, M) * gaussian.view(E, K, 1)).sum(dim=-2)
        gaussian = -0.5 * (edge_attr.view(E, 1, 1, 1, D) - self.mu.view(1, Fin, M, K, D)).pow(2)
        gaussian = torch.exp((gaussian / (eps + self.sigma.view(1, Fin, M, K, D).pow(2))).sum(dim=-1))
        gaussian = (gaussian * self.g.view(1, Fin, M, K)).sum(dim=-1)
        return (x_j.view(E, Fin, 1) * gaussian).sum(dim=-2)

    def __repr__(self) -> str:
        return f"GMMConv({self.in_channels}, {self.out_channels}, dim={self.dim})"


class XConv(torch.nn.Module):
    r"""The convolution of PointCNN, `"PointCNN: Convolution On X-Transformed Points"
    <https://arxiv.org/abs/1801.07791>`_ (PyG's arguments, keys, repr and values):

    .. math::
        \mathbf{x}^{\prime}_i = \mathrm{Conv}\left(\mathbf{K},
        \gamma_{\mathbf{\Theta}}(\mathbf{P}_i - \mathbf{p}_i) \times
        \left( h_\mathbf{\Theta}(\mathbf{P}_i - \mathbf{p}_i) \, \Vert \,
        \mathbf{x}_i \right) \right)

    over each point's ``kernel_size`` nearest points of its cloud (itself included; every
    ``dilation``-th of the ``kernel_size * dilation`` nearest), their offsets
    :math:`\mathbf{P}_i - \mathbf{p}_i` lifted by :math:`h` (``mlp1``) and turned into a
    ``K x K`` transform by :math:`\gamma` (``mlp2``), then a depthwise convolution (``conv``).
    The neighbours come from :func:`gnnx.ops.knn` with a static ``N * K`` shape, so the layer
    compiles and exports (PyG's needs ``pyg-lib``). Each cloud needs at least
    ``kernel_size * dilation`` points (eager calls on the CPU check it).

    Shapes: ``x [N, in_channels]`` (or ``None``), ``pos [N, dim]``, ``batch [N]`` (optional);
    output ``[N, out_channels]``.
    """

    def __init__(self, in_channels: int, out_channels: int, dim: int, kernel_size: int,
                 hidden_channels: Optional[int] = None, dilation: int = 1, bias: bool = True,
                 num_workers: int = 1) -> None:
        super().__init__()
        hidden_channels = in_channels // 4 if hidden_channels is None else hidden_channels
        if hidden_channels <= 0:
            raise ValueError(f"XConv: hidden_channels must be positive, got {hidden_channels} "
                             f"(in_channels // 4 by default)")
        self.in_channels, self.hidden_channels, self.out_channels = in_channels, hidden_channels, out_channels
        self.dim, self.kernel_size, self.dilation, self.num_workers = dim, kernel_size, dilation, num_workers
        K, delta = kernel_size, hidden_channels
        self.mlp1 = Sequential(Linear(dim, delta), ELU(), BatchNorm1d(delta), Linear(delta, delta), ELU(),
                               BatchNorm1d(delta), Reshape(-1, K, delta))
        self.mlp2 = Sequential(Linear(dim * K, K ** 2), ELU(), BatchNorm1d(K ** 2), Reshape(-1, K, K),
                               Conv1d(K, K ** 2, K, groups=K), ELU(), BatchNorm1d(K ** 2), Reshape(-1, K, K),
                               Conv1d(K, K ** 2, K, groups=K), BatchNorm1d(K ** 2), Reshape(-1, K, K))
        channels = in_channels + delta
        depth_multiplier = -(-out_channels // channels)
        self.conv = Sequential(Conv1d(channels, channels * depth_multiplier, K, groups=channels),
                               Reshape(-1, channels * depth_multiplier),
                               Linear(channels * depth_multiplier, out_channels, bias=bias))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        reset(self.mlp1)
        reset(self.mlp2)
        reset(self.conv)

    def forward(self, x: Optional[Tensor], pos: Tensor, batch: Optional[Tensor] = None) -> Tensor:
        pos = pos.unsqueeze(-1) if pos.dim() == 1 else pos
        (num_points, dim), K = pos.shape, self.kernel_size
        (query, found), valid = ops.knn(pos, pos, K * self.dilation, batch, batch, static=True)
        if can_check_on_host(pos) and not bool(valid.all()):
            raise ValueError(f"XConv: every cloud needs at least kernel_size * dilation = {K * self.dilation} "
                             f"points")
        query = query.view(num_points, -1)[:, ::self.dilation].reshape(-1)
        found = found.view(num_points, -1)[:, ::self.dilation].reshape(-1)
        offsets = pos.index_select(0, found) - pos.index_select(0, query)
        lifted = self.mlp1(offsets)
        if x is not None:
            x = x.unsqueeze(-1) if x.dim() == 1 else x
            lifted = torch.cat([lifted, x.index_select(0, found).view(num_points, K, self.in_channels)], dim=-1)
        transform = self.mlp2(offsets.view(num_points, K * dim))
        return self.conv(torch.matmul(lifted.transpose(1, 2).contiguous(), transform))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.in_channels}, {self.out_channels})"
