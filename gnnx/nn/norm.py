"""Normalisation layers with PyG's parameter names.

Per-graph statistics come from :func:`gnnx.ops.scatter` over ``batch``; pass
``batch_size`` (the number of graphs) so no host sync is needed.
"""
from __future__ import annotations

import inspect
from typing import Any, Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from gnnx import ops


class BatchNorm(torch.nn.Module):
    r"""Batch normalisation over nodes (PyG's ``BatchNorm``; parameters under ``module``).

    .. math::
        \mathbf{x}'_i = \frac{\mathbf{x}_i - \mathrm{E}[\mathbf{x}]}{\sqrt{\mathrm{Var}[\mathbf{x}] + \epsilon}}
        \odot \gamma + \beta

    With ``node_mask`` the expectation and variance run over the masked-in rows only
    (:math:`\mathrm{E}[\mathbf{x}] = \sum_i m_i \mathbf{x}_i / \sum_i m_i`), and so do the
    running statistics: a bucket-padded batch (:func:`gnnx.data.pad_to_buckets`) then
    trains exactly like the unpadded one. Padded rows are normalised with the same
    statistics and are meant to be dropped downstream.

    Shapes: input ``[N, C]``, ``node_mask [N]`` (bool, optional), output ``[N, C]``.
    """

    def __init__(self, in_channels: int, eps: float = 1e-5, momentum: Optional[float] = 0.1,
                 affine: bool = True, track_running_stats: bool = True, allow_single_element: bool = False,
                 device: Optional[torch.device] = None) -> None:
        super().__init__()
        self.in_channels = in_channels
        if allow_single_element and not track_running_stats:
            raise ValueError("BatchNorm: 'allow_single_element' requires 'track_running_stats' to be set to True")
        self.module = torch.nn.BatchNorm1d(in_channels, eps, momentum, affine, track_running_stats, device=device)
        self.allow_single_element = allow_single_element

    def reset_running_stats(self) -> None:
        """PyG's: the running mean and variance back to 0 and 1."""
        self.module.reset_running_stats()

    def reset_parameters(self) -> None:
        self.module.reset_parameters()

    def forward(self, x: Tensor, node_mask: Optional[Tensor] = None) -> Tensor:
        if self.allow_single_element and x.size(0) <= 1:  # one row has no batch statistics: use the running ones
            m = self.module
            return F.batch_norm(x, m.running_mean, m.running_var, m.weight, m.bias, False, 0.0, m.eps)
        if node_mask is None:
            return self.module(x)
        if node_mask.dtype != torch.bool or node_mask.shape != x.shape[:1]:
            raise ValueError(f"BatchNorm: node_mask must be a bool vector of length {x.size(0)}, got "
                             f"{node_mask.dtype} of shape {list(node_mask.shape)}")
        return _masked_batch_norm(self.module, x, node_mask)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.module.extra_repr()})"


def _masked_batch_norm(bn: torch.nn.BatchNorm1d, x: Tensor, node_mask: Tensor) -> Tensor:
    if not bn.training and bn.running_mean is not None:
        return F.batch_norm(x, bn.running_mean, bn.running_var, bn.weight, bn.bias, False, 0.0, bn.eps)
    weight = node_mask.to(x.dtype).unsqueeze(-1)
    count = weight.sum()
    mean = (x * weight).sum(0) / count.clamp(min=1)
    centred = x - mean
    var = (centred * centred * weight).sum(0) / count.clamp(min=1)
    if bn.training and bn.track_running_stats:
        with torch.no_grad():
            bn.num_batches_tracked.add_(1)
            # momentum None: cumulative average, as in torch.nn.BatchNorm1d
            factor = bn.momentum if bn.momentum is not None else 1.0 / bn.num_batches_tracked
            bn.running_mean.lerp_(mean, factor)
            bn.running_var.lerp_(var * count / (count - 1).clamp(min=1), factor)
    out = centred * torch.rsqrt(var + bn.eps)
    if bn.affine:
        out = out * bn.weight + bn.bias
    return out


def takes_batch(norm: torch.nn.Module) -> bool:
    """Whether ``norm``'s forward takes a ``batch`` vector (graph-wise statistics), as PyG's
    models decide whether to pass ``batch`` and ``batch_size`` to it."""
    forward = getattr(norm, "forward", None)
    return forward is not None and "batch" in inspect.signature(forward).parameters


