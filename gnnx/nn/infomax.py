r"""Deep Graph Infomax, `"Deep Graph Infomax" <https://arxiv.org/abs/1809.10341>`_ (PyG's
``DeepGraphInfomax``: arguments, parameter names, loss): node embeddings learnt without
labels by telling a graph's patches from a corrupted graph's against the graph summary,

.. math::
    \mathcal{D}(\mathbf{z}, \mathbf{s}) = \sigma(\mathbf{z}^\top \mathbf{W} \mathbf{s}), \qquad
    \mathcal{L} = -\overline{\log \mathcal{D}(\mathbf{z}^+, \mathbf{s})}
                  - \overline{\log\big(1 - \mathcal{D}(\mathbf{z}^-, \mathbf{s})\big)},

with :math:`\mathbf{z}^+` the encoder's output on the graph, :math:`\mathbf{z}^-` on its
corruption (e.g. shuffled node features) and :math:`\mathbf{s}` the summary of
:math:`\mathbf{z}^+` (e.g. ``sigmoid(z.mean(0))``).
"""
from __future__ import annotations

import math
from typing import Callable, Tuple

import torch
from torch import Tensor

from gnnx.nn.evaluation import linear_probe
from gnnx.nn.inits import reset

EPS = 1e-15


class DeepGraphInfomax(torch.nn.Module):
    """``forward(*args, **kwargs)`` calls ``encoder`` on the inputs and on
    ``corruption(*args, **kwargs)`` (a tensor or a tuple replacing the positional, then the
    keyword inputs) and returns ``(pos_z, neg_z, summary(pos_z, *args, **kwargs))``."""

    def __init__(self, hidden_channels: int, encoder: torch.nn.Module, summary: Callable, corruption: Callable) -> None:
        super().__init__()
        self.hidden_channels, self.encoder, self.summary, self.corruption = hidden_channels, encoder, summary, corruption
        self.weight = torch.nn.Parameter(torch.empty(hidden_channels, hidden_channels))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        reset(self.encoder)
        reset(self.summary)
        bound = 1.0 / math.sqrt(self.hidden_channels)  # PyG's uniform(size, weight)
        torch.nn.init.uniform_(self.weight, -bound, bound)

    def forward(self, *args, **kwargs) -> Tuple[Tensor, Tensor, Tensor]:
        pos_z = self.encoder(*args, **kwargs)
        corrupted = self.corruption(*args, **kwargs)
        corrupted = corrupted if isinstance(corrupted, tuple) else (corrupted,)
        corrupted_kwargs = dict(kwargs)  # (PyG's copy.copy breaks a compiled graph)
        for key, value in zip(kwargs.keys(), corrupted[len(args):]):
            corrupted_kwargs[key] = value
        neg_z = self.encoder(*corrupted[:len(args)], **corrupted_kwargs)
        return pos_z, neg_z, self.summary(pos_z, *args, **kwargs)

    def discriminate(self, z: Tensor, summary: Tensor, sigmoid: bool = True) -> Tensor:
        """:math:`\\mathbf{z}^\\top \\mathbf{W} \\mathbf{s}` per patch (through a sigmoid)."""
        summary = summary.t() if summary.dim() > 1 else summary
        value = z @ (self.weight @ summary)
        return torch.sigmoid(value) if sigmoid else value

    def loss(self, pos_z: Tensor, neg_z: Tensor, summary: Tensor) -> Tensor:
        pos_loss = -torch.log(self.discriminate(pos_z, summary) + EPS).mean()
        neg_loss = -torch.log(1 - self.discriminate(neg_z, summary) + EPS).mean()
        return pos_loss + neg_loss

    def test(self, train_z: Tensor, train_y: Tensor, test_z: Tensor, test_y: Tensor, solver: str = "lbfgs",
             *args, **kwargs) -> float:
        """Accuracy of a logistic regression fit on ``train_z`` (:func:`~gnnx.nn.evaluation.linear_probe`)."""
        return linear_probe(train_z, train_y, test_z, test_y, solver, *args, **kwargs)

    def __repr__(self) -> str:  # PyG's
        return f"{type(self).__name__}({self.hidden_channels})"

