r"""PGExplainer (Luo et al., 2020, `arXiv:2011.04573 <https://arxiv.org/abs/2011.04573>`_):
an MLP over the model's node embeddings predicts each edge's importance, trained once over
many instances and then applied to any.

For an edge :math:`j \to i` with final-layer embeddings :math:`z`, the logit is
:math:`\omega_{ij} = \mathrm{MLP}([z_j \Vert z_i (\Vert z_v)])` (:math:`z_v`: the explained
node, for node-level tasks). Training samples a relaxed Bernoulli mask,

.. math::
    m_{ij} = \big(\log \epsilon - \log(1 - \epsilon) + \omega_{ij}\big) / \tau, \qquad
    \epsilon \sim \mathcal{U}(b, 1 - b),

with the temperature :math:`\tau` decaying from ``temp[0]`` to ``temp[1]`` over the epochs,
and minimises the model's loss under the mask plus :math:`c_{\text{size}} \sum \sigma(m)`
and :math:`c_{\text{ent}}` times the mean entropy of :math:`0.99\,\sigma(m) + 0.005`.
Explains phenomena (a target must be given), node- or graph-level, edges only. PyG's
coefficients, layers and random draws.
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Union

import torch
from torch import Tensor
from torch.nn import ReLU, Sequential

from gnnx.explain.algorithm.base import EdgeInputs, ExplainerAlgorithm, Inputs
from gnnx.explain.algorithm.masks import clear_masks, set_hetero_masks, set_masks
from gnnx.explain.config import ExplanationType, ModelTaskLevel
from gnnx.explain.explanation import Explanation, HeteroExplanation
from gnnx.hetero_graph import EdgeType
from gnnx.nn.linear import Linear
from gnnx.utils.embedding import get_embeddings, get_embeddings_hetero


class PGExplainer(ExplainerAlgorithm):
    """Trains an edge-scoring MLP with :meth:`train` (``epochs`` calls, one per epoch), then
    explains with :meth:`forward` (module docstring).

    Args:
        epochs: training epochs.
        lr: Adam's learning rate (default 0.003).
        **kwargs: overrides of :attr:`coeffs` (``edge_size``, ``edge_ent``, ``temp``, ``bias``).
    """

    coeffs = {"edge_size": 0.05, "edge_ent": 1.0, "temp": [5.0, 2.0], "bias": 0.01}

    def __init__(self, epochs: int, lr: float = 0.003, **kwargs: Any) -> None:
        super().__init__()
        self.epochs = epochs
        self.lr = lr
        self.coeffs = {**type(self).coeffs, **kwargs}
        self.mlp = Sequential(Linear(-1, 64), ReLU(), Linear(64, 1))
        self.optimizer = torch.optim.Adam(self.mlp.parameters(), lr=lr)
        self._curr_epoch = -1
        self.is_hetero = False

    def reset_parameters(self) -> None:
        for module in self.mlp:
            if hasattr(module, "reset_parameters"):
                module.reset_parameters()

    def supports(self) -> bool:
        return self._require(ExplanationType.phenomenon, (ModelTaskLevel.node, ModelTaskLevel.graph), node_masks=False)

    def _check_index(self, index: Optional[Union[int, Tensor]]) -> None:
        if self.model_config.task_level == ModelTaskLevel.node:
            if index is None:
                raise ValueError(f"The 'index' argument needs to be provided in '{type(self).__name__}' for "
                                 f"node-level explanations")
            if isinstance(index, Tensor) and index.numel() > 1:
                raise ValueError(f"Only scalars are supported for the 'index' argument in '{type(self).__name__}'")

    def train(self, epoch: int, model: Optional[torch.nn.Module] = None, x: Optional[Inputs] = None,
              edge_index: Optional[EdgeInputs] = None, *, target: Optional[Tensor] = None,
              index: Optional[Union[int, Tensor]] = None, **kwargs: Any) -> float:
        """One training step of the MLP on one instance; returns its loss. (The name is
        PyG's; ``module.train(mode)`` still switches training mode when given a bool.)"""
        if isinstance(epoch, bool):  # nn.Module.train(mode)
            return super().train(epoch)
        self.is_hetero = isinstance(x, dict)
        self._check_index(index)
        embeddings = self._embeddings(model, x, edge_index, **kwargs)
        self.optimizer.zero_grad()
        temperature = self._temperature(epoch)
        try:
            if self.is_hetero:
                edge_mask: Any = {key: self._concrete_sample(self._logits(embeddings, key, value, index), temperature)
                                  for key, value in edge_index.items()}
                set_hetero_masks(model, edge_mask, edge_index, apply_sigmoid=True)
                if self.model_config.task_level == ModelTaskLevel.node:
                    for key, mask in edge_mask.items():
                        _, hard = self._get_hard_masks(model, index, edge_index[key],
                                                       num_nodes=max(x[key[0]].size(0), x[key[2]].size(0)))
                        edge_mask[key] = mask[hard]
            else:
                edge_mask = self._concrete_sample(self._logits(embeddings, None, edge_index, index), temperature)
                set_masks(model, edge_mask, edge_index, apply_sigmoid=True)
                if self.model_config.task_level == ModelTaskLevel.node:
                    _, hard = self._get_hard_masks(model, index, edge_index, num_nodes=x.size(0))
                    edge_mask = edge_mask[hard]
            y_hat, y = model(x, edge_index, **kwargs), target
            if index is not None:
                y_hat, y = y_hat[index], y[index]
            loss = self._model_loss(y_hat, y)
            for mask in (edge_mask.values() if self.is_hetero else [edge_mask]):
                loss = self._regularized(loss, mask)
            loss.backward()
            self.optimizer.step()
        finally:
            clear_masks(model)
        self._curr_epoch = epoch
        return float(loss)

    def forward(self, model: torch.nn.Module, x: Inputs, edge_index: EdgeInputs, *, target: Tensor,
                index: Optional[Union[int, Tensor]] = None, **kwargs: Any) -> Union[Explanation, HeteroExplanation]:
        self.is_hetero = isinstance(x, dict)
        if self._curr_epoch < self.epochs - 1:
            raise ValueError(f"'{type(self).__name__}' is not yet fully trained (got {self._curr_epoch + 1} epochs "
                             f"from {self.epochs} epochs). Please first train the underlying explainer model by "
                             f"running `explainer.algorithm.train(...)`.")
        self._check_index(index)
        embeddings = self._embeddings(model, x, edge_index, **kwargs)
        node_level = self.model_config.task_level == ModelTaskLevel.node
        if not self.is_hetero:
            hard = self._get_hard_masks(model, index, edge_index, num_nodes=x.size(0))[1] if node_level else None
            logits = self._logits(embeddings, None, edge_index, index)
            return Explanation(edge_mask=self._post_process_mask(logits, hard, apply_sigmoid=True))
        masks = {}
        for key, value in edge_index.items():
            hard = (self._get_hard_masks(model, index, value, num_nodes=max(x[key[0]].size(0), x[key[2]].size(0)))[1]
                    if node_level else None)
            masks[key] = self._post_process_mask(self._logits(embeddings, key, value, index), hard, apply_sigmoid=True)
        explanation = HeteroExplanation()
        explanation.set_value_dict("edge_mask", masks)
        return explanation

    # -- helpers --------------------------------------------------------------------------------
    def _embeddings(self, model: torch.nn.Module, x: Inputs, edge_index: EdgeInputs,
                    **kwargs: Any) -> Union[Tensor, Dict[str, Tensor]]:
        if not self.is_hetero:
            return get_embeddings(model, x, edge_index, **kwargs)[-1]
        layers = get_embeddings_hetero(model, None, x, edge_index, **kwargs)
        last = {key: values[-1] for key, values in layers.items() if values}
        if not last:
            raise ValueError("No embeddings were captured from the model. Please check if the model architecture "
                             "is supported.")
        return last

    def _logits(self, embeddings: Union[Tensor, Dict[str, Tensor]], edge_type: Optional[EdgeType],
                edge_index: Tensor, index: Optional[Union[int, Tensor]]) -> Tensor:
        """The MLP over ``[z_src || z_dst (|| z_index)]`` per edge."""
        if edge_type is None:
            src_emb = dst_emb = embeddings
        else:
            src_emb, dst_emb = embeddings[edge_type[0]], embeddings[edge_type[2]]
        parts = [src_emb[edge_index[0]], dst_emb[edge_index[1]]]
        if self.model_config.task_level == ModelTaskLevel.node:
            parts.append(src_emb[index].view(1, -1).expand(parts[0].size(0), -1))
        return self.mlp(torch.cat(parts, dim=-1)).view(-1)

    def _temperature(self, epoch: int) -> float:
        start, end = self.coeffs["temp"]
        return start * pow(end / start, epoch / self.epochs)

    def _concrete_sample(self, logits: Tensor, temperature: float = 1.0) -> Tensor:
        bias = self.coeffs["bias"]
        eps = (1 - 2 * bias) * torch.rand_like(logits) + bias
        return (eps.log() - (1 - eps).log() + logits) / temperature

    def _regularized(self, loss: Tensor, mask: Tensor) -> Tensor:
        mask = mask.sigmoid()
        size_loss = mask.sum() * self.coeffs["edge_size"]
        masked = 0.99 * mask + 0.005
        entropy = -masked * masked.log() - (1 - masked) * (1 - masked).log()
        return loss + size_loss + entropy.mean() * self.coeffs["edge_ent"]