def apply_norm(norm: torch.nn.Module, x: Tensor, node_mask: Optional[Tensor] = None,
               batch: Optional[Tensor] = None, batch_size: Optional[int] = None) -> Tensor:
    """``norm(x)``, passing ``node_mask`` to the norms whose statistics it masks (:class:`BatchNorm`)
    and ``batch``/``batch_size`` to the norms that take them (graph, layer, instance, pair norm)."""
    if node_mask is not None and isinstance(norm, BatchNorm):
        return norm(x, node_mask)
    if getattr(norm, "supports_batch", False):  # set by normalization(): no introspection per call
        return norm(x, batch, batch_size)
    return norm(x)


NORMS = {"batchnorm": "BatchNorm", "layernorm": "LayerNorm", "graphnorm": "GraphNorm",
         "instancenorm": "InstanceNorm", "pairnorm": "PairNorm"}


def normalization(norm: Any, channels: int, **kwargs: Any) -> torch.nn.Module:
    """Resolve a normalisation layer as PyG's ``normalization_resolver`` does: ``None`` gives
    ``Identity``, a module is kept, a name (``"batch_norm"``, ``"layer_norm"``,
    ``"graph_norm"``, ``"instance_norm"``, ``"pair_norm"``; case and underscores ignored)
    is built as ``Norm(channels, **kwargs)`` (for ``PairNorm`` that makes ``channels`` its
    ``scale``, exactly as in PyG)."""
    if norm is None:
        return torch.nn.Identity()
    if isinstance(norm, torch.nn.Module):
        norm.supports_batch = takes_batch(norm)
        return norm
    key = str(norm).replace("_", "").lower()
    if key not in NORMS:
        raise ValueError(f"unknown normalisation {norm!r}; supported: None, a module, or one of "
                         f"{', '.join(repr(n) for n in ('batch_norm', 'layer_norm', 'graph_norm', 'instance_norm', 'pair_norm'))}")
    module = globals()[NORMS[key]](channels, **kwargs)
    module.supports_batch = takes_batch(module)
    return module


def _per_graph_mean(x: Tensor, batch: Tensor, batch_size) -> Tensor:
    return ops.scatter(x, batch, batch_size, "mean")


class LayerNorm(torch.nn.Module):
    r"""Layer normalisation (`"Layer Normalization" <https://arxiv.org/abs/1607.06450>`_).

    ``mode="graph"``: statistics over all nodes and channels of each graph,
    :math:`\mathbf{x}'_i = \frac{\mathbf{x}_i - \mu_g}{\sigma_g + \epsilon} \odot \gamma + \beta`
    (with ``batch``: :math:`\sigma_g = \sqrt{\mathrm{Var}_g + \epsilon}`, as in PyG);
    ``mode="node"``: per node over its channels (``F.layer_norm``).

    Shapes: ``x [N, C]``, ``batch [N]`` (optional), ``batch_size`` (pass it to avoid a sync) -> ``[N, C]``.
    """

    def __init__(self, in_channels: int, eps: float = 1e-5, affine: bool = True, mode: str = "graph",
                 device: Optional[torch.device] = None) -> None:
        super().__init__()
        if mode not in ("graph", "node"):
            raise ValueError(f"LayerNorm: mode must be 'graph' or 'node', got {mode!r}")
        self.in_channels, self.eps, self.affine, self.mode = in_channels, eps, affine, mode
        self.weight = torch.nn.Parameter(torch.ones(in_channels, device=device)) if affine else None
        self.bias = torch.nn.Parameter(torch.zeros(in_channels, device=device)) if affine else None

    def reset_parameters(self) -> None:
        if self.affine:
            torch.nn.init.ones_(self.weight)
            torch.nn.init.zeros_(self.bias)

    def forward(self, x: Tensor, batch: Optional[Tensor] = None, batch_size: Optional[int] = None) -> Tensor:
        if self.mode == "node":
            return F.layer_norm(x, (self.in_channels,), self.weight, self.bias, self.eps)
        if batch is None:
            x = x - x.mean()
            out = x / (x.std(unbiased=False) + self.eps)
        else:
            batch_size = ops.infer_size(batch, batch_size)
            count = ops.scatter(x.new_ones(batch.shape), batch, batch_size, "sum").clamp(min=1) * x.size(-1)
            mean = ops.scatter(x, batch, batch_size, "sum").sum(-1, keepdim=True) / count.view(-1, 1)
            x = x - mean.index_select(0, batch)
            var = ops.scatter(x * x, batch, batch_size, "sum").sum(-1, keepdim=True) / count.view(-1, 1)
            out = x / (var + self.eps).sqrt().index_select(0, batch)
        return out if self.weight is None else out * self.weight + self.bias

    def __repr__(self) -> str:
        return f"LayerNorm({self.in_channels}, affine={self.affine}, mode={self.mode})"


