r"""Top-k link prediction and recommendation metrics (PyG's ``torch_geometric.metrics``):
accumulated over batches with ``update`` and read with ``compute``.

A batch gives, per source node (a user), its top-``k`` predicted destinations
``pred_index_mat [B, >= k]`` and the true links ``edge_label_index`` (``[2, L]`` over the
batch's rows, or a pair), optionally weighted (``edge_label_weight``: graded relevance).
Relevance of each prediction, :math:`r_{u,i} \in \{0, 1\}` (or the link's weight), is found
once per batch by a sorted search and shared by the metrics of a collection:

* precision :math:`\sum_{i \le k} r_{u,i} / k`, recall (over the node's links, or their
  weight), F1, MAP, MRR, hit ratio, and NDCG with :math:`\log_2(i + 1)` discounts (ideal
  order from the links' weights when weighted);
* beyond accuracy: coverage of the destinations, intra-list diversity over item categories,
  personalization (one minus the overlap of two users' lists, over pairs) and average
  popularity.

Sources without any link are left out of the accuracy averages, as in PyG.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Tuple, Union

import torch
from torch import Tensor

from gnnx.utils import cumsum, scatter

LabelIndex = Union[Tensor, Tuple[Tensor, Tensor]]


class LinkPredMetricData:
    """A batch's predictions and true links, with the relevance matrix and per-source link
    counts computed once (positive weights only, where weighted)."""

    def __init__(self, pred_index_mat: Tensor, edge_label_index: LabelIndex,
                 edge_label_weight: Optional[Tensor] = None) -> None:
        if edge_label_weight is not None:
            positive = edge_label_weight > 0
            edge_label_weight = edge_label_weight[positive]
            edge_label_index = (edge_label_index[:, positive] if isinstance(edge_label_index, Tensor)
                                else (edge_label_index[0][positive], edge_label_index[1][positive]))
        self.pred_index_mat, self.edge_label_index, self.edge_label_weight = \
            pred_index_mat, edge_label_index, edge_label_weight
        self._cache: Dict[str, Tensor] = {}

    @property
    def pred_rel_mat(self) -> Tensor:
        """``[B, k]``: each prediction's relevance (bool, or the link's weight)."""
        if "rel" in self._cache:
            return self._cache["rel"]
        pred, (src, dst) = self.pred_index_mat, self.edge_label_index
        if dst.numel() == 0:
            rel = torch.zeros_like(pred, dtype=torch.bool if self.edge_label_weight is None
                                   else torch.get_default_dtype())
        else:
            width = int(max(pred.max() if pred.numel() else 0, dst.max())) + 1
            flat_pred = (pred + torch.arange(0, width * pred.size(0), width, device=pred.device).view(-1, 1)).view(-1)
            flat_label, perm = (width * src + dst).sort()
            pos = torch.searchsorted(flat_label, flat_pred).clamp(max=flat_label.numel() - 1)
            rel = flat_label[pos] == flat_pred
            if self.edge_label_weight is not None:
                rel = self.edge_label_weight[perm][pos].where(rel, rel.new_zeros(1))
            rel = rel.view(pred.size())
        self._cache["rel"] = rel
        return rel

    @pred_rel_mat.setter
    def pred_rel_mat(self, value: Tensor) -> None:
        self._cache["rel"] = value

    @property
    def label_count(self) -> Tensor:
        """The number of true links of each source row."""
        if "count" not in self._cache:
            src = self.edge_label_index[0]
            self._cache["count"] = scatter(torch.ones_like(src), src, dim=0, dim_size=self.pred_index_mat.size(0),
                                           reduce="sum")
        return self._cache["count"]

    @property
    def label_weight_sum(self) -> Tensor:
        """Each source row's total link weight (its link count, unweighted)."""
        if self.edge_label_weight is None:
            return self.label_count
        if "weight_sum" not in self._cache:
            self._cache["weight_sum"] = scatter(self.edge_label_weight, self.edge_label_index[0], dim=0,
                                                dim_size=self.pred_index_mat.size(0), reduce="sum")
        return self._cache["weight_sum"]

    @property
    def edge_label_weight_pos(self) -> Optional[Tensor]:
        """Each link's rank within its source row by descending weight (the ideal order)."""
        if self.edge_label_weight is None:
            return None
        if "weight_pos" not in self._cache:
            src = self.edge_label_index[0]
            by_weight = self.edge_label_weight.argsort(descending=True)
            perm = by_weight[src[by_weight].argsort(stable=True)]
            pos = torch.empty_like(perm)
            pos[perm] = torch.arange(perm.size(0), device=perm.device)
            self._cache["weight_pos"] = pos - cumsum(self.label_count)[src]
        return self._cache["weight_pos"]

    def unweighted(self) -> "LinkPredMetricData":
        """The same batch without weights, sharing the relevance search."""
        out = LinkPredMetricData(self.pred_index_mat, self.edge_label_index)
        if "rel" in self._cache:
            out._cache["rel"] = self._cache["rel"] != 0.0
        if "count" in self._cache:
            out._cache["count"] = self._cache["count"]
        return out


