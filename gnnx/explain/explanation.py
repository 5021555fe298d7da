"""Explanations: the masks an explainer learned, beside the inputs they explain.

:class:`Explanation` (homogeneous) and :class:`HeteroExplanation` (per node and edge type,
built on :class:`gnnx.HeteroGraph`'s stores) hold ``node_mask`` (``[N, F]``, ``[N, 1]`` or
``[1, F]``), ``edge_mask`` (``[E]``) and whatever :class:`~gnnx.explain.Explainer` adds
(``x``, ``edge_index``, ``target``, ``prediction``, ``index`` and the model's keyword
arguments), as PyG's ``Explanation`` and ``HeteroExplanation`` do. Both check their masks'
shapes, threshold them (:class:`~gnnx.explain.ThresholdConfig`) and cut out the explanation
subgraph or its complement. Explanations are made after the fact, in eager Python, so the
subgraphs select with boolean masks (the sizes they return depend on the data).
"""
from __future__ import annotations

import copy
import warnings
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor

from gnnx.explain.config import ThresholdConfig, ThresholdType
from gnnx.hetero_graph import EdgeType, HeteroGraph, NodeStore, NodeType, Store, feature_width
from gnnx.utils.subgraph import bipartite_subgraph, subgraph


def _warn_or_raise(message: str, raise_on_error: bool) -> None:
    if raise_on_error:
        raise ValueError(message)
    warnings.warn(message, stacklevel=3)


def threshold_mask(mask: Optional[Tensor], config: ThresholdConfig) -> Optional[Tensor]:
    """``mask`` cut by ``config``: 0/1 above the value (``hard``), or its ``value`` largest
    entries kept (``topk``) or set to 1 (``topk_hard``)."""
    if mask is None:
        return None
    if config.type == ThresholdType.hard:
        return (mask > config.value).float()
    if config.value >= mask.numel():
        return mask if config.type == ThresholdType.topk else torch.ones_like(mask)
    value, index = torch.topk(mask.flatten(), k=config.value)
    out = torch.zeros_like(mask.flatten())
    out[index] = value if config.type == ThresholdType.topk else 1.0
    return out.view(mask.size())


def _check_node_mask(name: str, mask: Tensor, num_nodes: Optional[int], num_features: int,
                     raise_on_error: bool) -> bool:
    status = True
    if mask.dim() != 2:
        _warn_or_raise(f"Expected a '{name}' with two dimensions (got {mask.dim()} dimensions)", raise_on_error)
        return False
    if mask.size(0) not in {1, num_nodes}:
        status = False
        _warn_or_raise(f"Expected a '{name}' with {num_nodes} nodes (got {mask.size(0)} nodes)", raise_on_error)
    if mask.size(1) not in {1, num_features}:
        status = False
        _warn_or_raise(f"Expected a '{name}' with {num_features} features (got {mask.size(1)} features)",
                       raise_on_error)
    return status


def _check_edge_mask(name: str, mask: Tensor, num_edges: int, raise_on_error: bool) -> bool:
    if mask.dim() != 1:
        _warn_or_raise(f"Expected an '{name}' with one dimension (got {mask.dim()} dimensions)", raise_on_error)
        return False
    if mask.size(0) != num_edges:
        _warn_or_raise(f"Expected an '{name}' with {num_edges} edges (got {mask.size(0)} edges)", raise_on_error)
        return False
    return True


