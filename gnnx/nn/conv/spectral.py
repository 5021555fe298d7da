r"""Spectral filters as polynomial or rational propagation: ChebConv and ARMAConv.

Both are sums of weighted SpMM hops (:func:`gnnx.ops.spmm` through
:class:`~gnnx.nn.conv.gcn.WeightedPropagation`) over a Laplacian or GCN normalisation
that is built without data-dependent shapes: existing self loops get weight 0 and one
loop per node is appended, which equals PyG's remove-then-add.
"""
from __future__ import annotations

from typing import Callable, Optional, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor

from gnnx import ops
from gnnx.nn.conv.gcn import WeightedPropagation
from gnnx.nn.inits import glorot, glorot_linear, lazy_parameters, zeros
from gnnx.nn.message_passing import Adj, edge_tensor
from gnnx.structure import self_loop_index


def _inverse(t: Tensor, power: float) -> Tensor:
    out = t.pow(power)
    return torch.where(torch.isinf(out), torch.zeros_like(out), out)


def laplacian(edge_index: Tensor, edge_weight: Optional[Tensor], normalization: Optional[str], num_nodes,
              dtype: Optional[torch.dtype] = None) -> Tuple[Tensor, Tensor]:
    r"""Graph Laplacian as ``E + N`` weighted edges (PyG's ``get_laplacian`` in effect).

    ``None``: :math:`\mathbf{L} = \mathbf{D} - \mathbf{A}`; ``"sym"``:
    :math:`\mathbf{I} - \mathbf{D}^{-1/2}\mathbf{A}\mathbf{D}^{-1/2}`; ``"rw"``:
    :math:`\mathbf{I} - \mathbf{D}^{-1}\mathbf{A}`, with :math:`\mathbf{D}` the out-degree.
    The input's self loops get weight 0; the last ``N`` edges are the diagonal.
    """
    row, col = edge_index[0], edge_index[1]
    if edge_weight is None:
        edge_weight = torch.ones(row.shape, dtype=dtype, device=row.device)
    edge_weight = torch.where(row == col, torch.zeros_like(edge_weight), edge_weight)
    deg = ops.scatter(edge_weight, row, num_nodes, "sum")
    if normalization is None:
        off_diagonal, diagonal = -edge_weight, deg
    elif normalization == "sym":
        inv_sqrt = _inverse(deg, -0.5)
        off_diagonal = -(inv_sqrt.index_select(0, row) * edge_weight * inv_sqrt.index_select(0, col))
        diagonal = torch.ones_like(deg)
    elif normalization == "rw":
        off_diagonal = -(_inverse(deg, -1.0).index_select(0, row) * edge_weight)
        diagonal = torch.ones_like(deg)
    else:
        raise ValueError(f"normalization must be None, 'sym' or 'rw', got {normalization!r}")
    edge_index = torch.cat([edge_index, self_loop_index(num_nodes, row.device)], 1)
    return edge_index, torch.cat([off_diagonal, diagonal])


