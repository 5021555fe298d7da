r"""GraphMaskExplainer: layer-wise edge gates learnt by differentiable masking, from
`"Interpreting Graph Neural Networks for NLP With Differentiable Edge Masking"
<https://arxiv.org/abs/2010.00577>`_ (PyG's ``GraphMaskExplainer``).

While it explains, every message-passing layer's messages :math:`\mathbf{m}_{ji}` become
:math:`\mathrm{ReLU}(\mathrm{LayerNorm}(\mathbf{m}_{ji}))`. A gate per layer reads each edge's
source, message and target,

.. math::
    z_{ji} = \mathbf{w}^\top \mathrm{ReLU}\Big(\tfrac13\big(\mathbf{b} + \mathrm{LN}(\mathbf{W}_1\mathbf{x}_j)
    + \mathrm{LN}(\mathbf{W}_2\mathbf{m}_{ji}) + \mathrm{LN}(\mathbf{W}_3\mathbf{x}_i)\big)\Big) + c,

and draws a hard-concrete sample :math:`g_{ji} \in [0, 1]` from it (straight-through
rounded); a layer's messages become :math:`g\,\mathbf{m} + (1 - g)\,\mathbf{b}_\ell` with a
learnt baseline :math:`\mathbf{b}_\ell`. The gates train one layer at a time, last layer first,
so the prediction's loss stays within ``allowance`` (a Lagrange term) while the expected number
of open gates (the penalty) falls; node-feature masks train beside them. The edge mask is each
edge's gate (without sampling) averaged over layers.

As PyG's, for the same seed: the same draws, masks and training steps, the Lagrange
multiplier's optimiser made anew each step and its value clamped to ``[-2, 30]``. Differences,
on purpose: PyG sizes each gate from the layer's ``in_channels`` and ``out_channels`` and,
when the embeddings its messages see have other widths (e.g. ``GCNConv`` with
``in_channels != out_channels``), builds the gates again after creating its optimiser, so
those never train; gnnx sizes them from a first forward pass. PyG leaves the model frozen and
its layers rewriting their messages after the explanation; gnnx restores both. A layer that
replaces a graph's self loops (``GCNConv``, ``GATConv``) keeps the old loops' message slots,
masked, where PyG removes them, so on graphs with self loops the gates' draws fall otherwise.
"""
from __future__ import annotations

import math
from typing import Any, List, Optional, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor

from gnnx.explain.algorithm.base import ExplainerAlgorithm
from gnnx.explain.config import MaskType, ModelMode, ModelTaskLevel
from gnnx.explain.explanation import Explanation
from gnnx.nn.message_passing import MessagePassing
from gnnx.progress import Progress


def _gated_message(self: MessagePassing, out: Tensor, x_i: Tensor, x_j: Tensor) -> Tensor:
    """The explained layer's messages: layer-normed and rectified, then gated towards the
    baseline where gates are installed; the gate inputs are kept for the explainer."""
    messages = F.layer_norm(out, (out.size(-1),)).relu()
    scale = getattr(self, "message_scale", None)
    if scale is not None:
        messages = messages * scale.unsqueeze(-1)
        if self.message_replacement is not None:
            baseline = self.message_replacement
            messages = messages + (1 - scale).unsqueeze(-1) * (baseline if baseline.shape == messages.shape
                                                               else baseline.unsqueeze(0))
    self.latest_messages, self.latest_source_embeddings, self.latest_target_embeddings = messages, x_j, x_i
    return messages


