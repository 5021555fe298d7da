r"""Label propagation and Correct & Smooth (PyG's ``LabelPropagation`` and
``CorrectAndSmooth``: arguments, repr, results).

Label propagation, `"Learning from Labeled and Unlabeled Data with Label Propagation"
<http://mlg.eng.cam.ac.uk/zoubin/papers/CMU-CALD-02-107.pdf>`_, spreads the known labels
over the symmetrically normalised graph,

.. math::
    \mathbf{Y}^{(0)} = \mathbf{Y} \odot \mathbf{m}, \qquad
    \mathbf{Y}^{(k+1)} = \operatorname{clamp}_{[0, 1]}\big(\alpha\,
    \mathbf{D}^{-1/2}\mathbf{A}\mathbf{D}^{-1/2}\,\mathbf{Y}^{(k)} + (1 - \alpha)\,\mathbf{Y}^{(0)}\big)

(or ``post_step`` instead of the clamp). `"Combining Label Propagation and Simple Models
Out-performs Graph Neural Networks" <https://arxiv.org/abs/2010.13993>`_ (Correct & Smooth)
propagates a base predictor's errors on the training nodes (``correct``), then its corrected
predictions with the training labels put back (``smooth``). Both run without gradients, as
PyG's; each propagation step is one fused SpMM.
"""
from __future__ import annotations

from typing import Callable, Optional

import torch
from torch import Tensor

from gnnx.nn.message_passing import Adj, MessagePassing, edge_tensor
from gnnx.structure import gcn_norm
from gnnx.utils.functions import one_hot


def _with_rows_of(rows: Tensor, mask: Tensor, values: Tensor) -> Tensor:
    """``rows`` with the rows picked by ``mask`` (booleans or indices) set to those of ``values``."""
    if mask.dtype == torch.bool:
        return torch.where(mask.view((-1,) + (1,) * (rows.dim() - 1)), values, rows)
    return rows.index_copy(0, mask, values.index_select(0, mask))


class LabelPropagation(MessagePassing):
    """``forward(y, edge_index, mask=None, edge_weight=None, post_step=None)``: ``y`` as
    class indices (one-hot encoded) or soft labels ``[N, C]``; ``mask`` (booleans or
    indices) the nodes whose labels are known; without ``edge_weight`` the graph is
    normalised as GCN's without self loops."""

    def __init__(self, num_layers: int, alpha: float) -> None:
        super().__init__(aggr="add")
        self.num_layers, self.alpha = num_layers, alpha

    @torch.no_grad()
    def forward(self, y: Tensor, edge_index: Adj, mask: Optional[Tensor] = None, edge_weight: Optional[Tensor] = None,
                post_step: Optional[Callable[[Tensor], Tensor]] = None) -> Tensor:
        if y.dtype == torch.long and y.size(0) == y.numel():
            y = one_hot(y.view(-1))
        out = y if mask is None else _with_rows_of(torch.zeros_like(y), mask, y)
        if edge_weight is None:
            edge_index, edge_weight = gcn_norm(edge_tensor(edge_index), None, y.size(0), add_self_loops=False,
                                               flow=self.flow, dtype=y.dtype)
        initial = (1 - self.alpha) * out
        for _ in range(self.num_layers):
            out = self.propagate(edge_index, x=out, edge_weight=edge_weight) * self.alpha + initial
            out = post_step(out) if post_step is not None else out.clamp(0.0, 1.0)
        return out

    def message(self, x_j: Tensor, edge_weight: Optional[Tensor]) -> Tensor:
        return x_j if edge_weight is None else edge_weight.view(-1, 1) * x_j

    def __repr__(self) -> str:  # PyG's
        return f"{type(self).__name__}(num_layers={self.num_layers}, alpha={self.alpha})"


class CorrectAndSmooth(torch.nn.Module):
    """``correct(y_soft, y_true, mask, edge_index, edge_weight=None)`` then ``smooth(...)``
    with the same arguments (``forward`` does both); ``y_true`` holds the labels of the
    ``mask`` nodes only, as PyG's (class indices or one-hot)."""

    def __init__(self, num_correction_layers: int, correction_alpha: float, num_smoothing_layers: int,
                 smoothing_alpha: float, autoscale: bool = True, scale: float = 1.0) -> None:
        super().__init__()
        self.autoscale, self.scale = autoscale, scale
        self.prop1 = LabelPropagation(num_correction_layers, correction_alpha)
        self.prop2 = LabelPropagation(num_smoothing_layers, smoothing_alpha)

    def forward(self, y_soft: Tensor, *args) -> Tensor:
        return self.smooth(self.correct(y_soft, *args), *args)

    @staticmethod
    def _known(y_soft: Tensor, y_true: Tensor, mask: Tensor) -> Tensor:
        """The labels of the ``mask`` nodes as ``[N, C]`` rows of ``y_soft``'s dtype (others 0)."""
        index = mask.nonzero().view(-1) if mask.dtype == torch.bool else mask
        if y_true.size(0) != index.numel():
            raise ValueError(f"y_true must hold one label per masked node ({index.numel()}), got {y_true.size(0)}")
        if y_true.dtype == torch.long and y_true.size(0) == y_true.numel():
            y_true = one_hot(y_true.view(-1), num_classes=y_soft.size(-1), dtype=y_soft.dtype)
        return torch.zeros_like(y_soft).index_copy(0, index, y_true.to(y_soft.dtype))

    @torch.no_grad()
    def correct(self, y_soft: Tensor, y_true: Tensor, mask: Tensor, edge_index: Adj,
                edge_weight: Optional[Tensor] = None) -> Tensor:
        known = self._known(y_soft, y_true, mask)
        error = _with_rows_of(torch.zeros_like(y_soft), mask, known - y_soft)
        if not self.autoscale:
            smoothed = self.prop1(error, edge_index, edge_weight=edge_weight,
                                  post_step=lambda x: _with_rows_of(x, mask, error))
            return y_soft + self.scale * smoothed
        smoothed = self.prop1(error, edge_index, edge_weight=edge_weight, post_step=lambda x: x.clamp(-1.0, 1.0))
        count = int(mask.sum()) if mask.dtype == torch.bool else mask.numel()
        sigma = error.abs().sum() / count
        scale = sigma / smoothed.abs().sum(dim=1, keepdim=True)
        scale = torch.where(scale.isinf() | (scale > 1000), torch.ones_like(scale), scale)
        return y_soft + scale * smoothed

    @torch.no_grad()
    def smooth(self, y_soft: Tensor, y_true: Tensor, mask: Tensor, edge_index: Adj,
               edge_weight: Optional[Tensor] = None) -> Tensor:
        known = self._known(y_soft, y_true, mask)
        return self.prop2(_with_rows_of(y_soft, mask, known), edge_index, edge_weight=edge_weight)

    def __repr__(self) -> str:  # PyG's
        (l1, a1), (l2, a2) = (self.prop1.num_layers, self.prop1.alpha), (self.prop2.num_layers, self.prop2.alpha)
        return (f"{type(self).__name__}(\n  correct: num_layers={l1}, alpha={a1}\n"
                f"  smooth:  num_layers={l2}, alpha={a2}\n  autoscale={self.autoscale}, scale={self.scale}\n)")