class GraphNorm(torch.nn.Module):
    r"""Graph normalisation, `"GraphNorm" <https://arxiv.org/abs/2009.03294>`_:
    :math:`\mathbf{x}'_i = \frac{\mathbf{x}_i - \alpha \odot \mu_g}{\sqrt{\mathrm{Var}_g[\mathbf{x} - \alpha\odot\mu_g] + \epsilon}} \odot \gamma + \beta`
    per graph and channel (``mean_scale`` :math:`\alpha` learned).

    Shapes: ``x [N, C]``, ``batch [N]`` (optional), ``batch_size`` -> ``[N, C]``.
    """

    def __init__(self, in_channels: int, eps: float = 1e-5, device: Optional[torch.device] = None) -> None:
        super().__init__()
        self.in_channels, self.eps = in_channels, eps
        self.weight = torch.nn.Parameter(torch.ones(in_channels, device=device))
        self.bias = torch.nn.Parameter(torch.zeros(in_channels, device=device))
        self.mean_scale = torch.nn.Parameter(torch.ones(in_channels, device=device))

    def reset_parameters(self) -> None:
        torch.nn.init.ones_(self.weight)
        torch.nn.init.zeros_(self.bias)
        torch.nn.init.ones_(self.mean_scale)

    def forward(self, x: Tensor, batch: Optional[Tensor] = None, batch_size: Optional[int] = None) -> Tensor:
        if batch is None:
            batch, batch_size = torch.zeros(x.size(0), dtype=torch.long, device=x.device), 1
        batch_size = ops.infer_size(batch, batch_size)
        out = x - _per_graph_mean(x, batch, batch_size).index_select(0, batch) * self.mean_scale
        std = (_per_graph_mean(out.pow(2), batch, batch_size) + self.eps).sqrt().index_select(0, batch)
        return self.weight * out / std + self.bias

    def __repr__(self) -> str:
        return f"GraphNorm({self.in_channels})"


class InstanceNorm(torch.nn.modules.instancenorm._InstanceNorm):
    r"""Instance normalisation per graph, `"Instance Normalization"
    <https://arxiv.org/abs/1607.08022>`_: each channel normalised over the nodes of its
    graph, :math:`\mathbf{x}'_i = \frac{\mathbf{x}_i - \mu_g}{\sqrt{\mathrm{Var}_g + \epsilon}} \odot \gamma + \beta`;
    with ``track_running_stats``, running averages of the per-graph statistics are used in eval.

    Shapes: ``x [N, C]``, ``batch [N]`` (optional), ``batch_size`` -> ``[N, C]``.
    """

    def __init__(self, in_channels: int, eps: float = 1e-5, momentum: float = 0.1, affine: bool = False,
                 track_running_stats: bool = False, device: Optional[torch.device] = None) -> None:
        super().__init__(in_channels, eps, momentum, affine, track_running_stats, device=device)

    def forward(self, x: Tensor, batch: Optional[Tensor] = None, batch_size: Optional[int] = None) -> Tensor:
        if batch is None:
            out = F.instance_norm(x.t().unsqueeze(0), self.running_mean, self.running_var, self.weight, self.bias,
                                  self.training or not self.track_running_stats, self.momentum, self.eps)
            return out.squeeze(0).t()
        batch_size = ops.infer_size(batch, batch_size)
        if self.training or not self.track_running_stats:
            count = ops.scatter(x.new_ones(batch.shape), batch, batch_size, "sum").clamp(min=1).view(-1, 1)
            mean = ops.scatter(x, batch, batch_size, "sum") / count
            x = x - mean.index_select(0, batch)
            var_sum = ops.scatter(x * x, batch, batch_size, "sum")
            var = var_sum / count
            if self.running_mean is not None:
                unbiased = var_sum / (count - 1).clamp(min=1)
                with torch.no_grad():
                    self.running_mean.mul_(1 - self.momentum).add_(self.momentum * mean.mean(0))
                    self.running_var.mul_(1 - self.momentum).add_(self.momentum * unbiased.mean(0))
        else:
            mean = self.running_mean.view(1, -1).expand(batch_size, -1)
            var = self.running_var.view(1, -1).expand(batch_size, -1)
            x = x - mean.index_select(0, batch)
        out = x / (var + self.eps).sqrt().index_select(0, batch)
        return out if self.weight is None else out * self.weight.view(1, -1) + self.bias.view(1, -1)

    def __repr__(self) -> str:
        return f"InstanceNorm({self.num_features})"


