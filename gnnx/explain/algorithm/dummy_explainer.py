"""DummyExplainer: random masks of the configured shapes, for testing explanation pipelines
(PyG's ``DummyExplainer``)."""
from __future__ import annotations

from typing import Any, Optional, Union

import torch
from torch import Tensor

from gnnx.explain.algorithm.base import EdgeInputs, ExplainerAlgorithm, Inputs
from gnnx.explain.config import MaskType
from gnnx.explain.explanation import Explanation, HeteroExplanation


class DummyExplainer(ExplainerAlgorithm):
    """Uniform random node masks (``[N, 1]``, ``[1, F]`` or ``[N, F]`` by mask type) and
    edge masks (``[E]``)."""

    def supports(self) -> bool:
        return True

    def forward(self, model: torch.nn.Module, x: Inputs, edge_index: EdgeInputs,
                edge_attr: Optional[Any] = None, **kwargs: Any) -> Union[Explanation, HeteroExplanation]:
        if isinstance(x, Tensor):
            return Explanation(node_mask=self._node_mask(x), edge_mask=self._edge_mask(edge_index, x.device))
        explanation = HeteroExplanation()
        explanation.set_value_dict("node_mask", {k: m for k, v in x.items() if (m := self._node_mask(v)) is not None})
        explanation.set_value_dict("edge_mask", {k: m for k, v in edge_index.items()
                                                 if (m := self._edge_mask(v, v.device)) is not None})
        return explanation

    def _node_mask(self, x: Tensor) -> Optional[Tensor]:
        mask_type = self.explainer_config.node_mask_type
        if mask_type == MaskType.object:
            return torch.rand(x.size(0), 1, device=x.device)
        if mask_type == MaskType.common_attributes:
            return torch.rand(1, x.size(1), device=x.device)
        if mask_type == MaskType.attributes:
            return torch.rand_like(x)
        return None

    def _edge_mask(self, edge_index: Tensor, device: torch.device) -> Optional[Tensor]:
        if self.explainer_config.edge_mask_type == MaskType.object:
            return torch.rand(edge_index.size(1), device=device)
        return None
