r"""The Recurrent Event Network (RE-Net, PyG's ``torch_geometric.nn.models.RENet``, from
`"Recurrent Event Network for Reasoning over Temporal Knowledge Graphs"
<https://arxiv.org/abs/1904.05530>`_): for an event :math:`(s, r, o, t)`, the probability of
each object given :math:`(s, r)` and of each subject given :math:`(o, r)`,

.. math::
    p(o \mid s, r) = \operatorname{softmax}\big(\mathbf{W}_s [\mathbf{e}_s \,\Vert\,
    \mathbf{h}^{(t-1)}(s, r) \,\Vert\, \mathbf{e}_r] + \mathbf{b}_s\big), \qquad
    \mathbf{h}^{(t)}(s, r) = \mathrm{GRU}\big([\mathbf{e}_s \,\Vert\,
    g(\mathcal{O}^{(t)}_r(s)) \,\Vert\, \mathbf{e}_r], \mathbf{h}^{(t-1)}(s, r)\big),

where :math:`\mathcal{O}^{(t)}_r(s)` are the objects :math:`s` met under relation :math:`r` at
time step :math:`t` of its last ``seq_len`` ones, :math:`g` their mean embedding (an empty step:
zeros), and the same for subjects given an object. :meth:`RENet.pre_transform` records each event's
history before the event itself is added (events in time order); :meth:`RENet.collate` batches
events with it. PyG's arguments, parameter names and initial draws, so a PyG state_dict loads
and the outputs are PyG's (``tests/nn/test_re_net.py``); the GRUs (:class:`GRU`: ``nn.GRU``'s
parameters and repr) run unrolled, so the model compiles with ``fullgraph=True`` (Dynamo does not
trace ``nn.GRU``).
One difference on purpose: with
``num_layers > 1`` PyG's forward fails (it squeezes the GRU's ``[layers, batch, hidden]`` state
as if it had one layer); gnnx reads the last layer's state.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, List, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn import Linear, Parameter

from gnnx.ops.dispatch import check_index_range
from gnnx.ops.scatter import scatter

HISTORY = ("h_sub", "h_sub_t", "h_sub_batch", "h_obj", "h_obj_t", "h_obj_batch")


@dataclass
class EventBatch:
    """Events ``(sub, rel, obj, t)`` ``[batch]`` with their histories: ``h_sub`` (the objects of
    each subject's past events under the event's relation), ``h_sub_t`` (their time step in
    ``[0, seq_len)``, oldest first), ``h_sub_batch`` (their event in the batch); ``h_obj*`` the
    same for objects. PyG's ``DataLoader(..., follow_batch=["h_sub", "h_obj"])`` batches hold
    the same fields, and :meth:`RENet.forward` takes either."""
    sub: Tensor
    rel: Tensor
    obj: Tensor
    t: Tensor
    h_sub: Tensor
    h_sub_t: Tensor
    h_sub_batch: Tensor
    h_obj: Tensor
    h_obj_t: Tensor
    h_obj_batch: Tensor

    def to(self, device: Any) -> "EventBatch":
        return EventBatch(**{name: getattr(self, name).to(device) for name in self.__dataclass_fields__})


class HistoryRecorder:
    """:meth:`RENet.pre_transform`'s callable: per node, its events of the last ``seq_len + 1``
    time steps as ``(other end, relation)`` pairs; an event gets the pairs of the ``seq_len``
    steps before the current one under its relation, then joins the current step. A larger
    timestamp than the last one seen moves every node's window one step on (one step, however
    far time jumped, as PyG)."""

    def __init__(self, seq_len: int) -> None:
        self.seq_len = seq_len
        self.t_last = 0
        self.sub_hist: List[List[List[Tuple[int, int]]]] = []
        self.obj_hist: List[List[List[Tuple[int, int]]]] = []

    def _grow(self, nodes: int) -> None:
        for hist in (self.sub_hist, self.obj_hist):
            hist.extend([[] for _ in range(self.seq_len + 1)] for _ in range(nodes - len(hist)))

    def _history(self, hist, node: int, rel: int) -> Tuple[Tensor, Tensor]:
        pairs = [(other, step) for step in range(self.seq_len) for other, r in hist[node][step] if r == rel]
        nodes, steps = torch.tensor(pairs, dtype=torch.long).view(-1, 2).t()
        return nodes, steps

    def __call__(self, data: Any) -> Any:
        sub, rel, obj, t = (int(getattr(data, name)) for name in ("sub", "rel", "obj", "t"))
        if min(sub, rel, obj) < 0:
            raise ValueError(f"RENet.pre_transform: negative index in the event (sub={sub}, rel={rel}, obj={obj})")
        self._grow(max(sub, obj) + 1)
        if t > self.t_last:
            for hist in (self.sub_hist, self.obj_hist):
                for windows in hist:
                    windows.pop(0)
                    windows.append([])
            self.t_last = t
        data.h_sub, data.h_sub_t = self._history(self.sub_hist, sub, rel)
        data.h_obj, data.h_obj_t = self._history(self.obj_hist, obj, rel)
        self.sub_hist[sub][-1].append((obj, rel))
        self.obj_hist[obj][-1].append((sub, rel))
        return data

    def __repr__(self) -> str:
        return f"PreTransform(seq_len={self.seq_len})"


class GRU(torch.nn.Module):
    r"""``torch.nn.GRU(in_channels, hidden_channels, num_layers, batch_first=True, bias=bias)``'s
    parameters (names, shapes, initial draws) and repr, run unrolled: its forward returns the
    last layer's final state over ``sequence [batch, steps, in]`` from a zero state (gates in
    PyTorch's order :math:`r, z, n`). Dynamo does not trace ``nn.GRU``; a loop over the model's
    fixed ``seq_len`` steps compiles into one graph, each layer's input projection once for all
    steps."""

    def __init__(self, in_channels: int, hidden_channels: int, num_layers: int = 1, bias: bool = True) -> None:
        super().__init__()
        self.input_size, self.hidden_size, self.num_layers, self.bias = in_channels, hidden_channels, num_layers, bias
        for layer in range(num_layers):
            width = in_channels if layer == 0 else hidden_channels
            setattr(self, f"weight_ih_l{layer}", Parameter(torch.empty(3 * hidden_channels, width)))
            setattr(self, f"weight_hh_l{layer}", Parameter(torch.empty(3 * hidden_channels, hidden_channels)))
            if bias:
                setattr(self, f"bias_ih_l{layer}", Parameter(torch.empty(3 * hidden_channels)))
                setattr(self, f"bias_hh_l{layer}", Parameter(torch.empty(3 * hidden_channels)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.hidden_size)  # as torch.nn.GRU, parameter by parameter
        for weight in self.parameters():
            torch.nn.init.uniform_(weight, -bound, bound)

    def forward(self, sequence: Tensor) -> Tensor:
        layer_input = sequence
        for layer in range(self.num_layers):
            w_hh = getattr(self, f"weight_hh_l{layer}")
            b_hh = getattr(self, f"bias_hh_l{layer}") if self.bias else None
            gates_in = F.linear(layer_input, getattr(self, f"weight_ih_l{layer}"),
                                getattr(self, f"bias_ih_l{layer}") if self.bias else None)  # [batch, steps, 3 hidden]
            state, states = sequence.new_zeros(sequence.size(0), self.hidden_size), []
            for step in range(sequence.size(1)):
                r_in, z_in, n_in = gates_in[:, step].chunk(3, dim=-1)
                r_h, z_h, n_h = F.linear(state, w_hh, b_hh).chunk(3, dim=-1)
                reset, update = torch.sigmoid(r_in + r_h), torch.sigmoid(z_in + z_h)
                state = (1 - update) * torch.tanh(n_in + reset * n_h) + update * state
                states.append(state)
            layer_input = torch.stack(states, dim=1)
        return state

    def extra_repr(self) -> str:
        return (f"{self.input_size}, {self.hidden_size}" + (f", num_layers={self.num_layers}" if self.num_layers != 1
                                                            else "") + ("" if self.bias else ", bias=False")
                + ", batch_first=True")


class RENet(torch.nn.Module):
    """RE-Net (module docstring). ``forward(data)`` returns ``(log p(object | subject,
    relation), log p(subject | object, relation))``, each ``[batch, num_nodes]``.

    Args:
        num_nodes: entities in the knowledge graph.
        num_rels: relations.
        hidden_channels: width of the entity and relation embeddings and of the GRU state.
        seq_len: time steps of history each event sees.
        num_layers: GRU layers (the last one's state is read).
        dropout: dropout before the final projections.
        bias: whether the GRUs and projections learn biases.
    """

    def __init__(self, num_nodes: int, num_rels: int, hidden_channels: int, seq_len: int, num_layers: int = 1,
                 dropout: float = 0.0, bias: bool = True) -> None:
        super().__init__()
        self.num_nodes, self.hidden_channels, self.num_rels = num_nodes, hidden_channels, num_rels
        self.seq_len, self.dropout = seq_len, dropout
        self.ent = Parameter(torch.empty(num_nodes, hidden_channels))
        self.rel = Parameter(torch.empty(num_rels, hidden_channels))
        self.sub_gru = GRU(3 * hidden_channels, hidden_channels, num_layers, bias=bias)
        self.obj_gru = GRU(3 * hidden_channels, hidden_channels, num_layers, bias=bias)
        self.sub_lin = Linear(3 * hidden_channels, num_nodes, bias=bias)
        self.obj_lin = Linear(3 * hidden_channels, num_nodes, bias=bias)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        torch.nn.init.xavier_uniform_(self.ent, gain=math.sqrt(2.0))
        torch.nn.init.xavier_uniform_(self.rel, gain=math.sqrt(2.0))
        for module in (self.sub_gru, self.obj_gru, self.sub_lin, self.obj_lin):
            module.reset_parameters()

    @staticmethod
    def pre_transform(seq_len: int) -> HistoryRecorder:
        """A callable that sets ``h_sub``/``h_sub_t``/``h_obj``/``h_obj_t`` on each event
        (an object with int ``sub``, ``rel``, ``obj``, ``t``), fed the events in time order."""
        return HistoryRecorder(seq_len)

    @staticmethod
    def collate(events: Sequence[Any]) -> EventBatch:
        """The :class:`EventBatch` of events that went through :meth:`pre_transform`."""
        if len(events) == 0:
            raise ValueError("RENet.collate needs at least one event")
        missing = [name for name in ("h_sub", "h_sub_t", "h_obj", "h_obj_t") if not hasattr(events[0], name)]
        if missing:
            raise ValueError(f"RENet.collate: the events have no {', '.join(missing)}: pass them through "
                             "RENet.pre_transform(seq_len) first")
        fields = {name: torch.tensor([int(getattr(e, name)) for e in events]) for name in ("sub", "rel", "obj", "t")}
        for side in ("h_sub", "h_obj"):
            fields[side] = torch.cat([getattr(e, side).long() for e in events])
            fields[f"{side}_t"] = torch.cat([getattr(e, f"{side}_t").long() for e in events])
            sizes = torch.tensor([getattr(e, side).numel() for e in events])
            fields[f"{side}_batch"] = torch.repeat_interleave(torch.arange(len(events)), sizes)
        return EventBatch(**fields)

    def _history_mean(self, nodes: Tensor, steps: Tensor, batch: Tensor, batch_size: int) -> Tensor:
        slot = steps + batch * self.seq_len
        return scatter(self.ent[nodes], slot, dim_size=batch_size * self.seq_len, reduce="mean").view(
            batch_size, self.seq_len, -1)

    def forward(self, data: Any) -> Tuple[Tensor, Tensor]:
        missing = [name for name in HISTORY if getattr(data, name, None) is None]
        if missing:
            raise ValueError(f"RENet: the batch has no {', '.join(missing)} (RENet.pre_transform then RENet.collate, "
                             "or PyG's DataLoader with follow_batch=['h_sub', 'h_obj'])")
        for name in ("sub", "obj", "h_sub", "h_obj"):
            check_index_range(getattr(data, name), self.num_nodes, f"RENet input '{name}'", "{count} entities")
        check_index_range(data.rel, self.num_rels, "RENet input 'rel'", "{count} relations")
        for name in ("h_sub_t", "h_obj_t"):
            check_index_range(getattr(data, name), self.seq_len, f"RENet input '{name}'", "sequence of {count} steps")
        batch_size = data.sub.size(0)
        ent_sub, ent_obj, rel = self.ent[data.sub], self.ent[data.obj], self.rel[data.rel]
        out = []
        for ent, nodes, steps, batch, gru, lin in (
                (ent_sub, data.h_sub, data.h_sub_t, data.h_sub_batch, self.sub_gru, self.sub_lin),
                (ent_obj, data.h_obj, data.h_obj_t, data.h_obj_batch, self.obj_gru, self.obj_lin)):
            history = self._history_mean(nodes, steps, batch, batch_size)
            repeat = (ent.unsqueeze(1).expand(-1, self.seq_len, -1), rel.unsqueeze(1).expand(-1, self.seq_len, -1))
            state = gru(torch.cat([repeat[0], history, repeat[1]], dim=-1))
            hidden = torch.cat([ent, state, rel], dim=-1)
            hidden = F.dropout(hidden, p=self.dropout, training=self.training)
            out.append(F.log_softmax(lin(hidden), dim=1))
        return out[0], out[1]

    @staticmethod
    def test(logits: Tensor, y: Tensor) -> Tensor:
        """``[MRR, Hits@1, Hits@3, Hits@10]`` of the true entities ``y`` under ``logits``
        ``[batch, num_nodes]`` (ranks by a descending sort, as PyG)."""
        if logits.dim() != 2 or y.dim() != 1 or y.size(0) != logits.size(0):
            raise ValueError(f"RENet.test: logits [batch, num_nodes] and y [batch] needed, got {list(logits.shape)} "
                             f"and {list(y.shape)}")
        check_index_range(y, logits.size(1), "RENet.test: y", "{count} entities of the logits")
        perm = logits.sort(dim=1, descending=True).indices
        hit = y.view(-1, 1) == perm
        rank = hit.float().argmax(dim=1) + 1
        mrr = (1.0 / rank.float()).mean()
        hits = [hit[:, :k].sum() / y.size(0) for k in (1, 3, 10)]
        return torch.stack([mrr, *hits]).float()
