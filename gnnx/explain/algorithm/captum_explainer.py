r"""CaptumExplainer: node-feature and edge attributions from a `Captum <https://captum.ai>`_
method (PyG's ``CaptumExplainer``; Captum is an optional dependency, ``pip install captum``).

The model runs through :class:`~gnnx.explain.algorithm.captum.CaptumModel` (or its dict
form), so the method differentiates the explained output with respect to the node features
(``node_mask_type="attributes"``), a mask of ones over the edges (``edge_mask_type="object"``)
or both. The methods without a required baseline are taken: ``IntegratedGradients``,
``Saliency``, ``InputXGradient``, ``Deconvolution``, ``ShapleyValueSampling`` and
``GuidedBackprop`` (by name or class), with their keyword arguments; one sample at a time
(``internal_batch_size=1``). For classification the target is the class to explain; for
binary classification the model must return probabilities, which become two classes
``[1 - p, p]``; regression has no target.
"""
from __future__ import annotations

import inspect
import warnings
from typing import Any, Optional, Union

import torch
from torch import Tensor

from gnnx._optional import require
from gnnx.explain.algorithm.base import EdgeInputs, ExplainerAlgorithm, Inputs
from gnnx.explain.algorithm.captum import (
    CaptumHeteroModel,
    CaptumModel,
    MaskLevelType,
    convert_captum_output,
    to_captum_input,
)
from gnnx.explain.config import MaskType, ModelMode, ModelReturnType
from gnnx.explain.explanation import Explanation, HeteroExplanation


class CaptumExplainer(ExplainerAlgorithm):
    """Attributions from a Captum method (module docstring).

    Args:
        attribution_method: a ``captum.attr`` class or its name.
        **kwargs: keyword arguments of the method's ``attribute`` (``n_steps``, ...).
    """

    SUPPORTED_METHODS = ["IntegratedGradients", "Saliency", "InputXGradient", "Deconvolution",
                         "ShapleyValueSampling", "GuidedBackprop"]

    def __init__(self, attribution_method: Union[str, Any], **kwargs: Any) -> None:
        super().__init__()
        attr = require("captum.attr", "CaptumExplainer")
        self.attribution_method_class = (getattr(attr, attribution_method)
                                         if isinstance(attribution_method, str) else attribution_method)
        name = self.attribution_method_class.__name__
        if name not in self.SUPPORTED_METHODS or self._needs_baseline():
            raise ValueError(f"{type(self).__name__} does not support attribution method {name} "
                             f"(supported: {', '.join(self.SUPPORTED_METHODS)})")
        if kwargs.get("internal_batch_size", 1) != 1:
            warnings.warn("Overriding 'internal_batch_size' to 1", stacklevel=2)
        if "internal_batch_size" in self._attribute_parameters():
            kwargs["internal_batch_size"] = 1
        self.kwargs = kwargs

    def forward(self, model: torch.nn.Module, x: Inputs, edge_index: EdgeInputs, *, target: Tensor,
                index: Optional[Union[int, Tensor]] = None, **kwargs: Any) -> Union[Explanation, HeteroExplanation]:
        mask_type = self._mask_type()
        inputs, forward_args = to_captum_input(x, edge_index, mask_type, *kwargs.values())
        metadata = (list(x), list(edge_index)) if isinstance(x, dict) else None
        captum_model = (CaptumModel(model, mask_type, index, self.model_config) if metadata is None
                        else CaptumHeteroModel(model, mask_type, index, metadata, self.model_config))
        self.attribution_method_instance = self.attribution_method_class(captum_model)
        if self.model_config.mode == ModelMode.regression:
            target = None
        elif index is not None:
            target = target[index]
        attributions = self.attribution_method_instance.attribute(
            inputs=inputs, target=target, additional_forward_args=forward_args, **self.kwargs)
        node_mask, edge_mask = convert_captum_output(attributions, mask_type, metadata)
        if metadata is None:
            return Explanation(node_mask=node_mask, edge_mask=edge_mask)
        explanation = HeteroExplanation()
        explanation.set_value_dict("node_mask", node_mask)
        explanation.set_value_dict("edge_mask", edge_mask)
        return explanation

    def supports(self) -> bool:
        node_mask_type = self.explainer_config.node_mask_type
        if node_mask_type not in (None, MaskType.attributes):
            raise ValueError(f"The explanation algorithm '{type(self).__name__}' does not support the given "
                             f"explanation settings: it expects 'node_mask_type' to be None or 'attributes' "
                             f"(got '{node_mask_type.value}')")
        return_type = self.model_config.return_type
        if self.model_config.mode == ModelMode.binary_classification and return_type != ModelReturnType.probs:
            raise ValueError(f"The explanation algorithm '{type(self).__name__}' does not support the given "
                             f"explanation settings: it expects 'return_type' to be 'probs' for binary "
                             f"classification tasks (got '{return_type.value}')")
        return True

    def _mask_type(self) -> MaskLevelType:
        node, edge = self.explainer_config.node_mask_type, self.explainer_config.edge_mask_type
        if node is not None and edge is not None:
            return MaskLevelType.node_and_edge
        if node is not None:
            return MaskLevelType.node
        if edge is not None:
            return MaskLevelType.edge
        raise ValueError("Neither node mask type nor edge mask type is specified.")

    def _attribute_parameters(self):
        return inspect.signature(self.attribution_method_class.attribute).parameters

    def _needs_baseline(self) -> bool:
        baselines = self._attribute_parameters().get("baselines")
        return baselines is not None and baselines.default is inspect.Parameter.empty
