"""Explaining GNN predictions (PyG's ``torch_geometric.explain``): an :class:`Explainer`
runs an algorithm (:class:`GNNExplainer`, :class:`PGExplainer`, :class:`AttentionExplainer`,
:class:`CaptumExplainer`, :class:`GraphMaskExplainer`, :class:`DummyExplainer`) on a gnnx model, which returns an :class:`Explanation` of node and
edge masks; :mod:`gnnx.explain.metric` scores it. Edge masks reach the messages through the
layers' explain mode (:meth:`gnnx.nn.MessagePassing.explain_message`). Explanations run
eagerly: they are analysis, not the compiled path."""
from gnnx.explain import metric
from gnnx.explain.algorithm import (
                                    AttentionExplainer,
                                    CaptumExplainer,
                                    DummyExplainer,
                                    ExplainerAlgorithm,
                                    GNNExplainer,
                                    GraphMaskExplainer,
                                    PGExplainer,
)
from gnnx.explain.config import (
                                    ExplainerConfig,
                                    ExplanationType,
                                    MaskType,
                                    ModelConfig,
                                    ModelMode,
                                    ModelReturnType,
                                    ModelTaskLevel,
                                    ThresholdConfig,
                                    ThresholdType,
)
from gnnx.explain.explainer import Explainer
from gnnx.explain.explanation import Explanation, HeteroExplanation
from gnnx.explain.metric import (  # PyG exports the metrics from torch_geometric.explain too
                                    characterization_score,
                                    fidelity,
                                    fidelity_curve_auc,
                                    groundtruth_metrics,
                                    unfaithfulness,
)

__all__ = ["AttentionExplainer", "CaptumExplainer", "DummyExplainer", "Explainer", "ExplainerAlgorithm", "ExplainerConfig",
           "Explanation", "ExplanationType", "GNNExplainer", "GraphMaskExplainer", "HeteroExplanation", "MaskType", "ModelConfig",
           "ModelMode", "ModelReturnType", "ModelTaskLevel", "PGExplainer", "ThresholdConfig", "ThresholdType",
           "metric", "characterization_score", "fidelity", "fidelity_curve_auc", "groundtruth_metrics",
           "unfaithfulness"]
