"""GATConv and GATv2Conv: graph attention (Velickovic et al., 2018; Brody et al., 2022).

Both score each edge, normalise the scores over a node's incoming edges and aggregate
``alpha * x_j`` in one op, :func:`gnnx.ops.attention` (a fused kernel on CUDA). With
attention dropout in training, ``return_attention_weights`` or scores of another form
(GATv2 with edge features, SuperGAT) the steps run separately:
:func:`gnnx.ops.segment_softmax` and a per-head weighted :func:`gnnx.ops.spmm`.

Self loops are handled without data-dependent shapes: existing loops stay in the edge
list with their score set to ``-inf`` (weight 0) and one fresh loop per node is appended,
which equals PyG's remove-then-add. A :class:`~gnnx.Graph`'s CSR grows by those loops
without a sort (:func:`gnnx.graph.csr_with_self_loops`).
"""
from __future__ import annotations

import math
from typing import Optional, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor

from gnnx import ops
from gnnx.graph import Graph, csr_with_self_loops
from gnnx.nn.inits import glorot, linear, zeros
from gnnx.nn.message_passing import Adj, MessagePassing, check_adjacency, edge_tensor
from gnnx.ops import dispatch
from gnnx.structure import memoised_fresh_self_loops, with_fresh_self_loops, without_stale_loops

PairTensor = Tuple[Tensor, Optional[Tensor]]


def _per_head_dot(h: Tensor, att: Tensor) -> Tensor:
    """``(h * att).sum(-1)`` per head, ``h [N, H, C]``, ``att [H, C]``: one contraction in
    eager mode (no ``[N, H, C]`` product); compiled, Inductor fuses the product and the sum
    into one reduction, where a contraction would become a batched GEMM call."""
    if torch.compiler.is_compiling():
        return (h * att).sum(-1)
    return torch.einsum("nhc,hc->nh", h, att)


def _rows(edge_attr: Tensor) -> Tensor:
    """``edge_attr`` as one row per edge (a view, also for 0 edges, where ``view(0, -1)`` fails)."""
    return edge_attr.unsqueeze(-1) if edge_attr.dim() == 1 else edge_attr.flatten(1)


