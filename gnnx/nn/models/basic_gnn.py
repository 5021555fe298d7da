r"""Stacked GNNs with PyG's ``BasicGNN`` signature: GCN, GraphSAGE, GIN, GAT, EdgeCNN.

Each model applies ``num_layers`` convolutions; between them (and after the last when
``jk`` is set) come activation, normalisation and dropout:

.. math::
    \mathbf{X}^{(l+1)} = \mathrm{Dropout}\big(\sigma(\mathrm{Norm}(\mathrm{Conv}_l(\mathbf{X}^{(l)}, \mathcal{E})))\big)

With ``jk`` (``"last"``, ``"cat"``, ``"max"``, ``"lstm"``) the per-layer outputs are combined and a
final linear layer maps them to ``out_channels``. Parameter names equal PyG's
(``convs.i``, ``norms.i``, ``lin``), so a PyG model's ``state_dict`` loads.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Union

import torch
from torch import Tensor

from gnnx.nn.aggr import LSTMParameters
from gnnx.nn.conv.edge_conv import EdgeConv
from gnnx.nn.conv.gat import GATConv, GATv2Conv
from gnnx.nn.conv.gcn import GCNConv
from gnnx.nn.conv.gin import GINConv
from gnnx.nn.conv.multi_aggr import PNAConv
from gnnx.nn.conv.sage import SAGEConv
from gnnx.nn.inits import activation
from gnnx.nn.message_passing import Adj, MessagePassing
from gnnx.nn.mlp import MLP
from gnnx.nn.norm import apply_norm, normalization
from gnnx.nn.sparse_input import ReadsSparseInputs
from gnnx.ops import dispatch


class JumpingKnowledge(torch.nn.Module):
    r"""Combine per-layer node representations (Xu et al., 2018, `"Representation Learning on
    Graphs with Jumping Knowledge Networks" <https://arxiv.org/abs/1806.03536>`_):
    ``"cat"`` concatenates, ``"max"`` takes the feature-wise maximum, ``"lstm"`` weights the
    layers by attention scores from a bi-directional LSTM over them,
    :math:`\mathbf{x}_v = \sum_l \alpha_{v,l} \mathbf{x}_v^{(l)}`,
    :math:`\alpha_{v} = \operatorname{softmax}_l(\mathbf{w}^\top \mathrm{BiLSTM}(\mathbf{x}_v^{(1)},
    \ldots, \mathbf{x}_v^{(L)}))` (needs ``channels`` and ``num_layers``; PyG's parameter names).
    """

    def __init__(self, mode: str, channels: Optional[int] = None, num_layers: Optional[int] = None) -> None:
        super().__init__()
        if mode not in ("cat", "max", "lstm"):
            raise ValueError(f"JumpingKnowledge mode must be 'cat', 'max' or 'lstm', got {mode!r}")
        self.mode, self.channels, self.num_layers = mode, channels, num_layers
        if mode == "lstm":
            if channels is None or num_layers is None:
                raise ValueError("JumpingKnowledge('lstm') needs channels and num_layers")
            hidden = (num_layers * channels) // 2
            self.lstm = LSTMParameters(channels, hidden, bidirectional=True)  # nn.LSTM's names
            self.att = torch.nn.Linear(2 * hidden, 1)

    def reset_parameters(self) -> None:
        if self.mode == "lstm":
            self.lstm.reset_parameters()
            self.att.reset_parameters()

    def forward(self, xs: List[Tensor]) -> Tensor:
        if self.mode == "cat":
            return torch.cat(xs, dim=-1)
        if self.mode == "max":
            return torch.stack(xs, dim=-1).amax(dim=-1)
        x = torch.stack(xs, dim=1)  # [N, layers, channels]
        scores = self.att(self._bidirectional_lstm(xs)).squeeze(-1)  # [N, layers]
        return (x * torch.softmax(scores, dim=-1).unsqueeze(-1)).sum(dim=1)

    def _bidirectional_lstm(self, xs: List[Tensor]) -> Tensor:
        """``nn.LSTM(bidirectional=True)(stack(xs, 1))[0]`` run step by step over the layers
        (a short sequence), so that it compiles and exports."""

        def run(sequence: List[Tensor], suffix: str) -> List[Tensor]:
            state = (sequence[0].new_zeros(sequence[0].size(0), self.lstm.hidden_size),) * 2
            out = []
            for x_t in sequence:
                state = self.lstm.step(0, x_t, state, suffix)
                out.append(state[0])
            return out

        forward, backward = run(xs, ""), run(xs[::-1], "_reverse")[::-1]
        return torch.stack([torch.cat(pair, dim=-1) for pair in zip(forward, backward)], dim=1)

    def __repr__(self) -> str:
        if self.mode == "lstm":
            return f"{type(self).__name__}({self.mode}, channels={self.channels}, layers={self.num_layers})"
        return f"{type(self).__name__}({self.mode})"


class BasicGNN(ReadsSparseInputs):
    """Shared body of the stacked models; subclasses say how to build one convolution.

    Args:
        in_channels: input feature size.
        hidden_channels: hidden size.
        num_layers: number of message-passing layers.
        out_channels: output size (default ``hidden_channels``).
        dropout: dropout between layers.
        act, act_first, act_kwargs: activation (name or callable) and its position.
        norm, norm_kwargs: normalisation between layers: ``None``, a module, or a name
            (``"batch_norm"``, ``"layer_norm"``, ``"graph_norm"``, ``"instance_norm"``,
            ``"pair_norm"``) built with ``norm_kwargs``, as PyG resolves it.
        jk: ``None``, ``"last"``, ``"cat"``, ``"max"`` or ``"lstm"``.
        **kwargs: passed to every convolution.

    Shapes:
        input ``x [N, in_channels]``, ``edge_index [2, E]`` or :class:`~gnnx.Graph`,
        optional ``edge_weight [E]`` / ``edge_attr [E, D]`` where the convolution takes
        them; output ``[N, out_channels]``.
    """

    supports_edge_weight = False
    supports_edge_attr = False
    supports_node_mask = False  # the convs take node_mask (GIN: batch norms inside their MLPs)

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        num_layers: int,
        out_channels: Optional[int] = None,
        dropout: float = 0.0,
        act: Union[str, Callable, None] = "relu",
        act_first: bool = False,
        act_kwargs: Optional[Dict[str, Any]] = None,
        norm: Union[str, torch.nn.Module, None] = None,
        norm_kwargs: Optional[Dict[str, Any]] = None,
        jk: Optional[str] = None,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"num_layers must be at least 1, got {num_layers}")
        self.in_channels, self.hidden_channels, self.num_layers = in_channels, hidden_channels, num_layers
        self.dropout = torch.nn.Dropout(p=dropout)
        self.act = activation(act, **(act_kwargs or {}))
        self.act_first, self.norm, self.norm_kwargs = act_first, norm, norm_kwargs
        self.jk_mode = jk
        self.out_channels = hidden_channels if out_channels is None else out_channels
        conv_to_out = out_channels is not None and jk is None

        self.convs = torch.nn.ModuleList()
        sizes = [in_channels] + [hidden_channels] * (num_layers - 1)
        for i, size in enumerate(sizes):
            last = i == num_layers - 1
            out = self.out_channels if (last and conv_to_out) else hidden_channels
            self.convs.append(self.init_conv(size, out, is_conv_to_out=last and conv_to_out, **kwargs))
        # PyG's layout: a norm after every layer but the last, which has one only with jk (else an
        # Identity, never called, so model.norms[-1] and summaries match PyG's)
        self.norms = torch.nn.ModuleList(
            normalization(norm, hidden_channels, **(norm_kwargs or {})) if i < num_layers - 1 or jk is not None
            else torch.nn.Identity() for i in range(num_layers)
        )
        # PyG's public flag: the norms between layers take batch (graph, layer, instance, pair norm)
        self.supports_norm_batch = norm is not None and any(getattr(n, "supports_batch", False) for n in self.norms)
        if jk is not None and jk != "last":
            self.jk = JumpingKnowledge(jk, hidden_channels, num_layers)
        if jk is not None:
            lin_in = num_layers * hidden_channels if jk == "cat" else hidden_channels
            self.lin = torch.nn.Linear(lin_in, self.out_channels)

    def init_conv(self, in_channels: int, out_channels: int, is_conv_to_out: bool, **kwargs: Any) -> MessagePassing:
        raise NotImplementedError

    def reset_parameters(self) -> None:
        for module in list(self.convs) + list(self.norms) + [getattr(self, "jk", None), getattr(self, "lin", None)]:
            if module is not None and hasattr(module, "reset_parameters"):
                module.reset_parameters()

    def forward(self, x: Tensor, edge_index: Adj, edge_weight: Optional[Tensor] = None,
                edge_attr: Optional[Tensor] = None, batch: Optional[Tensor] = None,
                batch_size: Optional[int] = None, node_mask: Optional[Tensor] = None) -> Tensor:
        """PyG's arguments: ``batch``/``batch_size`` go to the norms between layers that take
        them (graph, layer, instance and pair norm; pass ``batch_size`` to avoid a sync).
        ``node_mask`` (bool ``[N]``, e.g. a bucket-padded batch's) keeps padded nodes out of
        the batch-norm statistics, those between layers and those in GIN's MLPs."""
        xs: List[Tensor] = []
        edge_index = dispatch.prepare(edge_index, x.size(0))  # sorted once, shared by every layer
        for i, conv in enumerate(self.convs):
            extra = {"node_mask": node_mask} if node_mask is not None and self.supports_node_mask else {}
            if self.supports_edge_weight:
                x = conv(x, edge_index, edge_weight, **extra)
            elif self.supports_edge_attr:
                x = conv(x, edge_index, edge_attr, **extra)
            else:
                x = conv(x, edge_index, **extra)
            if i < self.num_layers - 1 or self.jk_mode is not None:
                if self.act is not None and self.act_first:
                    x = self.act(x)
                x = apply_norm(self.norms[i], x, node_mask, batch, batch_size)
                if self.act is not None and not self.act_first:
                    x = self.act(x)
                if self.training and self.dropout.p > 0:  # skip the identity: one op fewer per layer
                    x = self.dropout(x)
                xs.append(x)
        if hasattr(self, "jk"):
            x = self.jk(xs)
        if hasattr(self, "lin"):
            x = self.lin(x)
        return x

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.in_channels}, {self.out_channels}, num_layers={self.num_layers})"


