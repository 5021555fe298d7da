r"""Grouped GAT relations for :class:`~gnnx.nn.HeteroConv` (issue #16: a step's kernel
launches must not grow with the number of relation types).

A ``HeteroConv`` of bipartite ``GATConv`` layers with ``aggr="sum"`` (MLPerf's R-GAT) computes,
per destination type :math:`d`,

.. math::
    \mathbf{x}'_i = \sum_{r \to d} \Big(\Big\Vert_h \sum_{j \to_r i} \alpha^{r,h}_{ij}
    \mathbf{W}^r_s \mathbf{x}_j + \mathbf{b}^r\Big), \qquad
    \alpha^{r,h}_{ij} = \operatorname{softmax}_{j \to_r i}\,\mathrm{LeakyReLU}(a^{r,h}_{s,j} + a^{r,h}_{d,i}).

Here it runs as a few ops whatever the number of relations: one matrix product per
*node type* for every relation's projection and source score (the relations' ``W_s``
stacked, each followed by its ``W_s^T a_s`` folded per head, so the product's rows are a
table of ``(projection, score)`` rows per node and relation) and for the destination scores
of the relations into the type (``W_d^T a_d`` folded, as ``GATConv`` does, in the same
slots: one read of ``x``; a type that only receives, or receives more relations than it
sends, gets a product of its own for them), one gather per source type, and one attention op for the whole layer (:func:`relation_attention`) in one
segment space: the destination types' nodes one after another, the softmax taken per
``(destination, relation)`` group and the weighted sum per destination, so the relations
into a node type add up without a per-relation output. Values equal the per-relation layers (up
to float rounding); layers and calls the grouping does not cover (other layer types, edge
features, self loops, residual, attention dropout in training, hooks, ``Graph`` inputs,
missing node types) run per relation as before.

On for CUDA inputs, off for CPU ones (:data:`ENABLED`, ``None`` = by device). On the H200,
MLPerf's R-GAT training step (``bench/rgat.py``: ~590k nodes and 1.1M edges per batch, 8
relations) took 23.6 ms grouped against 31.8 per relation under ``gnnx.compile`` (16.4
against 21.3 with ``trim_to_layer``;
``bench/results/h200/rgat_grouped_vs_per_relation.md``); one segment space for the layer
and the table layout took the untrimmed step on the H100 from 27.2 to 25.9 ms in one A/B run
(``bench/results/h100/rgat_one_segment_space.md``; one attention
op per destination type over ``(relation, destination)`` slots, then a sum over relations,
before). The source-table products run through :func:`gnnx.ops.project`, whose backward in
compiled code skips the rows a sampled batch's loss does not reach (the untrimmed step 26.2 ->
22.3 ms on the H100, ``bench/results/h100/rgat_skip_zero_rows.md``); the destination scores
in the source table took it from 22.1 to 20.3 ms (``rgat_shared_dst_scores.md``). On the 2-core CPU it does not pay
(``bench/hetero_grouping_cpu.py``: 40,000 nodes, 8 relations of 60,000 fresh edges, forward +
backward, medians of three runs: eager 329 against 264 ms per relation, compiled 297 against
306; after the one-segment-space change, 401-452 against 234-372 eager and 340-385 against
236-279 compiled; ``bench/results/cpu/hetero_grouping_cpu.txt``; single runs vary by +-20 %): the same ops
run over the relations' edge lists joined, and in a profiled step weighting the
``[E, heads, channels]`` messages cost ~52 ns per edge on 240,000 joined edges against ~29 ns
on each relation's 60,000 (``bench/results/cpu/hetero_grouping_cpu_profile.txt``), which
looks like cache size.

**Compact rows** (:data:`COMPACT_ROWS`, on by default for CUDA inputs since session 23). The
products above cover every node of a type for every relation it sends, but a sampled node takes
part in few of them: in MLPerf's batch 35 % of the paper ``(node, relation)`` pairs and 52 % of
the author ones carry an edge (``bench/results/h100/rgat_compact_rows/README.md``), and the
products were ~80 % of the trimmed step's kernel time (6.1 of 7.7 ms, ``trimmed_profile.txt``
there). So each node type runs one :func:`gnnx.ops.grouped_project` over only the pairs its edges
use: a group per relation it sends (projection and source score) and a score-only group per
relation it receives (destination score), so one read of ``x`` still serves both. The row lists
come from :func:`gnnx.ops.row_groups` (``G + 5`` Triton launches on CUDA) and the table's gradient
zeroes only its rows in use. Measured on the H200 in one process (``bench/rgat.py --second-pass``,
``bench/results/h200/session23/``): the trimmed step **8.1 ms against 10.5** with the whole-type
products (7.71 against 9.65 ms of kernels; PyG compiled 29.0, PyG eager 54.8), the untrimmed step
19.4 against 19.6. History: on the H100 in session 18 it took 15.0 ms against 10.8 (the grouped
products slower than cuBLAS over all rows, and ~20 launches per ``row_groups``); the ``grad W``
launch shape (session 19), the Triton ``row_groups`` and ``add_rows_in_use`` (sessions 20-21) and
a write-analysis fault fixed in session 22 closed the gap. Not re-measured on an H100 since.
Session 24: the op's backward skips the rows without gradient (as :func:`gnnx.ops.project`
does), the untrimmed step 19.7 -> 18.3 ms (``bench/results/h200/session24/``); session 25 kept
the skip in ``grad x`` only, checked per chunk as it is read, since the checks cost the trimmed
step 8.1 -> 8.8 ms (``bench/results/h200/session25/``).
"""
from __future__ import annotations

