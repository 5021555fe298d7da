r"""Layers over dense adjacency tensors (PyG's ``torch_geometric.nn.dense``): batches of small
graphs padded to ``N`` nodes (:func:`gnnx.utils.to_dense_batch`, :func:`gnnx.utils.to_dense_adj`),
as hierarchical pooling (DiffPool) needs.

Inputs: ``x [B, N, F]`` (or ``[N, F]``), ``adj [B, N, N]`` (or ``[N, N]``, shared by the batch),
``mask [B, N]`` (the real nodes; padded rows of the output are zeroed). Matrix products
only: no sparse structure, nothing data-dependent, so every layer compiles with dynamic ``B``
and ``N`` and exports. Self loops are set with a mask instead of PyG's in-place diagonal write,
with the same values.
"""
from __future__ import annotations

from typing import List, Optional, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor

from gnnx.nn.inits import glorot, linear, one_value, reset, zeros
from gnnx.nn.linear import Linear  # noqa: F401  (PyG's torch_geometric.nn.dense.Linear)
from gnnx.nn.mlp import MLP


def _batched(x: Tensor, adj: Tensor, layer: str) -> Tuple[Tensor, Tensor]:
    """``x [B, N, F]`` and ``adj [B, N, N]`` (2-D inputs get a batch of one), checked."""
    x = x.unsqueeze(0) if x.dim() == 2 else x
    adj = adj.unsqueeze(0) if adj.dim() == 2 else adj
    if x.dim() != 3 or adj.dim() != 3 or adj.size(-1) != adj.size(-2) or adj.size(-1) != x.size(-2):
        raise ValueError(f"{layer}: x [B, N, F] and adj [B, N, N] needed, got {list(x.shape)} and {list(adj.shape)}")
    return x, adj


def _with_loops(adj: Tensor, fill: float) -> Tensor:
    """``adj`` with its diagonal set to ``fill``."""
    eye = torch.eye(adj.size(-1), dtype=torch.bool, device=adj.device)
    return torch.where(eye, torch.full_like(adj, fill), adj)


def _masked(out: Tensor, mask: Optional[Tensor]) -> Tensor:
    return out if mask is None else out * mask.view(-1, out.size(-2), 1).to(out.dtype)


class _RelRoot(torch.nn.Module):
    """What DenseSAGEConv and DenseGraphConv share: ``lin_rel`` for the aggregate, ``lin_root``
    for the node itself, PyG's repr."""

    def __init__(self, in_channels: int, out_channels: int, rel_bias: bool, root_bias: bool) -> None:
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.lin_rel = linear(in_channels, out_channels, bias=rel_bias)
        self.lin_root = linear(in_channels, out_channels, bias=root_bias)

    def reset_parameters(self) -> None:
        self.lin_rel.reset_parameters()
        self.lin_root.reset_parameters()

    def __repr__(self) -> str:  # PyG's
        return f"{type(self).__name__}({self.in_channels}, {self.out_channels})"


