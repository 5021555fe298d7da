"""The order-dependent aggregations against PyG's (values, repr, state_dict), as layer aggr
by name, with masks, and compiled (median/quantile always, the dense ones with a static
max_num_elements)."""
import pytest
import torch

import gnnx.nn as G
import gnnx.nn.aggr as GA

PA = pytest.importorskip("torch_geometric.nn.aggr")
P = pytest.importorskip("torch_geometric.nn")

E, D, F = 40, 7, 5
CASES = [
    ("MedianAggregation", (), {}),
    ("QuantileAggregation", ([0.1, 0.5, 0.9],), {}),
    ("QuantileAggregation", (0.3,), {"interpolation": "midpoint"}),
    ("QuantileAggregation", (0.3,), {"interpolation": "nearest"}),
    ("QuantileAggregation", (0.7,), {"interpolation": "higher"}),
    ("QuantileAggregation", (0.7,), {"interpolation": "lower", "fill_value": 2.0}),
    ("LSTMAggregation", (F, 8), {}),
    ("LSTMAggregation", (F, 8), {"num_layers": 2}),
    ("GRUAggregation", (F, 8), {}),
    ("MLPAggregation", (F, 8, 3), {"hidden_channels": 16, "num_layers": 2}),
    ("SortAggregation", (3,), {}),
    ("VariancePreservingAggregation", (), {}),
    ("LCMAggregation", (F, F), {}),
    ("LCMAggregation", (F, 3), {"project": True}),
    ("SetTransformerAggregation", (F,), {"num_seed_points": 2, "heads": 1}),
    ("SetTransformerAggregation", (F,), {"concat": False, "layer_norm": True}),
    ("GraphMultisetTransformer", (F, 3), {}),
    ("PatchTransformerAggregation", (F, 3), {"patch_size": 2, "hidden_channels": 6}),
    ("PatchTransformerAggregation", (F, 3), {"patch_size": 3, "hidden_channels": 4, "heads": 2,
                                             "aggr": ["mean", "max"]}),
    ("EquilibriumAggregation", (F, 4, [8]), {}),
]


def _rows(seed=0):
    g = torch.Generator().manual_seed(seed)
    index = torch.randint(0, D - 1, (E,), generator=g).sort().values  # the last slot stays empty
    return torch.randn(E, F, generator=g), index