class Explanation(Store):
    """A homogeneous explanation: attributes by name (``explanation.edge_mask``,
    ``explanation["x"]``; absent ones read as ``None``), PyG's ``Explanation`` methods."""

    def __init__(self, **attributes: Any) -> None:
        super().__init__(None, **{k: v for k, v in attributes.items() if v is not None})

    def items(self) -> Iterator[Tuple[str, Any]]:
        return iter(super().items())

    def __copy__(self) -> "Explanation":
        out = type(self).__new__(type(self))
        object.__setattr__(out, "_key", None)
        object.__setattr__(out, "_data", dict(self._data))
        return out

    @property
    def num_nodes(self) -> Optional[int]:
        """Rows of ``x``, else of a per-node ``node_mask``, else the largest index in
        ``edge_index`` plus one."""
        if isinstance(self.x, Tensor):
            return self.x.size(0)
        if isinstance(self.node_mask, Tensor) and self.node_mask.dim() == 2 and self.node_mask.size(0) > 1:
            return self.node_mask.size(0)
        if isinstance(self.edge_index, Tensor):
            return int(self.edge_index.max()) + 1 if self.edge_index.numel() else 0
        return None

    @property
    def num_edges(self) -> int:
        if isinstance(self.edge_index, Tensor):
            return self.edge_index.size(1)
        return self.edge_mask.numel() if isinstance(self.edge_mask, Tensor) else 0

    @property
    def num_features(self) -> int:
        """The width of ``x`` (PyG's ``num_features``; 0 without one)."""
        return feature_width(self.x)

    num_node_features = num_features

    def is_edge_attr(self, name: str) -> bool:
        """Whether ``name`` holds one row per edge (``edge_mask``, ``edge_attr``, ...)."""
        value = self._data.get(name)
        return (name != "edge_index" and isinstance(value, Tensor) and value.dim() > 0
                and value.size(0) == self.num_edges and ("edge" in name or self.num_edges != self.num_nodes))

    def is_node_attr(self, name: str) -> bool:
        """Whether ``name`` holds one row per node (``x``, a per-node ``node_mask``, a
        node-level ``target``)."""
        value = self._data.get(name)
        return (name not in ("edge_index", "index") and isinstance(value, Tensor) and value.dim() > 0
                and value.size(0) == self.num_nodes and not self.is_edge_attr(name))

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={list(v.shape) if isinstance(v, Tensor) else v}" for k, v in self._data.items()
                          if not k.startswith("_"))
        return f"{type(self).__name__}({inner})"

    # -- masks -------------------------------------------------------------------------------------
    @property
    def available_explanations(self) -> List[str]:
        """The names of the masks held (``node_mask``, ``edge_mask``)."""
        return [key for key in self._data if key.endswith("_mask")]

    def validate_masks(self, raise_on_error: bool = True) -> bool:
        """Whether ``node_mask`` is ``[N or 1, F or 1]`` and ``edge_mask`` ``[E]``."""
        status = True
        if isinstance(self.node_mask, Tensor):
            num_features = self.x.size(-1) if isinstance(self.x, Tensor) else self.node_mask.size(-1)
            status &= _check_node_mask("node_mask", self.node_mask, self.num_nodes, num_features, raise_on_error)
        if isinstance(self.edge_mask, Tensor):
            status &= _check_edge_mask("edge_mask", self.edge_mask, self.num_edges, raise_on_error)
        return status

    def validate(self, raise_on_error: bool = True) -> bool:
        """:meth:`validate_masks` plus ``edge_index`` within the node count."""
        status = True
        edge_index = self.edge_index
        if isinstance(edge_index, Tensor) and edge_index.numel() and isinstance(self.x, Tensor):
            if edge_index.dim() != 2 or edge_index.size(0) != 2:
                status = False
                _warn_or_raise(f"'edge_index' needs shape [2, num_edges] (got {list(edge_index.shape)})",
                               raise_on_error)
            elif int(edge_index.min()) < 0 or int(edge_index.max()) >= self.x.size(0):
                status = False
                _warn_or_raise(f"'edge_index' holds node indices outside [0, {self.x.size(0) - 1}]", raise_on_error)
        return status & self.validate_masks(raise_on_error)

    def threshold(self, *args: Any, **kwargs: Any) -> "Explanation":
        """A copy with every mask cut by ``ThresholdConfig(*args, **kwargs)`` (``None``: this
        explanation)."""
        config = ThresholdConfig.cast(*args, **kwargs)
        if config is None:
            return self
        out = copy.copy(self)
        out.node_mask = threshold_mask(self.node_mask, config)
        out.edge_mask = threshold_mask(self.edge_mask, config)
        return out

    def get_explanation_subgraph(self) -> "Explanation":
        """The nodes and edges with a nonzero mask (all of them where a mask is absent)."""
        node_mask = self.node_mask.sum(dim=-1) > 0 if isinstance(self.node_mask, Tensor) else None
        edge_mask = self.edge_mask > 0 if isinstance(self.edge_mask, Tensor) else None
        return self._apply_masks(node_mask, edge_mask)

    def get_complement_subgraph(self) -> "Explanation":
        """The nodes and edges whose mask is zero."""
        node_mask = self.node_mask.sum(dim=-1) == 0 if isinstance(self.node_mask, Tensor) else None
        edge_mask = self.edge_mask == 0 if isinstance(self.edge_mask, Tensor) else None
        return self._apply_masks(node_mask, edge_mask)

    def _apply_masks(self, node_mask: Optional[Tensor], edge_mask: Optional[Tensor]) -> "Explanation":
        out = copy.copy(self)
        if edge_mask is not None:
            for key, value in self.items():
                if key == "edge_index":
                    out.edge_index = value[:, edge_mask]
                elif self.is_edge_attr(key):
                    out[key] = value[edge_mask]
        if node_mask is not None:
            out = out.subgraph(node_mask)
        return out

    def subgraph(self, subset: Tensor) -> "Explanation":
        """The nodes ``subset`` (a boolean mask or indices), renumbered, with the edges among
        them and every per-node and per-edge attribute cut to match (PyG's ``Data.subgraph``)."""
        out = copy.copy(self)
        node_names = [key for key in self.keys() if self.is_node_attr(key)]
        edge_names = [key for key in self.keys() if self.is_edge_attr(key)]
        if isinstance(self.edge_index, Tensor):
            out.edge_index, _, keep = subgraph(subset, self.edge_index, relabel_nodes=True, num_nodes=self.num_nodes,
                                               return_edge_mask=True)
            for key in edge_names:
                out[key] = self[key][keep]
        for key in node_names:
            out[key] = self[key][subset]
        return out

    # -- plots -------------------------------------------------------------------------------------
    def visualize_feature_importance(self, path: Optional[str] = None, feat_labels: Optional[Sequence[str]] = None,
                                     top_k: Optional[int] = None) -> Any:
        """A bar chart of each feature's summed mask (needs matplotlib and pandas); saved to
        ``path`` or shown."""
        node_mask = self.node_mask
        if node_mask is None:
            raise ValueError(f"The attribute 'node_mask' is not available in '{type(self).__name__}' "
                             f"(got {self.available_explanations})")
        if node_mask.dim() != 2 or node_mask.size(1) <= 1:
            raise ValueError(f"Cannot compute feature importance for object-level 'node_mask' "
                             f"(got shape {node_mask.size()})")
        labels = list(feat_labels) if feat_labels is not None else list(range(node_mask.size(1)))
        return _visualize_score(node_mask.sum(dim=0), labels, path, top_k)


