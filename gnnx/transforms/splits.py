"""Random splits: ``RandomNodeSplit`` (node masks) and ``RandomLinkSplit`` (link-prediction
train / validation / test graphs with ``edge_label_index`` and ``edge_label``), PyG's
arguments and output layout."""
from __future__ import annotations

from typing import Optional, Tuple, Union

import torch
from torch import Tensor

from gnnx.graph import Graph
from gnnx.utils import negative_sampling


def _count(value: Union[int, float], total: int, rounding=round) -> int:
    """A count given as a number or as a share of ``total`` (PyG rounds node shares and
    truncates link shares)."""
    return int(rounding(value * total)) if isinstance(value, float) else int(value)


class RandomNodeSplit:
    """``train_mask`` / ``val_mask`` / ``test_mask`` over the nodes.

    ``split="train_rest"``: ``num_val`` and ``num_test`` nodes (counts, or shares when
    floats), the rest train; ``"test_rest"`` / ``"random"`` as PyG; ``"train_rest"`` is the
    default. ``num_splits > 1`` gives ``[N, num_splits]`` masks.
    ``"random"`` with ``num_train_per_class`` takes that many nodes of each class of ``key``.
    """

    def __init__(self, split: str = "train_rest", num_splits: int = 1, num_train_per_class: int = 20,
                 num_val: Union[int, float] = 500, num_test: Union[int, float] = 1000, key: Optional[str] = "y",
                 generator: Optional[torch.Generator] = None) -> None:
        if split not in ("train_rest", "test_rest", "random"):
            raise ValueError(f"split must be 'train_rest', 'test_rest' or 'random', got {split!r}")
        self.split, self.num_splits, self.num_train_per_class = split, num_splits, num_train_per_class
        self.num_val, self.num_test, self.key, self.generator = num_val, num_test, key, generator

    def _one(self, graph: Graph) -> Tuple[Tensor, Tensor, Tensor]:
        n = graph.num_nodes
        masks = [torch.zeros(n, dtype=torch.bool) for _ in range(3)]
        train, val, test = masks
        perm = torch.randperm(n, generator=self.generator)
        num_val, num_test = _count(self.num_val, n), _count(self.num_test, n)
        if self.split == "train_rest":
            val[perm[:num_val]] = True
            test[perm[num_val:num_val + num_test]] = True
            train[perm[num_val + num_test:]] = True
            return train, val, test
        y = getattr(graph, self.key)
        classes = int(y.max()) + 1
        for c in range(classes):
            members = (y.cpu() == c).nonzero().view(-1)
            members = members[torch.randperm(members.numel(), generator=self.generator)]
            train[members[:self.num_train_per_class]] = True
        rest = (~train).nonzero().view(-1)
        rest = rest[torch.randperm(rest.numel(), generator=self.generator)]
        val[rest[:num_val]] = True
        if self.split == "test_rest":
            test[rest[num_val:]] = True
        else:
            test[rest[num_val:num_val + num_test]] = True
        return train, val, test

    def __call__(self, graph: Graph) -> Graph:
        splits = [self._one(graph) for _ in range(self.num_splits)]
        device = graph.edge_index.device
        stacked = [torch.stack(parts, dim=-1) if self.num_splits > 1 else parts[0]
                   for parts in zip(*splits)]
        return graph.replace(**{name: mask.to(device) for name, mask in
                                zip(("train_mask", "val_mask", "test_mask"), stacked)})

    def __repr__(self) -> str:
        return f"RandomNodeSplit(split={self.split})"


