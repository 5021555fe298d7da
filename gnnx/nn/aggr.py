r"""Aggregation modules: reductions with parameters or several steps, PyG's ``nn.aggr``.

Each reduces rows ``x [E, *]`` that share an ``index`` into ``dim_size`` slots, as
:func:`gnnx.ops.scatter` does, and can serve as a layer's ``aggr`` (e.g.
``GENConv(aggr="softmax")``) or as a graph readout (``index`` = ``batch``). Pass
``dim_size``: without it, it is read from ``index`` with a host sync.

* :class:`SoftmaxAggregation`: :math:`\sum_j \operatorname{softmax}_j(t\,\mathbf{x}_j) \odot \mathbf{x}_j`
* :class:`PowerMeanAggregation`: :math:`\big(\frac{1}{|\mathcal{N}|}\sum_j \mathbf{x}_j^{\,p}\big)^{1/p}`
* :class:`AttentionalAggregation`: :math:`\sum_j \operatorname{softmax}_j(h_{\mathrm{gate}}(\mathbf{x}_j)) \odot h(\mathbf{x}_j)`
* :class:`Set2Set`: an LSTM that attends over the set ``processing_steps`` times
* :class:`DegreeScalerAggregation`: PNA's several reductions times degree scalers
"""
from __future__ import annotations

import math
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor

from gnnx import ops

STATISTICS = ("sum", "mean", "max", "min", "var", "std")


def reduce_statistic(x: Tensor, index: Tensor, dim_size, name: str, mask: Optional[Tensor] = None) -> Tensor:
    """One of :data:`STATISTICS` of the rows of ``x`` per slot (``var``/``std`` as in PyG)."""
    if name in ("var", "std"):
        mean = ops.scatter(x, index, dim_size, "mean", mask=mask)
        var = ops.scatter(x * x, index, dim_size, "mean", mask=mask) - mean * mean
        if name == "var":
            return var
        std = var.clamp(min=1e-5).sqrt()
        return std.masked_fill(std <= math.sqrt(1e-5), 0.0)
    return ops.scatter(x, index, dim_size, name, mask=mask)


def _segments(x: Tensor, index: Optional[Tensor], ptr: Optional[Tensor], dim_size) -> Tuple[Tensor, Any]:
    """``(index, dim_size)`` from PyG's ways of naming segments: ``index`` (with
    ``dim_size``, else inferred), ``ptr`` (CSR offsets of sorted rows: ``len(ptr) - 1``
    segments, expanded without a host sync), or neither (one segment)."""
    if index is None and ptr is not None:
        counts = ptr[1:] - ptr[:-1]
        segments = torch.arange(counts.numel(), device=x.device)
        index = torch.repeat_interleave(segments, counts, output_size=x.size(0))
        return index, ptr.numel() - 1 if dim_size is None else dim_size
    if index is None:
        return torch.zeros(x.size(0), dtype=torch.long, device=x.device), 1 if dim_size is None else dim_size
    return index, ops.infer_size(index, dim_size)


class Aggregation(torch.nn.Module):
    """Base of the aggregation modules: ``forward(x, index, ptr=None, dim_size=None, mask=None)``."""

    def reset_parameters(self) -> None:
        pass


class SoftmaxAggregation(Aggregation):
    r"""Softmax aggregation (`"DeeperGCN" <https://arxiv.org/abs/2006.07739>`_):
    :math:`\sum_j \operatorname{softmax}_j(t\,\mathbf{x}_j) \odot \mathbf{x}_j`, per feature.

    Args: ``t`` inverse temperature, ``learn`` (``t`` a parameter), ``semi_grad`` (no
    gradient through the weights), ``channels`` (one ``t`` per channel when learned).
    """

    def __init__(self, t: float = 1.0, learn: bool = False, semi_grad: bool = False, channels: int = 1) -> None:
        super().__init__()
        if learn and semi_grad:
            raise ValueError("SoftmaxAggregation: semi_grad needs a fixed temperature (learn=False)")
        if not learn and channels != 1:
            raise ValueError("SoftmaxAggregation: channels > 1 needs learn=True")
        self._init_t, self.learn, self.semi_grad, self.channels = t, learn, semi_grad, channels
        self.t = torch.nn.Parameter(torch.empty(channels)) if learn else t
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if isinstance(self.t, Tensor):
            with torch.no_grad():
                self.t.fill_(self._init_t)

    def forward(self, x: Tensor, index: Optional[Tensor] = None, ptr: Optional[Tensor] = None,
                dim_size=None, mask: Optional[Tensor] = None) -> Tensor:
        index, dim_size = _segments(x, index, ptr, dim_size)
        t = self.t.view(-1, self.channels) if isinstance(self.t, Tensor) else self.t
        score = x * t
        if mask is not None:
            score = score.masked_fill(~mask.view((-1,) + (1,) * (x.dim() - 1)), float("-inf"))
        if self.semi_grad:
            with torch.no_grad():
                alpha = ops.segment_softmax(score, index, dim_size)
        else:
            alpha = ops.segment_softmax(score, index, dim_size)
        return ops.scatter(x * alpha, index, dim_size, "sum", mask=mask)

    def __repr__(self) -> str:
        return f"SoftmaxAggregation(learn={self.learn})"