class _LinkPredMetric(torch.nn.Module):
    """A metric over the top ``k`` predictions; ``update``/``compute``/``reset``."""

    is_differentiable: bool = False
    higher_is_better: Optional[bool] = None

    def __init__(self, k: int) -> None:
        super().__init__()
        if k <= 0:
            raise ValueError(f"'k' needs to be a positive integer in '{type(self).__name__}' (got {k})")
        self.k = k

    def update(self, pred_index_mat: Tensor, edge_label_index: LabelIndex,
               edge_label_weight: Optional[Tensor] = None) -> None:
        raise NotImplementedError

    def compute(self) -> Tensor:
        raise NotImplementedError

    def reset(self) -> None:
        raise NotImplementedError

    def forward(self, *args, **kwargs) -> Tensor:
        self.update(*args, **kwargs)
        return self.compute()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(k={self.k})"


class _Average(_LinkPredMetric):
    """Accumulates a sum and a count; ``compute`` is their ratio (0 before any update)."""

    def __init__(self, k: int) -> None:
        super().__init__(k)
        self.register_buffer("accum", torch.tensor(0.0), persistent=False)
        self.register_buffer("total", torch.tensor(0), persistent=False)

    def compute(self) -> Tensor:
        return torch.zeros_like(self.accum) if self.total == 0 else self.accum / self.total

    def reset(self) -> None:
        self.accum.zero_()
        self.total.zero_()


class LinkPredMetric(_Average):
    """A per-source accuracy metric averaged over the sources with links."""

    weighted: bool = False

    def update(self, pred_index_mat: Tensor, edge_label_index: LabelIndex,
               edge_label_weight: Optional[Tensor] = None) -> None:
        if self.weighted and edge_label_weight is None:
            raise ValueError(f"'edge_label_weight' is a required argument for weighted '{type(self).__name__}' "
                             f"metrics")
        self._update(LinkPredMetricData(pred_index_mat, edge_label_index,
                                        edge_label_weight if self.weighted else None))

    def _update(self, data: LinkPredMetricData) -> None:
        self.accum += self._compute(data).sum()
        self.total += (data.label_count > 0).sum()

    def _compute(self, data: LinkPredMetricData) -> Tensor:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(k={self.k}{', weighted=True' if self.weighted else ''})"


class LinkPredPrecision(LinkPredMetric):
    """Precision@k: the share of the top ``k`` that are true links."""
    higher_is_better = True

    def _compute(self, data: LinkPredMetricData) -> Tensor:
        return data.pred_rel_mat[:, :self.k].sum(dim=-1) / self.k


class LinkPredRecall(LinkPredMetric):
    """Recall@k: the share of a source's links (or their weight) in its top ``k``."""
    higher_is_better = True

    def __init__(self, k: int, weighted: bool = False) -> None:
        super().__init__(k)
        self.weighted = weighted

    def _compute(self, data: LinkPredMetricData) -> Tensor:
        return data.pred_rel_mat[:, :self.k].sum(dim=-1) / data.label_weight_sum.clamp(min=1e-7)


class LinkPredF1(LinkPredMetric):
    """F1@k of precision@k and recall@k."""
    higher_is_better = True

    def _compute(self, data: LinkPredMetricData) -> Tensor:
        hits = data.pred_rel_mat[:, :self.k].sum(dim=-1)
        precision, recall = hits / self.k, hits / data.label_count.clamp(min=1e-7)
        return 2 * precision * recall / (precision + recall).clamp(min=1e-7)


class LinkPredMAP(LinkPredMetric):
    """Mean average precision@k."""
    higher_is_better = True

    def _compute(self, data: LinkPredMetricData) -> Tensor:
        rel = data.pred_rel_mat[:, :self.k]
        cum_precision = rel.cumsum(dim=1) / torch.arange(1, rel.size(1) + 1, device=rel.device)
        return (cum_precision * rel).sum(dim=-1) / data.label_count.clamp(min=1e-7, max=self.k)


