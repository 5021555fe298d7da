r"""SignedGCN, `"Signed Graph Convolutional Network" <https://arxiv.org/abs/1808.06354>`_
(PyG's ``SignedGCN``: arguments, keys, repr, embeddings, discriminator and losses): node
embeddings from :class:`~gnnx.nn.SignedConv` layers over positive and negative edges,
trained to tell positive, negative and absent links apart,

.. math::
    \mathcal{L} = \mathrm{NLL}_{\{+,-,\varnothing\}} + \lambda\Big(
    \overline{\big[\lVert\mathbf{z}_i - \mathbf{z}_j\rVert^2 - \lVert\mathbf{z}_i - \mathbf{z}_k\rVert^2\big]_+}^{(i,j)\in\mathcal{E}^+}
    + \overline{\big[\lVert\mathbf{z}_i - \mathbf{z}_k\rVert^2 - \lVert\mathbf{z}_i - \mathbf{z}_j\rVert^2\big]_+}^{(i,j)\in\mathcal{E}^-}\Big),

with :math:`k` a node not joined to :math:`i` (:func:`~gnnx.utils.structured_negative_sampling`).
The model's forward compiles and exports as its layers do; the sampling helpers are eager.
``create_spectral_features`` takes the top singular vectors of the signed adjacency with
:func:`torch.svd_lowrank` (PyG's uses scikit-learn's ``TruncatedSVD``: the same subspace,
not the same basis), and ``test`` scores with gnnx's own AUC and F1 (no scikit-learn).
"""
from __future__ import annotations

from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from gnnx.nn.autoencoder import roc_auc_score
from gnnx.nn.conv.relational import SignedConv
from gnnx.utils.edges import coalesce
from gnnx.utils.negative_sampling import negative_sampling, structured_negative_sampling