class RandomLinkSplit:
    """Split the edges into training, validation and test links: returns
    ``(train_graph, val_graph, test_graph)``, each with ``edge_label_index`` (positive
    links of that split, then ``neg_sampling_ratio`` times as many negatives drawn against
    the whole graph) and ``edge_label`` (1 / 0), as PyG. Message passing sees the training
    edges in training and validation, and training plus validation edges in testing. With
    ``is_undirected`` a link is one pair ``i < j`` (both directions go together in
    ``edge_index``); ``split_labels`` gives ``pos_/neg_edge_label_index`` instead.
    ``disjoint_train_ratio`` holds that share of training links out of training message
    passing.
    """

    def __init__(self, num_val: Union[int, float] = 0.1, num_test: Union[int, float] = 0.2,
                 is_undirected: bool = False, key: str = "edge_label", split_labels: bool = False,
                 add_negative_train_samples: bool = True, neg_sampling_ratio: float = 1.0,
                 disjoint_train_ratio: Union[int, float] = 0.0, generator: Optional[torch.Generator] = None,
                 **pyg_kwargs) -> None:
        if pyg_kwargs.get("edge_types") is not None:
            raise NotImplementedError("RandomLinkSplit: heterogeneous edge types are not supported yet")
        self.num_val, self.num_test, self.is_undirected, self.key = num_val, num_test, is_undirected, key
        self.split_labels, self.add_negative_train_samples = split_labels, add_negative_train_samples
        self.neg_sampling_ratio, self.disjoint_train_ratio = neg_sampling_ratio, disjoint_train_ratio
        self.generator = generator

    def __call__(self, graph: Graph) -> Tuple[Graph, Graph, Graph]:
        edge_index = graph.edge_index
        device = edge_index.device
        fields = {name: getattr(graph, name) for name in ("edge_weight", "edge_attr") if getattr(graph, name) is not None}
        if self.is_undirected:
            links = (edge_index[0] <= edge_index[1]).nonzero().view(-1)
        else:
            links = torch.arange(edge_index.size(1), device=device)
        links = links[torch.randperm(links.numel(), generator=self.generator).to(device)]
        num_val, num_test = _count(self.num_val, links.numel(), int), _count(self.num_test, links.numel(), int)
        num_train = links.numel() - num_val - num_test
        if num_train <= 0:
            raise ValueError("RandomLinkSplit: no links left for training")
        train_links, val_links, test_links = (links[:num_train], links[num_train:num_train + num_val],
                                              links[num_train + num_val:])
        num_disjoint = _count(self.disjoint_train_ratio, train_links.numel(), int)
        supervision = train_links[:num_disjoint] if num_disjoint else train_links
        message = train_links[num_disjoint:] if num_disjoint else train_links
        train = self._split(graph, fields, message, supervision, self.add_negative_train_samples)
        val = self._split(graph, fields, train_links if not num_disjoint else message, val_links, True)
        test = self._split(graph, fields, torch.cat([train_links if not num_disjoint else message, val_links]),
                           test_links, True)
        return train, val, test

    def _split(self, graph: Graph, fields: dict, message: Tensor, supervision: Tensor, negatives: bool) -> Graph:
        edge_index = graph.edge_index
        kept = edge_index[:, message]
        # undirected: each kept link in both directions (a self loop once), its values alike
        mirror = kept[0] != kept[1] if self.is_undirected else torch.zeros_like(kept[0], dtype=torch.bool)
        changes = {"edge_index": torch.cat([kept, kept[:, mirror].flip(0)], dim=1)}
        for name, value in fields.items():
            changes[name] = torch.cat([value[message], value[message][mirror]], dim=0)
        positive = edge_index[:, supervision]
        num_neg = int(self.neg_sampling_ratio * positive.size(1)) if negatives else 0
        negative = negative_sampling(edge_index, graph.num_nodes, num_neg, generator=self.generator) \
            if num_neg > 0 else edge_index.new_empty((2, 0))
        if self.split_labels:
            changes[f"pos_{self.key}_index"] = positive
            changes[f"pos_{self.key}"] = torch.ones(positive.size(1), device=edge_index.device)
            changes[f"neg_{self.key}_index"] = negative
            changes[f"neg_{self.key}"] = torch.zeros(negative.size(1), device=edge_index.device)
        else:
            changes[f"{self.key}_index"] = torch.cat([positive, negative], dim=1)
            changes[self.key] = torch.cat([torch.ones(positive.size(1)), torch.zeros(negative.size(1))]).to(
                edge_index.device)
        return graph.replace(**changes)

    def __repr__(self) -> str:
        return f"RandomLinkSplit(num_val={self.num_val}, num_test={self.num_test})"
