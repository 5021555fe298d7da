"""A generated heterogeneous graph with the shape of IGBH / ogbn-mag, and a planted signal.

Node types ``paper``, ``author``, ``institute``, ``fos`` (field of study) and the relations
of IGBH: ``paper -cites-> paper``, ``paper -written_by-> author``, ``author -affiliated_to->
institute``, ``paper -topic-> fos``, each with its reverse (``rev_<relation>``, as
:class:`gnnx.transforms.ToUndirected` names them): 4 node types, 8 edge types. Endpoints are
drawn with a power-law popularity (a few hubs, many leaves), as in citation graphs.

Papers carry a class (``y``) and the planted signal: a paper's features hold its class
only weakly (``feature_signal``), while its citations, authors and topics are mostly of its
own class (``homophily``), so a model that reads neighbourhoods beats one that reads the
paper alone: accuracy measures whether message passing works. Generated on the CPU from a
seed; ``scale=1`` gives about 1,000,000 nodes and 10,000,000 edges.
"""
from __future__ import annotations

from typing import Dict, Tuple

import torch
from torch import Tensor

from gnnx.hetero_graph import HeteroGraph

BASE_NODES = {"paper": 600_000, "author": 300_000, "institute": 20_000, "fos": 80_000}
BASE_EDGES = {("paper", "cites", "paper"): 2_500_000, ("paper", "written_by", "author"): 1_500_000,
              ("author", "affiliated_to", "institute"): 300_000, ("paper", "topic", "fos"): 700_000}


def _popular(count: int, n: int, skew: float, gen: torch.Generator) -> Tensor:
    """``count`` draws from ``n`` items with power-law popularity (exponent ``skew``)."""
    u = torch.rand(count, generator=gen)
    rank = (u.pow(1.0 + skew) * n).long().clamp(max=n - 1)   # small ranks are the hubs
    return torch.randperm(n, generator=gen)[rank] if n > 1 else rank


def _of_class(classes: Tensor, wanted: Tensor, skew: float, gen: torch.Generator) -> Tensor:
    """For each entry of ``wanted``, an item whose class is that one (power-law within it);
    any item where no item has that class (small graphs)."""
    order = torch.argsort(classes, stable=True)
    counts = torch.bincount(classes, minlength=int(wanted.max()) + 1 if wanted.numel() else 1)
    start = torch.cumsum(counts, 0) - counts
    u = torch.rand(wanted.numel(), generator=gen).pow(1.0 + skew)
    size = counts[wanted]
    position = start[wanted] + (u * size).long().clamp(max=(size - 1).clamp(min=0))
    anywhere = (u * classes.numel()).long().clamp(max=classes.numel() - 1)  # the same draw: graphs unchanged
    return order[torch.where(size > 0, position, anywhere)]


def hetero_benchmark_graph(scale: float = 1.0, num_features: int = 64, num_classes: int = 19,
                           homophily: float = 0.8, feature_signal: float = 0.2, skew: float = 1.0,
                           seed: int = 0) -> HeteroGraph:
    """The graph of the module docstring.

    Args:
        scale: size relative to 1,000,000 nodes / 10,000,000 edges (``0.01``: 10,000 nodes).
        num_features: feature width of every node type (IGBH: 1024).
        num_classes: paper classes (IGBH-small: 19).
        homophily: share of a paper's citations, authors and topics of its own class.
        feature_signal: how far a paper's features lean towards its class centre (noise: 1).
        skew: power-law exponent of endpoint popularity (0: uniform).
        seed: the generator's seed.
    Returns:
        a :class:`~gnnx.HeteroGraph` with ``x`` per node type, ``y`` and
        ``train_mask``/``val_mask``/``test_mask`` (60/20/20) on papers.
    """
    gen = torch.Generator().manual_seed(seed)
    sizes = {t: max(2, int(n * scale)) for t, n in BASE_NODES.items()}
    counts = {e: max(1, int(n * scale)) for e, n in BASE_EDGES.items()}
    centres = torch.randn(num_classes, num_features, generator=gen)
    # Each node type has a class per node: papers' are the labels, the others' are latent.
    classes = {t: torch.randint(num_classes, (n,), generator=gen) for t, n in sizes.items()}
    graph = HeteroGraph()
    for node_type, n in sizes.items():
        signal = feature_signal if node_type == "paper" else feature_signal / 2
        graph[node_type].x = centres[classes[node_type]] * signal + torch.randn(n, num_features, generator=gen)
    edges: Dict[Tuple[str, str, str], Tensor] = {}
    for (src, rel, dst), count in counts.items():
        source = _popular(count, sizes[src], skew, gen)
        same = torch.rand(count, generator=gen) < homophily
        target = torch.where(same, _of_class(classes[dst], classes[src][source], skew, gen),
                             _popular(count, sizes[dst], skew, gen))
        edges[(src, rel, dst)] = torch.stack([source, target])
    for (src, rel, dst), edge_index in edges.items():
        graph[src, rel, dst].edge_index = edge_index
        graph[dst, f"rev_{rel}", src].edge_index = edge_index.flip(0)
    papers = sizes["paper"]
    graph["paper"].y = classes["paper"]
    split = torch.randperm(papers, generator=gen)
    for name, (lo, hi) in {"train_mask": (0, 0.6), "val_mask": (0.6, 0.8), "test_mask": (0.8, 1.0)}.items():
        mask = torch.zeros(papers, dtype=torch.bool)
        mask[split[int(lo * papers):int(hi * papers)]] = True
        graph["paper"][name] = mask
    return graph
