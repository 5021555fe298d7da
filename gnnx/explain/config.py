"""What an explanation is asked for: PyG's explainer configuration (``torch_geometric.explain.config``).

The enums take PyG's strings, and the three dataclasses check the same combinations PyG
checks, with the same messages, so configurations written for PyG's :class:`Explainer` work
unchanged.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any, Optional, Union


class ExplanationType(Enum):
    """``"model"`` explains the model's prediction, ``"phenomenon"`` the given target."""
    model = "model"
    phenomenon = "phenomenon"


class MaskType(Enum):
    """``"object"``: one value per node (or edge); ``"common_attributes"``: one per feature;
    ``"attributes"``: one per node and feature."""
    object = "object"
    common_attributes = "common_attributes"
    attributes = "attributes"


class ModelMode(Enum):
    binary_classification = "binary_classification"
    multiclass_classification = "multiclass_classification"
    regression = "regression"


class ModelTaskLevel(Enum):
    node = "node"
    edge = "edge"
    graph = "graph"


class ModelReturnType(Enum):
    raw = "raw"
    probs = "probs"
    log_probs = "log_probs"


class ThresholdType(Enum):
    """``"hard"``: 1 above the value, else 0; ``"topk"``: keep the ``value`` largest entries;
    ``"topk_hard"``: set those to 1."""
    hard = "hard"
    topk = "topk"
    topk_hard = "topk_hard"


class CastMixin:
    """``cls.cast(x)``: ``None`` stays ``None``, an instance is returned as is, a dict or tuple
    becomes the constructor's arguments (PyG's ``CastMixin``)."""

    @classmethod
    def cast(cls, *args: Any, **kwargs: Any) -> Any:
        if len(args) == 1 and not kwargs:
            value = args[0]
            if value is None or isinstance(value, cls):
                return value
            if isinstance(value, tuple):
                return cls(*value)
            if isinstance(value, dict):
                return cls(**value)
        return cls(*args, **kwargs)


@dataclass(init=False)
class ExplainerConfig(CastMixin):
    """What to explain: ``explanation_type`` and which masks to learn (at least one; edge
    masks are per edge, ``"object"``)."""
    explanation_type: ExplanationType
    node_mask_type: Optional[MaskType]
    edge_mask_type: Optional[MaskType]

    def __init__(self, explanation_type: Union[ExplanationType, str],
                 node_mask_type: Optional[Union[MaskType, str]] = None,
                 edge_mask_type: Optional[Union[MaskType, str]] = None) -> None:
        node_mask_type = MaskType(node_mask_type) if node_mask_type is not None else None
        edge_mask_type = MaskType(edge_mask_type) if edge_mask_type is not None else None
        if edge_mask_type is not None and edge_mask_type != MaskType.object:
            raise ValueError(f"'edge_mask_type' needs be None or of type 'object' (got '{edge_mask_type.value}')")
        if node_mask_type is None and edge_mask_type is None:
            raise ValueError("Either 'node_mask_type' or 'edge_mask_type' must be provided")
        self.explanation_type = ExplanationType(explanation_type)
        self.node_mask_type = node_mask_type
        self.edge_mask_type = edge_mask_type


@dataclass(init=False)
class ModelConfig(CastMixin):
    """The explained model: its ``mode``, ``task_level`` and what it returns (regression
    defaults to ``"raw"``)."""
    mode: ModelMode
    task_level: ModelTaskLevel
    return_type: ModelReturnType

    def __init__(self, mode: Union[ModelMode, str], task_level: Union[ModelTaskLevel, str],
                 return_type: Optional[Union[ModelReturnType, str]] = None) -> None:
        self.mode = ModelMode(mode)
        self.task_level = ModelTaskLevel(task_level)
        if return_type is None and self.mode == ModelMode.regression:
            return_type = ModelReturnType.raw
        self.return_type = ModelReturnType(return_type)
        if self.mode == ModelMode.regression and self.return_type != ModelReturnType.raw:
            raise ValueError(f"A model for regression needs to return raw outputs (got {self.return_type.value})")
        if (self.mode == ModelMode.binary_classification
                and self.return_type not in (ModelReturnType.raw, ModelReturnType.probs)):
            raise ValueError(f"A model for binary classification needs to return raw outputs or probabilities "
                             f"(got {self.return_type.value})")


@dataclass(init=False)
class ThresholdConfig(CastMixin):
    """How :meth:`Explanation.threshold` cuts masks: ``hard`` needs a value in [0, 1], the
    top-k types a positive integer."""
    type: ThresholdType
    value: Union[float, int]

    def __init__(self, threshold_type: Union[ThresholdType, str], value: Union[float, int]) -> None:
        self.type = ThresholdType(threshold_type)
        self.value = value
        if not isinstance(value, (int, float)):
            raise ValueError(f"Threshold value must be a float or int (got {type(value)}).")
        if self.type == ThresholdType.hard and not 0 <= value <= 1:
            raise ValueError(f"Threshold value must be between 0 and 1 (got {value})")
        if self.type in (ThresholdType.topk, ThresholdType.topk_hard):
            if not isinstance(value, int):
                raise ValueError(f"Threshold value needs to be an integer (got {type(value)}).")
            if value <= 0:
                raise ValueError(f"Threshold value needs to be positive (got {value}).")
