r"""Memory-based pooling (PyG's ``MemPooling``)."""
from __future__ import annotations

from typing import Optional, Tuple

import torch
from torch import Tensor

from gnnx.utils import to_dense_batch

EPS = 1e-15


class MemPooling(torch.nn.Module):
    r"""The memory layer of "Memory-Based Graph Networks": each node's soft assignment to
    ``num_clusters`` learnt keys (``heads`` sets of them, ``k [heads, num_clusters, in]``) from a
    Student-t kernel of its distance, the heads merged by a 1x1 convolution,

    .. math::
        C^{(h)}_{ik} \propto \Big(1 + \frac{\lVert \mathbf{x}_i - \mathbf{k}^{(h)}_k\rVert^2}{\tau}\Big)^{-\frac{\tau + 1}{2}},
        \qquad \mathbf{S} = \operatorname{softmax}\big(\textstyle\sum_h w_h \mathbf{C}^{(h)}\big),
        \qquad \mathbf{X}' = \mathbf{S}^\top \mathbf{X}\, \mathbf{W}

    over dense batches (``[B, N, F]`` with ``mask``, or node-level ``x`` with ``batch``, padded by
    :func:`gnnx.utils.to_dense_batch`: give ``max_num_nodes`` and ``batch_size`` to keep the
    sizes off the host). Returns ``(x' [B, K, out], S [B, N, K])``; :meth:`kl_loss` is the
    clustering loss on ``S``. PyG's arguments, keys, repr and values (its distances always
    summed directly: PyG's ``cdist`` takes a matrix product past 25 nodes, which rounds
    differently and would make the compiled frame depend on the batch's size).
    """

    def __init__(self, in_channels: int, out_channels: int, heads: int, num_clusters: int, tau: float = 1.0) -> None:
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.heads, self.num_clusters, self.tau = heads, num_clusters, tau
        self.k = torch.nn.Parameter(torch.empty(heads, num_clusters, in_channels))
        self.conv = torch.nn.Conv2d(heads, 1, kernel_size=1, padding=0, bias=False)
        self.lin = torch.nn.Linear(in_channels, out_channels, bias=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        torch.nn.init.uniform_(self.k.data, -1.0, 1.0)
        self.conv.reset_parameters()
        self.lin.reset_parameters()

    @staticmethod
    def kl_loss(S: Tensor) -> Tensor:
        r"""KL divergence of ``S`` from its sharpened target
        :math:`P_{ik} \propto S_{ik}^2 / \sum_i S_{ik}` (rows of padding nodes left at 0)."""
        P = S.square() / S.sum(dim=1, keepdim=True)
        denominator = P.sum(dim=2, keepdim=True)
        P = P / torch.where(S.sum(dim=2, keepdim=True) == 0.0, torch.ones_like(denominator), denominator)
        return torch.nn.functional.kl_div(S.clamp(EPS).log(), P.clamp(EPS), reduction="batchmean", log_target=False)

    def forward(self, x: Tensor, batch: Optional[Tensor] = None, mask: Optional[Tensor] = None,
                max_num_nodes: Optional[int] = None, batch_size: Optional[int] = None) -> Tuple[Tensor, Tensor]:
        if x.dim() <= 2:
            x, mask = to_dense_batch(x, batch, max_num_nodes=max_num_nodes, batch_size=batch_size)
        elif mask is None:
            mask = x.new_ones((x.size(0), x.size(1)), dtype=torch.bool)
        (B, N, _), H, K = x.size(), self.heads, self.num_clusters
        # one distance formula at every size (cdist's default switches to a product past 25
        # rows: a branch on the batch's size, so a recompile and an export guard)
        dist = torch.cdist(self.k.view(H * K, -1), x.view(B * N, -1), p=2,
                           compute_mode="donot_use_mm_for_euclid_dist") ** 2
        dist = (1.0 + dist / self.tau).pow(-(self.tau + 1.0) / 2.0)
        dist = dist.view(H, K, B, N).permute(2, 0, 3, 1)  # [B, H, N, K]
        S = self.conv(dist / dist.sum(dim=-1, keepdim=True)).squeeze(dim=1).softmax(dim=-1)
        S = S * mask.view(B, N, 1)
        return self.lin(S.transpose(1, 2) @ x), S

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.in_channels}, {self.out_channels}, heads={self.heads}, "
                f"num_clusters={self.num_clusters})")
