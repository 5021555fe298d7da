r"""GNNExplainer (Ying et al., 2019, `arXiv:1903.03894 <https://arxiv.org/abs/1903.03894>`_):
soft masks on node features and edges, learned so the masked graph keeps the prediction.

With :math:`\sigma` the sigmoid, node-feature mask :math:`M_X` and edge mask :math:`M_E`,
the explainer minimises over ``epochs`` Adam steps

.. math::
    \mathcal{L} = \ell\big(f(X \odot \sigma(M_X), \sigma(M_E)),\, y\big)
    + \sum_{M \in \{M_E, M_X\}} \Big( c_{\text{size}}\,\mathrm{reduce}\,\sigma(M)
    + c_{\text{ent}}\,\overline{H(\sigma(M))} \Big),

where :math:`\ell` is the model's loss (cross-entropy or MSE), :math:`H` the binary
entropy, and the regularisers run only over the entries whose gradient was nonzero in the
first step (the model's receptive field). The edge mask reaches the model through explain
mode (:func:`~gnnx.explain.algorithm.set_masks`). Same coefficients, initialisation and
random draws as PyG's ``GNNExplainer``, so the same seed gives PyG's masks.
"""
from __future__ import annotations

from math import sqrt
from typing import Any, List, Optional, Union

import torch
from torch import Tensor
from torch.nn import Parameter

from gnnx.explain.algorithm.base import EdgeInputs, ExplainerAlgorithm, Inputs
from gnnx.explain.algorithm.masks import clear_masks, set_hetero_masks, set_masks
from gnnx.explain.config import MaskType
from gnnx.explain.explanation import Explanation, HeteroExplanation


def _node_mask(mask_type: Optional[MaskType], num_nodes: int, num_features: int, device) -> Optional[Parameter]:
    std = 0.1
    if mask_type is None:
        return None
    shape = {MaskType.object: (num_nodes, 1), MaskType.attributes: (num_nodes, num_features),
             MaskType.common_attributes: (1, num_features)}[mask_type]
    return Parameter(torch.randn(*shape, device=device) * std)


def _edge_mask(mask_type: Optional[MaskType], num_edges: int, num_nodes: int, device) -> Optional[Parameter]:
    if mask_type is None:
        return None
    std = torch.nn.init.calculate_gain("relu") * sqrt(2.0 / (2 * num_nodes))
    return Parameter(torch.randn(num_edges, device=device) * std)


