"""Layers built around other networks or layers: PointNetConv, PointGNNConv, AntiSymmetricConv."""
from __future__ import annotations

import math
from typing import Any, Callable, Dict, Optional, Tuple, Union

import torch
from torch import Tensor

from gnnx.graph import Graph
from gnnx.nn.conv.gat import with_fresh_self_loops
from gnnx.nn.conv.gcn import GCNConv
from gnnx.nn.inits import activation, reset, reset_layer, zeros
from gnnx.nn.message_passing import Adj, MessagePassing


class PointNetConv(MessagePassing):
    r"""PointNet set layer, `"PointNet++" <https://arxiv.org/abs/1706.02413>`_:
    :math:`\mathbf{x}'_i = \gamma\big(\max_{j \in \mathcal{N}(i)\cup\{i\}} h(\mathbf{x}_j, \mathbf{p}_j - \mathbf{p}_i)\big)`
    with ``local_nn`` :math:`h` and ``global_nn`` :math:`\gamma`. Old self loops are masked
    out of the maximum and one fresh loop per point added (sync-free, equal to PyG).

    Shapes: ``x [N, F]`` or ``None`` (or a pair ``(x_src, x_dst)``), ``pos [N, 3]`` (or a pair
    ``(pos_src, pos_dst)``, e.g. sampled centroids as destinations), ``edge_index`` -> ``[N_dst, F_out]``.
    """

    def __init__(self, local_nn: Optional[Callable] = None, global_nn: Optional[Callable] = None,
                 add_self_loops: bool = True) -> None:
        super().__init__(aggr="max")
        self.local_nn, self.global_nn, self.add_self_loops = local_nn, global_nn, add_self_loops
        reset(self.local_nn)
        reset(self.global_nn)

    def reset_parameters(self) -> None:
        super().reset_parameters()
        reset_layer(self)

    def forward(self, x: Union[Optional[Tensor], Tuple[Optional[Tensor], Optional[Tensor]]],
                pos: Union[Tensor, Tuple[Tensor, Tensor]], edge_index: Adj) -> Tensor:
        tensor = edge_index.edge_index if isinstance(edge_index, Graph) else edge_index
        if pos is None:
            raise ValueError("PointNetConv needs node positions pos ([num_nodes, dims], or a pair for bipartite graphs)")
        pos_src, pos_dst = pos if isinstance(pos, (tuple, list)) else (pos, pos)
        x_src = x[0] if isinstance(x, (tuple, list)) else x  # messages read source features only
        num_src, num_dst = pos_src.size(0), pos_dst.size(0)
        stale = None
        if self.add_self_loops:  # one loop per node of the smaller side, as PyG
            tensor, _, stale = with_fresh_self_loops(tensor, None, min(num_src, num_dst), 0.0)
        kwargs = {"pos": (pos_src, pos_dst), "stale": stale}
        if x_src is not None:
            kwargs["x"] = (x_src, None)
        out = self.propagate(tensor, size=(num_src, num_dst), **kwargs)
        return out if self.global_nn is None else self.global_nn(out)

    def message(self, pos_i: Tensor, pos_j: Tensor, x_j: Optional[Tensor] = None,
                stale: Optional[Tensor] = None) -> Tensor:
        msg = pos_j - pos_i
        if x_j is not None:
            msg = torch.cat([x_j, msg], dim=1)
        if self.local_nn is not None:
            msg = self.local_nn(msg)
        if stale is not None:  # old self loops take no part in the maximum
            msg = msg.masked_fill(stale.view(-1, 1), float("-inf"))
        return msg

    def __repr__(self) -> str:  # PyG's
        return f"{type(self).__name__}(local_nn={self.local_nn}, global_nn={self.global_nn})"


