"""The interface of an explanation algorithm (PyG's ``ExplainerAlgorithm``)."""
from __future__ import annotations

from abc import abstractmethod
from typing import Any, Dict, Optional, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor

from gnnx.explain.config import (
    ExplainerConfig,
    ExplanationType,
    ModelConfig,
    ModelMode,
    ModelReturnType,
    ModelTaskLevel,
)
from gnnx.explain.explanation import Explanation, HeteroExplanation
from gnnx.hetero_graph import EdgeType, NodeType
from gnnx.nn.message_passing import MessagePassing
from gnnx.utils import get_num_hops, k_hop_subgraph

Inputs = Union[Tensor, Dict[NodeType, Tensor]]
EdgeInputs = Union[Tensor, Dict[EdgeType, Tensor]]


class ExplainerAlgorithm(torch.nn.Module):
    """An algorithm that explains ``model(x, edge_index, **kwargs)``: :meth:`forward`
    returns the :class:`Explanation`, :meth:`supports` says whether the configuration it is
    :meth:`connect`-ed to is one it can explain."""

    @abstractmethod
    def forward(self, model: torch.nn.Module, x: Inputs, edge_index: EdgeInputs, *, target: Tensor,
                index: Optional[Union[int, Tensor]] = None, **kwargs: Any) -> Union[Explanation, HeteroExplanation]:
        """The explanation of ``model``'s output (at ``index`` where given) for ``target``."""

    @abstractmethod
    def supports(self) -> bool:
        """Whether the connected configurations are supported."""

    @property
    def explainer_config(self) -> ExplainerConfig:
        if not hasattr(self, "_explainer_config"):
            raise ValueError(f"The explanation algorithm '{type(self).__name__}' is not yet connected to any "
                             f"explainer configuration. Please call `{type(self).__name__}.connect(...)` before "
                             f"proceeding.")
        return self._explainer_config

    @property
    def model_config(self) -> ModelConfig:
        if not hasattr(self, "_model_config"):
            raise ValueError(f"The explanation algorithm '{type(self).__name__}' is not yet connected to any model "
                             f"configuration. Please call `{type(self).__name__}.connect(...)` before proceeding.")
        return self._model_config

    def connect(self, explainer_config: ExplainerConfig, model_config: ModelConfig) -> None:
        """Take the configurations, and refuse those :meth:`supports` does not."""
        self._explainer_config = ExplainerConfig.cast(explainer_config)
        self._model_config = ModelConfig.cast(model_config)
        if not self.supports():
            raise ValueError(f"The explanation algorithm '{type(self).__name__}' does not support the given "
                             f"explanation settings.")

    def _require(self, explanation_type: Optional[ExplanationType] = None,
                 task_levels: Optional[Tuple[ModelTaskLevel, ...]] = None, node_masks: bool = True) -> bool:
        """Raise an error naming the unsupported setting: another explanation type, a task
        level outside ``task_levels``, or node masks where ``node_masks`` is False."""
        # PyG's phrase first, so handlers written against PyG's message match, then which setting
        refused = f"The explanation algorithm '{type(self).__name__}' does not support the given explanation settings"
        given = self.explainer_config.explanation_type
        if explanation_type is not None and given != explanation_type:
            raise ValueError(f"{refused}: it only explains {explanation_type.value} explanations "
                             f"(got `explanation_type={given.value}`)")
        level = self.model_config.task_level
        if task_levels is not None and level not in task_levels:
            raise ValueError(f"{refused}: it only explains {' or '.join(t.value for t in task_levels)}-level tasks "
                             f"(got `task_level={level.value}`)")
        node_mask_type = self.explainer_config.node_mask_type
        if not node_masks and node_mask_type is not None:
            raise ValueError(f"{refused}: it does not explain input node features "
                             f"(got `node_mask_type={node_mask_type.value}`)")
        return True

    # -- helpers --------------------------------------------------------------------------------
    @staticmethod
    def _post_process_mask(mask: Optional[Tensor], hard_mask: Optional[Tensor] = None,
                           apply_sigmoid: bool = True) -> Optional[Tensor]:
        """The learned ``mask`` detached, through a sigmoid, zero outside ``hard_mask``."""
        if mask is None:
            return None
        mask = mask.detach()
        if apply_sigmoid:
            mask = mask.sigmoid()
        if hard_mask is not None and mask.size(0) == hard_mask.size(0):
            keep = hard_mask if hard_mask.dim() == mask.dim() else hard_mask.view((-1,) + (1,) * (mask.dim() - 1))
            mask = mask.masked_fill(~keep, 0.0)
        return mask

    @staticmethod
    def _get_hard_masks(model: torch.nn.Module, node_index: Optional[Union[int, Tensor]], edge_index: Tensor,
                        num_nodes: int) -> Tuple[Optional[Tensor], Optional[Tensor]]:
        """The nodes and edges within the model's receptive field of ``node_index`` (as
        many hops as it has message-passing layers); ``(None, None)`` without an index."""
        if node_index is None:
            return None, None
        subset, _, _, edge_mask = k_hop_subgraph(node_index, num_hops=get_num_hops(model),
                                                 edge_index=edge_index, num_nodes=num_nodes,
                                                 flow=ExplainerAlgorithm._flow(model))
        node_mask = torch.zeros(num_nodes, dtype=torch.bool, device=edge_index.device)
        node_mask[subset] = True
        return node_mask, edge_mask

    @staticmethod
    def _flow(model: torch.nn.Module) -> str:
        for module in model.modules():
            if isinstance(module, MessagePassing):
                return module.flow
        return "source_to_target"

    def _loss_binary_classification(self, y_hat: Tensor, y: Tensor) -> Tensor:
        if self.model_config.return_type == ModelReturnType.raw:
            return F.binary_cross_entropy_with_logits(y_hat.view_as(y), y.float())
        if self.model_config.return_type == ModelReturnType.probs:
            return F.binary_cross_entropy(y_hat.view_as(y), y.float())
        raise AssertionError(self.model_config.return_type)

    def _loss_multiclass_classification(self, y_hat: Tensor, y: Tensor) -> Tensor:
        if self.model_config.return_type == ModelReturnType.raw:
            return F.cross_entropy(y_hat, y)
        if self.model_config.return_type == ModelReturnType.probs:
            return F.nll_loss(y_hat.log(), y)
        return F.nll_loss(y_hat, y)

    def _loss_regression(self, y_hat: Tensor, y: Tensor) -> Tensor:
        return F.mse_loss(y_hat, y)

    def _model_loss(self, y_hat: Tensor, y: Tensor) -> Tensor:
        """The loss of the model's mode: cross-entropy for classification, MSE for regression."""
        mode = self.model_config.mode
        if mode == ModelMode.binary_classification:
            return self._loss_binary_classification(y_hat, y)
        if mode == ModelMode.multiclass_classification:
            return self._loss_multiclass_classification(y_hat, y)
        return self._loss_regression(y_hat, y)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
