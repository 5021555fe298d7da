"""Node- and edge-feature transforms (PyG's ``IndexToMask``, ``MaskToIndex``,
``TargetIndegree``, ``LocalDegreeProfile``, ``SIGN``, ``SVDFeatureReduction``,
``RemoveTrainingClasses``, ``FeaturePropagation``), PyG's arguments and results."""
from __future__ import annotations

from typing import List, Optional, Sequence, Union

import torch
from torch import Tensor

from gnnx.graph import Graph
from gnnx.transforms.transform import BaseTransform
from gnnx.utils import coalesce, degree, index_to_mask, mask_to_index, scatter


def _append_edge_feature(graph: Graph, feature: Tensor, cat: bool) -> Graph:
    """``edge_attr`` extended by ``feature`` (or replaced, without ``cat`` or attributes)."""
    pseudo = graph.edge_attr
    if pseudo is not None and cat:
        pseudo = pseudo.view(-1, 1) if pseudo.dim() == 1 else pseudo
        return graph.replace(edge_attr=torch.cat([pseudo, feature.type_as(pseudo)], dim=-1))
    return graph.replace(edge_attr=feature)


class IndexToMask(BaseTransform):
    """For each ``<name>_index`` attribute (or those in ``attrs``), a boolean
    ``<name>_mask`` of ``sizes`` entries (default: the node count); ``replace`` drops the
    index."""

    def __init__(self, attrs: Optional[Union[str, List[str]]] = None, sizes: Optional[Union[int, List[int]]] = None,
                 replace: bool = False) -> None:
        self.attrs = [attrs] if isinstance(attrs, str) else attrs
        self.sizes, self.replace = sizes, replace

    def forward(self, data: Graph) -> Graph:
        attrs = self.attrs if self.attrs is not None else [k for k in data.attrs if k.endswith("_index")]
        if isinstance(self.sizes, (list, tuple)):
            if len(attrs) != len(self.sizes):
                raise ValueError(f"The number of attributes (got {len(attrs)}) must match the number of sizes "
                                 f"provided (got {len(self.sizes)})")
            sizes: Sequence[Optional[int]] = self.sizes
        else:
            sizes = [self.sizes] * len(attrs)
        changes = {}
        for name, size in zip(attrs, sizes):
            if "edge_index" in name or name not in data.attrs:
                continue
            changes[f"{name[:-6]}_mask"] = index_to_mask(data.attrs[name], size=size or data.num_nodes)
            if self.replace:
                changes[name] = None
        return data.replace(**changes)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(attrs={self.attrs}, sizes={self.sizes}, replace={self.replace})"


class MaskToIndex(BaseTransform):
    """For each ``<name>_mask`` attribute (or those in ``attrs``), the ``<name>_index`` of
    its set entries; ``replace`` drops the mask."""

    def __init__(self, attrs: Optional[Union[str, List[str]]] = None, replace: bool = False) -> None:
        self.attrs = [attrs] if isinstance(attrs, str) else attrs
        self.replace = replace

    def forward(self, data: Graph) -> Graph:
        attrs = self.attrs if self.attrs is not None else [k for k in data.attrs if k.endswith("_mask")]
        changes = {}
        for name in attrs:
            if name in data.attrs:
                changes[f"{name[:-5]}_index"] = mask_to_index(data.attrs[name])
                if self.replace:
                    changes[name] = None
        return data.replace(**changes)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(attrs={self.attrs}, replace={self.replace})"


class TargetIndegree(BaseTransform):
    """Each edge's destination in-degree as an edge feature (divided by the largest, or by
    ``max_value``, when ``norm``); appended to ``edge_attr`` when ``cat``."""

    def __init__(self, norm: bool = True, max_value: Optional[float] = None, cat: bool = True) -> None:
        self.norm, self.max, self.cat = norm, max_value, cat

    def forward(self, data: Graph) -> Graph:
        col = data.edge_index[1]
        deg = degree(col, data.num_nodes)
        if self.norm:
            deg = deg / (deg.max() if self.max is None else self.max)
        return _append_edge_feature(data, deg[col].view(-1, 1), self.cat)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(norm={self.norm}, max_value={self.max})"


class LocalDegreeProfile(BaseTransform):
    """Five structural features per node appended to ``x``: its degree and the min, max,
    mean and standard deviation of its neighbours' degrees (LDP, Cai & Wang 2018)."""

    def forward(self, data: Graph) -> Graph:
        row, col = data.edge_index[0], data.edge_index[1]
        count = data.num_nodes
        deg = degree(row, count, dtype=torch.float).view(-1, 1)
        neighbour = deg[col]
        mean = scatter(neighbour, row, 0, count, "mean")
        std = (scatter(neighbour * neighbour, row, 0, count, "mean") - mean * mean).clamp(min=1e-5).sqrt()
        std = std.masked_fill(std <= 1e-5 ** 0.5, 0.0)  # a constant neighbourhood has std 0, as PyG's
        features = [deg, scatter(neighbour, row, 0, count, "min"), scatter(neighbour, row, 0, count, "max"), mean, std]
        x = data.x
        if x is not None:
            features = [x.view(-1, 1) if x.dim() == 1 else x] + features
        return data.replace(x=torch.cat(features, dim=-1))


