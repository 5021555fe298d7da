r"""Aggregations that look at the order of a segment's rows, PyG's ``nn.aggr`` names.

* :class:`QuantileAggregation`: the feature-wise :math:`q`-th quantile of each segment,
  :class:`MedianAggregation` its lower median. Two sorts (values, then stable by segment),
  no host sync, compile- and export-clean.
* :class:`LSTMAggregation`, :class:`GRUAggregation`: a recurrent network over the segment's
  rows in input order (PyG asks for a sorted ``index``), the output at the last padded step.
* :class:`MLPAggregation`: an MLP over the segment's first ``max_num_elements`` rows, flattened.
* :class:`SortAggregation`: the ``k`` rows with the largest last channel (SortPool).
* :class:`LCMAggregation`: a learnable commutative monoid, a GRU cell applied pairwise up a
  balanced binary tree over the segment's rows (depth :math:`\lceil \log_2 M \rceil`).
* :class:`DeepSetsAggregation`: :math:`\rho\big(\sum_j \phi(\mathbf{x}_j)\big)`;
  :class:`VariancePreservingAggregation`: :math:`\frac{1}{\sqrt{n}} \sum_j \mathbf{x}_j`.

The recurrent ones and ``SortAggregation`` lay each segment out densely, ``[dim_size, M, F]``.
``M`` is the largest segment, read from the data with a host sync, unless the caller passes
``max_num_elements`` (PyG's argument; longer segments are cut, as in PyG): with it the shape
is static and they compile with ``fullgraph=True`` too. The recurrences run their cells step
by step over ``nn.LSTM``/``nn.GRU``'s parameter names, so a PyG ``state_dict`` loads.
"""
from __future__ import annotations

from typing import List, Optional, Sequence, Union

import torch
from torch import Tensor

from gnnx import ops
from gnnx.nn.aggr import Aggregation, GRUParameters, LSTMParameters, _segments, gru_step
from gnnx.nn.inits import reset


def _with_trash_slot(index: Tensor, dim_size, mask: Optional[Tensor]) -> Tensor:
    """Masked-out rows go to an extra slot ``dim_size`` that callers drop."""
    return index if mask is None else torch.where(mask, index, torch.full_like(index, dim_size))


def _counts(index: Tensor, slots) -> Tensor:
    return torch.zeros(slots, dtype=torch.long, device=index.device).scatter_add_(0, index, torch.ones_like(index))


def dense_segments(x: Tensor, index: Tensor, dim_size, max_num_elements: Optional[int] = None,
                   fill_value: Union[float, Tensor] = 0.0, mask: Optional[Tensor] = None) -> Tensor:
    """Rows of ``x [E, F]`` laid out per segment, ``[dim_size, M, F]``, in input order within
    a segment (PyG's ``to_dense_batch`` on a sorted ``index``; any order works here), the
    rest ``fill_value``. ``M``: ``max_num_elements`` (rows past it dropped) or, if ``None``,
    the largest segment (a host sync)."""
    index = _with_trash_slot(index, dim_size, mask)
    count = _counts(index, dim_size + 1)
    if max_num_elements is None:
        max_num_elements = int(count[:dim_size].max()) if dim_size > 0 and x.size(0) > 0 else 0
    M = max(int(max_num_elements), 1)
    order = torch.sort(index, stable=True).indices
    start = count.cumsum(0) - count
    ranked = torch.arange(index.numel(), device=index.device) - start[index[order]]
    position = torch.empty_like(index).scatter_(0, order, ranked)
    keep = (position < M) & (index < dim_size)
    slot = torch.where(keep, index * M + position, torch.full_like(index, dim_size * M))  # last row: trash
    flat = x.flatten(1) if x.dim() > 1 else x.unsqueeze(1)
    out = flat.new_full((dim_size * M + 1, flat.size(1)), 0.0) + fill_value
    out = out.index_put((slot,), flat)
    return out[:-1].view(dim_size, M, *x.shape[1:])