class PowerMeanAggregation(Aggregation):
    r"""Power-mean aggregation (`"DeeperGCN" <https://arxiv.org/abs/2006.07739>`_):
    :math:`\big(\mathrm{mean}_j\, \mathrm{clamp}(\mathbf{x}_j)^{p}\big)^{1/p}`.

    Args: ``p``, ``learn`` (``p`` a parameter), ``channels``, ``clamp_min``, ``clamp_max``.
    """

    def __init__(self, p: float = 1.0, learn: bool = False, channels: int = 1,
                 clamp_min: Optional[float] = 1e-4, clamp_max: Optional[float] = 100.0) -> None:
        super().__init__()
        if not learn and channels != 1:
            raise ValueError("PowerMeanAggregation: channels > 1 needs learn=True")
        self._init_p, self.learn, self.channels = p, learn, channels
        self.min_value, self.max_value = clamp_min, clamp_max
        self.p = torch.nn.Parameter(torch.empty(channels)) if learn else p
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if isinstance(self.p, Tensor):
            with torch.no_grad():
                self.p.fill_(self._init_p)

    def forward(self, x: Tensor, index: Optional[Tensor] = None, ptr: Optional[Tensor] = None,
                dim_size=None, mask: Optional[Tensor] = None) -> Tensor:
        index, dim_size = _segments(x, index, ptr, dim_size)
        p = self.p.view(-1, self.channels) if isinstance(self.p, Tensor) else self.p
        trivial = not isinstance(p, Tensor) and p == 1
        if not trivial:
            x = x.clamp(min=self.min_value, max=self.max_value).pow(p)
        out = ops.scatter(x, index, dim_size, "mean", mask=mask)
        if not trivial:
            out = out.clamp(min=self.min_value, max=self.max_value).pow(1.0 / p)
        return out

    def __repr__(self) -> str:
        return f"PowerMeanAggregation(learn={self.learn})"


class AttentionalAggregation(Aggregation):
    r"""Soft attention readout (`"Gated Graph Sequence Neural Networks"
    <https://arxiv.org/abs/1511.05493>`_):
    :math:`\mathbf{r}_g = \sum_{i \in g} \operatorname{softmax}_i\big(h_{\mathrm{gate}}(\mathbf{x}_i)\big)
    \odot h_{\mathbf{\Theta}}(\mathbf{x}_i)`.

    Args: ``gate_nn`` maps ``[N, F]`` to ``[N, 1]`` (or ``[N, F']``), ``nn`` optional.
    Shapes: ``x [N, F]``, ``index [N]`` -> ``[dim_size, F']``.
    """

    def __init__(self, gate_nn: torch.nn.Module, nn: Optional[torch.nn.Module] = None) -> None:
        super().__init__()
        self.gate_nn, self.nn = gate_nn, nn

    def reset_parameters(self) -> None:
        from gnnx.nn.inits import reset

        reset(self.gate_nn)
        reset(self.nn)

    def forward(self, x: Tensor, index: Optional[Tensor] = None, ptr: Optional[Tensor] = None,
                dim_size=None, mask: Optional[Tensor] = None) -> Tensor:
        index, dim_size = _segments(x, index, ptr, dim_size)
        gate = self.gate_nn(x)
        if self.nn is not None:
            x = self.nn(x)
        if mask is not None:
            gate = gate.masked_fill(~mask.view(-1, 1), float("-inf"))
        gate = ops.segment_softmax(gate, index, dim_size)
        return ops.scatter(gate * x, index, dim_size, "sum", mask=mask)

    def __repr__(self) -> str:
        return f"AttentionalAggregation(gate_nn={self.gate_nn}, nn={self.nn})"