class PointGNNConv(MessagePassing):
    r"""Point-GNN layer, `"Point-GNN" <https://arxiv.org/abs/2003.01251>`_: neighbours seen
    from a centre shifted by an offset learnt from the centre's features,

    .. math::
        \Delta\mathbf{p}_i = h(\mathbf{x}_i), \qquad
        \mathbf{e}_{j,i} = f\big(\mathbf{p}_j - \mathbf{p}_i + \Delta\mathbf{p}_i \,\Vert\, \mathbf{x}_j\big),
        \qquad \mathbf{x}'_i = g\big(\max_{j \in \mathcal{N}(i)} \mathbf{e}_{j,i}\big) + \mathbf{x}_i,

    with the networks ``mlp_h`` (features to a 3-D offset), ``mlp_f`` and ``mlp_g`` (back to the
    input width). As PyG's, ``mlp_h`` runs per edge on ``x_i`` (so a batch norm inside it sees
    edges) and no self loops are added (the graph is meant to come from a radius cutoff); a
    point without neighbours gets ``g(0) + x_i``.

    Shapes: ``x [N, F]``, ``pos [N, 3]``, ``edge_index`` -> ``[N, F]``.
    """

    def __init__(self, mlp_h: torch.nn.Module, mlp_f: torch.nn.Module, mlp_g: torch.nn.Module, **kwargs: Any) -> None:
        kwargs.setdefault("aggr", "max")
        super().__init__(**kwargs)
        self.mlp_h, self.mlp_f, self.mlp_g = mlp_h, mlp_f, mlp_g
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for mlp in (self.mlp_h, self.mlp_f, self.mlp_g):
            reset(mlp)

    def forward(self, x: Tensor, pos: Tensor, edge_index: Adj) -> Tensor:
        if pos is None:
            raise ValueError("PointGNNConv needs node positions pos ([num_nodes, 3])")
        return x + self.mlp_g(self.propagate(edge_index, x=x, pos=pos))

    def message(self, pos_j: Tensor, pos_i: Tensor, x_i: Tensor, x_j: Tensor) -> Tensor:
        return self.mlp_f(torch.cat([pos_j - pos_i + self.mlp_h(x_i), x_j], dim=-1))

    def __repr__(self) -> str:  # PyG's
        return (f"{type(self).__name__}(\n  mlp_h={self.mlp_h},\n  mlp_f={self.mlp_f},\n  mlp_g={self.mlp_g},\n)")


class AntiSymmetricConv(torch.nn.Module):
    r"""Anti-symmetric deep graph network layer, `"Anti-Symmetric DGN"
    <https://arxiv.org/abs/2210.09789>`_: ``num_iters`` Euler steps of
    :math:`\mathbf{x}_i \leftarrow \mathbf{x}_i + \epsilon\,\sigma\big((\mathbf{W}-\mathbf{W}^\top-\gamma\mathbf{I})\mathbf{x}_i + \Phi(\mathbf{X}, \mathcal{N}_i) + \mathbf{b}\big)`,
    with :math:`\Phi` a GCNConv by default.

    Shapes: ``x [N, C]``, ``edge_index`` -> ``[N, C]``.
    """

    def __init__(self, in_channels: int, phi: Optional[MessagePassing] = None, num_iters: int = 1,
                 epsilon: float = 0.1, gamma: float = 0.1, act: Union[str, Callable, None] = "tanh",
                 act_kwargs: Optional[Dict[str, Any]] = None, bias: bool = True) -> None:
        super().__init__()
        self.in_channels, self.num_iters, self.gamma, self.epsilon = in_channels, num_iters, gamma, epsilon
        self.act = activation(act, **(act_kwargs or {}))
        self.W = torch.nn.Parameter(torch.empty(in_channels, in_channels))
        self.register_buffer("eye", torch.eye(in_channels))
        self.phi = phi if phi is not None else GCNConv(in_channels, in_channels, bias=False)
        self.bias = torch.nn.Parameter(torch.empty(in_channels)) if bias else None
        torch.nn.init.kaiming_uniform_(self.W, a=math.sqrt(5))
        zeros(self.bias)

    def reset_parameters(self) -> None:
        torch.nn.init.kaiming_uniform_(self.W, a=math.sqrt(5))
        reset(self.phi)
        zeros(self.bias)

    def forward(self, x: Tensor, edge_index: Adj, *args: Any, **kwargs: Any) -> Tensor:
        antisymmetric = self.W - self.W.t() - self.gamma * self.eye
        for _ in range(self.num_iters):
            h = self.phi(x, edge_index, *args, **kwargs) + x @ antisymmetric.t()
            if self.bias is not None:
                h = h + self.bias
            if self.act is not None:
                h = self.act(h)
            x = x + self.epsilon * h
        return x

    def __repr__(self) -> str:  # PyG's
        return (f"{type(self).__name__}({self.in_channels}, phi={self.phi}, num_iters={self.num_iters}, "
                f"epsilon={self.epsilon}, gamma={self.gamma})")