class HeteroExplanation(HeteroGraph):
    """A heterogeneous explanation: :class:`gnnx.HeteroGraph` stores holding ``node_mask``
    per node type and ``edge_mask`` per edge type (``explanation["paper"].node_mask``,
    ``explanation.node_mask_dict``), with PyG's ``HeteroExplanation`` methods."""

    def __init__(self, stores: Optional[Dict[Union[NodeType, EdgeType], Dict[str, Any]]] = None) -> None:
        super().__init__(validate=False)  # graph-level values (target, prediction, index) are HeteroGraph's
        for key, attributes in (stores or {}).items():
            for name, value in attributes.items():
                setattr(self[key], name, value)

    def get(self, name: str, default: Any = None) -> Any:
        return self._attributes.get(name, default)

    def copy(self) -> "HeteroExplanation":
        out = type(self)()
        out._nodes = {k: type(s)(k, **s._data) for k, s in self._nodes.items()}
        out._edges = {k: type(s)(k, **s._data) for k, s in self._edges.items()}
        out._attributes.update(self._attributes)
        return out

    __copy__ = copy

    @property
    def available_explanations(self) -> List[str]:
        names = {name for _, store in list(self.node_items()) + list(self.edge_items()) for name in store.keys()}
        return sorted(name for name in names if name.endswith("_mask"))

    def validate(self, raise_on_error: bool = True) -> bool:
        """The graph's checks (:meth:`gnnx.HeteroGraph.validate`) on everything but the masks,
        which :meth:`validate_masks` checks by their own rules (a mask may hold one row for all
        nodes)."""
        graph = self.copy()
        for _, store in list(graph.node_items()) + list(graph.edge_items()):
            count = store.num_nodes if isinstance(store, NodeStore) else None  # a store of masks alone keeps its size
            for name in [n for n in store.keys() if n.endswith("_mask")]:
                setattr(store, name, None)
            if count is not None and store.num_nodes is None:
                store.num_nodes = count
        valid = HeteroGraph.validate(graph, raise_on_error) is not False
        return self.validate_masks(raise_on_error) and valid

    def validate_masks(self, raise_on_error: bool = True) -> bool:
        """Per type, as :meth:`Explanation.validate_masks`."""
        status = True
        for node_type, store in self.node_items():
            if "node_mask" in store:
                num_features = store.x.size(-1) if "x" in store else store.node_mask.size(-1)
                num_nodes = store.x.size(0) if "x" in store else store.node_mask.size(0)
                status &= _check_node_mask(f"node_mask' of '{node_type}", store.node_mask, num_nodes, num_features,
                                           raise_on_error)
        for edge_type, store in self.edge_items():
            if "edge_mask" in store:
                num_edges = store.num_edges if "edge_index" in store else store.edge_mask.numel()
                status &= _check_edge_mask(f"edge_mask' of '{edge_type}", store.edge_mask, num_edges, raise_on_error)
        return status

    def threshold(self, *args: Any, **kwargs: Any) -> "HeteroExplanation":
        config = ThresholdConfig.cast(*args, **kwargs)
        if config is None:
            return self
        out = self.copy()
        for _, store in list(out.node_items()):
            store.node_mask = threshold_mask(store.node_mask, config)
        for _, store in list(out.edge_items()):
            store.edge_mask = threshold_mask(store.edge_mask, config)
        return out

    def get_explanation_subgraph(self) -> "HeteroExplanation":
        return self._apply_masks({k: m.sum(dim=-1) > 0 for k, m in self.collect("node_mask", allow_empty=True).items()},
                                 {k: m > 0 for k, m in self.collect("edge_mask", allow_empty=True).items()})

    def get_complement_subgraph(self) -> "HeteroExplanation":
        return self._apply_masks({k: m.sum(dim=-1) == 0 for k, m in self.collect("node_mask", allow_empty=True).items()},
                                 {k: m == 0 for k, m in self.collect("edge_mask", allow_empty=True).items()})

    def _apply_masks(self, node_masks: Dict[NodeType, Tensor], edge_masks: Dict[EdgeType, Tensor]
                     ) -> "HeteroExplanation":
        out = self.copy()
        for edge_type, keep in edge_masks.items():
            _cut_edges(out[edge_type], keep)
        return out.subgraph(node_masks)

    def subgraph(self, subset_dict: Dict[NodeType, Tensor]) -> "HeteroExplanation":
        """Per node type in ``subset_dict`` (boolean masks or indices), those nodes renumbered,
        and per edge type the edges whose ends survive (PyG's ``HeteroData.subgraph``)."""
        out = self.copy()
        sides: Dict[NodeType, Tuple[Tensor, int]] = {}  # per node type: (subset, node count)
        for node_type, subset in subset_dict.items():
            store = out[node_type]
            count = _num_nodes(store, subset)
            sides[node_type] = (subset, count)
            for name, value in store.items():
                if isinstance(value, Tensor) and value.dim() > 0 and value.size(0) == count:
                    store[name] = value[subset]
            if "num_nodes" in store:
                store.num_nodes = int(subset.sum()) if subset.dtype == torch.bool else subset.numel()
        for (src, rel, dst), store in out.edge_items():
            if "edge_index" not in store or (src not in sides and dst not in sides):
                continue
            kept = []
            for node_type in (src, dst):  # an unselected side keeps all its nodes
                count = self[node_type].num_nodes
                kept.append(sides.get(node_type, (torch.ones(count, dtype=torch.bool), count)))
            edge_index, _, keep = bipartite_subgraph((kept[0][0], kept[1][0]), store.edge_index, relabel_nodes=True,
                                                     size=(kept[0][1], kept[1][1]), return_edge_mask=True)
            _cut_edges(store, keep)
            store.edge_index = edge_index
        return out

    def visualize_feature_importance(self, path: Optional[str] = None,
                                     feat_labels: Optional[Dict[NodeType, Sequence[str]]] = None,
                                     top_k: Optional[int] = None) -> Any:
        node_masks = self.collect("node_mask", allow_empty=True)
        for node_mask in node_masks.values():
            if node_mask.dim() != 2:
                raise ValueError(f"Cannot compute feature importance for object-level 'node_mask' "
                                 f"(got shape {node_mask.size()})")
        feat_labels = feat_labels or {k: range(m.size(1)) for k, m in node_masks.items()}
        labels = [f"{node_type}#{label}" for node_type in node_masks for label in feat_labels[node_type]]
        score = torch.cat([m.sum(dim=0) for m in node_masks.values()])
        return _visualize_score(score, labels, path, top_k)