from typing import Dict, List, Optional, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor

from gnnx import ops
from gnnx.nn.conv.gat import GATConv
from gnnx.nn.message_passing import check_adjacency
from gnnx.ops import dispatch
from gnnx.ops.grouped_projection import add_rows_in_use
from gnnx.ops.scatter import HALF_DTYPES, index_add_fp32

EdgeType = Tuple[str, str, str]
ENABLED: Optional[bool] = None  # None: grouped for CUDA inputs only (module docstring)
SHARED_DST_SCORES = True  # destination scores in the source table's product (bench/rgat.py's switch)
# Project only the (node, relation) pairs the edges use (gnnx.ops.grouped_project): None = for
# CUDA inputs (since session 23; H200, trimmed step: 8.1 against 10.5 ms,
# bench/results/h200/session23/); True / False force it. Not by default on the CPU, where the
# grouped layer runs only when forced and the row lists' op (gnnx::row_groups) would keep a
# CPU package from holding ATen ops only.
COMPACT_ROWS: Optional[bool] = None


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


def _fold_dst(conv_of: Dict[EdgeType, GATConv], relations: List[EdgeType], heads: int) -> Tensor:
    """``[R_d * heads, in]``: the destination-score rows of ``relations`` (into one type)."""
    return _fold(torch.stack([conv_of[e].lin_dst.weight for e in relations]), [conv_of[e].att_dst for e in relations],
                 heads)


def _switch_for(switch: Optional[bool], x_dict: Dict[str, Tensor]) -> bool:
    """A module switch (:data:`ENABLED`, :data:`COMPACT_ROWS`): ``None`` = on for CUDA inputs."""
    if switch is not None:
        return switch
    return any(isinstance(x, Tensor) and x.is_cuda for x in x_dict.values())


def grouped_gat(convs: Dict[EdgeType, torch.nn.Module], aggr: Optional[str], x_dict: Dict[str, Tensor],
                edge_index_dict: Dict[EdgeType, Tensor]) -> Optional[Dict[str, Tensor]]:
    """The outputs per destination type, or ``None`` where the grouping does not apply."""
    if aggr not in ("sum", "add") or not _switch_for(ENABLED, x_dict):
        return None
    relations = [(edge_type, conv) for edge_type, conv in convs.items() if edge_type in edge_index_dict]
    if not relations:
        return None
    first = relations[0][1]
    if not isinstance(first, GATConv) or not all(_groupable(conv, first) for _, conv in relations):
        return None
    for edge_type, conv in relations:
        if edge_type[0] not in x_dict or edge_type[2] not in x_dict or not isinstance(edge_index_dict[edge_type], Tensor):
            return None
        for node_type, lin in ((edge_type[0], conv.lin_src), (edge_type[2], conv.lin_dst)):
            if x_dict[node_type].dim() != 2 or x_dict[node_type].size(1) != lin.weight.size(1):
                raise ValueError(f"HeteroConv: the layer for {edge_type} takes {lin.weight.size(1)} features per "
                                 f"{node_type!r} node, got x_dict[{node_type!r}] of shape "
                                 f"{list(x_dict[node_type].shape)}")
    heads, channels = first.heads, first.out_channels
    width = heads * channels
    conv_of = dict(relations)

    by_source: Dict[str, List[EdgeType]] = {}
    by_destination: Dict[str, List[EdgeType]] = {}
    for edge_type, _ in relations:
        by_source.setdefault(edge_type[0], []).append(edge_type)
        by_destination.setdefault(edge_type[2], []).append(edge_type)
    # One segment space for the layer: destination types one after another, and per
    # destination type its (destination, relation) softmax groups.
    dst_offset: Dict[str, Union[int, torch.SymInt]] = {}
    group_offset: Dict[str, Union[int, torch.SymInt]] = {}
    num_dst = num_groups = 0
    for node_type, group in by_destination.items():
        dst_offset[node_type], group_offset[node_type] = num_dst, num_groups
        num_dst = num_dst + x_dict[node_type].size(0)
        num_groups = num_groups + x_dict[node_type].size(0) * len(group)

    if _switch_for(COMPACT_ROWS, x_dict):
        features, scores_src, scores_dst, destinations, softmax_groups = _compact_tables(
            by_source, by_destination, conv_of, x_dict, edge_index_dict, dst_offset, group_offset, heads, width)
    else:
        features, scores_src, scores_dst, destinations, softmax_groups = _node_tables(
            by_source, by_destination, conv_of, x_dict, edge_index_dict, dst_offset, group_offset, heads, width)
    result = relation_attention(features.view(-1, heads, channels), scores_src, scores_dst, destinations, num_dst,
                                softmax_groups, num_groups, first.negative_slope)
    result = result.view(-1, width)
    out: Dict[str, Tensor] = {}
    for node_type, group in by_destination.items():
        part = result.narrow(0, dst_offset[node_type], x_dict[node_type].size(0))
        biases = [conv_of[e].bias for e in group if conv_of[e].bias is not None]
        out[node_type] = part + torch.stack(biases).sum(0) if biases else part
    return out