class LSTMParameters(torch.nn.Module):
    """The parameters of an ``nn.LSTM`` (same names, shapes and initialisation), for code
    that runs the recurrence itself. Supports ``num_layers`` and ``bias``."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True) -> None:
        super().__init__()
        self.input_size, self.hidden_size, self.num_layers, self.bias = input_size, hidden_size, num_layers, bias
        for layer in range(num_layers):
            width = input_size if layer == 0 else hidden_size
            self.register_parameter(f"weight_ih_l{layer}", torch.nn.Parameter(torch.empty(4 * hidden_size, width)))
            self.register_parameter(f"weight_hh_l{layer}", torch.nn.Parameter(torch.empty(4 * hidden_size, hidden_size)))
            if bias:
                self.register_parameter(f"bias_ih_l{layer}", torch.nn.Parameter(torch.empty(4 * hidden_size)))
                self.register_parameter(f"bias_hh_l{layer}", torch.nn.Parameter(torch.empty(4 * hidden_size)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.hidden_size)
        with torch.no_grad():
            for weight in self.parameters():
                weight.uniform_(-bound, bound)


class Set2Set(Aggregation):
    r"""Set2Set readout (`"Order Matters" <https://arxiv.org/abs/1511.06391>`_):
    :math:`\mathbf{q}_t = \mathrm{LSTM}(\mathbf{q}^{*}_{t-1})`,
    :math:`\alpha_i = \operatorname{softmax}_i(\mathbf{x}_i \cdot \mathbf{q}_t)`,
    :math:`\mathbf{r}_t = \sum_i \alpha_i \mathbf{x}_i`,
    :math:`\mathbf{q}^{*}_t = [\mathbf{q}_t \Vert \mathbf{r}_t]`, ``processing_steps`` times.

    Shapes: ``x [N, F]``, ``index [N]`` -> ``[dim_size, 2F]``. The LSTM's parameters live in
    ``self.lstm`` under ``nn.LSTM``'s names (so PyG's ``state_dict`` loads); its step is
    computed from them, since Dynamo does not trace ``nn.LSTM``.
    """

    def __init__(self, in_channels: int, processing_steps: int, **kwargs: Any) -> None:
        super().__init__()
        self.in_channels, self.out_channels, self.processing_steps = in_channels, 2 * in_channels, processing_steps
        self.lstm = LSTMParameters(self.out_channels, in_channels, **kwargs)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.lstm.reset_parameters()

    def forward(self, x: Tensor, index: Optional[Tensor] = None, ptr: Optional[Tensor] = None,
                dim_size=None, mask: Optional[Tensor] = None) -> Tensor:
        index, dim_size = _segments(x, index, ptr, dim_size)
        layers = self.lstm.num_layers
        state = [(x.new_zeros((dim_size, x.size(-1))), x.new_zeros((dim_size, x.size(-1)))) for _ in range(layers)]
        q_star = x.new_zeros(dim_size, self.out_channels)
        for _ in range(self.processing_steps):
            q = q_star
            for layer in range(layers):
                state[layer] = self._lstm_step(layer, q, state[layer])
                q = state[layer][0]
            e = (x * q.index_select(0, index)).sum(dim=-1, keepdim=True)
            if mask is not None:
                e = e.masked_fill(~mask.view(-1, 1), float("-inf"))
            a = ops.segment_softmax(e, index, dim_size)
            r = ops.scatter(a * x, index, dim_size, "sum", mask=mask)
            q_star = torch.cat([q, r], dim=-1)
        return q_star

    def _lstm_step(self, layer: int, inp: Tensor, state):
        """One time step of ``self.lstm``'s layer, written out: Dynamo does not trace ``nn.LSTM``."""
        h, c = state
        gates = F.linear(inp, getattr(self.lstm, f"weight_ih_l{layer}"), getattr(self.lstm, f"bias_ih_l{layer}", None))
        gates = gates + F.linear(h, getattr(self.lstm, f"weight_hh_l{layer}"),
                                 getattr(self.lstm, f"bias_hh_l{layer}", None))
        i, f, g, o = gates.chunk(4, dim=-1)
        c = f.sigmoid() * c + i.sigmoid() * g.tanh()
        return o.sigmoid() * c.tanh(), c

    def __repr__(self) -> str:
        return f"Set2Set({self.in_channels}, {self.out_channels})"