class _GraphAttention(MessagePassing):
    """Shared forward of GAT and GATv2: loops, scores, softmax, weighted aggregation."""

    def __init__(self, in_channels, out_channels: int, heads: int, concat: bool, negative_slope: float,
                 dropout: float, add_self_loops: bool, edge_dim: Optional[int], fill_value, flow: str) -> None:
        super().__init__(aggr="sum", flow=flow, node_dim=0)
        self.in_channels, self.out_channels, self.heads, self.concat = in_channels, out_channels, heads, concat
        self.negative_slope, self.dropout = negative_slope, dropout
        self.add_self_loops, self.edge_dim, self.fill_value = add_self_loops, edge_dim, fill_value

    def _output_parameters(self, in_dst: int, bias: bool, residual: bool) -> None:
        """The optional residual projection and bias, sized for concatenated or averaged heads."""
        total = self.out_channels * (self.heads if self.concat else 1)
        self.res = linear(in_dst, total, bias=False, weight_initializer="glorot") if residual else None
        self.bias = torch.nn.Parameter(torch.empty(total)) if bias else None

    def _attend(self, x_src: Tensor, x_dst: Optional[Tensor], edge_index: Adj, edge_attr: Optional[Tensor],
                res: Optional[Tensor], return_attention_weights: Optional[bool],
                node_scores: Optional[Tuple[Tensor, Tensor]] = None):
        """``node_scores``: GAT's per-node score halves ``([N_src, H], [N_dst, H])`` when the
        layer computed them itself (then ``x_dst`` may be ``None``)."""
        tensor = edge_tensor(edge_index)
        num_src = x_src.size(0)
        num_dst = x_dst.size(0) if x_dst is not None else node_scores[1].size(0)
        scored = {} if node_scores is None else {"node_scores": node_scores}
        check_adjacency(edge_index, num_src, num_dst, edge_attr=edge_attr)
        # A prepared CSR (a Graph's, or the structure cache's) serves the default flow.
        graph = dispatch.as_graph(edge_index, num_dst, num_src) if self.flow == "source_to_target" else None
        csr = graph.csr if graph is not None else None
        stale = loops_of = None
        if self.add_self_loops:
            same = graph is not None and num_src == num_dst
            if same and edge_attr is None:
                looped, stale, csr = self._looped_structure(graph, x_src)
                loops_of = graph  # the loops are the graph's, once per graph
            else:
                looped, edge_attr, stale = with_fresh_self_loops(tensor, edge_attr, min(num_src, num_dst),
                                                                 self.fill_value)
                csr = None
            tensor = looped
        pairs = tensor if self.flow == "source_to_target" else tensor.flip(0)
        src, dst = pairs[0], pairs[1]
        fused = not return_attention_weights and not (self.training and self.dropout > 0) and not self._observed()
        terms = self.attention_terms(x_src, x_dst, edge_attr, **scored) if fused else None
        if terms is not None:
            # One op: scores, softmax and aggregation (a fused kernel on CUDA).
            bias = terms.pop("edge_bias", None)
            if stale is not None and bias is None and loops_of is not None:
                bias = loops_of.memo(("stale_loop_bias", self.heads, x_src.dtype),
                                     lambda: self._stale_loop_bias(x_src.new_zeros(src.size(0), self.heads), stale))
            elif stale is not None:
                bias = self._stale_loop_bias(x_src.new_zeros(src.size(0), self.heads) if bias is None else bias, stale)
            out = ops.attention(x_src, pairs, num_dst, edge_bias=bias, negative_slope=self.negative_slope, csr=csr,
                                **terms)
        else:
            score = self.edge_score(x_src, x_dst, src, dst, edge_attr, **scored)  # [E, H]
            if stale is not None:
                score = score.masked_fill(stale.view(-1, 1), float("-inf"))
            if self._observed():  # hooks or explain mode: PyG's edge_updater + propagate, messages visible
                size = (num_src, num_dst)
                alpha = self.edge_updater(tensor, score=score, size=size)
                out = self.propagate(tensor, x=(x_src, None), alpha=alpha, size=size)
            else:
                alpha = self.edge_update(score, dst, num_dst)
                out = ops.spmm(x_src, pairs, num_dst, alpha, "sum", csr=csr)
        out = out.reshape(-1, self.heads * self.out_channels) if self.concat else out.mean(dim=1)
        if res is not None:
            out = out + res
        if self.bias is not None:
            out = out + self.bias
        if return_attention_weights:
            looped, alpha = without_stale_loops(tensor, alpha, stale)
            return out, self._attention_weights(looped, alpha, num_dst, num_src)
        return out

    @staticmethod
    def _stale_loop_bias(bias: Tensor, stale: Tensor) -> Tensor:
        """``bias [E, H]`` with ``-inf`` on the edges of ``stale`` (a graph's own self loops,
        replaced by the fresh ones)."""
        return bias.masked_fill(stale.view(-1, 1), float("-inf"))

    def _observed(self) -> bool:
        """Whether someone reads the messages (explain mode, message/aggregate/edge hooks)."""
        return self._messages_observed() or bool(self._edge_update_forward_pre_hooks or self._edge_update_forward_hooks)

    def edge_update(self, score: Tensor, index: Tensor, dim_size) -> Tensor:
        """Attention coefficients from raw scores ``[E, H]``: softmax over each node's
        incoming edges, then attention dropout in training."""
        alpha = ops.segment_softmax(score, index, dim_size)
        return F.dropout(alpha, p=self.dropout, training=self.training)

    def message(self, x_j: Tensor, alpha: Tensor) -> Tensor:
        return alpha.unsqueeze(-1) * x_j

    def _looped_structure(self, graph: Graph, x: Tensor):
        """Edges with fresh self loops, the mask of the old loops, and (where a kernel reads
        it: the fused CUDA attention, MKL's weighted sum on the CPU) the CSR grown by the loops
        without a sort: once per graph."""
        num_nodes = x.size(0)
        looped, stale = memoised_fresh_self_loops(graph, num_nodes)
        csr = None
        if dispatch.uses_csr(x.device):
            csr = graph.memo("csr_with_self_loops", lambda: csr_with_self_loops(graph.csr, graph.edge_index,
                                                                                   num_nodes))
        return looped, stale, csr

    def prepare_structure(self, graph: Graph, x: Tensor) -> None:
        """Add self loops to ``graph`` once, stored with it (:func:`gnnx.compile`)."""
        if self.add_self_loops and self.flow == "source_to_target":
            self._looped_structure(graph, x)

    def attention_terms(self, h_src: Tensor, h_dst: Tensor, edge_attr: Optional[Tensor]) -> Optional[dict]:
        """The score's inputs for :func:`gnnx.ops.attention`, or ``None`` when the score has
        another form (then :meth:`edge_score` gives ``[E, H]`` scores)."""
        return None