def _node_tables(by_source, by_destination, conv_of, x_dict, edge_index_dict, dst_offset, group_offset, heads: int,
                 width: int):
    """Per edge (in ``by_source`` order): ``(projected source [E, width], source score,
    destination score [E, heads], destination, softmax group)``, from one product per node
    type over all its rows and relations (:data:`COMPACT_ROWS` off)."""
    def dst_folded(node_type: str) -> Tensor:
        return _fold_dst(conv_of, by_destination[node_type], heads)

    # One GEMM per source type. Its output, viewed as rows of ``slot`` columns, is the source
    # table: row ``n * R + k`` holds relation k's projection of node n and its score, so one
    # gather per source type fetches both for all its relations' edges, and the backward
    # scatters into the GEMM's gradient layout (no per-relation slices to copy or join). Where
    # the type also receives relations (no more than it sends), slot k also holds the
    # destination score of the k-th relation into it: one read of ``x`` serves both.
    features, scores_src, destinations, softmax_groups = [], [], [], []
    scores_dst: Dict[str, Tensor] = {}  # per destination type: row i * R_d + slot
    for node_type, group in by_source.items():
        weights = torch.stack([conv_of[e].lin_src.weight for e in group])  # [R, width, in]
        parts = [weights, _fold(weights, [conv_of[e].att_src for e in group], heads).view(len(group), heads, -1)]
        incoming = len(by_destination.get(node_type, ()))
        if SHARED_DST_SCORES and 0 < incoming <= len(group):
            folded = dst_folded(node_type).view(incoming, heads, -1)
            parts.append(F.pad(folded, (0, 0, 0, 0, 0, len(group) - incoming)))  # zero rows for the spare slots
        else:
            incoming = 0
        stacked = torch.cat(parts, dim=1).flatten(0, 1)  # per relation: width rows, heads rows (, heads rows)
        slot = stacked.size(0) // len(group)
        table = ops.project(x_dict[node_type], stacked)  # [N, R * slot]
        rows = []
        for k, edge_type in enumerate(group):
            edge_index = dispatch.as_int64(edge_index_dict[edge_type])
            target = edge_type[2]
            check_adjacency(edge_index, x_dict[node_type].size(0), x_dict[target].size(0))
            slot_in_target, count = by_destination[target].index(edge_type), len(by_destination[target])
            rows.append(edge_index[0] * len(group) + k)
            destinations.append(edge_index[1] + dst_offset[target])
            softmax_groups.append(edge_index[1] * count + (group_offset[target] + slot_in_target))
        feature, score, score_dst = SourceTable.apply(table, _join(rows), width, heads, slot, incoming)
        features.append(feature)
        scores_src.append(score)
        if incoming:
            scores_dst[node_type] = score_dst
    for node_type in by_destination:
        if node_type not in scores_dst:  # no table to share: a product of its own
            scores_dst[node_type] = (x_dict[node_type] @ dst_folded(node_type).t()).view(-1, heads)
    groups = _join(softmax_groups)
    score_groups = _join([scores_dst[node_type] for node_type in by_destination])
    return _join(features), _join(scores_src), score_groups.index_select(0, groups), _join(destinations), groups


