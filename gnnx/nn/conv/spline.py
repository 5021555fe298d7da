r"""SplineConv, `"SplineCNN: Fast Geometric Deep Learning with Continuous B-Spline Kernels"
<https://arxiv.org/abs/1711.08920>`_ (PyG's arguments, keys, repr and values): each edge's
pseudo-coordinates :math:`\mathbf{u}(i, j) \in [0, 1]^d` (``edge_attr``) pick a continuous
kernel from a grid of ``kernel_size`` trainable weight matrices per dimension, blended by
B-splines of ``degree`` 1-3,

.. math::
    \mathbf{x}'_i = \frac{1}{|\mathcal{N}(i)|} \sum_{j \in \mathcal{N}(i)}
    \mathbf{x}_j \cdot \sum_{\mathbf{k}} B_{\mathbf{k}}(\mathbf{u}(i,j))\, \mathbf{W}_{\mathbf{k}}
    + \mathbf{W}_{\text{root}} \mathbf{x}_i + \mathbf{b},

where only the :math:`(\text{degree} + 1)^d` grid points around :math:`\mathbf{u}` have a
nonzero product basis :math:`B_{\mathbf{k}} = \prod_d N_{k_d}(u_d)` (open splines: the grid
spans ``[0, 1]``; closed ones wrap around). PyG's needs ``pyg-lib``'s kernels; here the basis
is plain torch (:func:`spline_basis`, differentiable in the coordinates too) and the weighting
one matrix product per edge block (:func:`spline_weighting`), so the layer compiles, exports
and runs on any device.
"""
from __future__ import annotations

import math
from typing import List, Optional, Tuple, Union

import torch
from torch import Tensor
from torch.nn import Parameter

from gnnx.nn.inits import lazy_parameters, linear
from gnnx.nn.message_passing import Adj, MessagePassing


def _basis_polynomials(frac: Tensor, degree: int) -> Tensor:
    """``[..., degree + 1]``: the ``degree + 1`` B-spline pieces :math:`N_k` at ``frac`` in [0, 1)."""
    v = frac
    if degree == 1:
        pieces = [1 - v, v]
    elif degree == 2:
        pieces = [0.5 * v * v - v + 0.5, -v * v + v + 0.5, 0.5 * v * v]
    elif degree == 3:
        pieces = [(1 - v) ** 3 / 6, (3 * v ** 3 - 6 * v * v + 4) / 6, (-3 * v ** 3 + 3 * v * v + 3 * v + 1) / 6,
                  v ** 3 / 6]
    else:
        raise ValueError(f"SplineConv: degree must be 1, 2 or 3, got {degree}")
    return torch.stack(pieces, dim=-1)


