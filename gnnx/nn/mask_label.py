r"""Label embedding of UniMP (PyG's ``MaskLabel``)."""
from __future__ import annotations

import torch
from torch import Tensor

from gnnx.utils import index_to_mask


class MaskLabel(torch.nn.Module):
    r"""The label embedding and masking of "Masked Label Prediction: Unified Message Passing
    Model for Semi-Supervised Classification" (UniMP): nodes of ``mask`` carry the embedding of
    their label,

    .. math::
        \mathbf{x}'_i = \mathbf{x}_i + \mathbf{E}_{y_i}\ (\text{``add''}) \quad\text{or}\quad
        \mathbf{x}'_i = \big[\mathbf{x}_i \,\Vert\, \mathbf{E}_{y_i}\big]\ (\text{``concat''}),

    for :math:`i` in ``mask``; other nodes keep :math:`\mathbf{x}_i` (``"concat"``: with zeros).

    PyG's arguments, ``emb.weight`` and repr. Where PyG indexes the masked rows (a size read
    from the data), this selects rows, so it compiles and exports; the labels of unmasked
    nodes are never read (they may be ``-1``).
    """

    def __init__(self, num_classes: int, out_channels: int, method: str = "add") -> None:
        super().__init__()
        if method not in ("add", "concat"):
            raise ValueError(f"'method' must be either 'add' or 'concat' (got '{method}')")
        self.method = method
        self.emb = torch.nn.Embedding(num_classes, out_channels)
        self.reset_parameters()  # a second draw, as PyG (the same seed, the same embedding)

    def reset_parameters(self) -> None:
        self.emb.reset_parameters()

    def forward(self, x: Tensor, y: Tensor, mask: Tensor) -> Tensor:
        """``x [N, F]``, labels ``y [N]``, ``mask`` (bool ``[N]`` or node indices) -> ``[N, F]``
        (``"concat"``: ``[N, F + out_channels]``)."""
        mask = (mask if mask.dtype == torch.bool else index_to_mask(mask, y.size(0)))[:, None]
        label = self.emb(torch.where(mask[:, 0], y, torch.zeros_like(y)))
        if self.method == "concat":
            return torch.cat([x, torch.where(mask, label, torch.zeros_like(label)).to(x.dtype)], dim=-1)
        return torch.where(mask, x + label, x)

    @staticmethod
    def ratio_mask(mask: Tensor, ratio: float) -> Tensor:
        """``mask`` with each of its nodes kept with probability ``ratio`` (PyG's draw: one
        uniform number per masked node, so the same seed keeps the same nodes). Eager: the
        count of masked nodes is read."""
        out = mask.clone()
        out[mask] = torch.rand(int(mask.sum()), device=mask.device) < ratio
        return out

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