def _num_nodes(store: Store, subset: Tensor) -> int:
    if subset.dtype == torch.bool:
        return subset.numel()
    return store.num_nodes


def _cut_edges(store: Store, keep: Tensor) -> None:
    """Keep the edges ``keep`` selects in ``edge_index`` and every per-edge tensor."""
    num_edges = store.num_edges if "edge_index" in store else keep.numel()
    for name, value in store.items():
        if name == "edge_index":
            store.edge_index = value[:, keep]
        elif isinstance(value, Tensor) and value.dim() > 0 and value.size(0) == num_edges:
            store[name] = value[keep]


def _visualize_score(score: Tensor, labels: List[Any], path: Optional[str], top_k: Optional[int]) -> Any:
    import matplotlib.pyplot as plt
    import pandas as pd

    if len(labels) != score.numel():
        raise ValueError(f"The number of labels (got {len(labels)}) must match the number of scores "
                         f"(got {score.numel()})")
    frame = pd.DataFrame({"score": score.detach().cpu().numpy()}, index=labels)
    frame = frame.sort_values("score", ascending=False).round(decimals=3)
    if top_k is not None:
        frame = frame.head(top_k)
        title = f"Feature importance for top {len(frame)} features"
    else:
        title = f"Feature importance for {len(frame)} features"
    axes = frame.plot(kind="barh", figsize=(10, 7), title=title, ylabel="Feature label",
                      xlim=[0, float(frame["score"].max()) + 0.3], legend=False)
    plt.gca().invert_yaxis()
    axes.bar_label(container=axes.containers[0], label_type="edge")
    if path is not None:
        plt.savefig(path)
    else:
        plt.show()
    plt.close()
    return axes