class ChebConv(WeightedPropagation):
    r"""Chebyshev spectral graph convolution, `"Convolutional Neural Networks on Graphs with
    Fast Localized Spectral Filtering" <https://arxiv.org/abs/1606.09375>`_.

    .. math::
        \mathbf{X}' = \sum_{k=1}^{K} \mathbf{Z}^{(k)} \mathbf{\Theta}^{(k)}, \quad
        \mathbf{Z}^{(1)} = \mathbf{X},\ \mathbf{Z}^{(2)} = \hat{\mathbf{L}}\mathbf{X},\
        \mathbf{Z}^{(k)} = 2\hat{\mathbf{L}}\mathbf{Z}^{(k-1)} - \mathbf{Z}^{(k-2)}

    with :math:`\hat{\mathbf{L}} = 2\mathbf{L}/\lambda_{\max} - \mathbf{I}`.

    Args:
        in_channels, out_channels: feature sizes.
        K: filter size (number of Chebyshev terms).
        normalization: Laplacian: ``None``, ``"sym"`` or ``"rw"``.
        bias: learn an additive bias.

    Shapes:
        input ``x [N, in]``, ``edge_index [2, E]``, ``edge_weight [E]`` (optional), ``batch [N]``
        and ``lambda_max`` (float, or ``[num_graphs]`` with ``batch``) optional; output ``[N, out]``.
        Without ``lambda_max``, :math:`2 \max_e w_e` is used, as in PyG (a device-side max, no sync);
        where it is 0 (no edges, ``normalization=None``) :math:`\hat{\mathbf{L}} = -\mathbf{I}`, where PyG gives NaN.
    """

    def __init__(self, in_channels: int, out_channels: int, K: int, normalization: Optional[str] = "sym",
                 bias: bool = True) -> None:
        super().__init__(aggr="add")
        if K <= 0:
            raise ValueError(f"ChebConv: K must be positive, got {K}")
        if normalization not in (None, "sym", "rw"):
            raise ValueError(f"ChebConv: normalization must be None, 'sym' or 'rw', got {normalization!r}")
        self.in_channels, self.out_channels, self.normalization = in_channels, out_channels, normalization
        self.lins = torch.nn.ModuleList(glorot_linear(in_channels, out_channels, bias=False) for _ in range(K))
        self.bias = torch.nn.Parameter(torch.empty(out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for lin in self.lins:
            glorot(lin.weight)
        zeros(self.bias)

    def _scaled_laplacian(self, edge_index: Tensor, num_nodes, edge_weight: Optional[Tensor], dtype,
                          batch: Optional[Tensor], lambda_max) -> Tuple[Tensor, Tensor]:
        edge_index, weight = laplacian(edge_index, edge_weight, self.normalization, num_nodes, dtype)
        if lambda_max is None:
            # The Laplacian's diagonal is >= 0, so a 0 appended changes the maximum only when
            # there are no entries at all (0 nodes), where max() would raise.
            lambda_max = 2.0 * torch.cat([weight, weight.new_zeros(1)]).max()
        elif not isinstance(lambda_max, Tensor):
            lambda_max = torch.tensor(lambda_max, dtype=weight.dtype, device=weight.device)
        if batch is not None and lambda_max.numel() > 1:
            lambda_max = lambda_max.index_select(0, batch.index_select(0, edge_index[0]))
        # A graph without edges has L = 0 under normalization=None, so lambda_max = 0: PyG
        # divides by it (NaN); L / lambda_max is taken as 0 there, giving L_hat = -I.
        weight = torch.where(lambda_max > 0, 2.0 * weight / lambda_max, torch.zeros_like(weight))
        num_edges = weight.size(0) - num_nodes
        off_diagonal, diagonal = weight.split([num_edges, num_nodes])
        return edge_index, torch.cat([off_diagonal, diagonal - 1.0])

    def forward(self, x: Tensor, edge_index: Adj, edge_weight: Optional[Tensor] = None,
                batch: Optional[Tensor] = None, lambda_max: Optional[Union[float, Tensor]] = None) -> Tensor:
        edge_index, norm = self._scaled_laplacian(edge_tensor(edge_index), x.size(-2), self._weight_vector(edge_weight),
                                                  x.dtype, batch, lambda_max)
        tx_0, out = x, self.lins[0](x)
        if len(self.lins) > 1:
            tx_1 = self.propagate(edge_index, x=x, edge_weight=norm)
            out = out + self.lins[1](tx_1)
            for lin in self.lins[2:]:
                tx_2 = 2.0 * self.propagate(edge_index, x=tx_1, edge_weight=norm) - tx_0
                out = out + lin(tx_2)
                tx_0, tx_1 = tx_1, tx_2
        return out if self.bias is None else out + self.bias

    def __repr__(self) -> str:
        return (f"ChebConv({self.in_channels}, {self.out_channels}, K={len(self.lins)}, "
                f"normalization={self.normalization})")


class ARMAConv(WeightedPropagation):
    r"""ARMA graph convolution, `"Graph Neural Networks with Convolutional ARMA Filters"
    <https://arxiv.org/abs/1901.01343>`_: the mean of ``num_stacks`` parallel stacks

    .. math::
        \mathbf{X}^{(t+1)}_k = \sigma\big(\hat{\mathbf{L}} \mathbf{X}^{(t)}_k \mathbf{W}^{(t)}_k
        + \mathrm{dropout}(\mathbf{X}) \mathbf{V}^{(t)}_k + \mathbf{b}^{(t)}_k\big),
        \qquad \hat{\mathbf{L}} = \mathbf{D}^{-1/2}\mathbf{A}\mathbf{D}^{-1/2}

    each ``num_layers`` deep (``shared_weights``: one :math:`\mathbf{W}, \mathbf{V}` per stack).

    Shapes: ``x [N, in]``, ``edge_index [2, E]``, ``edge_weight [E]`` (optional) -> ``[N, out]``.
    """

    def __init__(self, in_channels: int, out_channels: int, num_stacks: int = 1, num_layers: int = 1,
                 shared_weights: bool = False, act: Optional[Callable] = torch.nn.ReLU(), dropout: float = 0.0,
                 bias: bool = True) -> None:
        super().__init__(aggr="add")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.num_stacks, self.num_layers, self.shared_weights = num_stacks, num_layers, shared_weights
        self.act, self.dropout = act, dropout
        K, T = num_stacks, 1 if shared_weights else num_layers
        self.weight = torch.nn.Parameter(torch.empty(max(1, T - 1), K, out_channels, out_channels))
        if in_channels > 0:
            self.init_weight = torch.nn.Parameter(torch.empty(K, in_channels, out_channels))
            self.root_weight = torch.nn.Parameter(torch.empty(T, K, in_channels, out_channels))
        else:
            lazy_parameters(self, {"init_weight": (K, -1, out_channels), "root_weight": (T, K, -1, out_channels)})
        self.bias = torch.nn.Parameter(torch.empty(T, K, 1, out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        glorot(self.weight)
        glorot(self.init_weight)
        glorot(self.root_weight)
        zeros(self.bias)

    def forward(self, x: Tensor, edge_index: Adj, edge_weight: Optional[Tensor] = None) -> Tensor:
        edge_index, edge_weight = self._normalized(x, edge_index, edge_weight, False, False)
        lead, n, K, C = x.shape[:-2], x.size(-2), self.num_stacks, self.out_channels  # lead: a static graph's B
        out = torch.einsum("...nf,kfc->...nkc", x, self.init_weight)  # node-first: [N, K, C]
        for t in range(self.num_layers):
            if t > 0:
                out = torch.einsum("...nkf,kfc->...nkc", out, self.weight[0 if self.shared_weights else t - 1])
            out = self.propagate(edge_index, x=out.reshape(*lead, n, K * C), edge_weight=edge_weight)
            out = out.view(*lead, n, K, C)
            root = F.dropout(x, p=self.dropout, training=self.training)
            out = out + torch.einsum("...nf,kfc->...nkc", root, self.root_weight[0 if self.shared_weights else t])
            if self.bias is not None:
                out = out + self.bias[0 if self.shared_weights else t].view(K, C)
            if self.act is not None:
                out = self.act(out)
        return out.mean(dim=-2)

    def __repr__(self) -> str:
        return (f"ARMAConv({self.in_channels}, {self.out_channels}, num_stacks={self.num_stacks}, "
                f"num_layers={self.num_layers})")
