"""The layer and model configurations every four-way and PyG-parity test runs over.

Each case builds a gnnx module and says which optional input it takes; the same
constructor arguments build the PyG module for parity (PyG's class of the same name).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Optional, Tuple

import torch

import gnnx.nn
from gnnx.export.package import aoti_load

IN, HIDDEN, OUT, EDGE_DIM = 8, 16, 4, 4


def seq(a: int, b: int) -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Linear(a, b), torch.nn.ReLU(), torch.nn.Linear(b, b))


def skip_sum(h: torch.Tensor, h2: torch.Tensor) -> torch.Tensor:
    return h + h2


@dataclass
class PerLibrary:
    """An argument built from the library's namespace (``gnnx.nn`` or PyG's), e.g. a list of
    that library's layers for ``Sequential``."""
    make: Callable[[Any], Any]


@dataclass
class Case:
    id: str
    cls: str
    args: Tuple[Any, ...] = ()
    kwargs: Dict[str, Any] = field(default_factory=dict)
    extra: Optional[str] = None  # "edge_weight", "edge_attr", "edge_type", "heat", "x0", "x0-unweighted", "pos",
    # "pos_normal"
    make_nn: Optional[Callable[[], torch.nn.Module]] = None  # first argument for GIN/EdgeConv
    pyg_module: str = "torch_geometric.nn"
    nn_keyword: Optional[str] = None  # pass make_nn() as this keyword instead of first
    inner: Optional[Tuple[str, Tuple[Any, ...], Dict[str, Any]]] = None  # a wrapped layer of the same library

    def build(self, namespace) -> torch.nn.Module:
        torch.manual_seed(1)
        # A module given as an argument is copied: every build (CPU, CUDA, PyG) owns its own.
        kwargs = {k: copy.deepcopy(v) if isinstance(v, torch.nn.Module) else v for k, v in self.kwargs.items()}
        if self.inner is not None:
            name, inner_args, inner_kwargs = self.inner
            return getattr(namespace, self.cls)(getattr(namespace, name)(*inner_args, **inner_kwargs), **kwargs)
        if self.make_nn and self.nn_keyword:
            kwargs[self.nn_keyword] = self.make_nn()
            args = self.args
        else:
            args = ((self.make_nn(),) if self.make_nn else ()) + self.args
        args = tuple(a.make(namespace) if isinstance(a, PerLibrary) else a for a in args)
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
    Case("sage-std", "SAGEConv", (IN, HIDDEN), {"aggr": "std"}),
    Case("sage-softmax-std-proj", "SAGEConv", (IN, HIDDEN), {
        "aggr": ["softmax", "std"], "aggr_kwargs": {"mode": "proj", "mode_kwargs": {"in_channels": IN, "out_channels": IN}}}),
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
    Case("lgconv", "LGConv"),
    Case("agnn", "AGNNConv"),
    Case("mixhop", "MixHopConv", (IN, HIDDEN)),
    Case("fa", "FAConv", (IN,), {"eps": 0.2}, extra="x0-unweighted"),
    Case("fa-weighted-no-normalize", "FAConv", (IN,), {"normalize": False}, extra="x0"),
    Case("mixhop-powers-no-loops-weighted", "MixHopConv", (IN, HIDDEN), {"powers": [3, 1], "add_self_loops": False},
         extra="edge_weight"),
    Case("agnn-fixed-beta-no-loops", "AGNNConv", (), {"requires_grad": False, "add_self_loops": False}),
    Case("lgconv-unnormalized-weighted", "LGConv", (), {"normalize": False}, extra="edge_weight"),
    Case("simpleconv-mean-cat", "SimpleConv", (), {"aggr": "mean", "combine_root": "cat"}),
    Case("simpleconv-self-loop-weighted", "SimpleConv", (), {"aggr": "sum", "combine_root": "self_loop"},
         extra="edge_weight"),
    Case("resgated", "ResGatedGraphConv", (IN, HIDDEN)),
    Case("resgated-edge", "ResGatedGraphConv", (IN, HIDDEN), {"edge_dim": EDGE_DIM}, extra="edge_attr"),
    Case("leconv", "LEConv", (IN, HIDDEN), extra="edge_weight"),
    Case("clustergcn", "ClusterGCNConv", (IN, HIDDEN), {"diag_lambda": 0.3}),
    Case("gatedgraph", "GatedGraphConv", (HIDDEN, 2), extra="edge_weight"),
    Case("nnconv-mean", "NNConv", (IN, HIDDEN), {"aggr": "mean"}, extra="edge_attr",
         make_nn=lambda: torch.nn.Sequential(torch.nn.Linear(EDGE_DIM, 32), torch.nn.ReLU(),
                                             torch.nn.Linear(32, IN * HIDDEN)), nn_keyword="nn"),
    Case("pdn-edge", "PDNConv", (IN, HIDDEN, EDGE_DIM, 8), extra="edge_attr"),
    Case("cgconv-edge", "CGConv", (IN,), {"dim": EDGE_DIM}, extra="edge_attr"),
    Case("wlcontinuous-weighted", "WLConvContinuous", extra="edge_weight"),
    Case("transformer-heads-edge", "TransformerConv", (IN, HIDDEN), {"heads": 2, "edge_dim": EDGE_DIM},
         extra="edge_attr"),
    Case("transformer-beta-mean", "TransformerConv", (IN, HIDDEN), {"heads": 2, "beta": True, "concat": False}),
    Case("antisymmetric", "AntiSymmetricConv", (IN,), {"num_iters": 2}),
    Case("pointnet", "PointNetConv", (), {"global_nn": torch.nn.Linear(HIDDEN, HIDDEN)}, extra="pos",
         make_nn=lambda: seq(IN + 3, HIDDEN), nn_keyword="local_nn"),
    Case("gps", "GPSConv", (IN, PerLibrary(lambda lib: lib.GCNConv(IN, IN))), {"heads": 2}),
    Case("gps-performer", "GPSConv", (IN, PerLibrary(lambda lib: lib.GCNConv(IN, IN))),
         {"heads": 2, "attn_type": "performer", "attn_kwargs": {"head_channels": 4}}),
    Case("pointgnn", "PointGNNConv", (), {"mlp_h": seq(IN, 3), "mlp_f": seq(3 + IN, HIDDEN),
                                           "mlp_g": torch.nn.Linear(HIDDEN, IN)}, extra="pos"),
]

