"""Evaluation metrics (PyG's ``torch_geometric.metrics``): top-k link prediction and
recommendation metrics."""
from gnnx.metrics.link_pred import (
    LinkPredAveragePopularity,
    LinkPredCoverage,
    LinkPredDiversity,
    LinkPredF1,
    LinkPredHitRatio,
    LinkPredMAP,
    LinkPredMetric,
    LinkPredMetricCollection,
    LinkPredMRR,
    LinkPredNDCG,
    LinkPredPersonalization,
    LinkPredPrecision,
    LinkPredRecall,
)

__all__ = ["LinkPredAveragePopularity", "LinkPredCoverage", "LinkPredDiversity", "LinkPredF1", "LinkPredHitRatio",
           "LinkPredMAP", "LinkPredMRR", "LinkPredMetric", "LinkPredMetricCollection", "LinkPredNDCG",
           "LinkPredPersonalization", "LinkPredPrecision", "LinkPredRecall"]
