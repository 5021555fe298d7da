"""The explainer: a model, an algorithm and what to explain, run on one input (PyG's
``torch_geometric.explain.Explainer``, same arguments and results)."""
from __future__ import annotations

import warnings
from typing import Any, Dict, Optional, Union

import torch
from torch import Tensor

from gnnx.explain.algorithm.base import EdgeInputs, ExplainerAlgorithm, Inputs
from gnnx.explain.algorithm.masks import clear_masks, set_hetero_masks, set_masks
from gnnx.explain.config import (
    ExplainerConfig,
    ExplanationType,
    MaskType,
    ModelConfig,
    ModelMode,
    ModelReturnType,
    ThresholdConfig,
)
from gnnx.explain.explanation import Explanation, HeteroExplanation


class Explainer:
    """Explains ``model``'s predictions with ``algorithm``.

    Args:
        model: the model, called as ``model(x, edge_index, **kwargs)`` (``x`` and
            ``edge_index`` may be per-type dictionaries).
        algorithm: an :class:`~gnnx.explain.algorithm.ExplainerAlgorithm` such as
            :class:`~gnnx.explain.algorithm.GNNExplainer`.
        explanation_type: ``"model"`` (explain the prediction) or ``"phenomenon"`` (explain
            the given target).
        model_config: a :class:`~gnnx.explain.ModelConfig` or its arguments as a dict.
        node_mask_type, edge_mask_type: the masks to learn (:class:`~gnnx.explain.MaskType`).
        threshold_config: how the returned masks are cut (:class:`~gnnx.explain.ThresholdConfig`).

    Calling it (``explainer(x, edge_index, target=..., index=..., **kwargs)``) returns an
    :class:`~gnnx.explain.Explanation` holding the masks, the inputs, ``target``,
    ``prediction`` and ``index``.
    """

    def __init__(self, model: torch.nn.Module, algorithm: ExplainerAlgorithm,
                 explanation_type: Union[ExplanationType, str], model_config: Union[ModelConfig, Dict[str, Any]],
                 node_mask_type: Optional[Union[MaskType, str]] = None,
                 edge_mask_type: Optional[Union[MaskType, str]] = None,
                 threshold_config: Optional[ThresholdConfig] = None) -> None:
        explainer_config = ExplainerConfig(explanation_type, node_mask_type, edge_mask_type)
        self.model = model
        self.algorithm = algorithm
        self.explanation_type = explainer_config.explanation_type
        self.model_config = ModelConfig.cast(model_config)
        self.node_mask_type = explainer_config.node_mask_type
        self.edge_mask_type = explainer_config.edge_mask_type
        self.threshold_config = ThresholdConfig.cast(threshold_config)
        self.algorithm.connect(explainer_config, self.model_config)

    @torch.no_grad()
    def get_prediction(self, *args: Any, **kwargs: Any) -> Tensor:
        """The model's output in evaluation mode, without gradients."""
        training = self.model.training
        self.model.eval()
        try:
            return self.model(*args, **kwargs)
        finally:
            self.model.train(training)

    def get_masked_prediction(self, x: Inputs, edge_index: EdgeInputs, node_mask: Optional[Inputs] = None,
                              edge_mask: Optional[Union[Tensor, Dict[Any, Tensor]]] = None, **kwargs: Any) -> Tensor:
        """The prediction with the node features multiplied by ``node_mask`` and the
        messages by ``edge_mask`` (taken as given, no sigmoid)."""
        if isinstance(x, Tensor) and node_mask is not None:
            x = node_mask * x
        elif isinstance(x, dict) and node_mask is not None:
            x = {key: value * node_mask[key] for key, value in x.items()}
        if isinstance(edge_mask, Tensor):
            set_masks(self.model, edge_mask, edge_index, apply_sigmoid=False)
        elif isinstance(edge_mask, dict):
            set_hetero_masks(self.model, edge_mask, edge_index, apply_sigmoid=False)
        try:
            return self.get_prediction(x, edge_index, **kwargs)
        finally:
            clear_masks(self.model)

    def get_target(self, prediction: Tensor) -> Tensor:
        """The class the prediction names (classification), or the prediction (regression)."""
        if self.model_config.mode == ModelMode.binary_classification:
            if self.model_config.return_type == ModelReturnType.raw:
                return (prediction > 0).long().view(-1)
            return (prediction > 0.5).long().view(-1)
        if self.model_config.mode == ModelMode.multiclass_classification:
            return prediction.argmax(dim=-1)
        return prediction

    def __call__(self, x: Inputs, edge_index: EdgeInputs, *, target: Optional[Tensor] = None,
                 index: Optional[Union[int, Tensor]] = None, **kwargs: Any) -> Union[Explanation, HeteroExplanation]:
        """The explanation of the model's output at ``index`` (all outputs without one). A
        ``"phenomenon"`` explanation needs ``target``; a ``"model"`` one takes the model's
        own prediction."""
        prediction: Optional[Tensor] = None
        if self.explanation_type == ExplanationType.phenomenon:
            if target is None:
                raise ValueError(f"The 'target' has to be provided for the explanation type "
                                 f"'{self.explanation_type.value}'")
        else:
            if target is not None:
                warnings.warn(f"The 'target' should not be provided for the explanation type "
                              f"'{self.explanation_type.value}'", stacklevel=2)
            prediction = self.get_prediction(x, edge_index, **kwargs)
            target = self.get_target(prediction)
        if isinstance(index, int):
            index = torch.tensor([index])
        training = self.model.training
        self.model.eval()
        try:
            explanation = self.algorithm(self.model, x, edge_index, target=target, index=index, **kwargs)
        finally:
            self.model.train(training)
        explanation._model_config = self.model_config
        explanation.prediction = prediction
        explanation.target = target
        explanation.index = index
        if isinstance(explanation, HeteroExplanation):
            explanation.set_value_dict("x", x)
            explanation.set_value_dict("edge_index", edge_index)
            for key, value in kwargs.items():
                if isinstance(value, dict):  # ``edge_attr_dict`` -> each store's ``edge_attr``
                    explanation.set_value_dict(key[:-5] if key.endswith("_dict") else key, value)
                else:
                    explanation[key] = value
        else:
            explanation._model_args = list(kwargs)
            explanation.x = x
            explanation.edge_index = edge_index
            for key, value in kwargs.items():
                explanation[key] = value
        explanation.validate_masks()
        return explanation.threshold(self.threshold_config)