DEG = torch.tensor([2, 6, 10, 6, 3, 1])  # an in-degree histogram for PNA

LAYERS += [
    Case("cheb-k3-sym", "ChebConv", (IN, HIDDEN), {"K": 3}, extra="edge_weight"),
    Case("cheb-k2-none", "ChebConv", (IN, HIDDEN), {"K": 2, "normalization": None}),
    Case("ssg", "SSGConv", (IN, HIDDEN), {"alpha": 0.1, "K": 3}, extra="edge_weight"),
    Case("arma-stacks", "ARMAConv", (IN, HIDDEN), {"num_stacks": 2, "num_layers": 2}, extra="edge_weight"),
    Case("gcn2-separate", "GCN2Conv", (IN,), {"alpha": 0.2, "theta": 0.5, "layer": 2, "shared_weights": False},
         extra="x0"),
    Case("mf", "MFConv", (IN, HIDDEN), {"max_degree": 4}),
    Case("feast-heads", "FeaStConv", (IN, HIDDEN), {"heads": 3}),
    Case("general-attn-edge", "GeneralConv", (IN, HIDDEN), {"in_edge_channels": EDGE_DIM, "heads": 2,
                                                            "attention": True}, extra="edge_attr"),
    Case("general-dot-undirected", "GeneralConv", (IN, HIDDEN),
         {"directed_msg": False, "attention": True, "attention_type": "dot_product", "l2_normalize": True,
          "aggr": "mean"}),
    Case("eg-multi", "EGConv", (IN, HIDDEN), {"aggregators": ["symnorm", "max", "std"], "num_heads": 4,
                                              "num_bases": 2}),
    Case("film", "FiLMConv", (IN, HIDDEN)),
    Case("film-relations", "FiLMConv", (IN, HIDDEN), {"num_relations": 3}, extra="edge_type"),
    Case("gen-softmax-msgnorm-edge", "GENConv", (IN, HIDDEN), {"learn_t": True, "msg_norm": True,
                                                              "edge_dim": EDGE_DIM}, extra="edge_attr"),
    Case("gen-power", "GENConv", (IN, HIDDEN), {"aggr": "power", "learn_p": True, "p": 1.5}),
    Case("supergat-mx", "SuperGATConv", (IN, HIDDEN), {"heads": 2}),
    Case("supergat-sd-mean", "SuperGATConv", (IN, HIDDEN), {"attention_type": "SD", "concat": False, "heads": 2}),
    Case("pointtransformer", "PointTransformerConv", (IN, HIDDEN), extra="pos"),
    Case("pna-towers-edge", "PNAConv", (IN, HIDDEN),
         {"aggregators": ["mean", "min", "max", "std"], "scalers": ["identity", "amplification", "attenuation"],
          "deg": DEG, "edge_dim": EDGE_DIM, "towers": 2, "pre_layers": 2, "divide_input": True}, extra="edge_attr"),
    Case("gmm", "GMMConv", (IN, HIDDEN), {"dim": EDGE_DIM, "kernel_size": 3}, extra="edge_attr"),
    Case("gmm-separate", "GMMConv", (IN, HIDDEN), {"dim": EDGE_DIM, "kernel_size": 2, "separate_gaussians": True},
         extra="edge_attr"),
    Case("rgcn-bases", "RGCNConv", (IN, HIDDEN, 3), {"num_bases": 2}, extra="edge_type"),
    Case("fastrgcn-bases", "FastRGCNConv", (IN, HIDDEN, 3), {"num_bases": 2}, extra="edge_type"),
    Case("rgcn-blocks-sum", "RGCNConv", (IN, HIDDEN, 3), {"num_blocks": 2, "aggr": "add"}, extra="edge_type"),
    Case("rgat-within-heads", "RGATConv", (IN, HIDDEN // 2, 3), {"heads": 2, "num_bases": 2,
         "attention_mechanism": "within-relation"}, extra="edge_type"),
    Case("rgat-multiplicative-fscaled", "RGATConv", (IN, HIDDEN // 2, 3),
         {"attention_mode": "multiplicative-self-attention", "dim": 2, "mod": "f-scaled"}, extra="edge_type"),
    Case("heat-heads", "HEATConv", (IN, HIDDEN, 2, 3, 4, EDGE_DIM, 5), {"heads": 2}, extra="heat"),
    Case("dirgnn-gcn", "DirGNNConv", (), {"alpha": 0.3}, inner=("GCNConv", (IN, HIDDEN), {})),
    Case("deepgcn-res-plus", "DeepGCNLayer", (), {"norm": torch.nn.LayerNorm(IN), "act": torch.nn.ReLU(),
                                                  "block": "res+"}, inner=("GENConv", (IN, IN), {})),
    Case("ppf", "PPFConv", (), extra="pos_normal", make_nn=lambda: seq(IN + 4, HIDDEN), nn_keyword="local_nn"),
]

MODELS = [
    Case("GCN", "GCN", (IN, HIDDEN, 3, OUT), extra="edge_weight", pyg_module="torch_geometric.nn.models"),
    Case("GraphSAGE-jk-cat", "GraphSAGE", (IN, HIDDEN, 2, OUT), {"jk": "cat"}, pyg_module="torch_geometric.nn.models"),
    Case("GraphSAGE-graphnorm-jk-lstm", "GraphSAGE", (IN, HIDDEN, 2, OUT), {"norm": "graph_norm", "jk": "lstm"},
         pyg_module="torch_geometric.nn.models"),
    Case("GIN-batchnorm", "GIN", (IN, HIDDEN, 3, OUT), {"norm": "batch_norm"}, pyg_module="torch_geometric.nn.models"),
    Case("GAT-heads", "GAT", (IN, HIDDEN, 2, OUT), {"heads": 2}, pyg_module="torch_geometric.nn.models"),
    Case("GATv2-edge", "GAT", (IN, HIDDEN, 2, OUT), {"heads": 2, "v2": True, "edge_dim": EDGE_DIM},
         extra="edge_attr", pyg_module="torch_geometric.nn.models"),
    Case("PNA-edge", "PNA", (IN, HIDDEN, 2, OUT), {"aggregators": ["mean", "max", "std"],
                                                "scalers": ["identity", "amplification"], "deg": DEG,
                                                "edge_dim": EDGE_DIM, "towers": 2},
         extra="edge_attr", pyg_module="torch_geometric.nn.models"),
    Case("EdgeCNN-jk-max", "EdgeCNN", (IN, HIDDEN, 2, OUT), {"jk": "max"}, pyg_module="torch_geometric.nn.models"),
    # PyG's Sequential: layers named by their inputs, a plain module between them, a skip
    Case("Sequential-gcn-sage", "Sequential", ("x, edge_index", PerLibrary(lambda nn: [
        (nn.GCNConv(IN, HIDDEN), "x, edge_index -> h"), torch.nn.ReLU(),
        (nn.SAGEConv(HIDDEN, HIDDEN), "h, edge_index -> h2"), (skip_sum, "h, h2 -> h3"),
        torch.nn.Linear(HIDDEN, OUT)]))),
]

ALL = LAYERS + MODELS


def assert_same_outputs_and_gradients(ours: torch.nn.Module, theirs: torch.nn.Module, x: torch.Tensor, *args,
                                      **kwargs) -> None:
    """Both modules on ``(x, *args, **kwargs)``: equal outputs, gradients of ``x`` and of the
    parameters (in order) under the squared output's sum."""
    results = []
    for module in (ours, theirs):
        x_in = x.clone().requires_grad_()
        out = module(x_in, *args, **kwargs)
        out.square().sum().backward()
        results.append((out, x_in.grad, [p.grad for p in module.parameters()]))
    torch.testing.assert_close(results[0][0], results[1][0])
    torch.testing.assert_close(results[0][1], results[1][1])
    for a, b in zip(results[0][2], results[1][2]):
        torch.testing.assert_close(a, b)


def assert_compiles_once_and_exports(model: torch.nn.Module, make_inputs, sizes, dynamic_shapes: tuple,
                                     export_size, rtol: float = 1e-4, atol: float = 1e-5) -> None:
    """``model`` compiled (fullgraph, dynamic) equals eager on ``make_inputs(size, seed=i)`` for
    each of ``sizes`` without recompiling after the second, and exported on the first size with
    ``dynamic_shapes`` equals eager at ``export_size``."""
    compiled = torch.compile(model, fullgraph=True, dynamic=True)
    for i, size in enumerate(sizes):
        inputs = make_inputs(size, seed=i)
        with torch._dynamo.config.patch(error_on_recompile=i >= 2):
            torch.testing.assert_close(compiled(*inputs), model(*inputs), rtol=rtol, atol=atol)
    program = torch.export.export(model, make_inputs(sizes[0]), dynamic_shapes=dynamic_shapes)
    inputs = make_inputs(export_size, seed=len(sizes))
    torch.testing.assert_close(program.module()(*inputs), model(*inputs), rtol=rtol, atol=atol)


def graph_batch(sizes, channels: int = 16, seed: int = 0):
    """``(x, edge_index, batch)`` of random graphs of the given node counts, 3 edges a node,
    edges within each graph."""
    gen = torch.Generator().manual_seed(seed)
    batch = torch.arange(len(sizes)).repeat_interleave(torch.tensor(sizes))
    first = torch.cumsum(torch.tensor([0] + list(sizes[:-1])), 0)
    edges = [torch.randint(n, (2, 3 * n), generator=gen) + f for n, f in zip(sizes, first.tolist())]
    return torch.randn(sum(sizes), channels, generator=gen), torch.cat(edges, 1), batch


def export_and_package(module: torch.nn.Module, example: tuple, dynamic_shapes: tuple, package_path: str):
    """``(exported program, loaded AOTInductor package)`` of ``module`` on ``example``."""
    program = torch.export.export(module, example, dynamic_shapes=dynamic_shapes)
    path = torch._inductor.aoti_compile_and_package(program, package_path=package_path)
    return program, aoti_load(path)


def assert_runners_equal_eager(module: torch.nn.Module, runners, inputs: tuple) -> None:
    """Each runner (an exported program's module, a package) gives ``module``'s tuple of outputs."""
    with torch.no_grad():
        expected = module(*inputs)
        for run in runners:
            got = run(*inputs)
            assert len(got) == len(expected)
            for a, b in zip(got, expected):
                torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def random_graph(num_nodes: int, num_edges: int, seed: int = 0):
    """Random inputs ``(x, edge_index, edge_weight, edge_attr)``; duplicates and self loops included."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(num_nodes, IN, generator=gen)
    edge_index = torch.randint(max(num_nodes, 1), (2, num_edges), generator=gen)  # no edges without nodes
    edge_weight = torch.rand(num_edges, generator=gen) + 0.1
    edge_attr = torch.randn(num_edges, EDGE_DIM, generator=gen)
    return x, edge_index, edge_weight, edge_attr


def call(module: torch.nn.Module, case: Case, x, edge_index, edge_weight, edge_attr):
    """Call a layer or model of ``case`` with the optional input it takes."""
    if case.extra == "pos":  # point layers: the first three features double as positions
        return module(x, x[:, :3], edge_index)
    if case.extra == "pos_normal":  # ... and the next three as normals (positive: see PPFConv's docstring)
        return module(x, x[:, :3], x[:, 3:6].abs() + 0.1, edge_index)
    if case.extra == "x0":  # initial features of GCNII: a fixed function of x
        return module(x, x.flip(1), edge_index, edge_weight)
    if case.extra == "x0-unweighted":  # ... for a layer that computes its own edge weights
        return module(x, x.flip(1), edge_index)
    if case.extra == "edge_type":  # three relations, derived from the edge weights
        return module(x, edge_index, (edge_weight * 10).long() % 3)
    if case.extra == "heat":  # two node types from the sign of a feature, three relations as above
        return module(x, edge_index, (x[:, 0] > 0).long(), (edge_weight * 10).long() % 3, edge_attr)
    if case.extra == "edge_weight":
        return module(x, edge_index, edge_weight)
    if case.extra == "edge_attr":
        if case.cls in ("GAT", "PNA"):  # models: edge_attr is a keyword after edge_weight
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


def attention_inputs(v2: bool, n: int, e: int, heads: int, channels: int, seed: int = 0, dtype=torch.float64,
                     device="cpu", masked: int = 4, self_loops: bool = False):
    """Inputs of ``gnnx.ops.attention``: ``(x, edge_index, edge_bias, terms)`` with the first
    ``masked`` edges at ``-inf`` and GAT (``score_src``/``score_dst``) or GATv2 (``x_dst``,
    ``att``) score terms; ``self_loops`` appends one loop per node (no empty rows)."""
    gen = torch.Generator(device=device).manual_seed(seed)
    ei = torch.randint(n, (2, e), generator=gen, device=device)
    if self_loops:
        ei = torch.cat([ei, torch.arange(n, device=device).repeat(2, 1)], 1)
    x = torch.randn(n, heads, channels, generator=gen, dtype=dtype, device=device)
    bias = torch.randn(ei.size(1), heads, generator=gen, dtype=dtype, device=device)
    bias[:masked] = float("-inf")
    if v2:
        terms = {"x_dst": torch.randn(n, heads, channels, generator=gen, dtype=dtype, device=device),
                 "att": torch.randn(1, heads, channels, generator=gen, dtype=dtype, device=device)}
    else:
        terms = {"score_src": torch.randn(n, heads, generator=gen, dtype=dtype, device=device),
                 "score_dst": torch.randn(n, heads, generator=gen, dtype=dtype, device=device)}
    return x, ei, bias, terms


HETERO_METADATA = (["paper", "author"],
                   [("paper", "cites", "paper"), ("paper", "written_by", "author"), ("author", "writes", "paper")])


def random_hetero_graph(num_papers: int, num_authors: int, num_edges: int, seed: int = 0, channels: int = IN):
    """Random ``(x_dict, edge_index_dict)`` over :data:`HETERO_METADATA`, ``num_edges`` per relation."""
    gen = torch.Generator().manual_seed(seed)
    counts = {"paper": num_papers, "author": num_authors}
    x_dict = {t: torch.randn(n, channels, generator=gen) for t, n in counts.items()}
    edge_index_dict = {
        (src, rel, dst): torch.stack([torch.randint(max(counts[src], 1), (num_edges,), generator=gen),
                                      torch.randint(max(counts[dst], 1), (num_edges,), generator=gen)])
        for src, rel, dst in HETERO_METADATA[1]}
    return x_dict, edge_index_dict


class WithMoleculeCount(torch.nn.Module):
    """A molecular model (``model(z, pos, batch, batch_size=...)``) exported with the molecule
    count as the length of a fourth input, so the count is a dynamic dimension."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, z: torch.Tensor, pos: torch.Tensor, batch: torch.Tensor, molecules: torch.Tensor):
        return self.model(z, pos, batch, batch_size=molecules.size(0))


def random_molecules(sizes, seed: int = 0, spread: float = 4.0):
    """Atomic numbers, positions in a cube of side ``spread`` (so some pairs fall outside a
    model's cutoff) and molecule ids, for molecules of ``sizes`` atoms."""
    gen = torch.Generator().manual_seed(seed)
    batch = torch.arange(len(sizes)).repeat_interleave(torch.tensor(sizes))
    return (torch.randint(1, 10, (sum(sizes),), generator=gen), torch.rand(sum(sizes), 3, generator=gen) * spread,
            batch)


def export_molecular(model: torch.nn.Module, example: tuple, num_molecules: int):
    """``torch.export`` of :class:`WithMoleculeCount` with dynamic atom and molecule counts."""
    from torch.export import Dim

    atoms, molecules = Dim("atoms", min=2), Dim("molecules", min=1)
    return torch.export.export(WithMoleculeCount(model), (*example, torch.zeros(num_molecules)),
                               dynamic_shapes=({0: atoms}, {0: atoms}, {0: atoms}, {0: molecules}))
