r"""Grouped GAT relations for :class:`~gnnx.nn.HeteroConv` (issue #16: a step's kernel
launches must not grow with the number of relation types).

A ``HeteroConv`` of bipartite ``GATConv`` layers with ``aggr="sum"`` (MLPerf's R-GAT) computes,
per destination type :math:`d`,

.. math::
    \mathbf{x}'_i = \sum_{r \to d} \Big(\Big\Vert_h \sum_{j \to_r i} \alpha^{r,h}_{ij}
    \mathbf{W}^r_s \mathbf{x}_j + \mathbf{b}^r\Big), \qquad
    \alpha^{r,h}_{ij} = \operatorname{softmax}_{j \to_r i}\,\mathrm{LeakyReLU}(a^{r,h}_{s,j} + a^{r,h}_{d,i}).

Here it runs as a few ops whatever the number of relations: one matrix product per
*source type* for every relation's projection and source score (the relations' ``W_s``
stacked, then their ``W_s^T a_s`` folded per head), one per *destination type* for every
relation's destination score (``W_d^T a_d`` folded, as ``GATConv`` does), and one attention
op per destination type over ``(relation, destination)`` slots, each relation's softmax kept
apart by its slot, then a sum over the relations. Values equal the per-relation layers (up
to float rounding); layers and calls the grouping does not cover (other layer types, edge
features, self loops, residual, attention dropout in training, hooks, ``Graph`` inputs,
missing node types) run per relation as before.

On for CUDA inputs, off for CPU ones (:data:`ENABLED`, ``None`` = by device). On the H200,
MLPerf's R-GAT training step (``bench/rgat.py``: ~590k nodes and 1.1M edges per batch, 8
relations) took 23.6 ms grouped against 31.8 per relation under ``gnnx.compile`` (16.4
against 21.3 with ``trim_to_layer``;
``bench/results/h200/rgat_grouped_vs_per_relation.md``). On the 2-core CPU it does not pay
(``bench/hetero_grouping_cpu.py``: 40,000 nodes, 8 relations of 60,000 fresh edges, forward +
backward, medians of three runs: eager 329 against 264 ms per relation, compiled 297 against
306; ``bench/results/cpu/hetero_grouping_cpu.txt``; single runs vary by +-20 %): the same ops
run over the relations' edge lists joined, and in a profiled step weighting the
``[E, heads, channels]`` messages cost ~52 ns per edge on 240,000 joined edges against ~29 ns
on each relation's 60,000 (``bench/results/cpu/hetero_grouping_cpu_profile.txt``), which
looks like cache size.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Tuple

import torch
from torch import Tensor

from gnnx import ops
from gnnx.nn.conv.gat import GATConv
from gnnx.nn.message_passing import check_adjacency

EdgeType = Tuple[str, str, str]
ENABLED: Optional[bool] = None  # None: grouped for CUDA inputs only (module docstring)


def _groupable(conv: torch.nn.Module, first: GATConv) -> bool:
    return (type(conv) is GATConv and conv.lin is None and conv.lin_edge is None and conv.res is None
            and not conv.add_self_loops and conv.concat and conv.flow == "source_to_target"
            and conv.heads == first.heads and conv.out_channels == first.out_channels
            and conv.negative_slope == first.negative_slope
            and not isinstance(conv.lin_src.weight, torch.nn.parameter.UninitializedParameter)
            and not isinstance(conv.lin_dst.weight, torch.nn.parameter.UninitializedParameter)
            and not (conv.training and conv.dropout > 0) and not conv._observed())


def _fold(weights: Tensor, atts: List[Tensor], heads: int) -> Tensor:
    """``[R * heads, in]``: per relation and head, ``W^T a`` (the score of ``x`` is then
    ``x @ folded.t()``, without projecting ``x``); ``weights [R, heads * C, in]``."""
    relations, width, in_channels = weights.shape
    att = torch.stack([a[0] for a in atts])  # [R, heads, C]
    folded = torch.einsum("rhci,rhc->rhi", weights.view(relations, heads, width // heads, in_channels), att)
    return folded.reshape(relations * heads, in_channels)


def _enabled_for(x_dict: Dict[str, Tensor]) -> bool:
    if ENABLED is not None:
        return ENABLED
    return any(isinstance(x, Tensor) and x.is_cuda for x in x_dict.values())


def grouped_gat(convs: Dict[EdgeType, torch.nn.Module], aggr: Optional[str], x_dict: Dict[str, Tensor],
                edge_index_dict: Dict[EdgeType, Tensor]) -> Optional[Dict[str, Tensor]]:
    """The outputs per destination type, or ``None`` where the grouping does not apply."""
    if aggr not in ("sum", "add") or not _enabled_for(x_dict):
        return None
    relations = [(edge_type, conv) for edge_type, conv in convs.items() if edge_type in edge_index_dict]
    if not relations:
        return None
    first = relations[0][1]
    if not isinstance(first, GATConv) or not all(_groupable(conv, first) for _, conv in relations):
        return None
    for edge_type, _ in relations:
        if edge_type[0] not in x_dict or edge_type[2] not in x_dict or not isinstance(edge_index_dict[edge_type], Tensor):
            return None
    heads, channels = first.heads, first.out_channels
    width = heads * channels

    projected: Dict[EdgeType, Tensor] = {}
    score_src: Dict[EdgeType, Tensor] = {}
    by_source: Dict[str, List[Tuple[EdgeType, GATConv]]] = {}
    for edge_type, conv in relations:
        by_source.setdefault(edge_type[0], []).append((edge_type, conv))
    for node_type, group in by_source.items():  # one GEMM per source type: projections, then scores
        weights = torch.stack([conv.lin_src.weight for _, conv in group])
        scores = _fold(weights, [conv.att_src for _, conv in group], heads)
        every = x_dict[node_type] @ torch.cat([weights.flatten(0, 1), scores]).t()
        # split, not slices: its backward joins the parts' gradients once, where each slice's
        # backward would write a zero-filled gradient of all of ``every``
        parts = every.split([width] * len(group) + [heads] * len(group), dim=1)
        for i, (edge_type, _) in enumerate(group):
            projected[edge_type] = parts[i].reshape(-1, heads, channels)
            score_src[edge_type] = parts[len(group) + i]

    by_destination: Dict[str, List[Tuple[EdgeType, GATConv]]] = {}
    for edge_type, conv in relations:
        by_destination.setdefault(edge_type[2], []).append((edge_type, conv))
    out: Dict[str, Tensor] = {}
    for node_type, group in by_destination.items():
        x_dst = x_dict[node_type]
        num_dst, count = x_dst.size(0), len(group)
        folded = _fold(torch.stack([conv.lin_dst.weight for _, conv in group]), [conv.att_dst for _, conv in group],
                       heads)  # one GEMM per destination type for the scores
        score_dst = (x_dst @ folded.t()).view(num_dst, count, heads).transpose(0, 1).reshape(count * num_dst, heads)
        features, sources, edges, offset = [], [], [], 0
        for slot, (edge_type, _) in enumerate(group):
            h = projected[edge_type]
            edge_index = edge_index_dict[edge_type]
            check_adjacency(edge_index, h.size(0), num_dst)
            features.append(h)
            sources.append(score_src[edge_type])
            edges.append(torch.stack([edge_index[0] + offset, edge_index[1] + slot * num_dst]))
            offset = offset + h.size(0)
        result = ops.attention(torch.cat(features), torch.cat(edges, 1), count * num_dst,
                               score_src=torch.cat(sources), score_dst=score_dst,
                               negative_slope=first.negative_slope)
        result = result.reshape(count, num_dst, width).sum(0)
        biases = [conv.bias for _, conv in group if conv.bias is not None]
        out[node_type] = result + torch.stack(biases).sum(0) if biases else result
    return out
