"""Random splits: ``RandomNodeSplit`` (node masks) and ``RandomLinkSplit`` (link-prediction
train / validation / test graphs with ``edge_label_index`` and ``edge_label``), PyG's
arguments and output layout."""
from __future__ import annotations

from typing import Optional, Tuple, Union

import torch
from torch import Tensor

from gnnx.hetero_graph import HeteroGraph
from gnnx.utils import negative_sampling


def _count(value: Union[int, float], total: int, rounding=round) -> int:
    """A count given as a number or as a share of ``total`` (PyG rounds node shares and
    truncates link shares)."""
    return int(rounding(value * total)) if isinstance(value, float) else int(value)


def _check_fit(num_val: int, num_test: int, available: int, what: str) -> None:
    """PyG fills the masks in order and leaves the last ones short or empty, silently: name it."""
    if num_val < 0 or num_test < 0 or num_val + num_test > available:
        raise ValueError(f"RandomNodeSplit: num_val={num_val} and num_test={num_test} nodes do not fit the "
                         f"{available} {what} (pass smaller counts or shares such as num_val=0.1)")


class RandomNodeSplit:
    """``train_mask`` / ``val_mask`` / ``test_mask`` over the nodes.

    ``split="train_rest"``: ``num_val`` and ``num_test`` nodes (counts, or shares when
    floats), the rest train; ``"test_rest"`` / ``"random"`` as PyG; ``"train_rest"`` is the
    default. ``num_splits > 1`` gives ``[N, num_splits]`` masks. On a
    :class:`~gnnx.HeteroGraph`, each node type that has ``key`` gets its own masks, as PyG's.
    ``"random"`` with ``num_train_per_class`` takes that many nodes of each class of ``key``.
    """

    def __init__(self, split: str = "train_rest", num_splits: int = 1, num_train_per_class: int = 20,
                 num_val: Union[int, float] = 500, num_test: Union[int, float] = 1000, key: Optional[str] = "y",
                 generator: Optional[torch.Generator] = None) -> None:
        if split not in ("train_rest", "test_rest", "random"):
            raise ValueError(f"split must be 'train_rest', 'test_rest' or 'random', got {split!r}")
        self.split, self.num_splits, self.num_train_per_class = split, num_splits, num_train_per_class
        self.num_val, self.num_test, self.key, self.generator = num_val, num_test, key, generator

    def _one(self, graph) -> Tuple[Tensor, Tensor, Tensor]:
        n = int(graph.num_nodes)
        masks = [torch.zeros(n, dtype=torch.bool) for _ in range(3)]
        train, val, test = masks
        perm = torch.randperm(n, generator=self.generator)
        num_val, num_test = _count(self.num_val, n), _count(self.num_test, n)
        if self.split == "train_rest":
            _check_fit(num_val, num_test, n, "nodes of the graph")
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
        _check_fit(num_val, 0 if self.split == "test_rest" else num_test, rest.numel(),
                   "nodes left after the training nodes")  # test_rest: the test set is what remains
        val[rest[:num_val]] = True
        if self.split == "test_rest":
            test[rest[num_val:]] = True
        else:
            test[rest[num_val:num_val + num_test]] = True
        return train, val, test

    def _masks(self, store) -> dict:
        splits = [self._one(store) for _ in range(self.num_splits)]
        stacked = [torch.stack(parts, dim=-1) if self.num_splits > 1 else parts[0] for parts in zip(*splits)]
        return dict(zip(("train_mask", "val_mask", "test_mask"), stacked))

    def __call__(self, graph):
        if isinstance(graph, HeteroGraph):  # every node type that has `key` (all of them when key is None)
            out = graph.copy()
            for node_type, store in out.node_items():
                if self.key is not None and self.key not in store:
                    continue
                for name, mask in self._masks(_NodeView(store, self.key)).items():
                    store[name] = mask
            return out
        device = graph.edge_index.device
        return graph.replace(**{name: mask.to(device) for name, mask in self._masks(graph).items()})

    def __repr__(self) -> str:
        return f"RandomNodeSplit(split={self.split})"


