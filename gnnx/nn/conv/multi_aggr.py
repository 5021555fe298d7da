r"""Layers built on richer aggregation than one sum or mean: PNAConv, EGConv, GENConv, MFConv.

Their reductions come from :mod:`gnnx.nn.aggr` (degree scalers, softmax and power-mean
aggregation, variance and standard deviation) and :func:`gnnx.ops.scatter`; degree-
dependent choices (MFConv's per-degree weights) select among all candidates with a
gather instead of PyG's per-degree ``nonzero``.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor

from gnnx import ops
from gnnx.nn.aggr import DegreeScalerAggregation, reduce_statistic
from gnnx.nn.inits import activation, glorot_linear, linear, reset, reset_layer, zeros
from gnnx.nn.message_passing import Adj, MessagePassing, edge_tensor
from gnnx.nn.norm import MessageNorm
from gnnx.structure import add_remaining_self_loops, gcn_norm


def _pair(x):
    return (x, x) if isinstance(x, Tensor) else x


class PNAConv(MessagePassing):
    r"""Principal Neighbourhood Aggregation, `"Principal Neighbourhood Aggregation for Graph
    Nets" <https://arxiv.org/abs/2004.05718>`_:

    .. math::
        \mathbf{x}'_i = \gamma\Big(\mathbf{x}_i, \mathop{\Big\Vert}_{s \in S}\mathop{\Big\Vert}_{a \in A}
        s(d_i)\, a_{j \in \mathcal{N}(i)}\, h(\mathbf{x}_i, \mathbf{x}_j, \mathbf{e}_{j,i})\Big)

    per tower, with aggregators :math:`A` (``mean``, ``min``, ``max``, ``std``, ``var``,
    ``sum``) and degree scalers :math:`S` (see :class:`~gnnx.nn.aggr.DegreeScalerAggregation`).

    Args: ``in_channels``, ``out_channels``, ``aggregators``, ``scalers``, ``deg`` (in-degree
    histogram of the training graphs), ``edge_dim``, ``towers``, ``pre_layers``,
    ``post_layers``, ``divide_input``, ``act``, ``act_kwargs``, ``train_norm``.
    Shapes: ``x [N, in]``, ``edge_index``, ``edge_attr [E, edge_dim]`` -> ``[N, out]``.
    """

    def __init__(self, in_channels: int, out_channels: int, aggregators: List[str], scalers: List[str],
                 deg: Tensor, edge_dim: Optional[int] = None, towers: int = 1, pre_layers: int = 1,
                 post_layers: int = 1, divide_input: bool = False, act: Union[str, Callable, None] = "relu",
                 act_kwargs: Optional[Dict[str, Any]] = None, train_norm: bool = False) -> None:
        super().__init__(aggr=DegreeScalerAggregation(aggregators, scalers, deg, train_norm), node_dim=0)
        if divide_input and in_channels % towers:
            raise ValueError("PNAConv: in_channels must be divisible by towers when divide_input=True")
        if out_channels % towers:
            raise ValueError("PNAConv: out_channels must be divisible by towers")
        self.in_channels, self.out_channels, self.edge_dim = in_channels, out_channels, edge_dim
        self.towers, self.divide_input = towers, divide_input
        self.F_in = in_channels // towers if divide_input else in_channels
        self.F_out = out_channels // towers
        self.edge_encoder = linear(edge_dim, self.F_in) if edge_dim is not None else None

        def stack(first_in: int, width: int, layers: int) -> torch.nn.Sequential:
            modules: List[torch.nn.Module] = [linear(first_in, width)]
            for _ in range(layers - 1):
                modules += [activation(act, **(act_kwargs or {})), linear(width, width)]
            return torch.nn.Sequential(*modules)

        pre_in = (3 if edge_dim else 2) * self.F_in
        post_in = (len(aggregators) * len(scalers) + 1) * self.F_in
        self.pre_nns = torch.nn.ModuleList(stack(pre_in, self.F_in, pre_layers) for _ in range(towers))
        self.post_nns = torch.nn.ModuleList(stack(post_in, self.F_out, post_layers) for _ in range(towers))
        self.lin = linear(out_channels, out_channels)

    def reset_parameters(self) -> None:
        if self.edge_encoder is not None:
            self.edge_encoder.reset_parameters()
        for nn in list(self.pre_nns) + list(self.post_nns):
            reset(nn)
        self.lin.reset_parameters()
        self.aggr_module.reset_parameters()

    def forward(self, x: Tensor, edge_index: Adj, edge_attr: Optional[Tensor] = None) -> Tensor:
        if self.divide_input:
            x = x.view(-1, self.towers, self.F_in)
        else:
            x = x.view(-1, 1, self.F_in).repeat(1, self.towers, 1)
        out = self.propagate(edge_index, x=x, edge_attr=edge_attr)
        out = torch.cat([x, out], dim=-1)
        out = torch.cat([nn(out[:, i]) for i, nn in enumerate(self.post_nns)], dim=1)
        return self.lin(out)

    def message(self, x_i: Tensor, x_j: Tensor, edge_attr: Optional[Tensor] = None) -> Tensor:
        parts = [x_i, x_j]
        if edge_attr is not None and self.edge_encoder is not None:
            parts.append(self.edge_encoder(edge_attr).view(-1, 1, self.F_in).repeat(1, self.towers, 1))
        h = torch.cat(parts, dim=-1)
        return torch.stack([nn(h[:, i]) for i, nn in enumerate(self.pre_nns)], dim=1)

    def __repr__(self) -> str:
        return f"PNAConv({self.in_channels}, {self.out_channels}, towers={self.towers}, edge_dim={self.edge_dim})"

    @staticmethod
    def get_degree_histogram(loader) -> Tensor:
        """In-degree histogram over the graphs of ``loader`` (for ``deg``); runs on data, not in a model."""
        hist = torch.zeros(1, dtype=torch.long)
        for data in loader:
            deg = torch.bincount(data.edge_index[1], minlength=data.num_nodes)
            counts = torch.bincount(deg)
            if counts.numel() > hist.numel():
                counts[: hist.numel()] += hist
                hist = counts
            else:
                hist[: counts.numel()] += counts
        return hist


class EGConv(MessagePassing):
    r"""Efficient graph convolution, `"Adaptive Filters and Aggregator Fusion for Efficient
    Graph Convolutions" <https://arxiv.org/abs/2104.01481>`_:

    .. math::
        \mathbf{x}'_i = \mathop{\Big\Vert}_{h=1}^{H} \sum_{\oplus \in \mathcal{A}} \sum_{b=1}^{B}
        w_{i,h,\oplus,b} \bigoplus_{j \in \mathcal{N}(i) \cup \{i\}} \mathbf{W}_b \mathbf{x}_j,
        \qquad \mathbf{w}_i = \mathbf{W}_c \mathbf{x}_i + \mathbf{b}_c

    with aggregators :math:`\mathcal{A}` from ``symnorm`` (GCN weights), ``sum``, ``mean``,
    ``max``, ``min``, ``var``, ``std``. Existing self loops are replaced sync-free (masked).

    Shapes: ``x [N, in]``, ``edge_index`` -> ``[N, out]``.
    """

    AGGREGATORS = ("sum", "mean", "symnorm", "min", "max", "var", "std")

    def __init__(self, in_channels: int, out_channels: int, aggregators: Optional[List[str]] = None,
                 num_heads: int = 8, num_bases: int = 4, cached: bool = False, add_self_loops: bool = True,
                 bias: bool = True) -> None:
        super().__init__(node_dim=0)
        if out_channels % num_heads:
            raise ValueError(f"EGConv: out_channels ({out_channels}) must be divisible by the number of heads "
                             f"(num_heads={num_heads})")
        self.in_channels, self.out_channels, self.num_heads, self.num_bases = in_channels, out_channels, num_heads, \
            num_bases
        self.cached, self.add_self_loops, self._cache = cached, add_self_loops, None
        self.aggregators = list(aggregators or ["symnorm"])
        for name in self.aggregators:
            if name not in self.AGGREGATORS:
                raise ValueError(f"EGConv: Unsupported aggregator {name!r}; expected one of {self.AGGREGATORS}")
        self.bases_lin = glorot_linear(in_channels, out_channels // num_heads * num_bases, bias=False)
        self.comb_lin = linear(in_channels, num_heads * num_bases * len(self.aggregators))
        self.bias = torch.nn.Parameter(torch.empty(out_channels)) if bias else None
        zeros(self.bias)

    def reset_parameters(self) -> None:
        self.bases_lin.reset_parameters()
        self.comb_lin.reset_parameters()
        zeros(self.bias)
        self._cache = None

    def _structure(self, x: Tensor, edge_index: Adj) -> Tuple[Tensor, Optional[Tensor], Optional[Tensor]]:
        """Edges (with fresh loops), their mask (old loops out) and symnorm weights."""
        if self._cache is not None:
            return self._cache
        tensor, n = edge_tensor(edge_index), x.size(0)
        mask = weight = None
        if self.add_self_loops:
            mask = torch.cat([tensor[0] != tensor[1], torch.ones(n, dtype=torch.bool, device=x.device)])
        if "symnorm" in self.aggregators:
            tensor, weight = gcn_norm(tensor, None, n, False, self.add_self_loops, self.flow, x.dtype)
        elif self.add_self_loops:
            tensor, _ = add_remaining_self_loops(tensor, None, 1.0, n)
        structure = (tensor, mask, weight)
        if self.cached:
            self._cache = structure
        return structure

    def forward(self, x: Tensor, edge_index: Adj) -> Tensor:
        tensor, mask, symnorm_weight = self._structure(x, edge_index)
        bases, weightings = self.bases_lin(x), self.comb_lin(x)
        aggregated = self.propagate(tensor, x=bases, symnorm_weight=symnorm_weight, loop_mask=mask,
                                    size=(x.size(0), x.size(0)))
        A, B, H = len(self.aggregators), self.num_bases, self.num_heads
        weightings = weightings.view(-1, H, B * A)
        aggregated = aggregated.reshape(-1, A * B, self.out_channels // H)
        out = torch.matmul(weightings, aggregated).view(-1, self.out_channels)
        return out if self.bias is None else out + self.bias

    def aggregate(self, inputs: Tensor, index: Tensor, dim_size, symnorm_weight: Optional[Tensor] = None,
                  loop_mask: Optional[Tensor] = None) -> Tensor:
        """Every aggregator of ``self.aggregators`` over the basis messages, stacked
        ``[N, A, B]`` (``loop_mask``: the replaced self loops, left out)."""
        outs = []
        for name in self.aggregators:
            if name == "symnorm":
                outs.append(ops.scatter(inputs * symnorm_weight.view(-1, 1), index, dim_size, "sum"))
            elif name == "std":
                var = reduce_statistic(inputs, index, dim_size, "var", loop_mask)
                outs.append(var.clamp(min=1e-5).sqrt())
            else:
                outs.append(reduce_statistic(inputs, index, dim_size, name, loop_mask))
        return torch.stack(outs, dim=1) if len(outs) > 1 else outs[0]

    def __repr__(self) -> str:
        return f"EGConv({self.in_channels}, {self.out_channels}, aggregators={self.aggregators})"


def _gen_mlp(channels: Sequence[int], norm: Optional[str], bias: bool) -> torch.nn.Sequential:
    """GENConv's MLP with PyG's module layout (Linear, norm, ReLU, Dropout per hidden layer)."""
    modules: List[torch.nn.Module] = []
    for i in range(1, len(channels)):
        modules.append(linear(channels[i - 1], channels[i], bias=bias))
        if i < len(channels) - 1:
            if norm == "batch":
                modules.append(torch.nn.BatchNorm1d(channels[i], affine=True))
            elif norm == "layer":
                modules.append(torch.nn.LayerNorm(channels[i], elementwise_affine=True))
            elif norm == "instance":
                modules.append(torch.nn.InstanceNorm1d(channels[i], affine=False))
            elif norm:
                raise ValueError(f"GENConv: unsupported norm {norm!r}; expected 'batch', 'layer' or 'instance'")
            modules += [torch.nn.ReLU(), torch.nn.Dropout(0.0)]
    return torch.nn.Sequential(*modules)


class GENConv(MessagePassing):
    r"""Generalised graph convolution of DeeperGCN, `"DeeperGCN: All You Need to Train Deeper
    GCNs" <https://arxiv.org/abs/2006.07739>`_:

    .. math::
        \mathbf{x}'_i = \mathrm{MLP}\Big(\mathbf{x}_i + \mathrm{AGG}\big(\{\mathrm{ReLU}(\mathbf{x}_j
        + \mathbf{e}_{j,i}) + \epsilon : j \in \mathcal{N}(i)\}\big)\Big)

    with ``aggr`` ``"softmax"`` (learnable inverse temperature ``t``), ``"softmax_sg"``,
    ``"power"`` (learnable ``p``) or any plain reduction (or a list of them), and optional
    message normalisation (``msg_norm``).

    Shapes: ``x [N, in]`` (or a pair), ``edge_index``, ``edge_attr [E, edge_dim]`` -> ``[N_dst, out]``.
    """

    def __init__(self, in_channels: Union[int, Tuple[int, int]], out_channels: int,
                 aggr: Union[str, List[str]] = "softmax", t: float = 1.0, learn_t: bool = False, p: float = 1.0,
                 learn_p: bool = False, msg_norm: bool = False, learn_msg_scale: bool = False, norm: str = "batch",
                 num_layers: int = 2, expansion: int = 2, eps: float = 1e-7, bias: bool = False,
                 edge_dim: Optional[int] = None) -> None:
        semi_grad = aggr == "softmax_sg"
        aggr = {"softmax_sg": "softmax", "power": "powermean"}.get(aggr, aggr) if isinstance(aggr, str) else aggr
        kwargs: Dict[str, Any] = {}
        if aggr == "softmax":
            kwargs = dict(t=t, learn=learn_t, semi_grad=semi_grad)
        elif aggr == "powermean":
            kwargs = dict(p=p, learn=learn_p)
        super().__init__(aggr=aggr, aggr_kwargs=kwargs)
        self.in_channels, self.out_channels, self.eps = in_channels, out_channels, eps
        in_channels = (in_channels, in_channels) if isinstance(in_channels, int) else in_channels
        self.lin_src = linear(in_channels[0], out_channels, bias=bias) if in_channels[0] != out_channels \
            else None
        self.lin_edge = linear(edge_dim, out_channels, bias=bias) \
            if edge_dim is not None and edge_dim != out_channels else None
        multi = getattr(self.aggr_module, "get_out_channels", None)  # a list with module aggregations
        aggr_out = multi(out_channels) if multi is not None else out_channels * max(1, len(self.aggrs))
        self.lin_aggr_out = linear(aggr_out, out_channels, bias=bias) if aggr_out != out_channels else None
        self.lin_dst = linear(in_channels[1], out_channels, bias=bias) if in_channels[1] != out_channels \
            else None
        self.mlp = _gen_mlp([out_channels] + [out_channels * expansion] * (num_layers - 1) + [out_channels], norm,
                            bias)
        self.msg_norm = MessageNorm(learn_msg_scale) if msg_norm else None

    def reset_parameters(self) -> None:
        reset(self.mlp)
        for module in (self.msg_norm, self.lin_src, self.lin_edge, self.lin_aggr_out, self.lin_dst,
                       self.aggr_module):
            if module is not None:
                module.reset_parameters()

    def forward(self, x: Union[Tensor, Tuple[Tensor, Optional[Tensor]]], edge_index: Adj,
                edge_attr: Optional[Tensor] = None, size: Optional[Tuple[int, int]] = None) -> Tensor:
        x = _pair(x)
        if self.lin_src is not None:
            x = (self.lin_src(x[0]), x[1])
        out = self.propagate(edge_index, x=x, edge_attr=edge_attr, size=size)
        if self.lin_aggr_out is not None:
            out = self.lin_aggr_out(out)
        if self.msg_norm is not None:
            out = self.msg_norm(x[1] if x[1] is not None else x[0], out)
        if x[1] is not None:
            out = out + (x[1] if self.lin_dst is None else self.lin_dst(x[1]))
        return self.mlp(out)

    def message(self, x_j: Tensor, edge_attr: Optional[Tensor] = None) -> Tensor:
        if edge_attr is not None and self.lin_edge is not None:
            edge_attr = self.lin_edge(edge_attr)
        msg = x_j if edge_attr is None else x_j + edge_attr
        return msg.relu() + self.eps

    def __repr__(self) -> str:
        return f"GENConv({self.in_channels}, {self.out_channels}, aggr={self.aggr})"


class MFConv(MessagePassing):
    r"""Molecular fingerprint convolution, `"Convolutional Networks on Graphs for Learning
    Molecular Fingerprints" <https://arxiv.org/abs/1509.09292>`_: weights chosen by degree,

    .. math::
        \mathbf{x}'_i = \mathbf{W}^{(\deg(i))}_1 \mathbf{x}_i + \mathbf{W}^{(\deg(i))}_2
        \sum_{j \in \mathcal{N}(i)} \mathbf{x}_j, \qquad \deg(i) \le \texttt{max\_degree}

    All ``max_degree + 1`` candidates are computed and each node's is gathered (no host sync).

    Shapes: ``x [N, in]`` (or a pair), ``edge_index`` -> ``[N_dst, out]``.
    """

    def __init__(self, in_channels: Union[int, Tuple[int, int]], out_channels: int, max_degree: int = 10,
                 bias: bool = True) -> None:
        super().__init__(aggr="add")
        self.in_channels, self.out_channels, self.max_degree = in_channels, out_channels, max_degree
        in_channels = (in_channels, in_channels) if isinstance(in_channels, int) else in_channels
        self.lins_l = torch.nn.ModuleList(linear(in_channels[0], out_channels, bias=bias)
                                          for _ in range(max_degree + 1))
        self.lins_r = torch.nn.ModuleList(linear(in_channels[1], out_channels, bias=False)
                                          for _ in range(max_degree + 1))

    def reset_parameters(self) -> None:
        for lin in list(self.lins_l) + list(self.lins_r):
            lin.reset_parameters()

    def forward(self, x: Union[Tensor, Tuple[Tensor, Optional[Tensor]]], edge_index: Adj,
                size: Optional[Tuple[int, int]] = None) -> Tensor:
        x = _pair(x)
        tensor = edge_tensor(edge_index)
        dst = tensor[1] if self.flow == "source_to_target" else tensor[0]
        num_dst = x[1].size(-2) if x[1] is not None else (size[1] if size is not None else x[0].size(-2))
        deg = ops.scatter(torch.ones_like(dst), dst, num_dst, "sum").clamp(max=self.max_degree)
        h = self.propagate(edge_index, x=x, size=size)
        candidates = torch.stack([lin(h) for lin in self.lins_l], dim=-2)  # [(B,) N, max_degree + 1, out]
        if x[1] is not None:
            candidates = candidates + torch.stack([lin(x[1]) for lin in self.lins_r], dim=-2)
        index = deg.view(-1, 1, 1).expand(*candidates.shape[:-2], 1, self.out_channels)
        return candidates.gather(-2, index).squeeze(-2)

    def fused_message_and_aggregate(self, adj, x) -> Tensor:
        return self.spmm(adj, x[0])

    def __repr__(self) -> str:
        return f"MFConv({self.in_channels}, {self.out_channels})"


class GeneralConv(MessagePassing):
    r"""The general GNN layer of the design space in `"Design Space for Graph Neural
    Networks" <https://arxiv.org/abs/2011.08843>`_:

    .. math::
        \mathbf{x}'_i = \mathbf{W}_s\mathbf{x}_i + \frac{1}{H}\sum_{h=1}^{H}\bigoplus_{j \in \mathcal{N}(i)}
        \alpha^h_{i,j}\big(\mathbf{W}^h_m \mathbf{x}_j + \mathbf{W}^h_e \mathbf{e}_{j,i}\big)

    with optional attention :math:`\alpha` (``"additive"`` or ``"dot_product"``), undirected
    messages (``directed_msg=False`` adds :math:`\mathbf{W}^h_{m'}\mathbf{x}_i`) and L2
    normalisation of the output.

    Shapes: ``x [N, in]`` (or a pair), ``edge_index``, ``edge_attr [E, in_edge_channels]``
    -> ``[N_dst, out]``.
    """

    def __init__(self, in_channels: Union[int, Tuple[int, int]], out_channels: Optional[int],
                 in_edge_channels: Optional[int] = None, aggr: str = "add", skip_linear: bool = False,
                 directed_msg: bool = True, heads: int = 1, attention: bool = False,
                 attention_type: str = "additive", l2_normalize: bool = False, bias: bool = True) -> None:
        super().__init__(aggr=aggr, node_dim=0)
        self.in_channels, self.out_channels, self.in_edge_channels = in_channels, out_channels, in_edge_channels
        self.skip_linear, self.directed_msg, self.heads = skip_linear, directed_msg, heads
        self.attention, self.attention_type, self.normalize_l2 = attention, attention_type, l2_normalize
        pair = (in_channels, in_channels) if isinstance(in_channels, int) else in_channels
        self.lin_msg = linear(pair[0], out_channels * heads, bias=bias)
        self.lin_msg_i = None if directed_msg else linear(pair[0], out_channels * heads, bias=bias)
        self.lin_self = linear(pair[1], out_channels, bias=bias) \
            if skip_linear or in_channels != out_channels else torch.nn.Identity()
        self.lin_edge = linear(in_edge_channels, out_channels * heads, bias=bias) \
            if in_edge_channels is not None else None
        self.att_msg = None
        if attention:
            if attention_type == "additive":
                self.att_msg = torch.nn.Parameter(torch.empty(1, heads, out_channels))
                torch.nn.init.xavier_uniform_(self.att_msg.view(heads, out_channels))
            elif attention_type == "dot_product":
                self.register_buffer("scaler", torch.tensor(out_channels, dtype=torch.float).sqrt())
            else:
                raise ValueError(f"GeneralConv: attention_type must be 'additive' or 'dot_product', "
                                 f"got {attention_type!r}")

    def reset_parameters(self) -> None:
        super().reset_parameters()
        reset_layer(self)
        if getattr(self, "att_msg", None) is not None:
            torch.nn.init.xavier_uniform_(self.att_msg.data.view(self.heads, self.out_channels))

    def forward(self, x: Union[Tensor, Tuple[Tensor, Tensor]], edge_index: Adj, edge_attr: Optional[Tensor] = None,
                size: Optional[Tuple[int, int]] = None) -> Tensor:
        x = _pair(x)
        out = self.propagate(edge_index, x=x, size=size, edge_attr=edge_attr).mean(dim=1)
        out = out + self.lin_self(x[1])
        return F.normalize(out, p=2, dim=-1) if self.normalize_l2 else out

    def _message(self, x_i: Tensor, x_j: Tensor, edge_attr: Optional[Tensor]) -> Tensor:
        out = self.lin_msg(x_j) if self.lin_msg_i is None else self.lin_msg(x_j) + self.lin_msg_i(x_i)
        if edge_attr is not None and self.lin_edge is not None:
            out = out + self.lin_edge(edge_attr)
        return out.view(-1, self.heads, self.out_channels)

    def message(self, x_i: Tensor, x_j: Tensor, index: Tensor, size_i, edge_attr: Optional[Tensor] = None) -> Tensor:
        x_j_out = self._message(x_i, x_j, edge_attr)
        if not self.attention:
            return x_j_out
        if self.attention_type == "dot_product":
            alpha = (self._message(x_j, x_i, edge_attr) * x_j_out).sum(dim=-1) / self.scaler
        else:
            alpha = (x_j_out * self.att_msg).sum(dim=-1)
        alpha = ops.segment_softmax(F.leaky_relu(alpha, 0.2), index, size_i)
        return x_j_out * alpha.unsqueeze(-1)

    def __repr__(self) -> str:
        return f"GeneralConv({self.in_channels}, {self.out_channels})"