class SIGN(BaseTransform):
    r"""SIGN's precomputed propagations (Frasca et al., 2020): ``x1 ... xK`` with
    :math:`x_k = \hat A x_{k-1}`, :math:`\hat A = D^{-1/2} A D^{-1/2}` (``edge_weight``
    weighted; degrees at the destinations)."""

    def __init__(self, K: int) -> None:
        self.K = K

    def forward(self, data: Graph) -> Graph:
        if data.x is None:
            raise ValueError("SIGN needs node features: the graph has no 'x'")
        row, col = data.edge_index[0], data.edge_index[1]
        count = data.num_nodes
        weight = data.edge_weight if data.edge_weight is not None else torch.ones(data.num_edges,
                                                                                  device=row.device)
        inv_sqrt = scatter(weight, col, dim_size=count, reduce="sum").pow(-0.5)
        inv_sqrt = inv_sqrt.masked_fill(inv_sqrt == float("inf"), 0)
        weight = inv_sqrt[row] * weight * inv_sqrt[col]
        xs, changes = [data.x], {}
        for k in range(1, self.K + 1):
            xs.append(scatter(weight.view(-1, *([1] * (data.x.dim() - 1))) * xs[-1][row], col, 0, count, "sum"))
            changes[f"x{k}"] = xs[-1]
        return data.replace(**changes)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(K={self.K})"


class SVDFeatureReduction(BaseTransform):
    """``x`` reduced to ``out_channels`` columns by its singular value decomposition
    (``U_k diag(S_k)``), where it has more."""

    def __init__(self, out_channels: int) -> None:
        self.out_channels = out_channels

    def forward(self, data: Graph) -> Graph:
        if data.x is None or data.x.size(-1) <= self.out_channels:
            return data
        U, S, _ = torch.linalg.svd(data.x)
        return data.replace(x=torch.mm(U[:, :self.out_channels], torch.diag(S[:self.out_channels])))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.out_channels})"


class RemoveTrainingClasses(BaseTransform):
    """Take the nodes of ``classes`` out of ``train_mask`` (zero-shot splits)."""

    def __init__(self, classes: List[int]) -> None:
        self.classes = classes

    def forward(self, data: Graph) -> Graph:
        train_mask = getattr(data, "train_mask", None)
        if train_mask is None or data.y is None:
            raise ValueError("RemoveTrainingClasses needs 'train_mask' and 'y' on the graph")
        train_mask = train_mask.clone()
        for label in self.classes:
            train_mask[data.y == label] = False
        return data.replace(train_mask=train_mask)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.classes})"


class FeaturePropagation(BaseTransform):
    r"""Fill missing features by diffusion (Rossi et al., 2021): ``num_iterations`` steps of
    :math:`x \leftarrow D^{-1/2} A D^{-1/2} x` with the known entries reset after each."""

    def __init__(self, missing_mask: Tensor, num_iterations: int = 40) -> None:
        self.missing_mask, self.num_iterations = missing_mask, num_iterations

    def forward(self, data: Graph) -> Graph:
        if data.x is None or data.x.size() != self.missing_mask.size():
            raise ValueError(f"FeaturePropagation's missing_mask has shape {list(self.missing_mask.shape)}, the "
                             f"graph's x {None if data.x is None else list(data.x.shape)}")
        missing = self.missing_mask.to(data.x.device)
        known = ~missing
        count = data.num_nodes
        weight = data.edge_weight if data.edge_weight is not None else data.edge_attr
        # parallel edges merge, as in PyG's sparse adjacency: weights add, unweighted ones count once
        if weight is not None:
            edge_index, weight = coalesce(data.edge_index, weight.view(-1), count)
        else:
            edge_index = coalesce(data.edge_index, num_nodes=count)
            weight = torch.ones(edge_index.size(1), device=edge_index.device)
        row, col = edge_index[0], edge_index[1]
        deg = scatter(weight, col, dim_size=count, reduce="sum")
        inv_sqrt = deg.pow(-0.5).masked_fill(deg == 0, 0)
        weight = inv_sqrt[row] * weight * inv_sqrt[col]
        x = data.x.clone()
        x[missing] = 0.0
        out = x
        for _ in range(self.num_iterations):
            out = scatter(weight.view(-1, 1) * out[row], col, 0, count, "sum")
            out[known] = x[known]
        return data.replace(x=out)

    def __repr__(self) -> str:
        missing = int(self.missing_mask.sum()) / self.missing_mask.numel()
        return f"{type(self).__name__}(missing_features={100 * missing:.1f}%, num_iterations={self.num_iterations})"
