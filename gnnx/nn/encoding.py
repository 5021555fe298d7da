r"""Fixed encodings of scalar positions and times (PyG's ``torch_geometric.nn.encoding``)."""
from __future__ import annotations

import math
from typing import Optional

import torch
from torch import Tensor


class PositionalEncoding(torch.nn.Module):
    r"""The sinusoidal encoding of "Attention Is All You Need" for scalar positions ``x``:

    .. math::
        \mathrm{PE}(x) = \big[\sin(x f_0), \dots, \sin(x f_{d/2-1}),
        \cos(x f_0), \dots, \cos(x f_{d/2-1})\big],
        \qquad f_k = \mathrm{base\_freq}^{\,k / (d/2 - 1)},

    with ``x`` divided by ``granularity`` first (smaller: finer position changes show).
    Input ``[*]`` (flattened), output ``[numel, out_channels]``; ``out_channels`` even.
    """

    def __init__(self, out_channels: int, base_freq: float = 1e-4, granularity: float = 1.0,
                 device: Optional[torch.device] = None) -> None:
        super().__init__()
        if out_channels % 2:
            raise ValueError(f"PositionalEncoding needs an even out_channels, got {out_channels}")
        self.out_channels, self.base_freq, self.granularity = out_channels, base_freq, granularity
        self.register_buffer("frequency", torch.logspace(0, 1, out_channels // 2, base_freq, device=device))

    def reset_parameters(self) -> None:
        pass

    def forward(self, x: Tensor) -> Tensor:
        x = x / self.granularity if self.granularity != 1.0 else x
        out = x.view(-1, 1) * self.frequency.view(1, -1)
        return torch.cat([torch.sin(out), torch.cos(out)], dim=-1)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.out_channels})"


class TemporalEncoding(torch.nn.Module):
    r"""The time encoding of GraphMixer ("Do We Really Need Complicated Model Architectures for
    Temporal Networks?"): each time ``x`` against exponentially decreasing frequencies, through a
    cosine,

    .. math::
        y_i = \cos\!\big(x \cdot \sqrt{d}^{\,-t_i}\big), \qquad
        t_i = \tfrac{(i - 1)\sqrt{d}}{d - 1},\ 1 \le i \le d

    (buffer ``weight [1, d]``). Input ``[*]`` (flattened), output ``[numel, out_channels]``.
    """

    def __init__(self, out_channels: int, device: Optional[torch.device] = None) -> None:
        super().__init__()
        self.out_channels = out_channels
        sqrt = math.sqrt(out_channels)
        self.register_buffer("weight", 1.0 / sqrt ** torch.linspace(0, sqrt, out_channels, device=device).view(1, -1))

    def reset_parameters(self) -> None:
        pass

    def forward(self, x: Tensor) -> Tensor:
        # PyG's x.view(-1, 1) @ weight has one term per entry: the same products, without a
        # matrix product whose lowering guards on the number of rows (a recompile past 16)
        return torch.cos(x.view(-1, 1) * self.weight)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.out_channels})"
