"""PyG's ``NodePropertySplit``: in-distribution and out-of-distribution node splits by a
structural property, from `"Evaluating Robustness and Uncertainty of Graph Models Under
Structural Distributional Shifts" <https://arxiv.org/abs/2302.13875>`_.

Nodes are ranked by ``popularity`` (PageRank), ``locality`` (PageRank personalised on the most
popular node) or ``density`` (local clustering coefficient); the first ``ratios[:3]`` of the
ranking (shuffled among themselves) become ``id_train_mask``, ``id_val_mask``,
``id_test_mask``, the rest ``ood_val_mask`` and ``ood_test_mask``. The properties are computed by
networkx (torch's dependency; PageRank needs scipy), on the graph made undirected without self
loops, as PyG's, so the masks are PyG's for the same seed.
"""
from __future__ import annotations

from typing import Any, Dict, List

import torch
from torch import Tensor

from gnnx.graph import Graph
from gnnx.transforms.transform import BaseTransform
from gnnx.utils.convert import to_networkx

MASKS = ("id_train_mask", "id_val_mask", "id_test_mask", "ood_val_mask", "ood_test_mask")


def _popularity(G: Any) -> Tensor:
    import networkx.algorithms as A
    return torch.tensor(list(A.pagerank(G).values()))


def _locality(G: Any) -> Tensor:
    import networkx.algorithms as A
    popular = int(_popularity(G).argmax())
    personalization = {node: 1.0 if node == popular else 0.0 for node in range(G.number_of_nodes())}
    return torch.tensor(list(A.pagerank(G, personalization=personalization).values()))


def _density(G: Any) -> Tensor:
    import networkx.algorithms as A
    return torch.tensor(list(A.clustering(G).values()))


PROPERTIES = {"popularity": _popularity, "locality": _locality, "density": _density}


class NodePropertySplit(BaseTransform):
    """PyG's arguments: ``property_name`` (``"popularity"``, ``"locality"``, ``"density"``),
    ``ratios`` (five fractions summing to 1), ``ascending`` (in-distribution nodes are those with
    the highest values when True, as PyG's sign flip does)."""

    def __init__(self, property_name: str, ratios: List[float], ascending: bool = True) -> None:
        if property_name not in PROPERTIES:
            raise ValueError(f"Unexpected 'property_name' (got '{property_name}')")
        if len(ratios) != 5:
            raise ValueError(f"'ratios' must contain 5 values (got {len(ratios)})")
        if sum(ratios) != 1.0:
            raise ValueError(f"'ratios' must sum to 1.0 (got {sum(ratios)})")
        self.property_name, self.ratios, self.ascending = property_name, list(ratios), ascending

    def forward(self, data: Graph) -> Graph:
        G = to_networkx(data, to_undirected=True, remove_self_loops=True)
        values = PROPERTIES[self.property_name](G) * (-1 if self.ascending else 1)
        return data.replace(**_masks(values, self.ratios))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.property_name})"


def _masks(values: Tensor, ratios: List[float]) -> Dict[str, Tensor]:
    """PyG's masks (and draws): nodes ranked by ``values`` after a random permutation (ties
    broken at random), the in-distribution part shuffled once more."""
    num_nodes = values.size(0)
    sizes = (num_nodes * torch.tensor(ratios)).round().long()
    sizes[-1] -= sizes.sum() - num_nodes
    perm = torch.randperm(num_nodes)
    in_distribution = int(sizes[:3].sum())
    perm = perm[values[perm].argsort()]
    perm[:in_distribution] = perm[:in_distribution][torch.randperm(in_distribution)]
    out = {}
    for name, part in zip(MASKS, perm.split(sizes.tolist())):
        mask = torch.zeros(num_nodes, dtype=torch.bool)
        mask[part] = True
        out[name] = mask
    return out