class GATConv(_GraphAttention):
    r"""The graph attention operator from `"Graph Attention Networks"
    <https://arxiv.org/abs/1710.10903>`_.

    .. math::
        \mathbf{x}'_i = \Big\Vert_{h=1}^{H} \sum_{j \in \mathcal{N}(i) \cup \{i\}}
        \alpha^h_{i,j} \mathbf{\Theta}^h_s \mathbf{x}_j, \qquad
        \alpha^h_{i,j} = \operatorname{softmax}_j\Big(\mathrm{LeakyReLU}\big(
        \mathbf{a}^{h\top}_s \mathbf{\Theta}^h_s \mathbf{x}_j + \mathbf{a}^{h\top}_t \mathbf{\Theta}^h_t \mathbf{x}_i
        + \mathbf{a}^{h\top}_e \mathbf{\Theta}^h_e \mathbf{e}_{j,i}\big)\Big)

    Args:
        in_channels: feature size, or ``(source, destination)`` sizes.
        out_channels: size per head.
        heads: number of attention heads :math:`H`.
        concat: concatenate heads (else average them).
        negative_slope: LeakyReLU slope.
        dropout: dropout on the attention coefficients during training.
        add_self_loops: attend to the node itself.
        edge_dim: edge feature size, if edge features enter the score.
        fill_value: edge features of the added loops: a number or ``"mean"``/``"add"``/``"max"``/``"min"``.
        bias: learn an additive bias.
        residual: add a linear projection of the input.

    Shapes:
        input ``x [N, F_in]`` or a pair, ``edge_index [2, E]`` or :class:`~gnnx.Graph`,
        ``edge_attr [E, edge_dim]`` (optional); output ``[N_dst, H * out_channels]``
        (``[N_dst, out_channels]`` when ``concat=False``).
    """

    def __init__(
        self,
        in_channels: Union[int, Tuple[int, int]],
        out_channels: int,
        heads: int = 1,
        concat: bool = True,
        negative_slope: float = 0.2,
        dropout: float = 0.0,
        add_self_loops: bool = True,
        edge_dim: Optional[int] = None,
        fill_value: Union[float, str] = "mean",
        bias: bool = True,
        residual: bool = False,
        flow: str = "source_to_target",
    ) -> None:
        super().__init__(in_channels, out_channels, heads, concat, negative_slope, dropout, add_self_loops,
                         edge_dim, fill_value, flow)
        self.lin = self.lin_src = self.lin_dst = None
        if isinstance(in_channels, int):
            self.lin = linear(in_channels, heads * out_channels, bias=False, weight_initializer="glorot")
        else:
            self.lin_src = linear(in_channels[0], heads * out_channels, bias=False, weight_initializer="glorot")
            self.lin_dst = linear(in_channels[1], heads * out_channels, bias=False, weight_initializer="glorot")
        self.att_src = torch.nn.Parameter(torch.empty(1, heads, out_channels))
        self.att_dst = torch.nn.Parameter(torch.empty(1, heads, out_channels))
        if edge_dim is not None:
            self.lin_edge = linear(edge_dim, heads * out_channels, bias=False)
            self.att_edge = torch.nn.Parameter(torch.empty(1, heads, out_channels))
        else:
            self.lin_edge = None
            self.register_parameter("att_edge", None)
        self._output_parameters(in_channels if isinstance(in_channels, int) else in_channels[1], bias, residual)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for lin in (self.lin, self.lin_src, self.lin_dst, self.lin_edge, self.res):
            if lin is not None:
                glorot(lin.weight)
        glorot(self.att_src)
        glorot(self.att_dst)
        glorot(self.att_edge)
        zeros(self.bias)

    def forward(self, x: Union[Tensor, PairTensor], edge_index: Adj, edge_attr: Optional[Tensor] = None,
                size: Optional[Tuple[int, int]] = None, return_attention_weights: Optional[bool] = None):
        H, C = self.heads, self.out_channels
        x_src, x_dst = (x, x) if isinstance(x, Tensor) else x
        res = self.res(x_dst) if self.res is not None and x_dst is not None else None
        lin_src = self.lin if self.lin is not None else self.lin_src
        lin_dst = self.lin if self.lin is not None else self.lin_dst
        h_src = lin_src(x_src).view(-1, H, C)
        # The score is linear in the features, so each node's half is computed per node:
        # a_s . h_j as one contraction (no [N, H, C] product), and for a bipartite layer
        # a_d . (W_d x_i) = (W_d^T a_d) . x_i, which never projects the destinations.
        score_src = _per_head_dot(h_src, self.att_src[0])
        if x_dst is None:  # (x_src, None): destinations contribute no score term, as in PyG
            size = size if size is not None else self._adjacency_size  # (a sparse adjacency's sizes)
            num_dst = size[1] if size is not None and size[1] is not None else x_src.size(0)
            score_dst = h_src.new_zeros(num_dst, H)
        elif lin_dst is lin_src and x_dst is x_src:
            score_dst = _per_head_dot(h_src, self.att_dst[0])
        elif isinstance(lin_dst.weight, torch.nn.parameter.UninitializedParameter):
            score_dst = _per_head_dot(lin_dst(x_dst).view(-1, H, C), self.att_dst[0])  # first call
        else:
            folded = torch.einsum("hci,hc->hi", lin_dst.weight.view(H, C, -1), self.att_dst[0])
            score_dst = _per_head_dot(x_dst.unsqueeze(1), folded) if torch.compiler.is_compiling() \
                else x_dst @ folded.t()
        return self._attend(h_src, None, edge_index, edge_attr, res, return_attention_weights,
                            node_scores=(score_src, score_dst))

    def _edge_term(self, edge_attr: Optional[Tensor]) -> Optional[Tensor]:
        if edge_attr is None or self.lin_edge is None:
            return None
        e = self.lin_edge(_rows(edge_attr)).view(-1, self.heads, self.out_channels)
        return _per_head_dot(e, self.att_edge[0])

    def attention_terms(self, h_src: Tensor, h_dst: Optional[Tensor], edge_attr: Optional[Tensor],
                        node_scores: Optional[Tuple[Tensor, Tensor]] = None) -> Optional[dict]:
        terms = {"score_src": node_scores[0], "score_dst": node_scores[1]}
        edge_term = self._edge_term(edge_attr)
        if edge_term is not None:
            terms["edge_bias"] = edge_term
        return terms

    def edge_score(self, h_src: Tensor, h_dst: Optional[Tensor], src: Tensor, dst: Tensor,
                   edge_attr: Optional[Tensor], node_scores: Optional[Tuple[Tensor, Tensor]] = None) -> Tensor:
        score = node_scores[0].index_select(0, src) + node_scores[1].index_select(0, dst)
        edge_term = self._edge_term(edge_attr)
        if edge_term is not None:
            score = score + edge_term
        return F.leaky_relu(score, self.negative_slope)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.in_channels}, {self.out_channels}, heads={self.heads})"