class _NodeView:
    """A node store read like a graph (``num_nodes`` and the label attribute)."""

    def __init__(self, store, key: Optional[str]) -> None:
        self.num_nodes = int(store.num_nodes)
        if key is not None:
            setattr(self, key, store[key])


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

    On a :class:`~gnnx.HeteroGraph`, ``edge_types`` names the relations to split (labels go
    on their edge stores, negatives are drawn between their source and destination types)
    and ``rev_edge_types`` their reverse relations, whose edges follow each split's message
    passing edges, as PyG's.
    """

    def __init__(self, num_val: Union[int, float] = 0.1, num_test: Union[int, float] = 0.2,
                 is_undirected: bool = False, key: str = "edge_label", split_labels: bool = False,
                 add_negative_train_samples: bool = True, neg_sampling_ratio: float = 1.0,
                 disjoint_train_ratio: Union[int, float] = 0.0, edge_types=None, rev_edge_types=None,
                 generator: Optional[torch.Generator] = None, **pyg_kwargs) -> None:
        self.num_val, self.num_test, self.is_undirected, self.key = num_val, num_test, is_undirected, key
        self.split_labels, self.add_negative_train_samples = split_labels, add_negative_train_samples
        self.neg_sampling_ratio, self.disjoint_train_ratio = neg_sampling_ratio, disjoint_train_ratio
        self.edge_types, self.rev_edge_types, self.generator = edge_types, rev_edge_types, generator

    def __call__(self, graph):
        if isinstance(graph, HeteroGraph):
            return self._hetero(graph)
        if self.edge_types is not None:
            raise ValueError("RandomLinkSplit: edge_types apply to a HeteroGraph")
        fields = {name: getattr(graph, name) for name in ("edge_weight", "edge_attr") if getattr(graph, name) is not None}
        splits = self._splits(graph.edge_index, fields, graph.num_nodes, self.is_undirected)
        return tuple(graph.replace(**changes) for changes in splits)

    def _hetero(self, graph: HeteroGraph) -> Tuple[HeteroGraph, HeteroGraph, HeteroGraph]:
        if self.edge_types is None:
            raise ValueError("RandomLinkSplit on a HeteroGraph needs edge_types (the relations to split)")
        many = isinstance(self.edge_types, list)
        edge_types = [graph._edge_type(e) for e in (self.edge_types if many else [self.edge_types])]
        reverse = self.rev_edge_types if many else [self.rev_edge_types]
        reverse = [None if r is None else graph._edge_type(r) for r in (reverse or [None] * len(edge_types))]
        outs = (graph.copy(), graph.copy(), graph.copy())
        for edge_type, rev_type in zip(edge_types, reverse):
            store = graph[edge_type]
            src, _, dst = edge_type
            sizes = (int(graph[src].num_nodes), int(graph[dst].num_nodes))
            fields = {name: value for name, value in store.items()
                      if name != "edge_index" and isinstance(value, Tensor) and value.dim() > 0
                      and value.size(0) == store.edge_index.size(1)}
            undirected = self.is_undirected and src == dst
            splits = self._splits(store.edge_index, fields, sizes[0] if src == dst else sizes, undirected)
            for out, changes in zip(outs, splits):
                for name, value in changes.items():
                    out[edge_type][name] = value
                if rev_type is not None:  # the reverse relation passes the same messages back
                    out[rev_type].edge_index = changes["edge_index"].flip(0)
                    for name in fields:
                        out[rev_type][name] = changes[name]
        return outs

    def _splits(self, edge_index: Tensor, fields: dict, num_nodes, undirected: bool):
        """The changes of the training, validation and test graphs for one edge set."""
        device = edge_index.device
        if undirected:
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
        message = train_links[num_disjoint:] if num_disjoint else train_links
        supervision = train_links[:num_disjoint] if num_disjoint else train_links
        # PyG's: validation passes messages over every training link (supervision ones too)
        plan = [(message, supervision, self.add_negative_train_samples), (train_links, val_links, True),
                (torch.cat([train_links, val_links]), test_links, True)]
        return [self._split(edge_index, fields, num_nodes, undirected, *step) for step in plan]

    def _split(self, edge_index: Tensor, fields: dict, num_nodes, undirected: bool, message: Tensor,
               supervision: Tensor, negatives: bool) -> dict:
        kept = edge_index[:, message]
        # undirected: each kept link in both directions (a self loop once), its values alike
        mirror = kept[0] != kept[1] if undirected else torch.zeros_like(kept[0], dtype=torch.bool)
        changes = {"edge_index": torch.cat([kept, kept[:, mirror].flip(0)], dim=1)}
        for name, value in fields.items():
            changes[name] = torch.cat([value[message], value[message][mirror]], dim=0)
        positive = edge_index[:, supervision]
        num_neg = int(self.neg_sampling_ratio * positive.size(1)) if negatives else 0
        negative = negative_sampling(edge_index, num_nodes, num_neg, generator=self.generator) \
            if num_neg > 0 else edge_index.new_empty((2, 0))
        ones, zeros = torch.ones(positive.size(1), device=edge_index.device), torch.zeros(negative.size(1),
                                                                                             device=edge_index.device)
        if self.split_labels:
            changes.update({f"pos_{self.key}_index": positive, f"pos_{self.key}": ones,
                            f"neg_{self.key}_index": negative, f"neg_{self.key}": zeros})
        else:
            changes.update({f"{self.key}_index": torch.cat([positive, negative], dim=1),
                            self.key: torch.cat([ones, zeros])})
        return changes

    def __repr__(self) -> str:
        return f"RandomLinkSplit(num_val={self.num_val}, num_test={self.num_test})"