class QuantileAggregation(Aggregation):
    r"""The feature-wise :math:`q`-th quantile of each segment (PyG's): for sorted values
    :math:`x_{\pi_1} \le \dots \le x_{\pi_n}`, the value at :math:`q (n - 1)`, between two
    values by ``interpolation`` (``"linear"``, ``"lower"``, ``"higher"``, ``"nearest"``,
    ``"midpoint"``); several ``q`` concatenate. Empty segments get ``fill_value``."""

    interpolations = ("linear", "lower", "higher", "nearest", "midpoint")

    def __init__(self, q: Union[float, Sequence[float]], interpolation: str = "linear", fill_value: float = 0.0):
        super().__init__()
        qs = list(q) if isinstance(q, (list, tuple)) else [q]
        if not qs:
            raise ValueError("QuantileAggregation needs at least one quantile q")
        if not all(0.0 <= v <= 1.0 for v in qs):
            raise ValueError(f"q must be in the range [0, 1], got {q}")
        if interpolation not in self.interpolations:
            raise ValueError(f"interpolation must be one of {self.interpolations}, got {interpolation!r}")
        self._q = q
        self.register_buffer("q", torch.tensor(qs).view(-1, 1))  # PyG's buffer (its state_dict key)
        self.interpolation, self.fill_value = interpolation, fill_value

    def forward(self, x: Tensor, index: Optional[Tensor] = None, ptr: Optional[Tensor] = None,
                dim_size=None, mask: Optional[Tensor] = None) -> Tensor:
        index, dim_size = _segments(x, index, ptr, dim_size)
        index = _with_trash_slot(index, dim_size, mask)
        count = _counts(index, dim_size + 1)[:dim_size]
        start = count.cumsum(0) - count
        flat = x.flatten(1) if x.dim() > 1 else x.unsqueeze(1)
        # Sort every feature's values, then (stably) by segment: each segment's values in order.
        values, perm = torch.sort(flat, dim=0)
        owner = index.view(-1, 1).expand_as(flat).gather(0, perm)
        owner, perm = torch.sort(owner, dim=0, stable=True)
        values = values.gather(0, perm)
        point = (self.q.to(x.dtype) * (count - 1).to(x.dtype) + start.to(x.dtype)).t().reshape(-1)
        point = point.clamp(min=0, max=max(flat.size(0) - 1, 0))
        if flat.size(0) == 0:
            values = flat.new_zeros(1, flat.size(1))
        low, high = values.index_select(0, point.floor().long()), values.index_select(0, point.ceil().long())
        if self.interpolation == "lower":
            out = low
        elif self.interpolation == "higher":
            out = high
        elif self.interpolation == "nearest":
            out = values.index_select(0, point.round().long())
        elif self.interpolation == "midpoint":
            out = 0.5 * low + 0.5 * high
        else:
            out = low + (high - low) * point.frac().view(-1, 1)
        empty = (count == 0).repeat_interleave(self.q.numel()).view(-1, 1)
        out = out.masked_fill(empty, self.fill_value)
        return out.view(dim_size, -1) if self.q.numel() > 1 else out.view(dim_size, *x.shape[1:])

    def __repr__(self) -> str:
        return f"{type(self).__name__}(q={self._q})"


class MedianAggregation(QuantileAggregation):
    """The feature-wise lower median of each segment (PyG's)."""

    def __init__(self, fill_value: float = 0.0):
        super().__init__(0.5, "lower", fill_value)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class _RecurrentAggregation(Aggregation):
    _parameters_class = LSTMParameters
    _attribute = "lstm"

    def __init__(self, in_channels: int, out_channels: int, **kwargs) -> None:
        super().__init__()
        if kwargs.get("bidirectional"):
            raise ValueError(f"{type(self).__name__} runs one direction (as PyG's output takes the last step)")
        kwargs.pop("batch_first", None)
        self.in_channels, self.out_channels = in_channels, out_channels
        setattr(self, self._attribute, self._parameters_class(in_channels, out_channels, **kwargs))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        getattr(self, self._attribute).reset_parameters()

    def forward(self, x: Tensor, index: Optional[Tensor] = None, ptr: Optional[Tensor] = None,
                dim_size=None, mask: Optional[Tensor] = None, max_num_elements: Optional[int] = None) -> Tensor:
        index, dim_size = _segments(x, index, ptr, dim_size)
        sequence = dense_segments(x, index, dim_size, max_num_elements, mask=mask)  # [B, M, F]
        cells = getattr(self, self._attribute)
        for layer in range(cells.num_layers):
            sequence = torch.stack(self._run(cells, layer, sequence), dim=1)
        return sequence[:, -1]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.in_channels}, {self.out_channels})"


class LSTMAggregation(_RecurrentAggregation):
    r"""An LSTM over each segment's rows (`"Inductive Representation Learning on Large Graphs"
    <https://arxiv.org/abs/1706.02216>`_), the output of the last step; ``self.lstm`` holds
    ``nn.LSTM``'s parameters. Not permutation invariant: pass rows sorted by ``index``."""

    def _run(self, cells: LSTMParameters, layer: int, sequence: Tensor) -> List[Tensor]:
        h = c = sequence.new_zeros(sequence.size(0), cells.hidden_size)
        outputs = []
        for t in range(sequence.size(1)):
            h, c = cells.step(layer, sequence[:, t], (h, c))
            outputs.append(h)
        return outputs