class DegreeScalerAggregation(Aggregation):
    r"""PNA's aggregation (`"Principal Neighbourhood Aggregation"
    <https://arxiv.org/abs/2004.05718>`_): every statistic in ``aggr`` (of
    :data:`STATISTICS`), each multiplied by every degree scaler in ``scaler``
    (``identity``, ``amplification`` :math:`\log(d+1)/\delta`, ``attenuation``
    :math:`\delta/\log(d+1)`, ``linear`` :math:`d/\bar d`, ``inverse_linear``), concatenated.

    ``deg`` is the in-degree histogram of the training graphs (``deg[d]`` = number of
    nodes of degree ``d``), from which :math:`\delta` and :math:`\bar d` are computed once.
    """

    SCALERS = ("identity", "amplification", "attenuation", "linear", "inverse_linear")

    def __init__(self, aggr: Union[str, Sequence[str]], scaler: Union[str, Sequence[str]], deg: Tensor,
                 train_norm: bool = False) -> None:
        super().__init__()
        self.aggrs: List[str] = [aggr] if isinstance(aggr, str) else list(aggr)
        self.scaler: List[str] = [scaler] if isinstance(scaler, str) else list(scaler)
        for name in self.aggrs:
            if name not in STATISTICS + ("add",):
                raise ValueError(f"unknown aggregation {name!r}; expected one of {STATISTICS}")
        for name in self.scaler:
            if name not in self.SCALERS:
                raise ValueError(f"unknown degree scaler {name!r}; expected one of {self.SCALERS}")
        deg = deg.to(torch.float)
        total = float(deg.sum())
        bins = torch.arange(deg.numel(), dtype=torch.float)
        self.init_avg_deg_lin = float((bins * deg).sum()) / total
        self.init_avg_deg_log = float(((bins + 1).log() * deg).sum()) / total
        if train_norm:
            self.avg_deg_lin = torch.nn.Parameter(torch.empty(1))
            self.avg_deg_log = torch.nn.Parameter(torch.empty(1))
        else:
            self.register_buffer("avg_deg_lin", torch.empty(1))
            self.register_buffer("avg_deg_log", torch.empty(1))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        with torch.no_grad():
            self.avg_deg_lin.fill_(self.init_avg_deg_lin)
            self.avg_deg_log.fill_(self.init_avg_deg_log)

    def forward(self, x: Tensor, index: Optional[Tensor] = None, ptr: Optional[Tensor] = None,
                dim_size=None, mask: Optional[Tensor] = None) -> Tensor:
        if index is None:  # the degree of each node needs its edges' destinations (as PyG)
            raise NotImplementedError("DegreeScalerAggregation requires 'index' (the destination of each message)")
        index, dim_size = _segments(x, index, ptr, dim_size)
        outs = [reduce_statistic(x, index, dim_size, name if name != "add" else "sum", mask) for name in self.aggrs]
        out = outs[0] if len(outs) == 1 else torch.cat(outs, dim=-1)
        ones = x.new_ones(index.shape)
        deg = ops.scatter(ones, index, dim_size, "sum", mask=mask).view((-1,) + (1,) * (out.dim() - 1))
        scaled = []
        for name in self.scaler:
            if name == "identity":
                scaled.append(out)
            elif name == "amplification":
                scaled.append(out * (torch.log(deg + 1) / self.avg_deg_log))
            elif name == "attenuation":
                scaled.append(out * (self.avg_deg_log / torch.log(deg.clamp(min=1) + 1)))
            elif name == "linear":
                scaled.append(out * (deg / self.avg_deg_lin))
            else:
                scaled.append(out * (self.avg_deg_lin / deg.clamp(min=1)))
        return scaled[0] if len(scaled) == 1 else torch.cat(scaled, dim=-1)


_BY_NAME: Dict[str, type] = {"softmax": SoftmaxAggregation, "powermean": PowerMeanAggregation}


def aggregation_module(aggr: Any, **kwargs: Any) -> Optional[Aggregation]:
    """The module for ``aggr`` when it is one (an :class:`Aggregation` or a name such as
    ``"softmax"``/``"powermean"``); ``None`` for the plain reductions."""
    if isinstance(aggr, torch.nn.Module):
        return aggr
    if isinstance(aggr, str) and aggr in _BY_NAME:
        return _BY_NAME[aggr](**kwargs)
    return None