class PairNorm(torch.nn.Module):
    r"""Pair normalisation against over-smoothing, `"PairNorm" <https://arxiv.org/abs/1909.12223>`_:
    :math:`\mathbf{x}^c_i = \mathbf{x}_i - \mu_g`,
    :math:`\mathbf{x}'_i = s\,\mathbf{x}^c_i / \sqrt{\epsilon + \mathrm{mean}_{g}\lVert\mathbf{x}^c\rVert^2}`
    (``scale_individually``: divide by :math:`\epsilon + \lVert\mathbf{x}^c_i\rVert` instead).

    Shapes: ``x [N, C]``, ``batch [N]`` (optional), ``batch_size`` -> ``[N, C]``.
    """

    def __init__(self, scale: float = 1.0, scale_individually: bool = False, eps: float = 1e-5) -> None:
        super().__init__()
        self.scale, self.scale_individually, self.eps = scale, scale_individually, eps

    def forward(self, x: Tensor, batch: Optional[Tensor] = None, batch_size: Optional[int] = None) -> Tensor:
        if batch is None:
            x = x - x.mean(dim=0, keepdim=True)
            if self.scale_individually:
                return self.scale * x / (self.eps + x.norm(2, -1, keepdim=True))
            return self.scale * x / (self.eps + x.pow(2).sum(-1).mean()).sqrt()
        batch_size = ops.infer_size(batch, batch_size)
        x = x - _per_graph_mean(x, batch, batch_size).index_select(0, batch)
        if self.scale_individually:
            return self.scale * x / (self.eps + x.norm(2, -1, keepdim=True))
        spread = _per_graph_mean(x.pow(2).sum(-1, keepdim=True), batch, batch_size).index_select(0, batch)
        return self.scale * x / torch.sqrt(self.eps + spread)

    def __repr__(self) -> str:
        return "PairNorm()"


class GraphSizeNorm(torch.nn.Module):
    r"""Graph size normalisation, `"Benchmarking Graph Neural Networks"
    <https://arxiv.org/abs/2003.00982>`_: :math:`\mathbf{x}'_i = \mathbf{x}_i / \sqrt{|\mathcal{V}_g|}`
    for node :math:`i` of graph :math:`g`. No parameters.

    Shapes: ``x [N, C]``, ``batch [N]`` (optional), ``batch_size`` -> ``[N, C]``.
    """

    def forward(self, x: Tensor, batch: Optional[Tensor] = None, batch_size: Optional[int] = None) -> Tensor:
        if batch is None:
            batch, batch_size = torch.zeros(x.size(0), dtype=torch.long, device=x.device), 1
        batch_size = ops.infer_size(batch, batch_size)
        sizes = ops.scatter(torch.ones_like(batch, dtype=x.dtype), batch, batch_size, "sum")
        return x * sizes.pow(-0.5).index_select(0, batch).view(-1, 1)

    def __repr__(self) -> str:
        return "GraphSizeNorm()"


class MeanSubtractionNorm(torch.nn.Module):
    r"""Mean subtraction, `"Revisiting 'Over-smoothing' in Deep GCNs"
    <https://arxiv.org/abs/2003.13663>`_: :math:`\mathbf{x}'_i = \mathbf{x}_i - \mu_g` with
    :math:`\mu_g` the mean of graph :math:`g`'s node features. No parameters.

    Shapes: ``x [N, C]``, ``batch [N]`` (optional), ``dim_size`` (the graph count, PyG's
    name) -> ``[N, C]``.
    """

    def forward(self, x: Tensor, batch: Optional[Tensor] = None, dim_size: Optional[int] = None) -> Tensor:
        if batch is None:
            return x - x.mean(dim=0, keepdim=True)
        return x - _per_graph_mean(x, batch, ops.infer_size(batch, dim_size)).index_select(0, batch)

    def __repr__(self) -> str:
        return "MeanSubtractionNorm()"


