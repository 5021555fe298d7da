r"""Measures of an explanation (PyG's ``torch_geometric.explain.metric``).

* :func:`fidelity` (Amara et al., 2022): how the prediction changes when only the
  explanation is kept (:math:`\mathrm{fid}_-`) or removed (:math:`\mathrm{fid}_+`);
* :func:`characterization_score`: their weighted harmonic mean;
* :func:`fidelity_curve_auc`: the area under :math:`\mathrm{fid}_+ / (1 - \mathrm{fid}_-)`;
* :func:`unfaithfulness` (Agarwal et al., 2022): :math:`1 - e^{-\mathrm{KL}}` between the
  predictions with and without the masks;
* :func:`groundtruth_metrics`: accuracy, recall, precision, F1 and AUROC of a mask
  against a known one (binary, computed here; PyG calls torchmetrics).
"""
from __future__ import annotations

from typing import List, Optional, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor

from gnnx.explain.config import ExplanationType, MaskType, ModelMode, ModelReturnType
from gnnx.explain.explainer import Explainer
from gnnx.explain.explanation import Explanation

METRICS = ["accuracy", "recall", "precision", "f1_score", "auroc"]


def _model_kwargs(explanation: Explanation) -> dict:
    return {key: explanation[key] for key in (explanation._model_args or [])}


def fidelity(explainer: Explainer, explanation: Explanation) -> Tuple[float, float]:
    r"""``(fid+, fid-)``: for model explanations :math:`1 - \overline{[\hat y_{\bar S} = y]}`
    and :math:`1 - \overline{[\hat y_S = y]}` (complement and explanation subgraphs); for
    phenomenon explanations the mean absolute change of correctness against the full graph."""
    if explainer.model_config.mode == ModelMode.regression:
        raise ValueError("Fidelity not defined for 'regression' models")
    node_mask, edge_mask = explanation.get("node_mask"), explanation.get("edge_mask")
    kwargs = _model_kwargs(explanation)
    y = explanation.target
    if explainer.explanation_type == ExplanationType.phenomenon:
        y_hat = explainer.get_target(explainer.get_prediction(explanation.x, explanation.edge_index, **kwargs))
    explain_y_hat = explainer.get_target(explainer.get_masked_prediction(
        explanation.x, explanation.edge_index, node_mask, edge_mask, **kwargs))
    complement_y_hat = explainer.get_target(explainer.get_masked_prediction(
        explanation.x, explanation.edge_index, None if node_mask is None else 1.0 - node_mask,
        None if edge_mask is None else 1.0 - edge_mask, **kwargs))
    if explanation.get("index") is not None:
        index = explanation.index
        y, explain_y_hat, complement_y_hat = y[index], explain_y_hat[index], complement_y_hat[index]
        if explainer.explanation_type == ExplanationType.phenomenon:
            y_hat = y_hat[index]
    if explainer.explanation_type == ExplanationType.model:
        pos = 1.0 - (complement_y_hat == y).float().mean()
        neg = 1.0 - (explain_y_hat == y).float().mean()
    else:
        pos = ((y_hat == y).float() - (complement_y_hat == y).float()).abs().mean()
        neg = ((y_hat == y).float() - (explain_y_hat == y).float()).abs().mean()
    return float(pos), float(neg)


def characterization_score(pos_fidelity: Tensor, neg_fidelity: Tensor, pos_weight: float = 0.5,
                           neg_weight: float = 0.5) -> Tensor:
    r""":math:`1 / (w_+ / \mathrm{fid}_+ + w_- / (1 - \mathrm{fid}_-))`; the weights sum to 1."""
    if pos_weight + neg_weight != 1.0:
        raise ValueError(f"The weights need to sum up to 1 (got {pos_weight} and {neg_weight})")
    return 1.0 / ((pos_weight / pos_fidelity) + (neg_weight / (1.0 - neg_fidelity)))


def fidelity_curve_auc(pos_fidelity: Tensor, neg_fidelity: Tensor, x: Tensor) -> Tensor:
    r"""The trapezoid area under :math:`\mathrm{fid}_+ / (1 - \mathrm{fid}_-)` over ``x``
    (ascending, e.g. the thresholds the fidelities were measured at)."""
    if torch.any(neg_fidelity == 1):
        raise ValueError("There exists negative fidelity values containing 1, leading to a division by zero")
    if torch.any(x.diff() < 0):
        raise ValueError("'x' must be given in ascending order")
    return torch.trapezoid(pos_fidelity / (1.0 - neg_fidelity), x)