class GATv2Conv(_GraphAttention):
    r"""The GATv2 operator from `"How Attentive are Graph Attention Networks?"
    <https://arxiv.org/abs/2105.14491>`_, whose scores depend on both ends jointly.

    .. math::
        \mathbf{x}'_i = \Big\Vert_{h=1}^{H} \sum_{j \in \mathcal{N}(i) \cup \{i\}} \alpha^h_{i,j}
        \mathbf{\Theta}^h_s \mathbf{x}_j, \qquad
        \alpha^h_{i,j} = \operatorname{softmax}_j\Big(\mathbf{a}^{h\top} \mathrm{LeakyReLU}\big(
        \mathbf{\Theta}^h_s \mathbf{x}_j + \mathbf{\Theta}^h_t \mathbf{x}_i + \mathbf{\Theta}^h_e \mathbf{e}_{j,i}\big)\Big)

    Args are those of :class:`GATConv`, plus ``share_weights`` (one matrix for
    :math:`\mathbf{\Theta}_s` and :math:`\mathbf{\Theta}_t`); ``bias`` also adds biases
    to both projections, as in PyG.

    Shapes:
        as :class:`GATConv`.
    """

    def __init__(
        self,
        in_channels: Union[int, Tuple[int, int]],
        out_channels: int,
        heads: int = 1,
        concat: bool = True,
        negative_slope: float = 0.2,
        dropout: float = 0.0,
        add_self_loops: bool = True,
        edge_dim: Optional[int] = None,
        fill_value: Union[float, str] = "mean",
        bias: bool = True,
        share_weights: bool = False,
        residual: bool = False,
        flow: str = "source_to_target",
    ) -> None:
        super().__init__(in_channels, out_channels, heads, concat, negative_slope, dropout, add_self_loops,
                         edge_dim, fill_value, flow)
        self.share_weights = share_weights
        in_src, in_dst = (in_channels, in_channels) if isinstance(in_channels, int) else in_channels
        self.lin_l = linear(in_src, heads * out_channels, bias=bias, weight_initializer="glorot")
        self.lin_r = self.lin_l if share_weights else linear(in_dst, heads * out_channels, bias=bias, weight_initializer="glorot")
        self.att = torch.nn.Parameter(torch.empty(1, heads, out_channels))
        self.lin_edge = linear(edge_dim, heads * out_channels, bias=False) if edge_dim is not None else None
        self._output_parameters(in_dst, bias, residual)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for lin in (self.lin_l, self.lin_r, self.lin_edge, self.res):
            if lin is not None:
                glorot(lin.weight)
                zeros(lin.bias)
        glorot(self.att)
        zeros(self.bias)

    def forward(self, x: Union[Tensor, PairTensor], edge_index: Adj, edge_attr: Optional[Tensor] = None,
                size: Optional[Tuple[int, int]] = None, return_attention_weights: Optional[bool] = None):
        H, C = self.heads, self.out_channels
        x_src, x_dst = (x, x) if isinstance(x, Tensor) else x
        res = self.res(x_dst) if self.res is not None else None
        h_src = self.lin_l(x_src).view(-1, H, C)
        h_dst = self.lin_r(x_dst).view(-1, H, C)
        return self._attend(h_src, h_dst, edge_index, edge_attr, res, return_attention_weights)

    def attention_terms(self, h_src: Tensor, h_dst: Tensor, edge_attr: Optional[Tensor]) -> Optional[dict]:
        if edge_attr is not None and self.lin_edge is not None:
            return None  # the edge term enters inside the LeakyReLU per channel: the unfused path
        return {"x_dst": h_dst, "att": self.att}

    def edge_score(self, h_src: Tensor, h_dst: Tensor, src: Tensor, dst: Tensor, edge_attr: Optional[Tensor]) -> Tensor:
        z = h_src.index_select(0, src) + h_dst.index_select(0, dst)
        if edge_attr is not None and self.lin_edge is not None:
            z = z + self.lin_edge(_rows(edge_attr)).view(-1, self.heads, self.out_channels)
        return (F.leaky_relu(z, self.negative_slope) * self.att).sum(-1)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.in_channels}, {self.out_channels}, heads={self.heads})"


