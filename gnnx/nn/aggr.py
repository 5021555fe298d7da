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
* :class:`SumAggregation`, ``Mean``, ``Max``, ``Min``, ``Mul``, ``Var``, ``Std``: PyG's
  ``aggr`` strings as modules (layers given a plain sum/mean/max/min fuse it into an SpMM)
* :class:`MultiAggregation`: several of them, concatenated, projected or reduced
* median, quantile, LSTM, GRU, MLP, sort, deep-sets and variance-preserving aggregations:
  :mod:`gnnx.nn.aggr_ordered`; set- and patch-transformer ones: :mod:`gnnx.nn.aggr_attention`;
  equilibrium: :mod:`gnnx.nn.aggr_equilibrium`; all re-exported here
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
    """Base of the aggregation modules: ``forward(x, index, ptr=None, dim_size=None, mask=None)``
    over the rows of ``x``; called as PyG's, ``aggr(x, index, ptr, dim_size, dim=-2)``, the
    reduced dimension ``dim`` (``-2`` by default: the rows of ``[N, F]``, the nodes of
    ``[B, N, F]``; a 1-D ``x`` is reduced along its only dimension)."""

    def __call__(self, x: Tensor, index: Optional[Tensor] = None, ptr: Optional[Tensor] = None,
                 dim_size=None, dim: int = -2, **kwargs: Any) -> Tensor:
        if isinstance(x, torch.fx.Proxy):  # traced as a leaf (to_hetero): the call, dim included
            return super().__call__(x, index, ptr, dim_size, **({"dim": dim} if dim != -2 else {}), **kwargs)
        if x.dim() == 1 and dim == -2:
            dim = 0
        if not -x.dim() <= dim < x.dim():
            raise ValueError(f"Encountered invalid dimension '{dim}' of source tensor with {x.dim()} dimensions")
        _check_dim_size(index, ptr, dim_size)
        dim = dim % x.dim()
        if dim == 0:
            return super().__call__(x, index, ptr, dim_size, **kwargs)
        return super().__call__(x.movedim(dim, 0), index, ptr, dim_size, **kwargs).movedim(0, dim)

    def reset_parameters(self) -> None:
        pass