def unfaithfulness(explainer: Explainer, explanation: Explanation, top_k: Optional[int] = None) -> float:
    r""":math:`1 - \exp(-\mathrm{KL}(p \Vert \hat p))` between the predicted distributions
    without (:math:`p`) and with (:math:`\hat p`) the masks; ``top_k`` keeps only the
    ``k`` most important features of a feature-level node mask."""
    if explainer.model_config.mode == ModelMode.regression:
        raise ValueError("Fidelity not defined for 'regression' models")
    if top_k is not None and explainer.node_mask_type == MaskType.object:
        raise ValueError("Cannot apply top-k feature selection based on a node mask of type 'object'")
    node_mask, edge_mask = explanation.get("node_mask"), explanation.get("edge_mask")
    x, edge_index = explanation.x, explanation.edge_index
    kwargs = _model_kwargs(explanation)
    y = explanation.get("prediction")
    if y is None:  # a phenomenon explanation
        y = explainer.get_prediction(x, edge_index, **kwargs)
    if node_mask is not None and top_k is not None:
        _, top = node_mask.sum(dim=0).topk(top_k)
        node_mask = torch.zeros_like(node_mask)
        node_mask[:, top] = 1.0
    y_hat = explainer.get_masked_prediction(x, edge_index, node_mask, edge_mask, **kwargs)
    if explanation.get("index") is not None:
        y, y_hat = y[explanation.index], y_hat[explanation.index]
    if explainer.model_config.return_type == ModelReturnType.raw:
        y, y_hat = y.softmax(dim=-1), y_hat.softmax(dim=-1)
    elif explainer.model_config.return_type == ModelReturnType.log_probs:
        y, y_hat = y.exp(), y_hat.exp()
    kl_div = F.kl_div(y.log(), y_hat, reduction="batchmean")
    return 1 - float(torch.exp(-kl_div))


def _auroc(score: Tensor, truth: Tensor) -> Tensor:
    """The probability that a positive outranks a negative, ties counting half
    (the Mann-Whitney statistic; 0 where one class is missing, as torchmetrics)."""
    positives, negatives = int(truth.sum()), int((~truth).sum())
    if positives == 0 or negatives == 0:
        return torch.tensor(0.0)
    order = score.double().argsort()
    ranks = torch.empty_like(order, dtype=torch.double)
    ranks[order] = torch.arange(1, score.numel() + 1, dtype=torch.double)
    values, inverse = torch.unique(score.double(), return_inverse=True)  # average the ranks of ties
    mean_rank = torch.zeros(values.numel(), dtype=torch.double).index_add_(0, inverse, ranks)
    mean_rank /= torch.bincount(inverse, minlength=values.numel()).double()
    rank_sum = mean_rank[inverse][truth].sum()
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def groundtruth_metrics(pred_mask: Tensor, target_mask: Tensor, metrics: Optional[Union[str, List[str]]] = None,
                        threshold: float = 0.5) -> Union[float, Tuple[float, ...]]:
    """``metrics`` (default all of :data:`METRICS`) of ``pred_mask`` against
    ``target_mask >= threshold``; predictions are positive at ``>= threshold`` (AUROC ranks
    the raw values)."""
    metrics = METRICS if metrics is None else metrics
    metrics = [metrics] if isinstance(metrics, str) else metrics
    if not isinstance(metrics, (tuple, list)):
        raise ValueError(f"Expected metrics to be a string or a list of strings (got {type(metrics)})")
    score = pred_mask.detach().reshape(-1).cpu().float()
    truth = (target_mask >= threshold).reshape(-1).cpu()
    predicted = score >= threshold
    tp = (predicted & truth).sum().double()
    fp = (predicted & ~truth).sum().double()
    fn = (~predicted & truth).sum().double()
    values = []
    for metric in metrics:
        if metric not in METRICS:
            raise ValueError(f"Encountered invalid metric {metric}")
        if metric == "accuracy":
            value = (predicted == truth).double().mean()
        elif metric == "recall":
            value = tp / (tp + fn) if tp + fn > 0 else torch.tensor(0.0)
        elif metric == "precision":
            value = tp / (tp + fp) if tp + fp > 0 else torch.tensor(0.0)
        elif metric == "f1_score":
            value = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn > 0 else torch.tensor(0.0)
        else:
            value = _auroc(score, truth)
        values.append(float(value))
    return tuple(values) if len(values) > 1 else values[0]
