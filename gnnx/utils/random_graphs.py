"""Random graph models (PyG's ``erdos_renyi_graph``, ``stochastic_blockmodel_graph``,
``barabasi_albert_graph``), PyG's arguments and random draws."""
from __future__ import annotations

from typing import List, Union

import numpy as np
import torch
from torch import Tensor

from gnnx.utils.edges import to_undirected
from gnnx.utils.loop import remove_self_loops


def _directed_pairs(num_nodes: int) -> Tensor:
    """Every ordered pair ``(i, j)``, ``i != j``, as the flat id ``i * N + j``."""
    idx = torch.arange((num_nodes - 1) * num_nodes).view(num_nodes - 1, num_nodes)
    return (idx + torch.arange(1, num_nodes).view(-1, 1)).view(-1)


def erdos_renyi_graph(num_nodes: int, edge_prob: float, directed: bool = False) -> Tensor:
    """Each pair of distinct nodes joined with probability ``edge_prob`` (both directions
    unless ``directed``)."""
    if directed:
        idx = _directed_pairs(num_nodes)
    else:
        idx = torch.combinations(torch.arange(num_nodes), r=2)
    idx = idx[torch.rand(idx.size(0)) < edge_prob]
    if directed:
        return torch.stack([idx.div(num_nodes, rounding_mode="floor"), idx % num_nodes], dim=0)
    return to_undirected(idx.t(), num_nodes=num_nodes)


def stochastic_blockmodel_graph(block_sizes: Union[List[int], Tensor], edge_probs: Union[List[List[float]], Tensor],
                                directed: bool = False) -> Tensor:
    """Blocks of ``block_sizes`` nodes; a pair in blocks ``a`` and ``b`` is joined with
    probability ``edge_probs[a][b]`` (symmetric unless ``directed``)."""
    size = block_sizes if isinstance(block_sizes, Tensor) else torch.tensor(block_sizes, dtype=torch.long)
    prob = edge_probs if isinstance(edge_probs, Tensor) else torch.tensor(edge_probs, dtype=torch.float)
    if size.dim() != 1 or prob.dim() != 2 or prob.size(0) != prob.size(1) or size.size(0) != prob.size(0):
        raise ValueError(f"stochastic_blockmodel_graph needs B block sizes and a [B, B] probability matrix, got "
                         f"{list(size.shape)} and {list(prob.shape)}")
    if not directed and not torch.allclose(prob, prob.t()):
        raise ValueError("an undirected stochastic block model needs a symmetric 'edge_probs'")
    block = torch.cat([size.new_full((int(b),), i) for i, b in enumerate(size.tolist())])
    num_nodes = block.size(0)
    if directed:
        idx = _directed_pairs(num_nodes)
        row, col = idx.div(num_nodes, rounding_mode="floor"), idx % num_nodes
    else:
        row, col = torch.combinations(torch.arange(num_nodes), r=2).t()
    keep = torch.bernoulli(prob[block[row], block[col]]).to(torch.bool)
    edge_index = torch.stack([row[keep], col[keep]], dim=0)
    return edge_index if directed else to_undirected(edge_index, num_nodes=num_nodes)


def barabasi_albert_graph(num_nodes: int, num_edges: int) -> Tensor:
    """Preferential attachment: each new node joins ``num_edges`` existing ones chosen in
    proportion to their degree (numpy's random generator, as PyG)."""
    if not 0 < num_edges < num_nodes:
        raise ValueError(f"barabasi_albert_graph needs 0 < num_edges < num_nodes, got {num_edges} and {num_nodes}")
    row, col = torch.arange(num_edges), torch.randperm(num_edges)
    for node in range(num_edges, num_nodes):
        row = torch.cat([row, torch.full((num_edges,), node, dtype=torch.long)])
        choice = np.random.choice(torch.cat([row, col]).numpy(), num_edges)
        col = torch.cat([col, torch.from_numpy(choice)])
    edge_index, _ = remove_self_loops(torch.stack([row, col], dim=0))
    return to_undirected(edge_index, num_nodes=num_nodes)
