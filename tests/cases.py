"""The layer and model configurations every four-way and PyG-parity test runs over.

Each case builds a gnnx module and says which optional input it takes; the same
constructor arguments build the PyG module for parity (PyG's class of the same name).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Optional, Tuple

import torch

import gnnx.nn

IN, HIDDEN, OUT, EDGE_DIM = 8, 16, 4, 4


def seq(a: int, b: int) -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Linear(a, b), torch.nn.ReLU(), torch.nn.Linear(b, b))


@dataclass
class Case:
    id: str
    cls: str
    args: Tuple[Any, ...] = ()
    kwargs: Dict[str, Any] = field(default_factory=dict)
    extra: Optional[str] = None  # "edge_weight" or "edge_attr"
    make_nn: Optional[Callable[[], torch.nn.Module]] = None  # first argument for GIN/EdgeConv
    pyg_module: str = "torch_geometric.nn"
    nn_keyword: Optional[str] = None  # pass make_nn() as this keyword instead of first

    def build(self, namespace) -> torch.nn.Module:
        torch.manual_seed(1)
        kwargs = dict(self.kwargs)
        if self.make_nn and self.nn_keyword:
            kwargs[self.nn_keyword] = self.make_nn()
            args = self.args
        else:
            args = ((self.make_nn(),) if self.make_nn else ()) + self.args
        return getattr(namespace, self.cls)(*args, **kwargs)

    def gnnx(self) -> torch.nn.Module:
        return self.build(gnnx.nn)

    def pyg(self) -> torch.nn.Module:
        import importlib

        return self.build(importlib.import_module(self.pyg_module))


LAYERS = [
    Case("gcn", "GCNConv", (IN, HIDDEN)),
    Case("gcn-improved-weighted", "GCNConv", (IN, HIDDEN), {"improved": True}, extra="edge_weight"),
    Case("gcn-prenormalized", "GCNConv", (IN, HIDDEN), {"normalize": False}, extra="edge_weight"),
    Case("sage-mean", "SAGEConv", (IN, HIDDEN)),
    Case("sage-max-project-norm", "SAGEConv", (IN, HIDDEN), {"aggr": "max", "project": True, "normalize": True}),
    Case("sage-sum-noroot", "SAGEConv", (IN, HIDDEN), {"aggr": "sum", "root_weight": False}),
    Case("sage-multi-aggr", "SAGEConv", (IN, HIDDEN), {"aggr": ["mean", "max", "min"]}),
    Case("graphconv-weighted", "GraphConv", (IN, HIDDEN), extra="edge_weight"),
    Case("graphconv-mean", "GraphConv", (IN, HIDDEN), {"aggr": "mean"}),
    Case("gin", "GINConv", (), {"train_eps": True, "eps": 0.1}, make_nn=lambda: seq(IN, HIDDEN)),
    Case("gine-edge-dim", "GINEConv", (), {"edge_dim": EDGE_DIM}, extra="edge_attr", make_nn=lambda: seq(IN, HIDDEN)),
    Case("gat-heads", "GATConv", (IN, HIDDEN), {"heads": 3}),
    Case("gat-edge-mean", "GATConv", (IN, HIDDEN), {"heads": 2, "concat": False, "edge_dim": EDGE_DIM},
         extra="edge_attr"),
    Case("gat-noloops-residual", "GATConv", (IN, HIDDEN), {"heads": 2, "add_self_loops": False, "residual": True}),
    Case("gatv2-heads", "GATv2Conv", (IN, HIDDEN), {"heads": 3}),
    Case("gatv2-edge-shared", "GATv2Conv", (IN, HIDDEN), {"heads": 2, "edge_dim": EDGE_DIM, "share_weights": True},
         extra="edge_attr"),
    Case("edgeconv-max", "EdgeConv", (), make_nn=lambda: seq(2 * IN, HIDDEN)),
    Case("edgeconv-mean", "EdgeConv", (), {"aggr": "mean"}, make_nn=lambda: seq(2 * IN, HIDDEN)),
    Case("sgconv-k2", "SGConv", (IN, HIDDEN), {"K": 2}, extra="edge_weight"),
    Case("tagconv-k3", "TAGConv", (IN, HIDDEN), {"K": 3}),
    Case("appnp", "APPNP", (), {"K": 3, "alpha": 0.1}, extra="edge_weight"),
    Case("simpleconv-mean-cat", "SimpleConv", (), {"aggr": "mean", "combine_root": "cat"}),
    Case("resgated", "ResGatedGraphConv", (IN, HIDDEN)),
    Case("resgated-edge", "ResGatedGraphConv", (IN, HIDDEN), {"edge_dim": EDGE_DIM}, extra="edge_attr"),
    Case("leconv", "LEConv", (IN, HIDDEN), extra="edge_weight"),
    Case("clustergcn", "ClusterGCNConv", (IN, HIDDEN), {"diag_lambda": 0.3}),
    Case("gatedgraph", "GatedGraphConv", (HIDDEN, 2), extra="edge_weight"),
    Case("nnconv-mean", "NNConv", (IN, HIDDEN), {"aggr": "mean"}, extra="edge_attr",
         make_nn=lambda: torch.nn.Sequential(torch.nn.Linear(EDGE_DIM, 32), torch.nn.ReLU(),
                                             torch.nn.Linear(32, IN * HIDDEN)), nn_keyword="nn"),
    Case("cgconv-edge", "CGConv", (IN,), {"dim": EDGE_DIM}, extra="edge_attr"),
    Case("transformer-heads-edge", "TransformerConv", (IN, HIDDEN), {"heads": 2, "edge_dim": EDGE_DIM},
         extra="edge_attr"),
    Case("transformer-beta-mean", "TransformerConv", (IN, HIDDEN), {"heads": 2, "beta": True, "concat": False}),
    Case("antisymmetric", "AntiSymmetricConv", (IN,), {"num_iters": 2}),
    Case("pointnet", "PointNetConv", (), {"global_nn": torch.nn.Linear(HIDDEN, HIDDEN)}, extra="pos",
         make_nn=lambda: seq(IN + 3, HIDDEN), nn_keyword="local_nn"),
]

MODELS = [
    Case("GCN", "GCN", (IN, HIDDEN, 3, OUT), extra="edge_weight", pyg_module="torch_geometric.nn.models"),
    Case("GraphSAGE-jk-cat", "GraphSAGE", (IN, HIDDEN, 2, OUT), {"jk": "cat"}, pyg_module="torch_geometric.nn.models"),
    Case("GIN-batchnorm", "GIN", (IN, HIDDEN, 3, OUT), {"norm": "batch_norm"}, pyg_module="torch_geometric.nn.models"),
    Case("GAT-heads", "GAT", (IN, HIDDEN, 2, OUT), {"heads": 2}, pyg_module="torch_geometric.nn.models"),
    Case("GATv2-edge", "GAT", (IN, HIDDEN, 2, OUT), {"heads": 2, "v2": True, "edge_dim": EDGE_DIM},
         extra="edge_attr", pyg_module="torch_geometric.nn.models"),
    Case("EdgeCNN-jk-max", "EdgeCNN", (IN, HIDDEN, 2, OUT), {"jk": "max"}, pyg_module="torch_geometric.nn.models"),
]

ALL = LAYERS + MODELS


def random_graph(num_nodes: int, num_edges: int, seed: int = 0):
    """Random inputs ``(x, edge_index, edge_weight, edge_attr)``; duplicates and self loops included."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(num_nodes, IN, generator=gen)
    edge_index = torch.randint(num_nodes, (2, num_edges), generator=gen)
    edge_weight = torch.rand(num_edges, generator=gen) + 0.1
    edge_attr = torch.randn(num_edges, EDGE_DIM, generator=gen)
    return x, edge_index, edge_weight, edge_attr


