r"""Equilibrium aggregation (`"Equilibrium Aggregation: Encoding Sets via Optimization"
<https://arxiv.org/abs/2202.12795>`_), PyG's module and parameter names.

Each segment's output is the minimiser of a learned energy,

.. math::
    \mathbf{y}_i = \arg\min_{\mathbf{y}} \frac{1}{|\mathcal{N}(i)|}\sum_{j \in \mathcal{N}(i)}
    F(\mathbf{x}_j, \mathbf{y}) + \lambda \lVert \mathbf{y} \rVert^2,

approximated by ``grad_iter`` steps of momentum gradient descent from zero, differentiated
through (``torch.autograd.grad`` with ``create_graph``); :math:`F` is a small residual MLP.
Eager only: the inner gradients do not trace under ``torch.compile(fullgraph=True)``.
"""
from __future__ import annotations

from typing import List, Optional

import torch
from torch import Tensor

from gnnx import ops
from gnnx.nn.aggr import Aggregation, _segments
from gnnx.nn.inits import reset


class ResNetPotential(torch.nn.Module):
    """:math:`F(\\mathbf{x}, \\mathbf{y})`: Linear-LayerNorm-Tanh layers with linear skips from the input."""

    def __init__(self, in_channels: int, out_channels: int, num_layers: List[int]) -> None:
        super().__init__()
        sizes = [in_channels] + list(num_layers) + [out_channels]
        self.layers = torch.nn.ModuleList(
            torch.nn.Sequential(torch.nn.Linear(a, b), torch.nn.LayerNorm(b), torch.nn.Tanh())
            for a, b in zip(sizes[:-2], sizes[1:-1]))
        self.layers.append(torch.nn.Linear(sizes[-2], sizes[-1]))
        self.res_trans = torch.nn.ModuleList(torch.nn.Linear(in_channels, size) for size in list(num_layers) + [out_channels])

    def forward(self, x: Tensor, y: Tensor, index: Tensor, dim_size, mask: Optional[Tensor] = None) -> Tensor:
        inp = torch.cat([x, y.index_select(0, index)], dim=1)
        h = inp
        for layer, res in zip(self.layers, self.res_trans):
            h = res(inp) + layer(h)
        return ops.scatter(h, index, dim_size, "mean", mask=mask).sum()


class MomentumOptimizer(torch.nn.Module):
    """Momentum gradient descent with a learned step (softplus) and momentum (sigmoid)."""

    def __init__(self, learning_rate: float = 0.1, momentum: float = 0.9, learnable: bool = True) -> None:
        super().__init__()
        self._initial_lr, self._initial_mom = learning_rate, momentum
        self._lr = torch.nn.Parameter(torch.tensor([learning_rate]), requires_grad=learnable)
        self._mom = torch.nn.Parameter(torch.tensor([momentum]), requires_grad=learnable)

    def reset_parameters(self) -> None:
        with torch.no_grad():
            self._lr.fill_(self._initial_lr)
            self._mom.fill_(self._initial_mom)

    def forward(self, energy, y: Tensor, iterations: int) -> Tensor:
        rate, momentum = torch.nn.functional.softplus(self._lr), torch.sigmoid(self._mom)
        velocity = torch.zeros_like(y)
        for _ in range(iterations):
            grad, = torch.autograd.grad(energy(y), y, create_graph=True, retain_graph=True)
            velocity = momentum * velocity - rate * grad
            y = y + velocity
        return y


class EquilibriumAggregation(Aggregation):
    """``in_channels`` rows to ``out_channels`` per segment by minimising a learned energy."""

    def __init__(self, in_channels: int, out_channels: int, num_layers: List[int], grad_iter: int = 5,
                 lamb: float = 0.1) -> None:
        super().__init__()
        self.potential = ResNetPotential(in_channels + out_channels, 1, num_layers)
        self.optimizer = MomentumOptimizer()
        self.initial_lamb, self.grad_iter, self.output_dim = lamb, grad_iter, out_channels
        self.lamb = torch.nn.Parameter(torch.empty(1))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        with torch.no_grad():
            self.lamb.fill_(self.initial_lamb)
        reset(self.optimizer)
        reset(self.potential)

    def forward(self, x: Tensor, index: Optional[Tensor] = None, ptr: Optional[Tensor] = None,
                dim_size=None, mask: Optional[Tensor] = None) -> Tensor:
        index, dim_size = _segments(x, index, ptr, dim_size)

        def energy(y: Tensor) -> Tensor:
            regulariser = torch.nn.functional.softplus(self.lamb) * y.square().sum(dim=-1).mean()
            return self.potential(x, y, index, dim_size, mask) + regulariser

        with torch.enable_grad():
            start = torch.zeros(dim_size, self.output_dim, device=x.device, dtype=x.dtype, requires_grad=True)
            return self.optimizer(energy, start, self.grad_iter)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


BY_NAME = {"equilibrium": EquilibriumAggregation}