class GRUAggregation(_RecurrentAggregation):
    """A GRU over each segment's rows, the output of the last step; ``self.gru`` holds
    ``nn.GRU``'s parameters. Not permutation invariant: pass rows sorted by ``index``."""

    _parameters_class = GRUParameters
    _attribute = "gru"

    def _run(self, cells: GRUParameters, layer: int, sequence: Tensor) -> List[Tensor]:
        h = sequence.new_zeros(sequence.size(0), cells.hidden_size)
        outputs = []
        for t in range(sequence.size(1)):
            h = cells.step(layer, sequence[:, t], h)
            outputs.append(h)
        return outputs


class LCMAggregation(Aggregation):
    r"""Learnable commutative monoid (`"Learnable Commutative Monoids for Graph Neural Networks"
    <https://arxiv.org/abs/2212.08541>`_): rows (projected by ``lin`` + ReLU when ``project``)
    combined pairwise by a GRU cell, :math:`x \oplus y = \frac{1}{2}(\mathrm{GRU}(x, y) +
    \mathrm{GRU}(y, x))`, level by level; an odd row out moves up a level unchanged."""

    def __init__(self, in_channels: int, out_channels: int, project: bool = True) -> None:
        super().__init__()
        if in_channels != out_channels and not project:
            raise ValueError("LCMAggregation: inputs must be projected when in_channels != out_channels "
                             "(project=True)")
        self.in_channels, self.out_channels, self.project = in_channels, out_channels, project
        self.lin = torch.nn.Linear(in_channels, out_channels) if project else None
        self.gru_cell = torch.nn.GRUCell(out_channels, out_channels)

    def reset_parameters(self) -> None:
        if self.lin is not None:
            self.lin.reset_parameters()
        self.gru_cell.reset_parameters()

    def _cell(self, x: Tensor, h: Tensor) -> Tensor:
        cell = self.gru_cell
        return gru_step(x, h, cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)

    def forward(self, x: Tensor, index: Optional[Tensor] = None, ptr: Optional[Tensor] = None,
                dim_size=None, mask: Optional[Tensor] = None, max_num_elements: Optional[int] = None) -> Tensor:
        index, dim_size = _segments(x, index, ptr, dim_size)
        if self.lin is not None:
            x = self.lin(x).relu()
        level = dense_segments(x, index, dim_size, max_num_elements, mask=mask).transpose(0, 1)  # [M, B, F]
        while level.size(0) > 1:
            remainder = level[-1:] if level.size(0) % 2 else None
            pairs = (level[:-1] if remainder is not None else level).reshape(-1, 2, *level.shape[1:])
            left, right = pairs[:, 0].reshape(-1, level.size(-1)), pairs[:, 1].reshape(-1, level.size(-1))
            merged = 0.5 * (self._cell(left, right) + self._cell(right, left))
            level = merged.view(-1, *level.shape[1:])
            if remainder is not None:
                level = torch.cat([level, remainder], dim=0)
        return level[0]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.in_channels}, {self.out_channels}, project={self.project})"


class MLPAggregation(Aggregation):
    """An MLP over each segment's first ``max_num_elements`` rows, concatenated (padded with
    zeros); ``**kwargs`` go to :class:`~gnnx.nn.MLP` (``hidden_channels``, ``num_layers``, ...)."""

    def __init__(self, in_channels: int, out_channels: int, max_num_elements: int, **kwargs) -> None:
        super().__init__()
        from gnnx.nn.mlp import MLP

        self.in_channels, self.out_channels, self.max_num_elements = in_channels, out_channels, max_num_elements
        self.mlp = MLP(in_channels=in_channels * max_num_elements, out_channels=out_channels, **kwargs)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.mlp.reset_parameters()

    def forward(self, x: Tensor, index: Optional[Tensor] = None, ptr: Optional[Tensor] = None,
                dim_size=None, mask: Optional[Tensor] = None) -> Tensor:
        index, dim_size = _segments(x, index, ptr, dim_size)
        dense = dense_segments(x, index, dim_size, self.max_num_elements, mask=mask)
        return self.mlp(dense.reshape(dim_size, -1), index, dim_size)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.in_channels}, {self.out_channels}, max_num_elements={self.max_num_elements})"