class SuperGATConv(_GraphAttention):
    r"""The self-supervised graph attention operator from `"How to Find Your Friendly
    Neighborhood: Graph Attention Design with Self-Supervision"
    <https://openreview.net/forum?id=Wi5KUNlqWty>`_ (attention and aggregation).

    .. math::
        \mathbf{x}'_i = \Big\Vert_{h=1}^{H} \sum_{j \in \mathcal{N}(i) \cup \{i\}} \alpha^h_{i,j}
        \mathbf{\Theta}^h\mathbf{x}_j, \quad
        \alpha^h_{i,j} = \operatorname{softmax}_j\big(\mathrm{LeakyReLU}(e^h_{i,j})\big)

    with ``attention_type="MX"``: :math:`e_{i,j} = (\mathbf{a}_l^\top\mathbf{x}'_j + \mathbf{a}_r^\top\mathbf{x}'_i)
    \,\sigma(\mathbf{x}'^\top_i\mathbf{x}'_j)`, or ``"SD"``: :math:`e_{i,j} = \mathbf{x}'^\top_i\mathbf{x}'_j/\sqrt{C}`.

    The self-supervised loss (:meth:`get_attention_loss`) needs negative edges: PyG samples
    them inside the forward (a data-dependent shape); here the caller passes
    ``neg_edge_index`` (any fixed number of non-edges), and the positives are all edges.

    Shapes: ``x [N, in]``, ``edge_index`` -> ``[N, H * out]`` (``[N, out]`` when ``concat=False``).
    """

    def __init__(self, in_channels: int, out_channels: int, heads: int = 1, concat: bool = True,
                 negative_slope: float = 0.2, dropout: float = 0.0, add_self_loops: bool = True, bias: bool = True,
                 attention_type: str = "MX", neg_sample_ratio: float = 0.5, edge_sample_ratio: float = 1.0,
                 is_undirected: bool = False) -> None:
        super().__init__(in_channels, out_channels, heads, concat, negative_slope, dropout, add_self_loops,
                         None, "mean", "source_to_target")
        if attention_type not in ("MX", "SD"):
            raise ValueError(f"SuperGATConv: attention_type must be 'MX' or 'SD', got {attention_type!r}")
        self.attention_type = attention_type
        self.neg_sample_ratio, self.edge_sample_ratio, self.is_undirected = neg_sample_ratio, edge_sample_ratio, \
            is_undirected
        self.lin = linear(in_channels, heads * out_channels, bias=False, weight_initializer="glorot")
        if attention_type == "MX":
            self.att_l = torch.nn.Parameter(torch.empty(1, heads, out_channels))
            self.att_r = torch.nn.Parameter(torch.empty(1, heads, out_channels))
        else:
            self.att_l = self.att_r = None
        self._output_parameters(in_channels, bias, False)
        self.att_x: Optional[Tensor] = None
        self.att_y: Optional[Tensor] = None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        glorot(self.lin.weight)
        glorot(self.att_l)
        glorot(self.att_r)
        zeros(self.bias)

    def forward(self, x: Tensor, edge_index: Adj, neg_edge_index: Optional[Tensor] = None,
                batch: Optional[Tensor] = None) -> Tensor:
        h = self.lin(x).view(-1, self.heads, self.out_channels)
        if self.training and neg_edge_index is not None:
            pos = edge_index.edge_index if isinstance(edge_index, Graph) else edge_index
            pos_logits = self._logits(h, pos[0], pos[1])
            neg_logits = self._logits(h, neg_edge_index[0], neg_edge_index[1])
            self.att_x = torch.cat([pos_logits, neg_logits], dim=0)
            self.att_y = torch.cat([pos_logits.new_ones(pos_logits.size(0)), neg_logits.new_zeros(neg_logits.size(0))])
        return self._attend(h, h, edge_index, None, None, None)

    def _logits(self, h: Tensor, src: Tensor, dst: Tensor) -> Tensor:
        dot = (h.index_select(0, dst) * h.index_select(0, src)).sum(dim=-1)
        return dot if self.attention_type == "MX" else dot / math.sqrt(self.out_channels)

    def edge_score(self, h_src: Tensor, h_dst: Tensor, src: Tensor, dst: Tensor, edge_attr: Optional[Tensor]) -> Tensor:
        logits = self._logits(h_src, src, dst)
        if self.attention_type == "MX":
            score = (h_src * self.att_l).sum(-1).index_select(0, src) + (h_dst * self.att_r).sum(-1).index_select(0, dst)
            logits = score * logits.sigmoid()
        return F.leaky_relu(logits, self.negative_slope)

    def negative_sampling(self, edge_index: Tensor, num_nodes: int, batch: Optional[Tensor] = None) -> Tensor:
        """PyG's helper: ``neg_sample_ratio * edge_sample_ratio * E`` non-edges of the graph made
        undirected (unless ``is_undirected``), within each graph of ``batch``: the
        ``neg_edge_index`` to pass to :meth:`forward` (eager: the count of non-edges is data)."""
        from gnnx.utils import batched_negative_sampling, is_undirected, negative_sampling, to_undirected

        num_neg_samples = int(self.neg_sample_ratio * self.edge_sample_ratio * edge_index.size(1))
        if not self.is_undirected and not is_undirected(edge_index, num_nodes=num_nodes):
            edge_index = to_undirected(edge_index, num_nodes=num_nodes)
        if batch is None:
            return negative_sampling(edge_index, num_nodes, num_neg_samples=num_neg_samples)
        return batched_negative_sampling(edge_index, batch, num_neg_samples=num_neg_samples)

    def positive_sampling(self, edge_index: Tensor) -> Tensor:
        """PyG's helper: the edges kept by dropping ``1 - edge_sample_ratio`` of them in training."""
        from gnnx.utils import dropout_edge

        return dropout_edge(edge_index, p=1.0 - self.edge_sample_ratio, training=self.training)[0]

    def get_attention_loss(self) -> Tensor:
        """Binary cross-entropy of the attention logits of positive and negative edges
        (0 outside training or when no ``neg_edge_index`` was given)."""
        if not self.training or self.att_x is None:
            return torch.zeros(1, device=self.lin.weight.device)
        return F.binary_cross_entropy_with_logits(self.att_x.mean(dim=-1), self.att_y)

    def __repr__(self) -> str:
        return (f"SuperGATConv({self.in_channels}, {self.out_channels}, heads={self.heads}, "
                f"type={self.attention_type})")