class LinkPredNDCG(LinkPredMetric):
    """Normalised discounted cumulative gain@k (graded by the links' weights when
    ``weighted``)."""
    higher_is_better = True

    def __init__(self, k: int, weighted: bool = False) -> None:
        super().__init__(k)
        self.weighted = weighted
        discount = torch.arange(2, k + 2, dtype=torch.get_default_dtype()).log2()
        self.register_buffer("discount", discount, persistent=False)
        self.register_buffer("idcg", None if weighted else cumsum(1.0 / discount), persistent=False)

    def _compute(self, data: LinkPredMetricData) -> Tensor:
        rel = data.pred_rel_mat[:, :self.k]
        dcg = (rel / self.discount[:rel.size(1)].view(1, -1)).sum(dim=-1)
        if not self.weighted:
            idcg = self.idcg[data.label_count.clamp(max=self.k)]
        else:
            discount = torch.cat([self.discount, self.discount.new_full((1,), float("inf"))])
            discount = discount[data.edge_label_weight_pos.clamp(max=self.k)]
            idcg = scatter(data.edge_label_weight / discount, data.edge_label_index[0],
                           dim_size=data.pred_index_mat.size(0), reduce="sum")
        out = dcg / idcg
        out[out.isnan() | out.isinf()] = 0.0
        return out


class LinkPredMRR(LinkPredMetric):
    """Mean reciprocal rank of the first true link in the top ``k``."""
    higher_is_better = True

    def _compute(self, data: LinkPredMetricData) -> Tensor:
        rel = data.pred_rel_mat[:, :self.k]
        return (rel / torch.arange(1, rel.size(1) + 1, device=rel.device)).max(dim=-1)[0]


class LinkPredHitRatio(LinkPredMetric):
    """Whether any of the top ``k`` is a true link."""
    higher_is_better = True

    def _compute(self, data: LinkPredMetricData) -> Tensor:
        return data.pred_rel_mat[:, :self.k].max(dim=-1)[0].to(torch.get_default_dtype())


class LinkPredMetricCollection(torch.nn.ModuleDict):
    """Several metrics updated from one relevance search per batch; a list of metrics is
    named ``"<Weighted><Class>@k"``."""

    def __init__(self, metrics: Union[List[_LinkPredMetric], Dict[str, _LinkPredMetric]]) -> None:
        super().__init__()
        if isinstance(metrics, (list, tuple)):
            metrics = {f"{'Weighted' if getattr(m, 'weighted', False) else ''}{type(m).__name__}@{m.k}": m
                       for m in metrics}
        if not metrics:
            raise ValueError("LinkPredMetricCollection needs at least one metric")
        for name, metric in metrics.items():
            if not isinstance(metric, _LinkPredMetric):
                raise ValueError(f"LinkPredMetricCollection: {name!r} is not a link prediction metric")
            self[name] = metric

    @property
    def max_k(self) -> int:
        return max(metric.k for metric in self.values())

    @property
    def weighted(self) -> bool:
        return any(getattr(metric, "weighted", False) for metric in self.values())

    def update(self, pred_index_mat: Tensor, edge_label_index: LabelIndex,
               edge_label_weight: Optional[Tensor] = None) -> None:
        if self.weighted and edge_label_weight is None:
            raise ValueError(f"'edge_label_weight' is a required argument for weighted '{type(self).__name__}' "
                             f"metrics")
        data = LinkPredMetricData(pred_index_mat, edge_label_index, edge_label_weight)
        for metric in self.values():
            if isinstance(metric, LinkPredMetric) and metric.weighted:
                metric._update(data)
        plain = data.unweighted()
        for metric in self.values():
            if isinstance(metric, LinkPredMetric) and not metric.weighted:
                metric._update(plain)
            elif not isinstance(metric, LinkPredMetric):
                metric.update(pred_index_mat, edge_label_index, edge_label_weight)

    def compute(self) -> Dict[str, Tensor]:
        return {name: metric.compute() for name, metric in self.items()}

    def reset(self) -> None:
        for metric in self.values():
            metric.reset()

    def __repr__(self) -> str:
        names = "".join(f"  {name}: {metric},\n" for name, metric in self.items())
        return f"{type(self).__name__}([\n{names}])"