class MessageNorm(torch.nn.Module):
    r"""Message normalisation of DeeperGCN, `"DeeperGCN" <https://arxiv.org/abs/2006.07739>`_:
    :math:`\mathbf{x}'_i = s \cdot \lVert\mathbf{x}_i\rVert_p \cdot \frac{\mathbf{m}_i}{\lVert\mathbf{m}_i\rVert_p}`
    (``learn_scale``: :math:`s` trained).

    Shapes: ``x [N, C]``, ``msg [N, C]`` -> ``[N, C]``.
    """

    def __init__(self, learn_scale: bool = False, device: Optional[torch.device] = None) -> None:
        super().__init__()
        self.scale = torch.nn.Parameter(torch.ones(1, device=device), requires_grad=learn_scale)

    def reset_parameters(self) -> None:
        with torch.no_grad():
            self.scale.fill_(1.0)

    def forward(self, x: Tensor, msg: Tensor, p: float = 2.0) -> Tensor:
        return F.normalize(msg, p=p, dim=-1) * x.norm(p=p, dim=-1, keepdim=True) * self.scale

    def __repr__(self) -> str:
        return f"MessageNorm(learn_scale={self.scale.requires_grad})"


class DiffGroupNorm(torch.nn.Module):
    r"""Differentiable group normalisation, `"Towards Deeper Graph Neural Networks with
    Differentiable Group Normalization" <https://arxiv.org/abs/2006.06972>`_ (PyG's arguments,
    keys, values): nodes softly assigned to ``groups`` groups, each group batch-normalised,

    .. math::
        \mathbf{S} = \operatorname{softmax}(\mathbf{X}\mathbf{W}), \qquad
        \mathbf{x}'_i = \mathbf{x}_i + \lambda \sum_{g=1}^{G} \mathrm{BN}_g(s_{ig}\, \mathbf{x}_i).

    Shapes: ``x [N, F]`` -> ``[N, F]``.
    """

    def __init__(self, in_channels: int, groups: int, lamda: float = 0.01, eps: float = 1e-5, momentum: float = 0.1,
                 affine: bool = True, track_running_stats: bool = True, device: Optional[torch.device] = None) -> None:
        super().__init__()
        self.in_channels, self.groups, self.lamda = in_channels, groups, lamda
        self.lin = torch.nn.Linear(in_channels, groups, bias=False, device=device)
        self.norm = torch.nn.BatchNorm1d(groups * in_channels, eps, momentum, affine, track_running_stats,
                                         device=device)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.lin.reset_parameters()
        self.norm.reset_parameters()

    def forward(self, x: Tensor) -> Tensor:
        groups, channels = self.groups, self.in_channels
        assignment = self.lin(x).softmax(dim=-1)  # [N, G]
        grouped = (assignment.unsqueeze(-1) * x.unsqueeze(-2)).view(-1, groups * channels)
        return x + self.lamda * self.norm(grouped).view(-1, groups, channels).sum(-2)

    @staticmethod
    def group_distance_ratio(x: Tensor, y: Tensor, eps: float = 1e-5) -> float:
        r"""Mean distance between nodes of different classes over that within classes (PyG's
        :math:`R_{\text{Group}}`), a measure of over-smoothing."""
        num_classes = int(y.max()) + 1
        between = within = 0.0
        for label in range(num_classes):
            members = y == label
            outside = torch.cdist(x[members].unsqueeze(0), x[~members].unsqueeze(0))
            inside = torch.cdist(x[members].unsqueeze(0), x[members].unsqueeze(0))
            between += float(outside.sum()) / outside.numel()
            within += float(inside.sum()) / inside.numel()
        return (between / (num_classes - 1) ** 2) / (within / num_classes + eps)

    def __repr__(self) -> str:  # PyG's
        return f"{type(self).__name__}({self.in_channels}, groups={self.groups})"