class GCN(BasicGNN):
    """Stacked :class:`~gnnx.nn.GCNConv` layers (Kipf & Welling, 2017)."""

    supports_edge_weight = True

    def init_conv(self, in_channels, out_channels, is_conv_to_out, **kwargs):
        return GCNConv(in_channels, out_channels, **kwargs)


class GraphSAGE(BasicGNN):
    """Stacked :class:`~gnnx.nn.SAGEConv` layers (Hamilton et al., 2017)."""

    def init_conv(self, in_channels, out_channels, is_conv_to_out, **kwargs):
        return SAGEConv(in_channels, out_channels, **kwargs)


class GIN(BasicGNN):
    """Stacked :class:`~gnnx.nn.GINConv` layers with two-layer MLPs (Xu et al., 2019)."""

    supports_node_mask = True

    def init_conv(self, in_channels, out_channels, is_conv_to_out, **kwargs):
        mlp = MLP([in_channels, out_channels, out_channels], act=self.act, act_first=self.act_first,
                  norm=self.norm, norm_kwargs=self.norm_kwargs)
        return GINConv(mlp, **kwargs)


class PNA(BasicGNN):
    """Stacked :class:`~gnnx.nn.PNAConv` layers (Corso et al., 2020); ``aggregators``,
    ``scalers``, ``deg`` and the other PNAConv arguments pass through ``**kwargs``."""

    supports_edge_attr = True

    def init_conv(self, in_channels, out_channels, is_conv_to_out, **kwargs):
        return PNAConv(in_channels, out_channels, **kwargs)