@pytest.mark.parametrize("name,args,kwargs", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_equals_pyg(name, args, kwargs):
    pyg, ours = getattr(PA, name)(*args, **kwargs).eval(), getattr(GA, name)(*args, **kwargs).eval()
    ours.load_state_dict(pyg.state_dict())
    assert repr(ours) == repr(pyg)
    x, index = _rows()
    torch.testing.assert_close(ours(x, index, dim_size=D), pyg(x, index, dim_size=D), atol=1e-5, rtol=1e-5)


def test_deep_sets_equals_pyg():
    pyg = PA.DeepSetsAggregation(torch.nn.Linear(F, 8), torch.nn.Linear(8, 3))
    ours = GA.DeepSetsAggregation(torch.nn.Linear(F, 8), torch.nn.Linear(8, 3))
    ours.load_state_dict(pyg.state_dict())
    x, index = _rows()
    torch.testing.assert_close(ours(x, index, dim_size=D), pyg(x, index, dim_size=D))


@pytest.mark.parametrize("aggr,kwargs", [("median", None), ("quantile", {"q": 0.25}), ("lstm", None),
                                         ("variance_preserving", None)])
def test_sage_by_name_equals_pyg(aggr, kwargs):
    g = torch.Generator().manual_seed(1)
    ei = torch.randint(0, 10, (2, 40), generator=g)
    ei = ei[:, ei[1].argsort(stable=True)]  # PyG's LSTM aggregation asks for a sorted index
    x = torch.randn(10, F, generator=g)
    # PyG generates SAGEConv's propagate once per class, from the first instance: one built with
    # an aggregation module (not fused) would break its sparse-input path for the rest of the
    # process, so these run on a subclass of their own.
    pyg_cls = type("PygSAGEConv", (P.SAGEConv,), {})
    pyg, ours = pyg_cls(F, 8, aggr=aggr, aggr_kwargs=kwargs or {}), G.SAGEConv(F, 8, aggr=aggr, aggr_kwargs=kwargs)
    ours.load_state_dict(pyg.state_dict())
    assert repr(ours) == repr(pyg).replace("PygSAGEConv", "SAGEConv")
    torch.testing.assert_close(ours(x, ei), pyg(x, ei), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name,args,kwargs", [CASES[1], CASES[6], CASES[9], CASES[10]])
def test_mask_equals_dropping_rows(name, args, kwargs):
    aggr = getattr(GA, name)(*args, **kwargs).eval()
    x, index = _rows(2)
    mask = torch.rand(E, generator=torch.Generator().manual_seed(3)) > 0.3
    torch.testing.assert_close(aggr(x, index, dim_size=D, mask=mask), aggr(x[mask], index[mask], dim_size=D))


def test_empty_input_gives_fill_values():
    aggr = GA.QuantileAggregation([0.2, 0.8], fill_value=1.5)
    out = aggr(torch.empty(0, F), torch.empty(0, dtype=torch.long), dim_size=3)
    assert out.shape == (3, 2 * F) and bool((out == 1.5).all())


@pytest.mark.parametrize("module,extra", [
    (GA.MedianAggregation(), {}),
    (GA.QuantileAggregation([0.25, 0.75]), {}),
    (GA.LSTMAggregation(F, 8), {"max_num_elements": 12}),
    (GA.MLPAggregation(F, 8, 4, num_layers=1), {}),
])
def test_compiles_without_recompiles(module, extra):
    torch._dynamo.reset()
    module = module.eval()

    def run(x, index, dim_size):
        return module(x, index, dim_size=dim_size, **extra)

    compiled = torch.compile(run, fullgraph=True, dynamic=True)
    for seed, rows in ((0, 30), (1, 45), (2, 60)):
        g = torch.Generator().manual_seed(seed)
        index = torch.randint(0, 6, (rows,), generator=g).sort().values
        x = torch.randn(rows, F, generator=g)
        torch.testing.assert_close(compiled(x, index, 6), run(x, index, 6), atol=1e-5, rtol=1e-5)


def test_every_pyg_aggregation_exists_and_resolves():
    """Each class of torch_geometric.nn.aggr is in gnnx.nn.aggr, and its name resolves."""
    from gnnx.nn.aggr import resolve_aggregation

    for name in PA.__all__:
        if name in ("Aggregation",):
            continue
        assert hasattr(GA, name), name
        if name in ("Set2Set", "AttentionalAggregation", "DegreeScalerAggregation", "MultiAggregation"):
            continue  # need constructor arguments beyond a width
        key = name[: -len("Aggregation")] if name.endswith("Aggregation") else name
        try:
            module = resolve_aggregation(key, **_RESOLVE_ARGS.get(name, {}))
        except TypeError:
            continue  # resolved, but needs arguments this test does not pass
        assert type(module).__name__ == name


_RESOLVE_ARGS = {"MedianAggregation": {}, "QuantileAggregation": {"q": 0.5}}


@pytest.mark.parametrize("aggr,kwargs", [("median", None), ("quantile", {"q": 0.25}),
                                         ("variance_preserving", None)])
def test_layer_with_ordered_aggregation_exports_with_dynamic_sizes(aggr, kwargs):
    """gnnx.export.export (dynamic node and edge counts) of a SAGEConv with these aggregations
    equals eager at other sizes."""
    import gnnx

    conv = G.SAGEConv(F, 8, aggr=aggr, aggr_kwargs=kwargs).eval()
    g = torch.Generator().manual_seed(0)
    program = gnnx.export.export(conv, (torch.randn(12, F, generator=g), torch.randint(0, 12, (2, 40), generator=g)))
    run = program.module()
    for nodes, edges in ((5, 9), (60, 300)):
        x, ei = torch.randn(nodes, F, generator=g), torch.randint(0, nodes, (2, edges), generator=g)
        torch.testing.assert_close(run(x, ei), conv(x, ei), atol=1e-5, rtol=1e-5)
