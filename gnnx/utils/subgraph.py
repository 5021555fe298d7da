"""Induced subgraphs and k-hop neighbourhoods (PyG's ``subgraph``, ``k_hop_subgraph``);
data-dependent shapes, for data preparation and explanation, not compiled forwards."""
from __future__ import annotations

from typing import List, Optional, Tuple, Union

import torch
from torch import Tensor

from gnnx.ops.dispatch import check_index_range
from gnnx.utils.edges import check_flow
from gnnx.utils.functions import index_to_mask
from gnnx.utils.num_nodes import maybe_num_nodes


def subgraph(subset: Union[Tensor, List[int]], edge_index: Tensor, edge_attr: Optional[Tensor] = None,
             relabel_nodes: bool = False, num_nodes: Optional[int] = None, *, return_edge_mask: bool = False):
    """The edges between nodes of ``subset`` (ids or a boolean mask). With ``relabel_nodes``
    the nodes are renumbered ``0..|subset|-1`` in the order of ``subset``.

    Returns ``(edge_index, edge_attr)`` and, with ``return_edge_mask``, the kept-edge mask.
    """
    device = edge_index.device
    if isinstance(subset, (list, tuple)):
        subset = torch.tensor(subset, dtype=torch.long, device=device)
    if subset.dtype == torch.bool:
        node_mask = subset
        count = node_mask.numel()
        check_index_range(edge_index, count, "edge_index", "{count} entries of the subset mask", "node index")
        subset = node_mask.nonzero().view(-1)
    else:
        count = maybe_num_nodes(edge_index, num_nodes)
        check_index_range(subset, count, "subset", "{count} nodes", "node index")
        node_mask = index_to_mask(subset, size=count)
    edge_mask = node_mask[edge_index[0]] & node_mask[edge_index[1]]
    edge_index = edge_index[:, edge_mask]
    edge_attr = None if edge_attr is None else edge_attr[edge_mask]
    if relabel_nodes:
        mapping = torch.zeros(count, dtype=torch.long, device=device)
        mapping[subset] = torch.arange(subset.numel(), device=device)
        edge_index = mapping[edge_index]
    if return_edge_mask:
        return edge_index, edge_attr, edge_mask
    return edge_index, edge_attr


def k_hop_subgraph(node_idx: Union[int, List[int], Tensor], num_hops: int, edge_index: Tensor,
                   relabel_nodes: bool = False, num_nodes: Optional[int] = None, flow: str = "source_to_target",
                   directed: bool = False) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
    """The nodes within ``num_hops`` of ``node_idx`` (following edges towards them for
    ``"source_to_target"``) and the edges among them (only those used by the hops when
    ``directed``). Returns ``(subset, edge_index, mapping, edge_mask)``: ``mapping`` locates
    the centre nodes in ``subset``."""
    check_flow(flow)
    count = maybe_num_nodes(edge_index, num_nodes)
    row, col = (edge_index[0], edge_index[1]) if flow == "target_to_source" else (edge_index[1], edge_index[0])
    if isinstance(node_idx, int):
        node_idx = torch.tensor([node_idx], device=row.device)
    elif isinstance(node_idx, (list, tuple)):
        node_idx = torch.tensor(node_idx, device=row.device)
    else:
        node_idx = node_idx.to(row.device)
    check_index_range(node_idx, count, "node_idx", "{count} nodes", "node index")
    subsets = [node_idx]
    used = torch.zeros(row.numel(), dtype=torch.bool, device=row.device)  # edges any hop followed
    for _ in range(num_hops):
        hop_edges = index_to_mask(subsets[-1], size=count)[row]
        used |= hop_edges
        subsets.append(col[hop_edges])
    subset, inverse = torch.cat(subsets).unique(return_inverse=True)
    mapping = inverse[:node_idx.numel()]
    node_mask = index_to_mask(subset, size=count)
    edge_mask = used if directed else node_mask[row] & node_mask[col]
    edge_index = edge_index[:, edge_mask]
    if relabel_nodes:
        relabel = torch.full((count,), -1, dtype=torch.long, device=row.device)
        relabel[subset] = torch.arange(subset.numel(), device=row.device)
        edge_index = relabel[edge_index]
    return subset, edge_index, mapping, edge_mask


def bipartite_subgraph(subset: Tuple[Union[Tensor, List[int]], Union[Tensor, List[int]]], edge_index: Tensor,
                       edge_attr: Optional[Tensor] = None, relabel_nodes: bool = False,
                       size: Optional[Tuple[int, int]] = None, return_edge_mask: bool = False):
    """The edges from ``subset[0]`` (sources) to ``subset[1]`` (destinations) of a bipartite
    graph (ids or boolean masks); ``relabel_nodes`` renumbers each side in subset order.
    Returns ``(edge_index, edge_attr)`` and, with ``return_edge_mask``, the kept-edge mask."""
    device = edge_index.device
    sides = []
    for row, part in enumerate(subset):
        part = part if isinstance(part, Tensor) else torch.tensor(part, dtype=torch.long, device=device)
        if part.dtype == torch.bool:
            sides.append((part, part.nonzero().view(-1), part.numel()))
        else:
            count = int(edge_index[row].max()) + 1 if size is None else size[row]
            count = max(count, int(part.max()) + 1) if part.numel() else count
            sides.append((index_to_mask(part, size=count), part, count))
    edge_mask = sides[0][0][edge_index[0]] & sides[1][0][edge_index[1]]
    edge_index = edge_index[:, edge_mask]
    edge_attr = None if edge_attr is None else edge_attr[edge_mask]
    if relabel_nodes:
        rows = []
        for row, (_, ids, count) in enumerate(sides):
            mapping = torch.full((count,), -1, dtype=torch.long, device=device)
            mapping[ids] = torch.arange(ids.numel(), device=device)
            rows.append(mapping[edge_index[row]])
        edge_index = torch.stack(rows, dim=0)
    if return_edge_mask:
        return edge_index, edge_attr, edge_mask
    return edge_index, edge_attr


def get_num_hops(model: torch.nn.Module) -> int:
    """The number of message-passing layers (gnnx's or PyG's) in ``model`` (its receptive field
    in hops)."""
    from gnnx.nn.message_passing import message_passing_classes

    classes = message_passing_classes()
    return sum(isinstance(module, classes) for module in model.modules())