def _compact_tables(by_source, by_destination, conv_of, x_dict, edge_index_dict, dst_offset, group_offset,
                    heads: int, width: int):
    """Per edge (in ``by_source`` order): ``(projected source [E, width], source score,
    destination score [E, heads], destination, softmax group)``, from one
    :func:`gnnx.ops.grouped_project` per node type over the ``(node, relation)`` pairs the
    edges use: a group per relation the type sends (projection and source score) and a
    score-only group per relation it receives (destination score)."""
    edge_index = {e: dispatch.as_int64(edge_index_dict[e]) for group in by_source.values() for e in group}
    features, scores_src, destinations, softmax_groups = [], [], [], []
    score_dst: Dict[EdgeType, Tensor] = {}
    for edge_type, index in edge_index.items():
        source, _, target = edge_type
        check_adjacency(index, x_dict[source].size(0), x_dict[target].size(0))
        destinations.append(index[1] + dst_offset[target])
        slot, count = by_destination[target].index(edge_type), len(by_destination[target])
        softmax_groups.append(index[1] * count + (group_offset[target] + slot))
    for node_type in dict.fromkeys([*by_source, *by_destination]):  # senders first, in by_source order
        sends, receives = by_source.get(node_type, []), by_destination.get(node_type, [])
        x = x_dict[node_type]
        groups = ops.row_groups([edge_index[e][0] for e in sends] + [edge_index[e][1] for e in receives], x.size(0))
        weights = []
        if sends:
            projection = torch.stack([conv_of[e].lin_src.weight for e in sends])  # [R_s, width, in]
            score = _fold(projection, [conv_of[e].att_src for e in sends], heads).view(len(sends), heads, -1)
            weights.append(torch.cat([projection, score], dim=1))
        if receives:
            folded = _fold_dst(conv_of, receives, heads)
            weights.append(F.pad(folded.view(len(receives), heads, -1), (0, 0, width, 0)))  # score columns only
        table, tail = ops.grouped_project(x, _join(weights), groups, len(sends), width)
        src_rows = [groups.slot_of[k].index_select(0, edge_index[e][0]) for k, e in enumerate(sends)]
        dst_rows = [groups.slot_of[len(sends) + k].index_select(0, edge_index[e][1]) - len(sends) * groups.stride
                    for k, e in enumerate(receives)]
        empty = x.new_empty(0, dtype=torch.long)
        feature, score_src, score_in = TableGather.apply(table, tail, _join(src_rows) if sends else empty,
                                                          _join(dst_rows) if receives else empty, width,
                                                          groups.counts, groups.stride, len(sends))
        if sends:
            features.append(feature)
            scores_src.append(score_src)
        if receives:
            sizes = [edge_index[e].size(1) for e in receives]
            score_dst.update(zip(receives, torch.split(score_in, sizes)))
    order = [e for group in by_source.values() for e in group]
    return (_join(features), _join(scores_src), _join([score_dst[e] for e in order]), _join(destinations),
            _join(softmax_groups))


class TableGather(torch.autograd.Function):
    """``(projections [E_s, width], source scores [E_s, heads], destination scores [E_d,
    heads])``: rows ``src_rows`` of a :func:`gnnx.ops.grouped_project` table (the first
    ``full`` of the groups with ``counts`` rows in use, ``stride`` rows apart) and ``dst_rows``
    of its score-only tail. The backward scatters the first two into one table-shaped buffer
    (two gathers of the table, autograd's way, would each fill one and then add them: the step
    25.9 -> 29.8 ms, ``bench/results/h100/rgat_one_segment_space.md``), zeroing on CUDA only the
    rows in use (:func:`gnnx.ops.grouped_projection.add_rows_in_use`: the table is a node table
    per group tall, and a sampled batch uses a third to a half of it)."""

    @staticmethod
    def forward(ctx, table: Tensor, tail: Tensor, src_rows: Tensor, dst_rows: Tensor, width: int, counts: Tensor,
                stride: Union[int, torch.SymInt], full: int) -> Tuple[Tensor, Tensor, Tensor]:
        ctx.save_for_backward(src_rows, dst_rows, counts)
        ctx.layout = (stride, full)
        return (table[:, :width].index_select(0, src_rows), table[:, width:].index_select(0, src_rows),
                tail.index_select(0, dst_rows))

    @staticmethod
    def backward(ctx, grad_feature: Tensor, grad_score: Tensor, grad_dst: Tensor):
        src_rows, dst_rows, counts = ctx.saved_tensors
        stride, full = ctx.layout
        grad_table = add_rows_in_use(src_rows, [grad_feature, grad_score], counts[:full], stride)
        grad_tail = add_rows_in_use(dst_rows, [grad_dst], counts[full:], stride)
        return grad_table, grad_tail, None, None, None, None, None, None


