"""``to_hetero_with_bases`` against PyG's: keys, repr, the same draws for the same seed, values
and gradients with aligned input widths; compiled without recompiles and exported with dynamic
per-type sizes; a layer that adds self loops is refused as in PyG."""
import warnings

import pytest
import torch

import gnnx
import gnnx.nn as G


def _gnn(lib, first="SAGEConv"):
    class GNN(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = getattr(lib, first)(16, 32)
            self.conv2 = lib.GraphConv(32, 8)

        def forward(self, x, edge_index):
            return self.conv2(self.conv1(x, edge_index).relu(), edge_index)

    return GNN()


def _inputs(papers=10, authors=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = {"paper": torch.randn(papers, 16, generator=g), "author": torch.randn(authors, 12, generator=g)}

    def edges(src, dst, count):
        return torch.stack([torch.randint(src, (count,), generator=g), torch.randint(dst, (count,), generator=g)])

    edge_index = {("paper", "cites", "paper"): edges(papers, papers, 3 * papers),
                  ("author", "writes", "paper"): edges(authors, papers, 2 * papers),
                  ("paper", "rev_writes", "author"): edges(papers, authors, 2 * papers)}
    return x, edge_index


def _pair(num_bases, seed=0):
    P = pytest.importorskip("torch_geometric.nn")
    x, edge_index = _inputs()
    metadata = (list(x), list(edge_index))
    models = []
    for lib in (P, G):
        torch.manual_seed(seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = lib.to_hetero_with_bases(_gnn(lib), metadata, num_bases=num_bases, in_channels={"x": 16})
        torch.manual_seed(seed + 1)
        with torch.no_grad():
            model(x, edge_index)  # the lazy alignment layers
        models.append(model)
    return models


@pytest.mark.parametrize("num_bases", [1, 3])
def test_equals_pyg_with_its_keys_draws_values_and_gradients(num_bases):
    pyg, ours = _pair(num_bases)
    assert set(ours.state_dict()) == set(pyg.state_dict())
    assert repr(ours.conv1) == repr(pyg.conv1) and repr(ours.align_lin__x) == repr(pyg.align_lin__x)
    if num_bases > 1:  # the same draws (PyG leaves one basis' relation weights uninitialised)
        for key, value in pyg.state_dict().items():
            assert torch.equal(ours.state_dict()[key], value), key
    else:  # PyG's uninitialised memory given ours (drawn)
        pyg.load_state_dict({**pyg.state_dict(), **{k: v for k, v in ours.state_dict().items() if "edge_type" in k}})
    ours.load_state_dict(pyg.state_dict())
    x, edge_index = _inputs(seed=3)
    expected, got = pyg(x, edge_index), ours(x, edge_index)
    assert got.keys() == expected.keys()
    for key in expected:
        torch.testing.assert_close(got[key], expected[key], rtol=1e-5, atol=1e-5)
    sum(v.square().sum() for v in expected.values()).backward()
    sum(v.square().sum() for v in got.values()).backward()
    theirs = dict(pyg.named_parameters())
    for name, param in ours.named_parameters():
        torch.testing.assert_close(param.grad, theirs[name].grad, rtol=1e-4, atol=1e-5)


def test_compiles_without_recompiling_and_exports_with_dynamic_sizes():
    _, ours = _pair(2)
    compiled = torch.compile(ours, fullgraph=True, dynamic=True)
    for i, (papers, authors) in enumerate([(10, 6), (17, 9), (25, 4)]):
        x, edge_index = _inputs(papers, authors, seed=i)
        with torch._dynamo.config.patch(error_on_recompile=i > 1), torch.no_grad():
            got, expected = compiled(x, edge_index), ours(x, edge_index)
        for key in expected:
            torch.testing.assert_close(got[key], expected[key], rtol=1e-5, atol=1e-5)
    program = gnnx.export.export(ours, _inputs())
    x, edge_index = _inputs(31, 7, seed=5)
    with torch.no_grad():
        got, expected = program.module()(x, edge_index), ours(x, edge_index)
    for key in expected:
        torch.testing.assert_close(got[key], expected[key], rtol=1e-5, atol=1e-5)


def test_a_layer_adding_self_loops_is_refused_as_in_pyg():
    x, edge_index = _inputs()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = G.to_hetero_with_bases(_gnn(G, "GCNConv"), (list(x), list(edge_index)), num_bases=2,
                                       in_channels={"x": 16})
    with pytest.raises(ValueError, match="self-loops"):
        model(x, edge_index)
    with pytest.raises(ValueError, match="x lacks \\['author'\\]"):
        model({"paper": x["paper"]}, edge_index)
    with pytest.raises(ValueError, match="num_bases"):
        G.to_hetero_with_bases(_gnn(G), (list(x), list(edge_index)), num_bases=0)
