"""Explanation algorithms (PyG's ``torch_geometric.explain.algorithm``) and the switches
that put a model's layers in explain mode."""
from gnnx.explain.algorithm.attention_explainer import AttentionExplainer
from gnnx.explain.algorithm.base import ExplainerAlgorithm
from gnnx.explain.algorithm.captum_explainer import CaptumExplainer
from gnnx.explain.algorithm.dummy_explainer import DummyExplainer
from gnnx.explain.algorithm.gnn_explainer import GNNExplainer
from gnnx.explain.algorithm.graphmask_explainer import GraphMaskExplainer
from gnnx.explain.algorithm.masks import clear_masks, set_hetero_masks, set_masks
from gnnx.explain.algorithm.pg_explainer import PGExplainer

__all__ = ["AttentionExplainer", "CaptumExplainer", "DummyExplainer", "ExplainerAlgorithm", "GNNExplainer", "GraphMaskExplainer", "PGExplainer",
           "clear_masks", "set_hetero_masks", "set_masks"]
