r"""MeshCNN's edge convolution over a triangle mesh's edges."""
from __future__ import annotations

import warnings
from typing import Optional

import torch
from torch import Tensor

from gnnx.nn.inits import reset
from gnnx.nn.message_passing import MessagePassing


class MeshCNNConv(MessagePassing):
    r"""The convolution of `"MeshCNN: A Network with an Edge" <https://arxiv.org/abs/1809.05910>`_:
    the nodes are a mesh's edges, and each edge :math:`e` has four neighbours :math:`a, b, c, d`
    (the other two edges of each of its two triangles, in MeshCNN's order), so that

    .. math::
        \mathbf{x}'_e = k_0(\mathbf{x}_e) + k_1(|\mathbf{x}_a - \mathbf{x}_c|)
        + k_2(\mathbf{x}_a + \mathbf{x}_c) + k_3(|\mathbf{x}_b - \mathbf{x}_d|)
        + k_4(\mathbf{x}_b + \mathbf{x}_d),

    invariant to the order in which a triangle's edges are listed. The five networks
    :math:`k_0, \dots, k_4` are ``Linear(in_channels, out_channels)`` unless ``kernels``
    gives them.

    Args:
        in_channels: edge feature width.
        out_channels: output width.
        kernels: a ``ModuleList`` of five networks from ``in_channels`` to ``out_channels``.

    Shapes: ``x [|E|, F]``; ``edge_index [2, 4|E|]``, whose columns ``4e .. 4e + 3`` are
    :math:`a, b, c, d` (row 0) of edge :math:`e` (row 1), as PyG lays the line graph out ->
    ``[|E|, F_out]``. As PyG's, the messages are taken by position in groups of four and added
    at their targets.
    """

    def __init__(self, in_channels: int, out_channels: int, kernels: Optional[torch.nn.ModuleList] = None) -> None:
        super().__init__(aggr="add")
        self.in_channels, self.out_channels = in_channels, out_channels
        if kernels is None:
            kernels = torch.nn.ModuleList([torch.nn.Linear(in_channels, out_channels) for _ in range(5)])
        else:
            self._check_kernels(kernels)
        self.kernels = kernels

    def reset_parameters(self) -> None:
        for kernel in self.kernels:
            reset(kernel)

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        if edge_index.size(-1) % 4 != 0:
            raise ValueError(f"MeshCNNConv: edge_index needs four neighbours per mesh edge (a multiple of 4 "
                             f"columns), got {edge_index.size(-1)}")
        return self.propagate(edge_index, x=x)

    def message(self, x_j: Tensor) -> Tensor:
        a, b, c, d = x_j.view(-1, 4, x_j.size(-1)).unbind(1)
        k = self.kernels
        return torch.stack([k[1](torch.abs(a - c)), k[2](a + c), k[3](torch.abs(b - d)), k[4](b + d)],
                           dim=1).view(x_j.size(0), -1)

    def update(self, inputs: Tensor, x: Tensor) -> Tensor:
        return self.kernels[0](x) + inputs

    def _check_kernels(self, kernels: torch.nn.ModuleList) -> None:
        if not isinstance(kernels, torch.nn.ModuleList) or len(kernels) != 5:
            raise ValueError(f"MeshCNNConv: kernels must be a torch.nn.ModuleList of exactly 5 networks, got "
                             f"{type(kernels).__name__}" + (f" of {len(kernels)}" if isinstance(kernels, torch.nn.ModuleList)
                                                            else ""))
        for i, network in enumerate(kernels):
            if not isinstance(network, torch.nn.Module):
                raise ValueError(f"MeshCNNConv: kernels[{i}] must be a torch.nn.Module, got {type(network).__name__}")
            for side, names, want in (("input", ("in_channels", "in_features"), self.in_channels),
                                      ("output", ("out_channels", "out_features"), self.out_channels)):
                width = next((getattr(network, n) for n in names if hasattr(network, n)), None)
                if width is None:
                    warnings.warn(f"kernel[{i}] does not have attribute '{names[0]}' nor '{names[1]}': it must map "
                                  f"{self.in_channels} to {self.out_channels} channels", stacklevel=3)
                elif width != want:
                    raise ValueError(f"MeshCNNConv: kernels[{i}] has {side} width {width}, expected {want} "
                                     f"({'in' if side == 'input' else 'out'}_channels)")
