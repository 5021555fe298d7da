r"""How far a model's receptive field reaches in practice (PyG's ``total_influence``), from
`"Towards Quantifying Long-Range Interactions in Graph Machine Learning"
<https://arxiv.org/abs/2503.09008>`_.

For a node :math:`v`, the influence of node :math:`u` is the L1 norm of the Jacobian of
:math:`v`'s output with respect to :math:`u`'s features (on :math:`v`'s ``max_hops``-hop
subgraph); summed per hop distance it gives :math:`(I_0, \dots, I_k)`. ``total_influence``
averages these over sampled nodes (normalised by :math:`I_0`) and returns the
influence-weighted receptive field :math:`R = \mathbb{E}[\text{hop}]`. The same draws and values
as PyG's for the same model; eager (one Jacobian per sampled node).
"""
from __future__ import annotations

from typing import Any, List, Optional, Tuple, Union

import torch
from torch import Tensor
from torch.autograd.functional import jacobian

from gnnx.progress import Progress
from gnnx.utils.subgraph import k_hop_subgraph


def _hop_sets(node: int, max_hops: int, edge_index: Tensor, num_nodes: int) -> List[Tensor]:
    """The nodes first reached at each hop from ``node`` over incoming edges (hop 0: the node)."""
    reached = torch.zeros(num_nodes, dtype=torch.bool, device=edge_index.device)
    reached[node] = True
    frontier = torch.zeros_like(reached)
    frontier[node] = True
    sets = [torch.tensor([node], device=edge_index.device)]
    for _ in range(max_hops):
        touched = torch.zeros_like(reached)
        touched[edge_index[0][frontier[edge_index[1]]]] = True
        frontier = touched & ~reached
        reached |= frontier
        sets.append(frontier.nonzero().view(-1))
    return sets


def jacobian_l1(model: torch.nn.Module, data: Any, max_hops: int, node_idx: int, device: Union[torch.device, str],
                *, vectorize: bool = True) -> Tensor:
    """``[num_nodes]``: each node's L1 influence on ``node_idx``'s output (0 outside its hops)."""
    nodes, sub_edge_index, mapping, _ = k_hop_subgraph(node_idx, max_hops, data.edge_index, relabel_nodes=True,
                                                       num_nodes=data.num_nodes)
    root, device = int(mapping[0]), torch.device(device)
    model = model.to(device)
    sub_edge_index = sub_edge_index.to(device)
    jac = jacobian(lambda x: model(x, sub_edge_index)[root], data.x[nodes].to(device), vectorize=vectorize)
    influence = torch.zeros(int(data.num_nodes), dtype=jac.dtype, device=device)
    influence[nodes.to(device)] = jac.abs().sum(dim=(0, 2))
    return influence


def jacobian_l1_agg_per_hop(model: torch.nn.Module, data: Any, max_hops: int, node_idx: int,
                            device: Union[torch.device, str], vectorize: bool = True) -> Tensor:
    """``[max_hops + 1]``: ``node_idx``'s influence summed per hop distance."""
    influence = jacobian_l1(model, data, max_hops, node_idx, device, vectorize=vectorize)
    sets = _hop_sets(node_idx, max_hops, data.edge_index, int(data.num_nodes))
    return torch.stack([influence[s.to(influence.device)].sum() for s in sets])


def avg_total_influence(influence_all_nodes: Tensor, normalize: bool = True) -> Tensor:
    """The mean per-hop influence over nodes, divided by hop 0's with ``normalize``."""
    mean = influence_all_nodes.mean(dim=0)
    return mean / mean[0] if normalize else mean


def influence_weighted_receptive_field(T: Tensor) -> float:
    """The expected hop distance weighted by influence, averaged over nodes (``T [N, k + 1]``)."""
    normalised = T / T.sum(dim=1, keepdim=True)
    return float((normalised @ torch.arange(T.size(1), dtype=normalised.dtype)).mean())


def total_influence(model: torch.nn.Module, data: Any, max_hops: int, num_samples: Optional[int] = None,
                    normalize: bool = True, average: bool = True, device: Union[torch.device, str] = "cpu",
                    vectorize: bool = True) -> Tuple[Tensor, float]:
    """``(per-hop influence, R)`` of ``model`` (called ``model(x, edge_index)``) over
    ``num_samples`` random nodes of ``data`` (all by default); PyG's arguments and draws."""
    num_nodes = int(data.num_nodes)
    nodes = torch.randperm(num_nodes)[:num_nodes if num_samples is None else num_samples].tolist()
    rows = [jacobian_l1_agg_per_hop(model, data, max_hops, n, device, vectorize=vectorize)
            for n in Progress(nodes, desc="Influence")]
    every = torch.vstack(rows).detach().cpu()
    return (avg_total_influence(every, normalize) if average else every), influence_weighted_receptive_field(every)