class GraphMaskExplainer(ExplainerAlgorithm):
    """Layer-wise edge gates (module docstring).

    Args:
        num_layers: the model's message-passing layers.
        epochs: training steps per layer (default 100).
        lr: Adam's learning rate for the gates and node masks.
        penalty_scaling: weight of the open-gate penalty, in ``[0, 10]``.
        lambda_optimizer_lr: RMSprop's learning rate for the Lagrange multiplier.
        init_lambda: the multiplier's start, in ``[0, 1]``.
        allowance: the loss the gates may add, in ``[0, 1]``.
        allow_multiple_explanations: kept for PyG's signature.
        log: show a progress bar per layer.
        **kwargs: overrides of :attr:`coeffs` (node-mask size and entropy weights).
    """

    coeffs = {"node_feat_size": 1.0, "node_feat_reduction": "mean", "node_feat_ent": 0.1, "EPS": 1e-15}

    def __init__(self, num_layers: int, epochs: int = 100, lr: float = 0.01, penalty_scaling: int = 5,
                 lambda_optimizer_lr: float = 1e-2, init_lambda: float = 0.55, allowance: float = 0.03,
                 allow_multiple_explanations: bool = False, log: bool = True, **kwargs: Any) -> None:
        super().__init__()
        for name, value, high in (("penalty_scaling", penalty_scaling, 10), ("init_lambda", init_lambda, 1),
                                  ("allowance", allowance, 1)):
            if not 0 <= value <= high:
                raise ValueError(f"GraphMaskExplainer: {name} must lie in [0, {high}], got {value}")
        self.num_layers, self.epochs, self.lr, self.log = num_layers, epochs, lr, log
        self.init_lambda, self.lambda_optimizer_lr = init_lambda, lambda_optimizer_lr
        self.penalty_scaling, self.allowance = penalty_scaling, allowance
        self.allow_multiple_explanations = allow_multiple_explanations
        self.coeffs = {**self.coeffs, **kwargs}

    def supports(self) -> bool:
        return True

    def forward(self, model: torch.nn.Module, x: Tensor, edge_index: Tensor, *, target: Tensor,
                index: Optional[Union[int, Tensor]] = None, **kwargs: Any) -> Explanation:
        if index is not None and not isinstance(index, (int, Tensor)):
            raise ValueError("'index' parameter can only be a 'Tensor', 'integer' or set to 'None' instead.")
        hard_node_mask = None
        if self.model_config.task_level == ModelTaskLevel.node:
            hard_node_mask, _ = self._get_hard_masks(model, index, edge_index, num_nodes=x.size(0))
        trainable = [p.requires_grad for p in model.parameters()]
        explain = [layer.explain for layer in self._layers(model)]
        try:
            layers = self._train(model, x, edge_index, target, index, **kwargs)
            edge_mask = self._edge_mask(layers)[:edge_index.size(1)]
        finally:  # the model as it was (PyG's stays frozen, its messages layer-normed)
            for param, flag in zip(model.parameters(), trainable):
                param.requires_grad = flag
            for layer, flag in zip(self._layers(model), explain):
                for name in ("explain_message", "message_scale", "message_replacement", "latest_messages",
                             "latest_source_embeddings", "latest_target_embeddings"):
                    layer.__dict__.pop(name, None)
                layer.explain = flag
        node_mask = self._post_process_mask(self.node_feat_mask, hard_node_mask, apply_sigmoid=True)
        return Explanation(node_mask=node_mask, edge_mask=edge_mask)

    # -- the gates ------------------------------------------------------------------------------
    def _build(self, widths: List[Tuple[int, int, int]], x: Tensor) -> None:
        """Node-feature mask, then per layer: three projections (source, message, target) each
        followed by a layer norm, a bias, the output layer and the message baseline; drawn in
        PyG's order. ``widths``: per layer (source/target width, message width, hidden width)."""
        (num_nodes, num_feat), device = x.size(), x.device
        mask_type = self.explainer_config.node_mask_type
        shape = {MaskType.attributes: (num_nodes, num_feat), MaskType.object: (num_nodes, 1)}.get(mask_type,
                                                                                                  (1, num_feat))
        self.node_feat_mask = torch.nn.Parameter(torch.randn(*shape, device=device) * 0.1)
        self.gates = torch.nn.ModuleList()
        biases, baselines = [], []
        for node_width, message_width, hidden in widths:
            inputs = [node_width, message_width, node_width]
            transforms, norms = torch.nn.ModuleList(), torch.nn.ModuleList()
            for width in inputs:
                transforms.append(torch.nn.Linear(width, hidden, bias=False).to(device))
                norms.append(torch.nn.LayerNorm(hidden).to(device))
            bound = math.sqrt(3.0) * math.sqrt(2.0 / float(sum(inputs) + hidden))
            with torch.no_grad():
                for transform in transforms:
                    transform.weight.uniform_(-bound, bound)
            biases.append(torch.nn.Parameter(torch.zeros((), device=device)))
            self.gates.extend([transforms, norms, torch.nn.ReLU(), torch.nn.Linear(hidden, 1).to(device)])
            stdv = 1.0 / math.sqrt(message_width)
            baselines.append(torch.nn.Parameter(torch.empty((), device=device).uniform_(-stdv, stdv)))
        self.full_biases = torch.nn.ParameterList(biases)
        self.baselines = torch.nn.ParameterList(baselines)
        for parameter in self.parameters():
            parameter.requires_grad = False

    def _enable_layer(self, layer: int) -> None:
        for module in self.gates[4 * layer:4 * layer + 4]:
            for parameter in module.parameters():
                parameter.requires_grad = True
        self.full_biases[layer].requires_grad = True
        self.baselines[layer].requires_grad = True

    def _gate(self, layer: int, inputs: List[Tensor]) -> Tensor:
        transforms, norms, relu, output = self.gates[4 * layer:4 * layer + 4]
        hidden = self.full_biases[layer]
        for transform, norm, value in zip(transforms, norms, inputs):
            hidden = hidden + norm(transform(value))
        return output(relu(hidden / len(inputs))).squeeze(-1)

    @staticmethod
    def _hard_concrete(logits: Tensor, training: bool = True, beta: float = 1 / 3, gamma: float = -0.2,
                       zeta: float = 1.2, loc_bias: float = 2.0) -> Tuple[Tensor, Tensor]:
        """A stretched, clipped concrete sample per edge (straight-through rounded at the
        midpoint of its range) and the mean probability of a gate being open."""
        logits = logits + loc_bias
        if training:
            u = torch.empty_like(logits).uniform_(1e-6, 1.0 - 1e-6)
            s = torch.sigmoid((torch.log(u) - torch.log(1 - u) + logits) / beta)
            penalty = torch.sigmoid(logits - beta * math.log(-gamma / zeta)).mean()
        else:
            s, penalty = torch.sigmoid(logits), torch.zeros((), device=logits.device)
        clipped = (s * (zeta - gamma) + gamma).clamp(0, 1)
        hard = (clipped > (clipped.min() + clipped.max()) / 2).float()
        return clipped + (hard - clipped).detach(), penalty

    # -- training -------------------------------------------------------------------------------
    @staticmethod
    def _layers(model: torch.nn.Module) -> List[MessagePassing]:
        return [m for m in model.modules() if isinstance(m, MessagePassing)]

    def _explain_mode(self, model: torch.nn.Module) -> List[MessagePassing]:
        for param in model.parameters():
            param.requires_grad = False
        layers = self._layers(model)
        for layer in layers:
            layer.explain_message = _gated_message.__get__(layer, MessagePassing)
            layer.message_scale = layer.message_replacement = None
            layer.explain = True
        return layers

    @staticmethod
    def _gate_inputs(layers: List[MessagePassing]) -> List[List[Tensor]]:
        return [[layer.latest_source_embeddings, layer.latest_messages, layer.latest_target_embeddings]
                for layer in layers]

    def _train(self, model: torch.nn.Module, x: Tensor, edge_index: Tensor, target: Tensor,
               index: Optional[Union[int, Tensor]], **kwargs: Any) -> List[MessagePassing]:
        """Train the gates; returns the model's message-passing layers, which hold the last
        pass's gate inputs."""
        layers = self._explain_mode(model)
        with torch.no_grad():  # the widths the gates will read
            model(x, edge_index, **kwargs)
        widths = [(layer.latest_source_embeddings.size(-1), layer.latest_messages.size(-1),
                   layer.latest_messages.size(-1)) for layer in layers]
        self._build(widths, x)
        optimizer = torch.optim.Adam(self.parameters(), lr=self.lr)
        for layer in reversed(range(self.num_layers)):
            self._enable_layer(layer)
            epochs = range(self.epochs)
            for _ in Progress(epochs, desc=f"Train explainer with layer {layer}") if self.log else epochs:
                with torch.no_grad():
                    model(x, edge_index, **kwargs)
                gates, total_penalty = [], 0
                for i, inputs in enumerate(self._gate_inputs(layers)[:self.num_layers]):
                    gate, penalty = self._hard_concrete(self._gate(i, inputs))
                    gates.append(gate)
                    total_penalty += penalty
                self._inject(layers, gates)
                self.lambda_op = torch.tensor(self.init_lambda, requires_grad=True)
                optimizer_lambda = torch.optim.RMSprop([self.lambda_op], lr=self.lambda_optimizer_lr, centered=True)
                optimizer.zero_grad()
                optimizer_lambda.zero_grad()
                y_hat, y = model(x=x * self.node_feat_mask.sigmoid(), edge_index=edge_index, **kwargs), target
                if index is not None and self.model_config.task_level in (ModelTaskLevel.node, ModelTaskLevel.edge):
                    y_hat, y = y_hat[index], y[index]
                self._inject(layers, None)
                self._loss(y_hat, y, total_penalty).backward()
                optimizer.step()
                self.lambda_op.grad *= -1  # ascent on the multiplier
                optimizer_lambda.step()
                with torch.no_grad():
                    self.lambda_op.clamp_(-2, 30)
        return layers

    def _inject(self, layers: List[MessagePassing], gates: Optional[List[Tensor]]) -> None:
        for i, layer in enumerate(layers):
            layer.message_scale = None if gates is None else gates[i]
            layer.message_replacement = None if gates is None else self.baselines[i]

    def _loss(self, y_hat: Tensor, y: Tensor, penalty: Tensor) -> Tensor:
        mode = self.model_config.mode
        if mode == ModelMode.binary_classification:
            loss = self._loss_binary_classification(y_hat, y)
        elif mode == ModelMode.multiclass_classification:
            loss = self._loss_multiclass_classification(y_hat, y)
        else:
            loss = self._loss_regression(y_hat, y)
        loss = penalty * self.penalty_scaling + F.softplus(self.lambda_op) * torch.relu(loss - self.allowance).mean()
        m = self.node_feat_mask.sigmoid()
        loss = loss + self.coeffs["node_feat_size"] * getattr(torch, self.coeffs["node_feat_reduction"])(m)
        eps = self.coeffs["EPS"]
        entropy = -m * torch.log(m + eps) - (1 - m) * torch.log(1 - m + eps)
        return loss + self.coeffs["node_feat_ent"] * entropy.mean()

    def _edge_mask(self, layers: List[MessagePassing]) -> Tensor:
        """Each edge's gate without sampling, from the last training pass's embeddings,
        averaged over the layers."""
        with torch.no_grad():
            gates = [self._hard_concrete(self._gate(i, inputs), training=False)[0]
                     for i, inputs in enumerate(self._gate_inputs(layers)[:self.num_layers])]
        return torch.stack(gates).mean(0)