class GNNExplainer(ExplainerAlgorithm):
    """Learns node-feature and edge masks for one explanation (module docstring).

    Args:
        epochs: optimisation steps (default 100).
        lr: Adam's learning rate (default 0.01).
        **kwargs: overrides of :attr:`default_coeffs` (``edge_size``, ``edge_reduction``,
            ``node_feat_size``, ``node_feat_reduction``, ``edge_ent``, ``node_feat_ent``,
            ``EPS``).
    """

    default_coeffs = {"edge_size": 0.005, "edge_reduction": "sum", "node_feat_size": 1.0,
                      "node_feat_reduction": "mean", "edge_ent": 1.0, "node_feat_ent": 0.1, "EPS": 1e-15}

    def __init__(self, epochs: int = 100, lr: float = 0.01, **kwargs: Any) -> None:
        super().__init__()
        self.epochs = epochs
        self.lr = lr
        self.coeffs = dict(self.default_coeffs)
        self.coeffs.update(kwargs)
        self.node_mask = self.hard_node_mask = None
        self.edge_mask = self.hard_edge_mask = None
        self.is_hetero = False

    def supports(self) -> bool:
        return True

    def forward(self, model: torch.nn.Module, x: Inputs, edge_index: EdgeInputs, *, target: Tensor,
                index: Optional[Union[int, Tensor]] = None, **kwargs: Any) -> Union[Explanation, HeteroExplanation]:
        self.is_hetero = isinstance(x, dict)
        try:
            self._train(model, x, edge_index, target=target, index=index, **kwargs)
            return self._explanation()
        finally:
            clear_masks(model)
            self.node_mask = self.hard_node_mask = None
            self.edge_mask = self.hard_edge_mask = None

    # -- training -------------------------------------------------------------------------------
    def _train(self, model: torch.nn.Module, x: Inputs, edge_index: EdgeInputs, *, target: Tensor,
               index: Optional[Union[int, Tensor]], **kwargs: Any) -> None:
        self._initialize_masks(x, edge_index)
        optimizer = torch.optim.Adam(self._parameters_to_learn(model, edge_index), lr=self.lr)
        for epoch in range(self.epochs):
            optimizer.zero_grad()
            y_hat, y = self._masked_forward(model, x, edge_index, **kwargs), target
            if index is not None:
                y_hat, y = y_hat[index], y[index]
            loss = self._loss(y_hat, y)
            loss.backward()
            optimizer.step()
            if epoch == 0:  # the entries the first step reached: the model's receptive field
                self._collect_hard_masks()

    def _initialize_masks(self, x: Inputs, edge_index: EdgeInputs) -> None:
        node_type, edge_type = self.explainer_config.node_mask_type, self.explainer_config.edge_mask_type
        if not self.is_hetero:
            (num_nodes, num_features), num_edges = x.size(), edge_index.size(1)
            self.node_mask = _node_mask(node_type, num_nodes, num_features, x.device)
            self.edge_mask = _edge_mask(edge_type, num_edges, num_nodes, x.device)
            return
        self.node_mask = {key: _node_mask(node_type, *value.size(), value.device) for key, value in x.items()}
        self.hard_node_mask = {key: None for key in x}
        largest = max(value.size(0) for value in x.values())
        self.edge_mask = {}
        for key, value in edge_index.items():
            num_nodes = max(int(value.max()) + 1 if value.numel() else 0, largest)
            self.edge_mask[key] = _edge_mask(edge_type, value.size(1), num_nodes, value.device)
        self.hard_edge_mask = {key: None for key in edge_index}

    def _parameters_to_learn(self, model: torch.nn.Module, edge_index: EdgeInputs) -> List[Parameter]:
        if not self.is_hetero:
            parameters = [self.node_mask] if self.node_mask is not None else []
            if self.edge_mask is not None:
                set_masks(model, self.edge_mask, edge_index, apply_sigmoid=True)
                parameters.append(self.edge_mask)
            return parameters
        parameters = [mask for mask in self.node_mask.values() if mask is not None]
        edge_masks = {key: mask for key, mask in self.edge_mask.items() if mask is not None}
        if edge_masks:
            set_hetero_masks(model, edge_masks, edge_index)
        return parameters + list(edge_masks.values())

    def _masked_forward(self, model: torch.nn.Module, x: Inputs, edge_index: EdgeInputs, **kwargs: Any) -> Tensor:
        if not self.is_hetero:
            h = x if self.node_mask is None else x * self.node_mask.sigmoid()
            return model(h, edge_index, **kwargs)
        h = {key: value if self.node_mask.get(key) is None else value * self.node_mask[key].sigmoid()
             for key, value in x.items()}
        return model(h, edge_index, **kwargs)

    def _collect_hard_masks(self) -> None:
        if not self.is_hetero:
            if self.node_mask is not None:
                self.hard_node_mask = _nonzero_grad(self.node_mask, "node features", "node_mask_type")
            if self.edge_mask is not None:
                self.hard_edge_mask = _nonzero_grad(self.edge_mask, "edges", "edge_mask_type")
            return
        for key, mask in self.node_mask.items():
            if mask is not None:
                self.hard_node_mask[key] = _nonzero_grad(mask, f"node masks of type '{key}'", "node_mask_type")
        for key, mask in self.edge_mask.items():
            if mask is not None:
                self.hard_edge_mask[key] = _nonzero_grad(mask, f"edge masks of type '{key}'", "edge_mask_type")

    # -- loss -----------------------------------------------------------------------------------
    def _loss(self, y_hat: Tensor, y: Tensor) -> Tensor:
        loss = self._model_loss(y_hat, y)
        edge_terms = (self.coeffs["edge_size"], self.coeffs["edge_reduction"], self.coeffs["edge_ent"])
        node_terms = (self.coeffs["node_feat_size"], self.coeffs["node_feat_reduction"], self.coeffs["node_feat_ent"])
        if not self.is_hetero:
            pairs = [(self.edge_mask, self.hard_edge_mask, edge_terms), (self.node_mask, self.hard_node_mask, node_terms)]
        else:
            pairs = ([(m, self.hard_edge_mask[k], edge_terms) for k, m in self.edge_mask.items()]
                     + [(m, self.hard_node_mask[k], node_terms) for k, m in self.node_mask.items()])
        for mask, hard_mask, terms in pairs:
            if mask is not None and hard_mask is not None:
                loss = self._regularized(loss, mask, hard_mask, *terms)
        return loss

    def _regularized(self, loss: Tensor, mask: Tensor, hard_mask: Tensor, size_coeff: float, reduction: str,
                     ent_coeff: float) -> Tensor:
        m = mask[hard_mask].sigmoid()
        loss = loss + size_coeff * getattr(torch, reduction)(m)
        eps = self.coeffs["EPS"]
        entropy = -m * torch.log(m + eps) - (1 - m) * torch.log(1 - m + eps)
        return loss + ent_coeff * entropy.mean()

    # -- result ---------------------------------------------------------------------------------
    def _explanation(self) -> Union[Explanation, HeteroExplanation]:
        if not self.is_hetero:
            return Explanation(node_mask=self._post_process_mask(self.node_mask, self.hard_node_mask),
                               edge_mask=self._post_process_mask(self.edge_mask, self.hard_edge_mask))
        explanation = HeteroExplanation()
        explanation.set_value_dict("node_mask", {
            key: self._post_process_mask(mask, self.hard_node_mask[key])
            for key, mask in self.node_mask.items() if mask is not None})
        explanation.set_value_dict("edge_mask", {
            key: self._post_process_mask(mask, self.hard_edge_mask[key])
            for key, mask in self.edge_mask.items() if mask is not None})
        return explanation


def _nonzero_grad(mask: Parameter, what: str, option: str) -> Tensor:
    if mask.grad is None:
        raise ValueError(f"Could not compute gradients for {what}. Please make sure that they are used inside the "
                         f"model (edges via message passing) or disable it via `{option}=None`.")
    return mask.grad != 0.0


__all__: List[str] = ["GNNExplainer"]
