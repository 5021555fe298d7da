"""Connected components of a graph, labelled as scipy's ``connected_components`` labels them."""
from __future__ import annotations

from typing import Tuple

import torch
from torch import Tensor


def connected_components(edge_index: Tensor, num_nodes: int, connection: str = "weak") -> Tuple[int, Tensor]:
    """``(count, label per node)``, the components numbered in the order of their smallest node
    (scipy's numbering). Weak components (edges as undirected) by label propagation to the
    smallest reachable id with pointer jumping, in plain torch; ``"strong"`` through scipy."""
    if connection not in ("weak", "strong"):
        raise ValueError(f"connected_components: connection must be 'weak' or 'strong', got {connection!r}")
    if connection == "strong":
        import numpy as np
        import scipy.sparse as sp
        from scipy.sparse.csgraph import connected_components as scipy_components

        adj = sp.coo_matrix((np.ones(edge_index.size(1)), edge_index.cpu().numpy()), shape=(num_nodes, num_nodes))
        count, labels = scipy_components(adj, connection="strong")
        return int(count), torch.from_numpy(labels).long().to(edge_index.device)
    label = torch.arange(num_nodes, device=edge_index.device)
    src, dst = torch.cat([edge_index[0], edge_index[1]]), torch.cat([edge_index[1], edge_index[0]])
    while True:
        smallest = label.scatter_reduce(0, dst, label[src], "amin")
        smallest = smallest[smallest]  # pointer jumping: halves the rounds on long paths
        if torch.equal(smallest, label):
            break
        label = smallest
    roots, labels = torch.unique(label, return_inverse=True)
    return roots.numel(), labels
