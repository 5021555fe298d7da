r"""AttentionExplainer: an attention model's own attention coefficients as the edge mask.

Each attention layer's coefficients (``alpha`` as its messages see it: ``GATConv``,
``GATv2Conv``, ``TransformerConv``, ...) are read with a message hook, reduced over heads
and then over layers with ``reduce`` (``"max"`` by default; any ``torch`` reduction over a
dimension, such as ``"mean"``), and cut to the model's receptive field for node-level
tasks. Explains the model (no target), edges only. As PyG's ``AttentionExplainer``.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Union

import torch
from torch import Tensor

from gnnx.explain.algorithm.base import EdgeInputs, ExplainerAlgorithm, Inputs
from gnnx.explain.config import ExplanationType, ModelTaskLevel
from gnnx.explain.explanation import Explanation, HeteroExplanation
from gnnx.hetero_graph import EdgeType
from gnnx.nn.message_passing import MessagePassing


class AttentionExplainer(ExplainerAlgorithm):
    """Edge masks from attention coefficients (module docstring).

    Args:
        reduce: how heads and layers are combined (default ``"max"``).
    """

    def __init__(self, reduce: str = "max") -> None:
        super().__init__()
        self.reduce = reduce
        self.is_hetero = False

    def supports(self) -> bool:
        return self._require(ExplanationType.model, node_masks=False)

    def forward(self, model: torch.nn.Module, x: Inputs, edge_index: EdgeInputs, *, target: Tensor,
                index: Optional[Union[int, Tensor]] = None, **kwargs: Any) -> Union[Explanation, HeteroExplanation]:
        self.is_hetero = isinstance(x, dict)
        alphas = self._attention(model, x, edge_index, **kwargs)
        node_level = self.model_config.task_level == ModelTaskLevel.node
        if not self.is_hetero:
            hard = self._get_hard_masks(model, index, edge_index, num_nodes=x.size(0))[1] if node_level else None
            alpha = self._combine(alphas, edge_index.size(1))
            return Explanation(edge_mask=self._post_process_mask(alpha, hard, apply_sigmoid=False))
        masks = {}
        for key, found in alphas.items():
            if not found:
                continue
            hard = (self._get_hard_masks(model, index, edge_index[key],
                                         num_nodes=max(x[key[0]].size(0), x[key[2]].size(0)))[1]
                    if node_level else None)
            masks[key] = self._post_process_mask(self._combine(found, edge_index[key].size(1)), hard,
                                                 apply_sigmoid=False)
        explanation = HeteroExplanation()
        explanation.set_value_dict("edge_mask", masks)
        return explanation

    def _attention(self, model: torch.nn.Module, x: Inputs, edge_index: EdgeInputs,
                   **kwargs: Any) -> Union[List[Tensor], Dict[EdgeType, List[Tensor]]]:
        """Every attention layer's coefficients from one forward pass (per edge type, found
        by the layer's name, for heterogeneous models)."""
        found: List[Tensor] = []
        by_type: Dict[EdgeType, List[Tensor]] = {}
        names: Dict[torch.nn.Module, str] = {}
        edge_types = list(edge_index) if self.is_hetero else []

        def alpha_of(module: torch.nn.Module, msg_kwargs: Any) -> Optional[Tensor]:
            if "alpha" in msg_kwargs[0]:
                return msg_kwargs[0]["alpha"].detach()
            alpha = getattr(module, "_alpha", None)
            return alpha.detach() if isinstance(alpha, Tensor) else None

        def hook(module: torch.nn.Module, msg_kwargs: Any, out: Any) -> None:
            alpha = alpha_of(module, msg_kwargs)
            if alpha is None:
                return
            if not self.is_hetero:
                found.append(alpha)
                return
            edge_type = _edge_type_in_name(names.get(module, ""), edge_types)
            if edge_type is not None:
                by_type.setdefault(edge_type, []).append(alpha)

        handles = []
        for name, module in model.named_modules():
            if isinstance(module, MessagePassing) and module.explain is not False:
                names[module] = name
                handles.append(module.register_message_forward_hook(hook))
        try:
            model(x, edge_index, **kwargs)
        finally:
            for handle in handles:
                handle.remove()
        if not (by_type if self.is_hetero else found):
            raise ValueError("Could not collect any attention coefficients. Please ensure that your model is using "
                             "attention-based GNN layers.")
        return by_type if self.is_hetero else found

    def _combine(self, alphas: List[Tensor], num_edges: int) -> Tensor:
        """Heads, then layers, reduced with ``reduce``; self loops a layer added (after the
        given edges) dropped."""
        reduced = []
        for alpha in alphas:
            alpha = alpha[:num_edges]
            if alpha.dim() == 2:
                alpha = _reduce(self.reduce, alpha)
            elif alpha.dim() > 2:
                raise ValueError(f"Cannot reduce attention coefficients of shape {list(alpha.size())}")
            reduced.append(alpha)
        return _reduce(self.reduce, torch.stack(reduced, dim=-1)) if len(reduced) > 1 else reduced[0]


def _reduce(name: str, values: Tensor) -> Tensor:
    out = getattr(torch, name)(values, dim=-1)
    return out[0] if isinstance(out, tuple) else out  # torch.max returns (values, indices)


def _edge_type_in_name(name: str, edge_types: List[EdgeType]) -> Optional[EdgeType]:
    """The edge type whose source, relation and destination appear in that order in a
    layer's module name (``convs.0.convs.author__writes__paper``)."""
    for edge_type in edge_types:
        src, rel, dst = edge_type
        try:
            src_at = name.index(src)
            rel_at = name.index(rel, src_at)
            dst_at = name.index(dst, rel_at)
        except ValueError:
            continue
        if src_at < rel_at < dst_at:
            return edge_type
    return None