def spline_basis(pseudo: Tensor, kernel_size: Tensor, is_open_spline: Tensor, degree: int) -> Tuple[Tensor, Tensor]:
    """``(basis [E, S], weight_index [E, S])`` (pyg-lib's ``spline_basis``): for each edge
    the ``S = (degree + 1)^d`` nonzero products of B-spline pieces and the flat index of their
    kernel grid point (dimension 0 fastest)."""
    dims = pseudo.size(1)
    steps = degree + 1
    slots = steps ** dims
    k_mod = torch.stack([(torch.arange(slots, device=pseudo.device) // steps ** d) % steps for d in range(dims)], 1)
    kernel_size = kernel_size.to(pseudo.device)
    scaled = pseudo * (kernel_size - degree * is_open_spline.to(kernel_size)).to(pseudo.dtype)  # [E, D]
    cell = scaled.detach().trunc().long()  # the grid cell (pyg-lib: an integer cast)
    index = torch.remainder(cell.unsqueeze(1) + k_mod.unsqueeze(0), kernel_size)  # [E, S, D]
    offsets = torch.cumprod(torch.cat([kernel_size.new_ones(1), kernel_size[:-1]]), 0)
    weight_index = (index * offsets).sum(-1)
    pieces = _basis_polynomials(scaled - scaled.detach().floor(), degree)  # [E, D, steps]
    chosen = pieces.gather(2, k_mod.t().unsqueeze(0).expand(pseudo.size(0), -1, -1))  # [E, D, S]
    return chosen.prod(1), weight_index


def spline_weighting(x: Tensor, weight: Tensor, basis: Tensor, weight_index: Tensor) -> Tensor:
    """``[E, out]``: :math:`\\sum_s \\text{basis}_{e,s}\\, \\mathbf{x}_e \\mathbf{W}_{\\text{index}_{e,s}}`
    (pyg-lib's ``spline_weighting``), as one product: each edge's basis spread over the ``K``
    kernel points, times its features, against the ``K * in`` stacked weights."""
    kernels, in_channels, out_channels = weight.shape
    coefficient = basis.new_zeros(basis.size(0), kernels).scatter_add(1, weight_index, basis)  # [E, K]
    return (coefficient.unsqueeze(-1) * x.unsqueeze(1)).flatten(1) @ weight.reshape(kernels * in_channels,
                                                                                     out_channels)


def _repeat(value, length: int) -> list:
    values = list(value) if isinstance(value, (list, tuple)) else [value]
    return (values + values[-1:] * length)[:length]  # as PyG's repeat()


class SplineConv(MessagePassing):
    """Shapes: ``x [N, in]`` or a pair, ``edge_index [2, E]``, ``edge_attr [E, dim]`` in [0, 1];
    output ``[N_dst, out_channels]`` (module docstring). ``in_channels=-1``: lazy."""

    def __init__(self, in_channels: Union[int, Tuple[int, int]], out_channels: int, dim: int,
                 kernel_size: Union[int, List[int]], is_open_spline: bool = True, degree: int = 1,
                 aggr: str = "mean", root_weight: bool = True, bias: bool = True, **kwargs) -> None:
        super().__init__(aggr=aggr, **kwargs)
        if degree not in (1, 2, 3):
            raise ValueError(f"SplineConv: degree must be 1, 2 or 3, got {degree}")
        self.in_channels, self.out_channels, self.dim = in_channels, out_channels, dim
        self.degree, self.root_weight = degree, root_weight
        self.register_buffer("kernel_size", torch.tensor(_repeat(kernel_size, dim), dtype=torch.long))
        self.register_buffer("is_open_spline", torch.tensor(_repeat(is_open_spline, dim), dtype=torch.uint8))
        pair = (in_channels, in_channels) if isinstance(in_channels, int) else in_channels
        self.K = int(self.kernel_size.prod())
        if pair[0] > 0:
            self.weight = Parameter(torch.empty(self.K, pair[0], out_channels))
        else:
            lazy_parameters(self, {"weight": (self.K, -1, out_channels)})
        if root_weight:
            self.lin = linear(pair[1], out_channels, bias=False)
        self.bias = Parameter(torch.empty(out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if not isinstance(self.weight, torch.nn.parameter.UninitializedParameter):
            bound = 1.0 / math.sqrt(self.weight.size(0) * self.weight.size(1))  # PyG's uniform(K * in, weight)
            torch.nn.init.uniform_(self.weight, -bound, bound)
        if self.root_weight and hasattr(self.lin, "reset_parameters"):
            self.lin.reset_parameters()
        if self.bias is not None:
            torch.nn.init.zeros_(self.bias)

    def forward(self, x: Union[Tensor, Tuple[Tensor, Optional[Tensor]]], edge_index: Adj,
                edge_attr: Optional[Tensor] = None, size: Optional[Tuple[int, int]] = None) -> Tensor:
        x_src, x_dst = (x, x) if isinstance(x, Tensor) else x
        if edge_attr is None or edge_attr.dim() != 2 or edge_attr.size(1) != self.dim:
            raise ValueError(f"SplineConv: edge_attr must hold {self.dim} pseudo-coordinates per edge, got "
                             f"{None if edge_attr is None else list(edge_attr.shape)}")
        out = self.propagate(edge_index, x=(x_src, x_dst), edge_attr=edge_attr, size=size)
        if x_dst is not None and self.root_weight:
            out = out + self.lin(x_dst)
        return out if self.bias is None else out + self.bias

    def message(self, x_j: Tensor, edge_attr: Tensor) -> Tensor:
        basis, weight_index = spline_basis(edge_attr, self.kernel_size, self.is_open_spline, self.degree)
        return spline_weighting(x_j, self.weight, basis, weight_index)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.in_channels}, {self.out_channels}, dim={self.dim})"