def _check_dim_size(index: Optional[Tensor], ptr: Optional[Tensor], dim_size) -> None:
    """PyG's checks of a given ``dim_size`` (against ``index`` only where it costs no sync)."""
    if dim_size is None or isinstance(dim_size, torch.SymInt):
        return
    if index is None and ptr is not None and ptr.numel() - 1 != dim_size:
        raise ValueError(f"Encountered invalid 'dim_size' (got '{dim_size}' but expected '{ptr.numel() - 1}')")
    if index is not None and index.numel() and not torch.compiler.is_compiling() and index.device.type == "cpu":
        needed = int(index.max()) + 1
        if dim_size < needed:
            raise ValueError(f"Encountered invalid 'dim_size' (got '{dim_size}' but expected >= '{needed}')")


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
    that runs the recurrence itself with :meth:`step` (Dynamo does not trace ``nn.LSTM``).
    Supports ``num_layers``, ``bias`` and ``bidirectional`` (the ``_reverse`` copies)."""

    _GATES = 4

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 bidirectional: bool = False) -> None:
        super().__init__()
        self.input_size, self.hidden_size, self.num_layers, self.bias = input_size, hidden_size, num_layers, bias
        self.bidirectional = bidirectional
        for suffix in ("", "_reverse") if bidirectional else ("",):
            for layer in range(num_layers):
                width = input_size if layer == 0 else hidden_size * (2 if bidirectional else 1)
                self.register_parameter(f"weight_ih_l{layer}{suffix}",
                                        torch.nn.Parameter(torch.empty(self._GATES * hidden_size, width)))
                self.register_parameter(f"weight_hh_l{layer}{suffix}",
                                        torch.nn.Parameter(torch.empty(self._GATES * hidden_size, hidden_size)))
                if bias:
                    self.register_parameter(f"bias_ih_l{layer}{suffix}", torch.nn.Parameter(torch.empty(self._GATES * hidden_size)))
                    self.register_parameter(f"bias_hh_l{layer}{suffix}", torch.nn.Parameter(torch.empty(self._GATES * hidden_size)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.hidden_size)
        with torch.no_grad():
            for weight in self.parameters():
                weight.uniform_(-bound, bound)

    def step(self, layer: int, inp: Tensor, state: Tuple[Tensor, Tensor], suffix: str = "") -> Tuple[Tensor, Tensor]:
        """One time step of a layer (``suffix="_reverse"``: its backward direction): ``(h, c)``."""
        return in_rnn_precision(_lstm_step, "lstm", inp, *state, *self.weights(layer, suffix))

    def weights(self, layer: int, suffix: str = "") -> List[Optional[Tensor]]:
        """``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh`` of a layer (biases ``None`` without bias)."""
        return [getattr(self, f"{name}_l{layer}{suffix}", None) for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]


def _lstm_step(x: Tensor, h: Tensor, c: Tensor, weight_ih: Tensor, weight_hh: Tensor, bias_ih: Optional[Tensor],
               bias_hh: Optional[Tensor]) -> Tuple[Tensor, Tensor]:
    gates = F.linear(x, weight_ih, bias_ih) + F.linear(h, weight_hh, bias_hh)
    i, f, g, o = gates.chunk(4, dim=-1)
    c = f.sigmoid() * c + i.sigmoid() * g.tanh()
    return o.sigmoid() * c.tanh(), c


class GRUParameters(LSTMParameters):
    """The parameters of an ``nn.GRU`` (names, shapes, initialisation), with :meth:`step`."""

    _GATES = 3

    def step(self, layer: int, inp: Tensor, h: Tensor, suffix: str = "") -> Tensor:  # type: ignore[override]
        """One time step of a layer: the new hidden state."""
        return in_rnn_precision(_gru_step, "gru", inp, h, *self.weights(layer, suffix))


_ONEDNN = torch.backends.mkldnn.is_available()  # read once: Dynamo does not trace the query


def in_rnn_precision(step, module: Optional[str], x: Tensor, *tensors: Optional[Tensor]):
    """``step(x, *tensors)`` in the precision ``torch.autocast`` gives PyTorch's own RNNs, so the
    steps written out here return the dtype PyG's modules return (the fp32 state would otherwise
    promote their output). On CUDA the cells (``module=None``: ``GRUCell``, ``LSTMCell``) run in
    the autocast dtype and the modules (``"gru"``, ``"lstm"``: ``nn.GRU``, ``nn.LSTM``, through
    cuDNN) in fp16 whatever that dtype is; on the CPU only ``nn.LSTM`` is lowered (oneDNN)."""
    device = x.device.type
    dtype = None
    if device in ("cpu", "cuda") and torch.is_autocast_enabled(device):
        if device == "cuda":
            dtype = torch.float16 if module else torch.get_autocast_dtype(device)
        elif module == "lstm" and _ONEDNN:
            dtype = torch.get_autocast_dtype(device)
    if dtype is None:
        return step(x, *tensors)
    with torch.autocast(device, enabled=False):
        return step(*(t if t is None else t.to(dtype) for t in (x, *tensors)))


def gru_step(x: Tensor, h: Tensor, weight_ih: Tensor, weight_hh: Tensor, bias_ih: Optional[Tensor] = None,
             bias_hh: Optional[Tensor] = None) -> Tensor:
    """One GRU step written out over its parameters (PyTorch's gate order r, z, n), equal to
    ``nn.GRUCell`` (under autocast too). The fused CUDA cell has no fake-tensor kernel, so
    ``torch.compile`` failed on it on CUDA; these few matmuls compile and export everywhere."""
    return in_rnn_precision(_gru_step, None, x, h, weight_ih, weight_hh, bias_ih, bias_hh)


def _gru_step(x: Tensor, h: Tensor, weight_ih: Tensor, weight_hh: Tensor, bias_ih: Optional[Tensor],
              bias_hh: Optional[Tensor]) -> Tensor:
    gi, gh = F.linear(x, weight_ih, bias_ih), F.linear(h, weight_hh, bias_hh)
    i_r, i_z, i_n = gi.chunk(3, dim=-1)
    h_r, h_z, h_n = gh.chunk(3, dim=-1)
    r, z = torch.sigmoid(i_r + h_r), torch.sigmoid(i_z + h_z)
    return (1 - z) * torch.tanh(i_n + r * h_n) + z * h


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
                state[layer] = self.lstm.step(layer, q, state[layer])
                q = state[layer][0]
            e = (x * q.index_select(0, index)).sum(dim=-1, keepdim=True)
            if mask is not None:
                e = e.masked_fill(~mask.view(-1, 1), float("-inf"))
            a = ops.segment_softmax(e, index, dim_size)
            r = ops.scatter(a * x, index, dim_size, "sum", mask=mask)
            q_star = torch.cat([q, r], dim=-1)
        return q_star

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


class _Reduction(Aggregation):
    """One plain statistic per slot (the ``aggr`` strings of PyG as modules)."""

    statistic = "sum"

    def forward(self, x: Tensor, index: Optional[Tensor] = None, ptr: Optional[Tensor] = None,
                dim_size=None, mask: Optional[Tensor] = None) -> Tensor:
        index, dim_size = _segments(x, index, ptr, dim_size)
        if self.statistic == "mul":
            if mask is not None:
                x = torch.where(mask.view((-1,) + (1,) * (x.dim() - 1)), x, torch.ones_like(x))
            expanded = index.view((-1,) + (1,) * (x.dim() - 1)).expand_as(x)
            # From ones: slots without rows are 1 (the empty product), as in PyG.
            return x.new_ones((dim_size,) + tuple(x.shape[1:])).scatter_reduce(0, expanded, x, "prod")
        return reduce_statistic(x, index, dim_size, self.statistic, mask)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class SumAggregation(_Reduction):
    r""":math:`\sum_j \mathbf{x}_j`."""
    statistic = "sum"


class MeanAggregation(_Reduction):
    r""":math:`\frac{1}{|\mathcal{N}|}\sum_j \mathbf{x}_j`."""
    statistic = "mean"


class MaxAggregation(_Reduction):
    r""":math:`\max_j \mathbf{x}_j` (feature-wise)."""
    statistic = "max"


class MinAggregation(_Reduction):
    r""":math:`\min_j \mathbf{x}_j` (feature-wise)."""
    statistic = "min"


class MulAggregation(_Reduction):
    r""":math:`\prod_j \mathbf{x}_j` (feature-wise; 1, the empty product, where nothing arrives, as in PyG)."""
    statistic = "mul"


class VarAggregation(_Reduction):
    r""":math:`\mathrm{mean}_j \mathbf{x}_j^2 - (\mathrm{mean}_j \mathbf{x}_j)^2`."""
    statistic = "var"


class StdAggregation(_Reduction):
    r""":math:`\sqrt{\mathrm{Var}}` (clamped at :math:`10^{-5}` and 0 below it, as in PyG)."""
    statistic = "std"


class MultiAggregation(Aggregation):
    r"""Several aggregations of the same messages, combined (PyG's ``MultiAggregation``):
    ``mode="cat"`` concatenates along the features; ``"proj"`` concatenates and projects with
    a linear layer; ``"attn"`` projects each result to ``out_channels`` (one linear layer per
    aggregation), runs multi-head self-attention across the aggregations and averages them:

    .. math::
        \mathbf{h}_k = \mathbf{W}_k \mathbf{a}_k + \mathbf{b}_k, \qquad
        \mathbf{x}' = \frac{1}{K}\sum_k \mathrm{MHA}(\mathbf{h}, \mathbf{h}, \mathbf{h})_k;

    ``"sum"``, ``"mean"``, ``"max"``, ``"min"``, ``"logsumexp"``, ``"std"``, ``"var"`` reduce
    the results element-wise (``std``/``var`` unbiased, as ``torch.std``).

    Args: ``aggrs`` (names or modules), ``aggrs_kwargs`` (one dict per aggregation), ``mode``,
    ``mode_kwargs``: for ``"proj"`` and ``"attn"`` ``in_channels`` (an int, or one per
    aggregation) and ``out_channels``, for ``"attn"`` also ``num_heads`` (default 1); the rest
    go to the ``torch.nn.Linear`` (``"proj"``) or ``torch.nn.MultiheadAttention`` (``"attn"``),
    as in PyG, whose parameter names these keep (``lin``, ``lin_heads.lins.<k>``,
    ``multihead_attn``).
    """

    MODES = ("cat", "proj", "attn", "sum", "mean", "max", "min", "logsumexp", "std", "var")

    def __init__(self, aggrs: Sequence[Union[str, Aggregation]], aggrs_kwargs: Optional[List[Dict[str, Any]]] = None,
                 mode: str = "cat", mode_kwargs: Optional[Dict[str, Any]] = None) -> None:
        super().__init__()
        if mode not in self.MODES:
            raise ValueError(f"MultiAggregation: mode must be one of {self.MODES}, got {mode!r}")
        aggrs_kwargs = aggrs_kwargs or [{}] * len(aggrs)
        if len(aggrs_kwargs) != len(aggrs):
            raise ValueError(f"MultiAggregation: {len(aggrs_kwargs)} aggrs_kwargs for {len(aggrs)} aggregations")
        self.aggrs = torch.nn.ModuleList(resolve_aggregation(a, **kw) for a, kw in zip(aggrs, aggrs_kwargs))
        self.mode, self.mode_kwargs = mode, dict(mode_kwargs or {})
        rest = dict(self.mode_kwargs)
        self.in_channels, self.out_channels = rest.pop("in_channels", None), rest.pop("out_channels", None)
        self.lin = self.lin_heads = self.multihead_attn = None
        if mode in ("proj", "attn"):
            if len(self.aggrs) < 2:
                raise ValueError(f"MultiAggregation(mode={mode!r}) combines two or more aggregations")
            if self.in_channels is None or self.out_channels is None:
                raise ValueError(f"MultiAggregation(mode={mode!r}) needs mode_kwargs=dict(in_channels=..., "
                                 "out_channels=...)")
            widths = [self.in_channels] * len(self.aggrs) if isinstance(self.in_channels, int) else list(self.in_channels)
            if len(widths) != len(self.aggrs):
                raise ValueError(f"MultiAggregation: {len(widths)} in_channels for {len(self.aggrs)} aggregations")
            if mode == "proj":
                self.lin = torch.nn.Linear(sum(widths), self.out_channels, **rest)
            else:
                from gnnx.nn.hetero import HeteroDictLinear  # (gnnx.nn.hetero imports this module)

                self.lin_heads = HeteroDictLinear({str(k): width for k, width in enumerate(widths)}, self.out_channels)
                num_heads = rest.pop("num_heads", 1)
                self.multihead_attn = torch.nn.MultiheadAttention(self.out_channels, num_heads, **rest)

    def reset_parameters(self) -> None:
        for aggr in self.aggrs:
            aggr.reset_parameters()
        if self.lin is not None:
            self.lin.reset_parameters()
        if self.multihead_attn is not None:
            self.lin_heads.reset_parameters()
            self.multihead_attn._reset_parameters()

    def get_out_channels(self, in_channels: int) -> int:
        """Feature size of the result for ``in_channels`` input features."""
        if self.out_channels is not None:
            return self.out_channels
        return in_channels * len(self.aggrs) if self.mode == "cat" else in_channels

    def forward(self, x: Tensor, index: Optional[Tensor] = None, ptr: Optional[Tensor] = None,
                dim_size=None, mask: Optional[Tensor] = None) -> Tensor:
        index, dim_size = _segments(x, index, ptr, dim_size)
        return self.combine([aggr(x, index, dim_size=dim_size, dim=0, mask=mask) for aggr in self.aggrs])

    def combine(self, outs: List[Tensor]) -> Tensor:
        """The aggregations' results ``outs`` combined by the mode."""
        if len(outs) == 1:
            return outs[0]
        if self.mode in ("cat", "proj"):
            out = torch.cat(outs, dim=-1)
            return self.lin(out) if self.lin is not None else out
        if self.mode == "attn":
            heads = self.lin_heads({str(k): out for k, out in enumerate(outs)})
            stacked = torch.stack([heads[str(k)] for k in range(len(outs))], dim=0)
            return self.multihead_attn(stacked, stacked, stacked)[0].mean(dim=0)
        stacked = torch.stack(outs, dim=0)
        reduce = {"sum": torch.sum, "mean": torch.mean, "max": torch.amax, "min": torch.amin,
                  "logsumexp": torch.logsumexp, "std": torch.std, "var": torch.var}[self.mode]
        return reduce(stacked, dim=0)

    def __repr__(self) -> str:
        inner = ",\n".join(f"  {a!r}" for a in self.aggrs)
        return f"{type(self).__name__}([\n{inner},\n], mode={self.mode})"


_BY_NAME: Dict[str, type] = {
    "sum": SumAggregation, "add": SumAggregation, "mean": MeanAggregation, "max": MaxAggregation,
    "min": MinAggregation, "mul": MulAggregation, "var": VarAggregation, "std": StdAggregation,
    "softmax": SoftmaxAggregation, "powermean": PowerMeanAggregation,
}
PLAIN = ("sum", "add", "mean", "max", "min")  # fused by MessagePassing itself (one SpMM each)


def resolve_aggregation(aggr: Union[str, Aggregation], **kwargs: Any) -> Aggregation:
    """An aggregation module from PyG's name (``"std"``, ``"softmaxaggregation"``, ...) or as it is."""
    if isinstance(aggr, torch.nn.Module):
        return aggr
    key = str(aggr).lower().replace("_", "")
    key = key[: -len("aggregation")] if key.endswith("aggregation") and key != "aggregation" else key
    names = {**_BY_NAME, **ORDERED_BY_NAME, **ATTENTION_BY_NAME, **EQUILIBRIUM_BY_NAME}
    if key not in names:
        raise ValueError(f"unknown aggregation {aggr!r}; expected one of {sorted(names)} or a module")
    return names[key](**kwargs)


def aggregation_module(aggr: Any, **kwargs: Any) -> Optional[Aggregation]:
    """The module for ``aggr`` when it needs one (a module; a name other than the plain
    sum/mean/max/min, e.g. ``"std"``, ``"softmax"``; a list mixing such names or with
    ``aggr_kwargs``, as a :class:`MultiAggregation`); ``None`` for plain reductions and
    lists of them, which :class:`~gnnx.nn.MessagePassing` fuses itself."""
    if isinstance(aggr, torch.nn.Module):
        return aggr
    if isinstance(aggr, str):
        return None if aggr.lower() in PLAIN else resolve_aggregation(aggr, **kwargs)
    if isinstance(aggr, (list, tuple)):
        plain = all(isinstance(a, str) and a.lower() in PLAIN for a in aggr)
        return None if plain and not kwargs else MultiAggregation(list(aggr), **kwargs)
    return None


# The order-dependent aggregations (median, quantile, LSTM, ...) live in their own module and
# are re-exported here, under PyG's module path (torch_geometric.nn.aggr.MedianAggregation).
from gnnx.nn.aggr_attention import BY_NAME as ATTENTION_BY_NAME  # noqa: E402
from gnnx.nn.aggr_attention import (  # noqa: E402,F401
    GraphMultisetTransformer,
    PatchTransformerAggregation,
    SetTransformerAggregation,
)
from gnnx.nn.aggr_equilibrium import BY_NAME as EQUILIBRIUM_BY_NAME  # noqa: E402
from gnnx.nn.aggr_equilibrium import EquilibriumAggregation  # noqa: E402,F401
from gnnx.nn.aggr_ordered import BY_NAME as ORDERED_BY_NAME  # noqa: E402
from gnnx.nn.aggr_ordered import (  # noqa: E402,F401
    DeepSetsAggregation,
    GRUAggregation,
    LCMAggregation,
    LSTMAggregation,
    MedianAggregation,
    MLPAggregation,
    QuantileAggregation,
    SortAggregation,
    VariancePreservingAggregation,
)

# Every readout module, which gnnx.nn re-exports as torch_geometric.nn does
# (``from torch_geometric.nn import MeanAggregation`` ports to ``from gnnx.nn import ...``).
__all__ = [
    "Aggregation", "AttentionalAggregation", "DeepSetsAggregation", "DegreeScalerAggregation",
    "EquilibriumAggregation", "GRUAggregation", "GraphMultisetTransformer", "LCMAggregation", "LSTMAggregation",
    "MLPAggregation", "MaxAggregation", "MeanAggregation", "MedianAggregation", "MinAggregation", "MulAggregation",
    "MultiAggregation", "PatchTransformerAggregation", "PowerMeanAggregation", "QuantileAggregation", "Set2Set",
    "SetTransformerAggregation", "SoftmaxAggregation", "SortAggregation", "StdAggregation", "SumAggregation",
    "VarAggregation", "VariancePreservingAggregation",
]