class GAT(BasicGNN):
    """Stacked :class:`~gnnx.nn.GATConv` (or, with ``v2=True``, GATv2) layers.

    ``heads`` heads are concatenated in hidden layers (each of ``hidden_channels // heads``);
    the output layer averages them. ``dropout`` also drops attention coefficients.
    """

    supports_edge_attr = True

    def init_conv(self, in_channels, out_channels, is_conv_to_out, **kwargs):
        v2 = kwargs.pop("v2", False)
        heads = kwargs.pop("heads", 1)
        concat = kwargs.pop("concat", True) and not is_conv_to_out
        if concat and out_channels % heads != 0:
            raise ValueError(f"GAT: out_channels ({out_channels}) must be divisible by heads ({heads})")
        if concat:
            out_channels //= heads
        conv = GATv2Conv if v2 else GATConv
        return conv(in_channels, out_channels, heads=heads, concat=concat, dropout=self.dropout.p, **kwargs)


class EdgeCNN(BasicGNN):
    """Stacked :class:`~gnnx.nn.EdgeConv` layers with two-layer MLPs (Wang et al., 2019)."""

    def init_conv(self, in_channels, out_channels, is_conv_to_out, **kwargs):
        mlp = MLP([2 * in_channels, out_channels, out_channels], act=self.act, act_first=self.act_first,
                  norm=self.norm, norm_kwargs=self.norm_kwargs)
        return EdgeConv(mlp, **kwargs)