class SortAggregation(Aggregation):
    """SortPool (`"An End-to-End Deep Learning Architecture for Graph Classification"
    <https://www.cse.wustl.edu/~muhan/papers/AAAI_2018_DGCNN.pdf>`_): each segment's ``k``
    rows with the largest last channel, in that order, flattened to ``[dim_size, k * F]``
    (zeros where a segment has fewer)."""

    def __init__(self, k: int) -> None:
        super().__init__()
        self.k = k

    def forward(self, x: Tensor, index: Optional[Tensor] = None, ptr: Optional[Tensor] = None,
                dim_size=None, mask: Optional[Tensor] = None, max_num_elements: Optional[int] = None) -> Tensor:
        index, dim_size = _segments(x, index, ptr, dim_size)
        fill = x.detach().min() - 1 if x.numel() > 0 else x.new_zeros(())
        dense = dense_segments(x, index, dim_size, max_num_elements, fill_value=fill, mask=mask)  # [B, M, F]
        order = dense[:, :, -1].argsort(dim=-1, descending=True, stable=True)
        dense = dense.gather(1, order.unsqueeze(-1).expand_as(dense))
        M = dense.size(1)
        if M >= self.k:
            dense = dense[:, : self.k]
        else:
            dense = torch.cat([dense, dense.new_zeros(dense.size(0), self.k - M, dense.size(2)) + fill], dim=1)
        dense = torch.where(dense == fill, torch.zeros_like(dense), dense)
        return dense.reshape(dim_size, -1)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(k={self.k})"


class DeepSetsAggregation(Aggregation):
    r""":math:`\rho\big(\sum_j \phi(\mathbf{x}_j)\big)` (`"Deep Sets"
    <https://arxiv.org/abs/1703.06114>`_) with ``local_nn`` (:math:`\phi`) and ``global_nn``
    (:math:`\rho`); a :class:`~gnnx.nn.MLP` is kept under ``local_mlp``/``global_mlp`` as PyG does."""

    def __init__(self, local_nn: Optional[torch.nn.Module] = None, global_nn: Optional[torch.nn.Module] = None):
        super().__init__()
        from gnnx.nn.mlp import MLP

        self.local_nn = self.local_mlp = self.global_nn = self.global_mlp = None
        if isinstance(local_nn, MLP):
            self.local_mlp = local_nn
        else:
            self.local_nn = local_nn
        if isinstance(global_nn, MLP):
            self.global_mlp = global_nn
        else:
            self.global_nn = global_nn

    def reset_parameters(self) -> None:
        for module in (self.local_nn, self.local_mlp, self.global_nn, self.global_mlp):
            reset(module)

    def forward(self, x: Tensor, index: Optional[Tensor] = None, ptr: Optional[Tensor] = None,
                dim_size=None, mask: Optional[Tensor] = None) -> Tensor:
        index, dim_size = _segments(x, index, ptr, dim_size)
        if self.local_mlp is not None:
            x = self.local_mlp(x, batch=index, batch_size=dim_size)
        if self.local_nn is not None:
            x = self.local_nn(x)
        x = ops.scatter(x, index, dim_size, "sum", mask=mask)
        if self.global_mlp is not None:
            return self.global_mlp(x, batch=torch.arange(dim_size, device=x.device), batch_size=dim_size)
        return self.global_nn(x) if self.global_nn is not None else x

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(local_nn={self.local_mlp or self.local_nn}, "
                f"global_nn={self.global_mlp or self.global_nn})")


class VariancePreservingAggregation(Aggregation):
    r""":math:`\frac{1}{\sqrt{n}} \sum_j \mathbf{x}_j` (`"Variance-Preserving Aggregation"
    <https://arxiv.org/abs/2403.04747>`_; empty segments give 0)."""

    def forward(self, x: Tensor, index: Optional[Tensor] = None, ptr: Optional[Tensor] = None,
                dim_size=None, mask: Optional[Tensor] = None) -> Tensor:
        index, dim_size = _segments(x, index, ptr, dim_size)
        total = ops.scatter(x, index, dim_size, "sum", mask=mask)
        ones = torch.ones(x.size(0), dtype=x.dtype, device=x.device)
        count = ops.scatter(ones, index, dim_size, "sum", mask=mask)
        return total / count.sqrt().clamp(min=1.0).view((-1,) + (1,) * (x.dim() - 1))

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


BY_NAME = {
    "quantile": QuantileAggregation, "median": MedianAggregation, "lstm": LSTMAggregation, "gru": GRUAggregation,
    "mlp": MLPAggregation, "sort": SortAggregation, "deepsets": DeepSetsAggregation,
    "variancepreserving": VariancePreservingAggregation, "lcm": LCMAggregation,
}