class DenseGCNConv(torch.nn.Module):
    r""":class:`~gnnx.nn.GCNConv` over a dense adjacency:
    :math:`\mathbf{X}' = \hat{\mathbf{D}}^{-1/2}\hat{\mathbf{A}}\hat{\mathbf{D}}^{-1/2}\mathbf{X}\mathbf{\Theta} + \mathbf{b}`,
    :math:`\hat{\mathbf{A}}` with its diagonal set to 1 (2 when ``improved``) where ``add_loop``,
    degrees clamped to at least 1.

    Args: ``in_channels``, ``out_channels``, ``improved``, ``bias``. State: ``lin.weight``, ``bias``.
    """

    def __init__(self, in_channels: int, out_channels: int, improved: bool = False, bias: bool = True) -> None:
        super().__init__()
        self.in_channels, self.out_channels, self.improved = in_channels, out_channels, improved
        self.lin = linear(in_channels, out_channels, bias=False, weight_initializer="glorot")
        self.bias = torch.nn.Parameter(torch.empty(out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.lin.reset_parameters()
        zeros(self.bias)

    def forward(self, x: Tensor, adj: Tensor, mask: Optional[Tensor] = None, add_loop: bool = True) -> Tensor:
        x, adj = _batched(x, adj, type(self).__name__)
        if add_loop:
            adj = _with_loops(adj, 2.0 if self.improved else 1.0)
        deg_inv_sqrt = adj.sum(dim=-1).clamp(min=1).pow(-0.5)
        adj = deg_inv_sqrt.unsqueeze(-1) * adj * deg_inv_sqrt.unsqueeze(-2)
        out = torch.matmul(adj, self.lin(x))
        if self.bias is not None:
            out = out + self.bias
        return _masked(out, mask)

    def __repr__(self) -> str:  # PyG's
        return f"{type(self).__name__}({self.in_channels}, {self.out_channels})"


class DenseSAGEConv(_RelRoot):
    r""":class:`~gnnx.nn.SAGEConv` (mean) over a dense adjacency:
    :math:`\mathbf{x}'_i = \mathbf{W}_1 \frac{\sum_j a_{ij}\mathbf{x}_j}{\max(1, \sum_j a_{ij})} + \mathbf{W}_2\mathbf{x}_i`,
    L2-normalised where ``normalize``.

    Args: ``in_channels``, ``out_channels``, ``normalize``, ``bias``. State: ``lin_rel``, ``lin_root``.
    """

    def __init__(self, in_channels: int, out_channels: int, normalize: bool = False, bias: bool = True) -> None:
        super().__init__(in_channels, out_channels, rel_bias=False, root_bias=bias)
        self.normalize = normalize

    def forward(self, x: Tensor, adj: Tensor, mask: Optional[Tensor] = None) -> Tensor:
        x, adj = _batched(x, adj, type(self).__name__)
        out = torch.matmul(adj, x) / adj.sum(dim=-1, keepdim=True).clamp(min=1)
        out = self.lin_rel(out) + self.lin_root(x)
        if self.normalize:
            out = F.normalize(out, p=2.0, dim=-1)
        return _masked(out, mask)


class DenseGraphConv(_RelRoot):
    r""":class:`~gnnx.nn.GraphConv` over a dense adjacency:
    :math:`\mathbf{x}'_i = \mathbf{W}_1 \bigoplus_j a_{ij}\mathbf{x}_j + \mathbf{W}_2\mathbf{x}_i`
    (``aggr`` ``"add"`` or ``"mean"``). ``"max"`` is PyG's: the maximum of
    :math:`\mathbf{x}_j` over the nonzero entries of *column* :math:`i` (:math:`a_{ji} \ne 0`),
    0 where there is none.

    Args: ``in_channels``, ``out_channels``, ``aggr``, ``bias``. State: ``lin_rel``, ``lin_root``.
    """

    def __init__(self, in_channels: int, out_channels: int, aggr: str = "add", bias: bool = True) -> None:
        if aggr not in ("add", "mean", "max"):
            raise ValueError(f"DenseGraphConv: aggr must be 'add', 'mean' or 'max', got {aggr!r}")
        super().__init__(in_channels, out_channels, rel_bias=bias, root_bias=False)
        self.aggr = aggr

    def forward(self, x: Tensor, adj: Tensor, mask: Optional[Tensor] = None) -> Tensor:
        x, adj = _batched(x, adj, type(self).__name__)
        if self.aggr == "max":  # [B, N (j), N (i), C], no boolean indexing
            candidates = torch.where(adj.unsqueeze(-1) != 0, x.unsqueeze(-2), float("-inf"))
            out = candidates.amax(dim=-3)
            out = torch.where(out == float("-inf"), torch.zeros_like(out), out)
        else:
            out = torch.matmul(adj, x)
            if self.aggr == "mean":
                out = out / adj.sum(dim=-1, keepdim=True).clamp(min=1)
        return _masked(self.lin_rel(out) + self.lin_root(x), mask)


class DenseGATConv(torch.nn.Module):
    r""":class:`~gnnx.nn.GATConv` over a dense adjacency:

    .. math::
        \mathbf{x}'_i = \Big\Vert_h \sum_j \alpha^h_{ij}\mathbf{W}^h\mathbf{x}_j, \qquad
        \alpha^h_{ij} = \operatorname{softmax}_{j:\,a_{ij} \ne 0}\mathrm{LeakyReLU}\big(
        \mathbf{a}_s^{h\top}\mathbf{W}^h\mathbf{x}_j + \mathbf{a}_d^{h\top}\mathbf{W}^h\mathbf{x}_i\big)

    (heads averaged where ``concat=False``), the diagonal set to 1 where ``add_loop``. A row
    without any nonzero entry (``add_loop=False``) gives 0 where PyG's softmax gives NaN.

    Args: ``in_channels``, ``out_channels``, ``heads``, ``concat``, ``negative_slope``,
    ``dropout`` (on the coefficients, in training), ``bias``. State: ``lin``, ``att_src``,
    ``att_dst``, ``bias`` (PyG's).
    """

    def __init__(self, in_channels: int, out_channels: int, heads: int = 1, concat: bool = True,
                 negative_slope: float = 0.2, dropout: float = 0.0, bias: bool = True) -> None:
        super().__init__()
        self.in_channels, self.out_channels, self.heads, self.concat = in_channels, out_channels, heads, concat
        self.negative_slope, self.dropout = negative_slope, dropout
        self.lin = linear(in_channels, heads * out_channels, bias=False, weight_initializer="glorot")
        self.att_src = torch.nn.Parameter(torch.empty(1, 1, heads, out_channels))
        self.att_dst = torch.nn.Parameter(torch.empty(1, 1, heads, out_channels))
        self.bias = torch.nn.Parameter(torch.empty(heads * out_channels if concat else out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.lin.reset_parameters()
        glorot(self.att_src)
        glorot(self.att_dst)
        zeros(self.bias)

    def forward(self, x: Tensor, adj: Tensor, mask: Optional[Tensor] = None, add_loop: bool = True) -> Tensor:
        x, adj = _batched(x, adj, type(self).__name__)
        if add_loop:
            adj = _with_loops(adj, 1.0)
        batch_size, num_nodes, _ = x.size()
        h = self.lin(x).view(batch_size, num_nodes, self.heads, self.out_channels)  # [B, N, H, C]
        score = (h * self.att_src).sum(-1).unsqueeze(1) + (h * self.att_dst).sum(-1).unsqueeze(2)  # [B, N, N, H]
        edge = adj.unsqueeze(-1) != 0
        score = F.leaky_relu(score, self.negative_slope).masked_fill(~edge, float("-inf"))
        alpha = torch.where(edge.any(dim=2, keepdim=True), score.softmax(dim=2), torch.zeros_like(score))
        alpha = F.dropout(alpha, p=self.dropout, training=self.training)
        out = torch.matmul(alpha.movedim(3, 1), h.movedim(2, 1)).movedim(1, 2)  # [B, N, H, C]
        out = out.reshape(batch_size, num_nodes, -1) if self.concat else out.mean(dim=2)
        if self.bias is not None:
            out = out + self.bias
        return _masked(out, mask)

    def __repr__(self) -> str:  # PyG's
        return f"{type(self).__name__}({self.in_channels}, {self.out_channels}, heads={self.heads})"


class DenseGINConv(torch.nn.Module):
    r""":class:`~gnnx.nn.GINConv` over a dense adjacency:
    :math:`\mathbf{X}' = h_{\mathbf{\Theta}}\big((\mathbf{A} + (1 + \epsilon)\mathbf{I})\mathbf{X}\big)`
    (without the :math:`(1 + \epsilon)\mathbf{X}` term where ``add_loop=False``).

    Args: ``nn``, ``eps``, ``train_eps``. State: ``nn``, ``eps`` (a parameter or a buffer, as PyG's).
    """

    def __init__(self, nn: torch.nn.Module, eps: float = 0.0, train_eps: bool = False) -> None:
        super().__init__()
        self.nn, self.initial_eps = nn, eps
        one_value(self, "eps", train_eps, eps)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        reset(self.nn)
        with torch.no_grad():
            self.eps.fill_(self.initial_eps)

    def forward(self, x: Tensor, adj: Tensor, mask: Optional[Tensor] = None, add_loop: bool = True) -> Tensor:
        x, adj = _batched(x, adj, type(self).__name__)
        out = torch.matmul(adj, x)
        if add_loop:
            out = (1 + self.eps) * x + out
        return _masked(self.nn(out), mask)

    def __repr__(self) -> str:  # PyG's
        return f"{type(self).__name__}(nn={self.nn})"


def _soft_assign(x: Tensor, adj: Tensor, s: Tensor, mask: Optional[Tensor], temp: float, name: str):
    """What the dense pools share: ``S = softmax(s / temp)`` (masked rows zeroed with ``x``'s),
    ``S^T X`` and ``S^T A S``; returns ``(x, adj, S, S^T X, S^T A S)``, batched."""
    x, adj = _batched(x, adj, name)
    s = s.unsqueeze(0) if s.dim() == 2 else s
    if s.dim() != 3 or s.shape[:2] != x.shape[:2]:
        raise ValueError(f"{name}: s [B, N, C] with x's B and N needed, got {list(s.shape)} for x {list(x.shape)}")
    batch_size, num_nodes, _ = x.size()
    s = torch.softmax(s / temp if temp != 1.0 else s, dim=-1)
    if mask is not None:
        mask = mask.view(batch_size, num_nodes, 1).to(x.dtype)
        x, s = x * mask, s * mask
    s_t = s.transpose(1, 2)
    return x, adj, s, torch.matmul(s_t, x), torch.matmul(torch.matmul(s_t, adj), s)


def dense_diff_pool(x: Tensor, adj: Tensor, s: Tensor, mask: Optional[Tensor] = None,
                    normalize: bool = True) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
    r"""DiffPool, `"Hierarchical Graph Representation Learning with Differentiable Pooling"
    <https://arxiv.org/abs/1806.08804>`_: with :math:`\mathbf{S} = \operatorname{softmax}(\mathbf{s})`
    over ``C`` clusters,

    .. math::
        \mathbf{X}' = \mathbf{S}^\top\mathbf{X}, \qquad \mathbf{A}' = \mathbf{S}^\top\mathbf{A}\mathbf{S},

    the link loss :math:`\lVert\mathbf{A} - \mathbf{S}\mathbf{S}^\top\rVert_F` (divided by the
    entries of ``adj`` where ``normalize``) and the entropy loss
    :math:`\frac{1}{BN}\sum -\mathbf{S}\log\mathbf{S}`. ``s [B, N, C]``; returns
    ``(x' [B, C, F], adj' [B, C, C], link_loss, ent_loss)``, PyG's values.
    """
    x, adj, s, out, out_adj = _soft_assign(x, adj, s, mask, 1.0, "dense_diff_pool")
    s_t = s.transpose(1, 2)
    link_loss = torch.linalg.vector_norm(adj - torch.matmul(s, s_t))
    if normalize:
        link_loss = link_loss / adj.numel()
    ent_loss = (-s * torch.log(s + 1e-15)).sum(dim=-1).mean()
    return out, out_adj, link_loss, ent_loss


def dense_mincut_pool(x: Tensor, adj: Tensor, s: Tensor, mask: Optional[Tensor] = None,
                      temp: float = 1.0) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
    r"""MinCut pooling, `"Spectral Clustering in Graph Neural Networks for Graph Pooling"
    <https://arxiv.org/abs/1907.00481>`_: with :math:`\mathbf{S} = \operatorname{softmax}(\mathbf{s} / T)`,
    :math:`\mathbf{X}' = \mathbf{S}^\top\mathbf{X}`, :math:`\mathbf{A}' = \mathbf{S}^\top\mathbf{A}\mathbf{S}`
    (diagonal zeroed, then :math:`\mathbf{D}'^{-1/2}\mathbf{A}'\mathbf{D}'^{-1/2}`), and the losses

    .. math::
        \mathcal{L}_c = -\frac{\operatorname{tr}(\mathbf{S}^\top\mathbf{A}\mathbf{S})}
        {\operatorname{tr}(\mathbf{S}^\top\mathbf{D}\mathbf{S})}, \qquad
        \mathcal{L}_o = \Big\lVert \frac{\mathbf{S}^\top\mathbf{S}}{\lVert\mathbf{S}^\top\mathbf{S}\rVert_F}
        - \frac{\mathbf{I}_C}{\sqrt{C}} \Big\rVert_F

    (means over the batch). Returns ``(x' [B, C, F], adj' [B, C, C], mincut_loss, ortho_loss)``,
    PyG's values (a graph without edges makes :math:`\mathcal{L}_c` 0 / 0 = NaN, as in PyG); the
    degree term is summed per node instead of through a ``[B, N, N]`` diagonal matrix.
    """
    x, adj, s, out, out_adj = _soft_assign(x, adj, s, mask, temp, "dense_mincut_pool")
    s_t, clusters = s.transpose(1, 2), s.size(-1)
    degree = adj.sum(dim=-1)  # [B, N]
    cut = torch.diagonal(out_adj, dim1=-2, dim2=-1).sum(-1)
    volume = (degree.unsqueeze(-1) * s.square()).sum(dim=(-1, -2))
    mincut_loss = (-(cut / volume)).mean()
    ss = torch.matmul(s_t, s)
    identity = torch.eye(clusters, dtype=ss.dtype, device=ss.device)
    ortho_loss = torch.linalg.matrix_norm(ss / torch.linalg.matrix_norm(ss, keepdim=True)
                                          - identity / torch.linalg.matrix_norm(identity)).mean()
    out_adj = _with_loops(out_adj, 0.0)
    d = torch.sqrt(out_adj.sum(dim=-1))[:, None] + 1e-15
    out_adj = (out_adj / d) / d.transpose(1, 2)
    return out, out_adj, mincut_loss, ortho_loss


class DMoNPooling(torch.nn.Module):
    r"""Deep Modularity Networks, `"Graph Clustering with Graph Neural Networks"
    <https://arxiv.org/abs/2006.16904>`_: soft cluster assignments
    :math:`\mathbf{S} = \operatorname{softmax}(\mathrm{MLP}(\mathbf{X}))` over ``k`` clusters
    (``channels``: the MLP's widths before ``k``, dropout on its logits),
    :math:`\mathbf{X}' = \mathrm{SELU}(\mathbf{S}^\top\mathbf{X})`,
    :math:`\mathbf{A}' = \mathbf{S}^\top\mathbf{A}\mathbf{S}` (diagonal zeroed, then
    :math:`\mathbf{D}'^{-1/2}\mathbf{A}'\mathbf{D}'^{-1/2}`), and the losses

    .. math::
        \mathcal{L}_s = -\frac{1}{2m}\operatorname{tr}\Big(\mathbf{S}^\top\mathbf{A}\mathbf{S}
        - \frac{\mathbf{S}^\top\mathbf{d}\,\mathbf{d}^\top\mathbf{S}}{2m}\Big), \quad
        \mathcal{L}_o = \Big\lVert \frac{\mathbf{S}^\top\mathbf{S}}{\lVert\mathbf{S}^\top\mathbf{S}\rVert_F}
        - \frac{\mathbf{I}_C}{\sqrt{C}} \Big\rVert_F, \quad
        \mathcal{L}_c = \frac{\sqrt{C}}{n}\Big\lVert \textstyle\sum_i \mathbf{S}_i \Big\rVert_2 - 1

    (:math:`\mathbf{d}` the degrees, :math:`m` the edge count, :math:`n` the nodes; means over
    the batch, :math:`\mathcal{L}_c` over PyG's ``[B, B]`` broadcast of norms by node counts).
    Returns ``(S [B, N, C], x' [B, C, F], adj' [B, C, C], spectral_loss, ortho_loss,
    cluster_loss)``: PyG's values, keys (``mlp.lins.<i>``) and repr; products only, so it
    compiles with dynamic ``B`` and ``N`` and exports.
    """

    def __init__(self, channels: Union[int, List[int]], k: int, dropout: float = 0.0) -> None:
        super().__init__()
        channels = [channels] if isinstance(channels, int) else list(channels)
        self.mlp = MLP(channels + [k], act=None, norm=None)
        self.dropout = dropout
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.mlp.reset_parameters()

    def forward(self, x: Tensor, adj: Tensor, mask: Optional[Tensor] = None
                ) -> Tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
        logits = F.dropout(self.mlp(x), self.dropout, training=self.training)
        x, adj, s, out, out_adj = _soft_assign(x, adj, logits, mask, 1.0, "DMoNPooling")
        batch_size, num_nodes, _ = x.size()
        node_mask = (torch.ones(batch_size, num_nodes, 1, dtype=x.dtype, device=x.device) if mask is None
                     else mask.view(batch_size, num_nodes, 1).to(x.dtype))
        s_t, clusters = s.transpose(1, 2), s.size(-1)
        degrees = adj.sum(dim=-1).unsqueeze(-1) * node_mask  # [B, N, 1]
        m = degrees.sum(dim=(-1, -2)) / 2  # [B]
        normalizer = torch.matmul(torch.matmul(s_t, degrees), torch.matmul(degrees.transpose(1, 2), s)) / 2 / m.view(-1, 1, 1)
        spectral_loss = (-torch.diagonal(out_adj - normalizer, dim1=-2, dim2=-1).sum(-1) / 2 / m).mean()
        ss = torch.matmul(s_t, s)
        identity = torch.eye(clusters, dtype=ss.dtype, device=ss.device)
        identity_norm = torch.linalg.matrix_norm(identity)
        ortho_loss = torch.linalg.matrix_norm(ss / torch.linalg.matrix_norm(ss, keepdim=True)
                                              - identity / identity_norm).mean()
        cluster_sizes = s.sum(dim=1)  # [B, C]
        cluster_loss = (torch.linalg.vector_norm(cluster_sizes, dim=1) / node_mask.sum(dim=1) * identity_norm - 1).mean()
        out_adj = _with_loops(out_adj, 0.0)
        d = torch.sqrt(out_adj.sum(dim=-1))[:, None] + 1e-15
        out_adj = (out_adj / d) / d.transpose(1, 2)
        return s, F.selu(out), out_adj, spectral_loss, ortho_loss, cluster_loss

    def __repr__(self) -> str:  # PyG's
        return f"{type(self).__name__}({self.mlp.in_channels}, num_clusters={self.mlp.out_channels})"