class SignedGCN(torch.nn.Module):
    """SignedGCN (module docstring), with PyG's arguments ``(in_channels, hidden_channels,
    num_layers, lamb=5, bias=True)``; ``forward(x, pos_edge_index, neg_edge_index)`` gives the
    embeddings ``[N, hidden_channels]``. ``bias`` is kept and, as in PyG 2.8, not passed to the
    layers (they learn a bias either way), so PyG's checkpoints load with either value."""

    def __init__(self, in_channels: int, hidden_channels: int, num_layers: int, lamb: float = 5,
                 bias: bool = True) -> None:
        super().__init__()
        self.in_channels, self.hidden_channels, self.num_layers, self.lamb = (in_channels, hidden_channels,
                                                                              num_layers, lamb)
        half = hidden_channels // 2
        self.bias = bias
        self.conv1 = SignedConv(in_channels, half, first_aggr=True)
        self.convs = torch.nn.ModuleList([SignedConv(half, half, first_aggr=False)
                                          for _ in range(num_layers - 1)])
        self.lin = torch.nn.Linear(2 * hidden_channels, 3)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.conv1.reset_parameters()
        for conv in self.convs:
            conv.reset_parameters()
        self.lin.reset_parameters()

    def split_edges(self, edge_index: Tensor, test_ratio: float = 0.2) -> Tuple[Tensor, Tensor]:
        """``(train, test)`` edges, a random ``test_ratio`` share held out (PyG's draws)."""
        mask = torch.ones(edge_index.size(1), dtype=torch.bool)
        mask[torch.randperm(mask.size(0))[:int(test_ratio * mask.size(0))]] = False
        mask = mask.to(edge_index.device)
        return edge_index[:, mask], edge_index[:, ~mask]

    def create_spectral_features(self, pos_edge_index: Tensor, neg_edge_index: Tensor,
                                 num_nodes: Optional[int] = None) -> Tensor:
        """``[N, in_channels]``: the top right singular vectors of the symmetric signed
        adjacency (+1 positive, -1 negative, summed where both), as PyG's spectral features."""
        edge_index = torch.cat([pos_edge_index, neg_edge_index], dim=1).cpu()
        count = int(edge_index.max()) + 1 if num_nodes is None else num_nodes
        value = torch.cat([torch.full((pos_edge_index.size(1),), 2.0), torch.zeros(neg_edge_index.size(1))])
        edge_index = torch.cat([edge_index, edge_index.flip(0)], dim=1)
        edge_index, value = coalesce(edge_index, torch.cat([value, value]), count)
        adjacency = torch.sparse_coo_tensor(edge_index, value - 1, (count, count)).coalesce()
        _, _, right = torch.svd_lowrank(adjacency, q=self.in_channels, niter=16)
        return right[:, :self.in_channels].to(pos_edge_index.device)

    def forward(self, x: Tensor, pos_edge_index: Tensor, neg_edge_index: Tensor) -> Tensor:
        z = F.relu(self.conv1(x, pos_edge_index, neg_edge_index))
        for conv in self.convs:
            z = F.relu(conv(z, pos_edge_index, neg_edge_index))
        return z

    def discriminate(self, z: Tensor, edge_index: Tensor) -> Tensor:
        """Log-probabilities ``[E, 3]`` of positive, negative and no link for each pair."""
        pairs = torch.cat([z.index_select(0, edge_index[0]), z.index_select(0, edge_index[1])], dim=1)
        return torch.log_softmax(self.lin(pairs), dim=1)

    def nll_loss(self, z: Tensor, pos_edge_index: Tensor, neg_edge_index: Tensor) -> Tensor:
        """The discriminator's loss on positive, negative and sampled absent links."""
        none_edge_index = negative_sampling(torch.cat([pos_edge_index, neg_edge_index], dim=1), z.size(0))
        loss = 0
        for label, edge_index in enumerate((pos_edge_index, neg_edge_index, none_edge_index)):
            loss = loss + F.nll_loss(self.discriminate(z, edge_index), edge_index.new_full((edge_index.size(1),), label))
        return loss / 3.0

    def pos_embedding_loss(self, z: Tensor, pos_edge_index: Tensor) -> Tensor:
        """Positive neighbours nearer than non-neighbours."""
        i, j, k = structured_negative_sampling(pos_edge_index, z.size(0))
        return torch.clamp((z[i] - z[j]).pow(2).sum(dim=1) - (z[i] - z[k]).pow(2).sum(dim=1), min=0).mean()

    def neg_embedding_loss(self, z: Tensor, neg_edge_index: Tensor) -> Tensor:
        """Negative neighbours farther than non-neighbours."""
        i, j, k = structured_negative_sampling(neg_edge_index, z.size(0))
        return torch.clamp((z[i] - z[k]).pow(2).sum(dim=1) - (z[i] - z[j]).pow(2).sum(dim=1), min=0).mean()

    def loss(self, z: Tensor, pos_edge_index: Tensor, neg_edge_index: Tensor) -> Tensor:
        return (self.nll_loss(z, pos_edge_index, neg_edge_index)
                + self.lamb * (self.pos_embedding_loss(z, pos_edge_index) + self.neg_embedding_loss(z, neg_edge_index)))

    def test(self, z: Tensor, pos_edge_index: Tensor, neg_edge_index: Tensor) -> Tuple[float, float]:
        """``(AUC, F1)`` of telling the positive from the negative test edges (PyG's scores:
        the discriminator's choice between its first two classes)."""
        with torch.no_grad():
            pos_p = self.discriminate(z, pos_edge_index)[:, :2].argmax(dim=1)
            neg_p = self.discriminate(z, neg_edge_index)[:, :2].argmax(dim=1)
        pred = (1 - torch.cat([pos_p, neg_p])).cpu()
        y = torch.cat([torch.ones(pos_p.size(0)), torch.zeros(neg_p.size(0))])
        auc = roc_auc_score(y, pred)
        hits = float((pred * y).sum())
        f1 = 2 * hits / (float(pred.sum()) + float(y.sum())) if pred.sum() > 0 else 0
        return auc, f1

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.in_channels}, {self.hidden_channels}, num_layers={self.num_layers})"