class LinkPredCoverage(_LinkPredMetric):
    """The share of the ``num_dst_nodes`` destinations recommended to anyone."""
    higher_is_better = True

    def __init__(self, k: int, num_dst_nodes: int) -> None:
        super().__init__(k)
        self.num_dst_nodes = num_dst_nodes
        self.register_buffer("mask", torch.zeros(num_dst_nodes, dtype=torch.bool), persistent=False)

    def update(self, pred_index_mat: Tensor, edge_label_index: LabelIndex,
               edge_label_weight: Optional[Tensor] = None) -> None:
        self.mask[pred_index_mat[:, :self.k].flatten()] = True

    def compute(self) -> Tensor:
        return self.mask.to(torch.get_default_dtype()).mean()

    def reset(self) -> None:
        self.mask.zero_()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(k={self.k}, num_dst_nodes={self.num_dst_nodes})"


class LinkPredDiversity(_Average):
    """Intra-list diversity: one minus the share of a list's item pairs in one ``category``."""
    higher_is_better = True

    def __init__(self, k: int, category: Tensor) -> None:
        super().__init__(k)
        self.register_buffer("category", category, persistent=False)

    def update(self, pred_index_mat: Tensor, edge_label_index: LabelIndex,
               edge_label_weight: Optional[Tensor] = None) -> None:
        category = self.category[pred_index_mat[:, :self.k]]
        same = (category.unsqueeze(-2) == category.unsqueeze(-1)).sum(dim=-1)
        self.accum += (1 - 1 / (self.k * (self.k - 1)) * (same - 1).sum(dim=-1)).sum()
        self.total += pred_index_mat.size(0)


class LinkPredPersonalization(_LinkPredMetric):
    """One minus the mean overlap of two sources' top-``k`` lists, over all pairs of the first
    ``max_src_nodes`` sources (pairs in blocks of ``batch_size``)."""
    higher_is_better = True

    def __init__(self, k: int, max_src_nodes: Optional[int] = 2 ** 12, batch_size: int = 2 ** 16) -> None:
        super().__init__(k)
        self.max_src_nodes, self.batch_size = max_src_nodes, batch_size
        self.preds: List[Tensor] = []
        self.register_buffer("total", torch.tensor(0), persistent=False)

    def update(self, pred_index_mat: Tensor, edge_label_index: LabelIndex,
               edge_label_weight: Optional[Tensor] = None) -> None:
        pred_index_mat = pred_index_mat[:, :self.k].cpu()
        if self.max_src_nodes is not None:
            if self.total >= self.max_src_nodes:
                return
            pred_index_mat = pred_index_mat[:int(self.max_src_nodes - self.total)]
        self.preds.append(pred_index_mat)
        self.total += pred_index_mat.size(0)

    def compute(self) -> Tensor:
        device = self.total.device
        score, count = torch.tensor(0.0, device=device), torch.tensor(0, device=device)
        pred = torch.cat(self.preds, dim=0) if self.preds else torch.empty(0, self.k, dtype=torch.long)
        if pred.size(0) == 0:
            return score
        num_pairs = pred.size(0) * (pred.size(0) - 1) // 2
        offset = torch.arange(pred.size(0) - 1, 0, -1, device=device)
        rowptr = cumsum(offset)
        for start in range(0, num_pairs, self.batch_size):
            pair = torch.arange(start, min(start + self.batch_size, num_pairs), device=device)
            row = torch.searchsorted(rowptr, pair, right=True) - 1
            col = pair - rowptr[row] + (pred.size(0) - offset[row])
            left, right = pred[row.cpu()].to(device), pred[col.cpu()].to(device)
            width = max(int(left.max()), int(right.max())) + 1
            shift = torch.arange(0, width * row.size(0), width, device=device).view(-1, 1)
            overlap = torch.isin(left + shift, right + shift).sum(dim=-1) / pred.size(1)
            score += (1 - overlap).sum()
            count += overlap.numel()
        return score / count

    def reset(self) -> None:
        self.preds = []
        self.total.zero_()


class LinkPredAveragePopularity(_Average):
    """The mean ``popularity`` of the recommended items (lower: more of the long tail)."""
    higher_is_better = False

    def __init__(self, k: int, popularity: Tensor) -> None:
        super().__init__(k)
        self.register_buffer("popularity", popularity, persistent=False)

    def update(self, pred_index_mat: Tensor, edge_label_index: LabelIndex,
               edge_label_weight: Optional[Tensor] = None) -> None:
        popularity = self.popularity[pred_index_mat[:, :self.k]].to(self.accum.dtype).mean(dim=-1)
        self.accum += popularity.sum()
        self.total += popularity.numel()
