"""Zachary's karate club (PyG's ``KarateClub``, from `"An Information Flow Model for Conflict
and Fission in Small Groups" <https://www.journals.uchicago.edu/doi/abs/10.1086/jar.33.4.3629752>`_):
34 members, 78 friendships (156 directed edges), one-hot features, the four communities that
Kipf and Welling's GCN paper labels by modularity-based clustering, and one training node per
community (its first member). The network is small enough to ship in the source, so nothing
is read or downloaded."""
from __future__ import annotations

from typing import Callable, Optional

import torch

from gnnx.datasets.single_graph import SingleGraph
from gnnx.graph import Graph

# Each friendship once, as (smaller, larger) member index.
FRIENDSHIPS = (
    (0, 1), (0, 2), (0, 3), (0, 4), (0, 5), (0, 6), (0, 7), (0, 8), (0, 10), (0, 11), (0, 12), (0, 13), (0, 17),
    (0, 19), (0, 21), (0, 31), (1, 2), (1, 3), (1, 7), (1, 13), (1, 17), (1, 19), (1, 21), (1, 30), (2, 3), (2, 7),
    (2, 8), (2, 9), (2, 13), (2, 27), (2, 28), (2, 32), (3, 7), (3, 12), (3, 13), (4, 6), (4, 10), (5, 6), (5, 10),
    (5, 16), (6, 16), (8, 30), (8, 32), (8, 33), (9, 33), (13, 33), (14, 32), (14, 33), (15, 32), (15, 33), (18, 32),
    (18, 33), (19, 33), (20, 32), (20, 33), (22, 32), (22, 33), (23, 25), (23, 27), (23, 29), (23, 32), (23, 33),
    (24, 25), (24, 27), (24, 31), (25, 31), (26, 29), (26, 33), (27, 33), (28, 31), (28, 33), (29, 32), (29, 33),
    (30, 32), (30, 33), (31, 32), (31, 33), (32, 33),
)
COMMUNITIES = (1, 1, 1, 1, 3, 3, 3, 1, 0, 1, 3, 1, 1, 1, 0, 0, 3, 1, 0, 1, 0, 1, 0, 0, 2, 2, 0, 0, 2, 0, 0, 2, 0, 0)


class KarateClub(SingleGraph):
    """The karate club as one :class:`~gnnx.Graph` (``x`` the identity, ``y`` the community,
    ``train_mask``), edges in both directions sorted by source then destination, as PyG's.

    Args:
        transform: applied once to the graph (e.g. :class:`gnnx.transforms.NormalizeFeatures`).
    """

    name = "KarateClub"

    def __init__(self, transform: Optional[Callable[[Graph], Graph]] = None) -> None:
        pairs = torch.tensor(FRIENDSHIPS).t()
        both = torch.cat([pairs, pairs.flip(0)], dim=1)
        edge_index = both[:, torch.argsort(both[0] * len(COMMUNITIES) + both[1])]
        y = torch.tensor(COMMUNITIES)
        train_mask = torch.zeros(y.size(0), dtype=torch.bool)
        for community in range(int(y.max()) + 1):
            train_mask[int((y == community).int().argmax())] = True  # its first member
        super().__init__(Graph(edge_index, y.size(0), x=torch.eye(y.size(0)), y=y, train_mask=train_mask), transform)

    def __repr__(self) -> str:
        return "KarateClub()"