class SourceTable(torch.autograd.Function):
    """From a source type's table ``[N, R * slot]`` (slot k of node n: relation k's
    ``width`` projection columns and ``heads`` source-score columns, then, in the first
    ``dst_slots`` slots, ``heads`` destination-score columns) and ``rows`` (``n * R + k`` per
    edge): ``(projections [E, width], source scores [E, heads], destination scores
    [N * dst_slots, heads])``. The two gathers stay apart so each fuses into its consumer when
    compiled (one gather of both would be written out, since the softmax and the weighted sum
    both read it). The backward writes all gradients into one table-shaped buffer, which starts
    as the destination scores' gradient and takes the edges' rows by one scatter: separate
    backwards would each fill a table-sized buffer and then add them, and setting the
    destination columns after the scatter made a compiled backward copy the table."""

    @staticmethod
    def forward(ctx, table: Tensor, rows: Tensor, width: int, heads: int, slot: int,
                dst_slots: int) -> Tuple[Tensor, Tensor, Tensor]:
        ctx.save_for_backward(rows)
        ctx.layout = (table.size(0), table.size(1) // slot, width, heads, slot, dst_slots)
        by_slot = table.view(-1, slot)
        feature = by_slot[:, :width].index_select(0, rows)
        score = by_slot[:, width:width + heads].index_select(0, rows)
        if not dst_slots:
            return feature, score, table.new_empty((0, heads))
        # the slot count spelled out: with -1 a type trimmed to no nodes makes the view ambiguous
        score_dst = table.view(table.size(0), table.size(1) // slot, slot)[:, :dst_slots, width + heads:]
        score_dst = score_dst.reshape(-1, heads)
        return feature, score, score_dst

    @staticmethod
    def backward(ctx, grad_feature: Tensor, grad_score: Tensor, grad_dst: Optional[Tensor]):
        (rows,) = ctx.saved_tensors
        nodes, slots, width, heads, slot, dst_slots = ctx.layout
        values = torch.cat([grad_feature, grad_score], dim=1)
        if not dst_slots:
            grad = index_add_fp32((nodes * slots, slot), rows, values).view(nodes, slots * slot)
            return grad, None, None, None, None, None
        accumulate = torch.float32 if values.dtype in HALF_DTYPES else values.dtype  # as index_add_fp32
        if grad_dst is None:
            grad_dst = values.new_zeros((nodes * dst_slots, heads))
        start = F.pad(grad_dst.to(accumulate).view(nodes, dst_slots, heads), (width + heads, 0, 0, slots - dst_slots))
        values = F.pad(values.to(accumulate), (0, heads))  # zero in the destination-score columns
        grad = start.index_put((rows // slots, rows % slots), values, accumulate=True)
        return grad.view(nodes, slots * slot).to(grad_feature.dtype), None, None, None, None, None


def _join(tensors: List[Tensor]) -> Tensor:
    return tensors[0] if len(tensors) == 1 else torch.cat(tensors)


def relation_attention(x: Tensor, score_src: Tensor, score_dst: Tensor, dst: Tensor, num_dst, group: Tensor,
                       num_groups, negative_slope: float) -> Tensor:
    r"""GAT attention over edges whose features and scores are already gathered, the softmax
    taken per ``group`` (a (relation, destination) slot) and the sum per destination, so
    relations into a node type share one output without a per-relation buffer:

    .. math::
        \mathbf{out}_i = \sum_{e:\,\mathrm{dst}_e = i} \alpha_e \mathbf{x}_e, \qquad
        \alpha_e = \operatorname{softmax}_{e':\,g_{e'} = g_e} \mathrm{LeakyReLU}(s_e + t_e).

    ``x [E, H, C]``, ``score_src`` :math:`s` and ``score_dst`` :math:`t` ``[E, H]``; returns
    ``[num_dst, H, C]``."""
    score = F.leaky_relu(score_src + score_dst, negative_slope)
    alpha = ops.segment_softmax(score, group, num_groups)
    return ops.scatter(x * alpha.unsqueeze(-1), dst, num_dst, "sum")
