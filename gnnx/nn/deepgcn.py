r"""``DeepGCNLayer``, the skip connection of `"DeeperGCN: All You Need to Train Deeper GCNs"
<https://arxiv.org/abs/2006.07739>`_ (and `"DeepGCNs" <https://arxiv.org/abs/1904.03751>`_)
around any layer, with PyG's arguments:

.. math::
    \text{res+}: \ \mathbf{x} + f(\mathrm{drop}(\sigma(\mathrm{norm}(\mathbf{x})))), \quad
    \text{res}: \ \mathrm{drop}(\mathbf{x} + \sigma(\mathrm{norm}(f(\mathbf{x})))), \quad
    \text{dense}: \ \mathrm{drop}([\mathbf{x} \,\Vert\, \sigma(\mathrm{norm}(f(\mathbf{x})))]), \quad
    \text{plain}: \ \mathrm{drop}(\sigma(\mathrm{norm}(f(\mathbf{x})))).

``ckpt_grad=True`` recomputes the layer in the backward (activation checkpointing) through
``torch.utils.checkpoint`` without reentrancy, which ``torch.compile`` traces (PyG uses the
reentrant form; the values and gradients are the same).
"""
from __future__ import annotations

from typing import Any, Optional

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.checkpoint import checkpoint

BLOCKS = ("res+", "res", "dense", "plain")


class DeepGCNLayer(torch.nn.Module):
    """A layer ``conv`` with ``norm``, ``act``, dropout and a skip connection (module
    docstring). Args: ``conv``, ``norm``, ``act`` (modules, each optional), ``block`` (one of
    ``res+``, ``res``, ``dense``, ``plain``), ``dropout``, ``ckpt_grad``. Called as ``conv``
    is: ``layer(x, edge_index, ...)``."""

    def __init__(self, conv: Optional[torch.nn.Module] = None, norm: Optional[torch.nn.Module] = None,
                 act: Optional[torch.nn.Module] = None, block: str = "res+", dropout: float = 0.0,
                 ckpt_grad: bool = False) -> None:
        super().__init__()
        self.conv, self.norm, self.act = conv, norm, act
        self.block = block.lower()
        if self.block not in BLOCKS:
            raise ValueError(f"DeepGCNLayer: block must be one of {BLOCKS}, got {block!r}")
        self.dropout, self.ckpt_grad = dropout, ckpt_grad

    def reset_parameters(self) -> None:
        for module in (self.conv, self.norm):
            if module is not None and hasattr(module, "reset_parameters"):
                module.reset_parameters()

    def _conv(self, x: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        if self.ckpt_grad and x.requires_grad:
            return checkpoint(self.conv, x, *args, use_reentrant=False, **kwargs)
        return self.conv(x, *args, **kwargs)

    def _norm_act(self, h: Tensor) -> Tensor:
        if self.norm is not None:
            h = self.norm(h)
        return h if self.act is None else self.act(h)

    def forward(self, x: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        if self.block == "res+":
            h = F.dropout(self._norm_act(x), p=self.dropout, training=self.training)
            return x + self._conv(h, *args, **kwargs)
        h = self._norm_act(self._conv(x, *args, **kwargs))
        if self.block == "res":
            h = x + h
        elif self.block == "dense":
            h = torch.cat([x, h], dim=-1)
        return F.dropout(h, p=self.dropout, training=self.training)

    def __repr__(self) -> str:  # PyG's
        return f"{type(self).__name__}(block={self.block})"