def call(module: torch.nn.Module, case: Case, x, edge_index, edge_weight, edge_attr):
    """Call a layer or model of ``case`` with the optional input it takes."""
    if case.extra == "pos":  # point layers: the first three features double as positions
        return module(x, x[:, :3], edge_index)
    if case.extra == "edge_weight":
        return module(x, edge_index, edge_weight)
    if case.extra == "edge_attr":
        if case.cls in ("GAT",):
            return module(x, edge_index, edge_attr=edge_attr)
        return module(x, edge_index, edge_attr)
    return module(x, edge_index)


class Uniform(torch.nn.Module):
    """A case behind one signature ``(x, edge_index, edge_weight, edge_attr)``, for export."""

    def __init__(self, case: Case, module: torch.nn.Module) -> None:
        super().__init__()
        self.case, self.module = case, module

    def forward(self, x, edge_index, edge_weight, edge_attr):
        return call(self.module, self.case, x, edge_index, edge_weight, edge_attr)


class Zoo(torch.nn.Module):
    """Every case in one module, so one export and one AOTInductor package cover them all."""

    def __init__(self, cases) -> None:
        super().__init__()
        self.names = [c.id for c in cases]
        self.members = torch.nn.ModuleList(Uniform(c, c.gnnx()) for c in cases)

    def forward(self, x, edge_index, edge_weight, edge_attr):
        return tuple(m(x, edge_index, edge_weight, edge_attr) for m in self.members)
