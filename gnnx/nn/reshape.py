"""``Reshape``: a module that views its input with a fixed shape (PyG's ``torch_geometric.nn.Reshape``),
for ``Sequential`` stacks such as :class:`~gnnx.nn.XConv`'s."""
from __future__ import annotations

import torch
from torch import Tensor


class Reshape(torch.nn.Module):
    def __init__(self, *shape: int) -> None:
        super().__init__()
        self.shape = shape

    def forward(self, x: Tensor) -> Tensor:
        return x.view(*self.shape)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(str(dim) for dim in self.shape)})"
