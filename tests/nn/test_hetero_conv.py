"""HeteroConv equal to PyG's (values, state_dict keys, repr), with per-edge-type keyword
dicts, and compiled on dict inputs without recompiling over three size sets."""
import sys

import pytest
import torch

import gnnx.nn as G

P = pytest.importorskip("torch_geometric.nn")


def _inputs(seed=0, papers=30, authors=12, writes=50, cites=60):
    g = torch.Generator().manual_seed(seed)
    x_dict = {"paper": torch.randn(papers, 8, generator=g), "author": torch.randn(authors, 4, generator=g)}
    writes_index = torch.stack([torch.randint(0, authors, (writes,), generator=g),
                                torch.randint(0, papers, (writes,), generator=g)])
    edge_index_dict = {("author", "writes", "paper"): writes_index,
                       ("paper", "cites", "paper"): torch.randint(0, papers, (2, cites), generator=g),
                       ("paper", "rev_writes", "author"): writes_index.flip(0)}
    edge_attr_dict = {("author", "writes", "paper"): torch.randn(writes, 3, generator=g)}
    return x_dict, edge_index_dict, edge_attr_dict


def _convs(M):
    torch.manual_seed(0)
    return {("author", "writes", "paper"): M.GATConv((4, 8), 16, edge_dim=3, add_self_loops=False),
            ("paper", "cites", "paper"): M.GCNConv(8, 16),
            ("paper", "rev_writes", "author"): M.SAGEConv((8, 4), 16)}


@pytest.mark.parametrize("aggr", ["sum", "mean", "max", "cat", None])
def test_hetero_conv_equals_pyg(aggr):
    pyg, ours = P.HeteroConv(_convs(P), aggr=aggr), G.HeteroConv(_convs(G), aggr=aggr)
    assert list(ours.state_dict()) == list(pyg.state_dict()) and repr(ours) == repr(pyg)
    ours.load_state_dict(pyg.state_dict())
    x_dict, edge_index_dict, edge_attr_dict = _inputs()
    expected = pyg(x_dict, edge_index_dict, edge_attr_dict=edge_attr_dict)
    actual = ours(x_dict, edge_index_dict, edge_attr_dict=edge_attr_dict)
    assert set(actual) == set(expected)
    for node_type in expected:
        torch.testing.assert_close(actual[node_type], expected[node_type], atol=1e-5, rtol=1e-5)


def test_hetero_conv_compiles_on_dict_inputs_without_recompiling():
    torch._dynamo.reset()
    conv = G.HeteroConv(_convs(G))
    compiled = torch.compile(conv, fullgraph=True, dynamic=True)
    for i, sizes in enumerate([(30, 12, 50, 60), (41, 17, 90, 70), (55, 9, 120, 130)]):
        x_dict, edge_index_dict, edge_attr_dict = _inputs(i, *sizes)
        with torch._dynamo.config.patch(error_on_recompile=i == 2):
            out = compiled(x_dict, edge_index_dict, edge_attr_dict=edge_attr_dict)
        expected = conv(x_dict, edge_index_dict, edge_attr_dict=edge_attr_dict)
        for node_type in expected:
            torch.testing.assert_close(out[node_type], expected[node_type], atol=1e-5, rtol=1e-5)


def test_hetero_linear_equals_pyg_and_compiles():
    pyg, ours = P.HeteroLinear(8, 5, num_types=3), G.HeteroLinear(8, 5, num_types=3)
    ours.load_state_dict(pyg.state_dict())
    assert repr(ours) == repr(pyg) and list(ours.state_dict()) == list(pyg.state_dict())
    g = torch.Generator().manual_seed(0)
    x, type_vec = torch.randn(40, 8, generator=g), torch.randint(0, 3, (40,), generator=g)
    torch.testing.assert_close(ours(x, type_vec), pyg(x, type_vec), atol=1e-5, rtol=1e-5)
    compiled = torch.compile(ours, fullgraph=True, dynamic=True)
    torch.testing.assert_close(compiled(x, type_vec), ours(x, type_vec), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("in_channels", [{"paper": 8, "author": 4}, -1])
def test_hetero_dict_linear_equals_pyg(in_channels):
    x_dict, _, _ = _inputs()
    types = None if isinstance(in_channels, dict) else ["paper", "author"]
    pyg, ours = P.HeteroDictLinear(in_channels, 6, types=types), G.HeteroDictLinear(in_channels, 6, types=types)
    expected = pyg(x_dict)
    ours.load_state_dict(pyg.state_dict())
    assert list(ours.state_dict()) == list(pyg.state_dict())
    actual = ours(x_dict)
    for key in expected:
        torch.testing.assert_close(actual[key], expected[key], atol=1e-5, rtol=1e-5)


def test_hetero_linear_exports_with_a_dynamic_row_count():
    import gnnx

    lin = G.HeteroLinear(8, 5, num_types=3)
    g = torch.Generator().manual_seed(1)
    program = gnnx.export.export(lin, (torch.randn(20, 8, generator=g), torch.randint(0, 3, (20,), generator=g)),
                                 input_names=("x", "batch"))  # type_vec has one entry per row, as a batch vector
    for rows in (4, 70):
        x, types = torch.randn(rows, 8, generator=g), torch.randint(0, 3, (rows,), generator=g)
        torch.testing.assert_close(program.module()(x, types), lin(x, types), atol=1e-5, rtol=1e-5)


def test_a_relation_whose_source_type_has_no_features_is_named():
    conv = G.HeteroConv(_convs(G))
    x_dict, edge_index_dict, edge_attr_dict = _inputs()
    del x_dict["author"]
    with pytest.raises(ValueError, match=r"\('author', 'writes', 'paper'\).*no 'author'"):
        conv(x_dict, edge_index_dict, edge_attr_dict=edge_attr_dict)


@pytest.mark.skipif(sys.version_info < (3, 11), reason="exception notes need Python 3.11")
def test_an_error_in_a_relation_layer_names_the_relation():
    conv = G.HeteroConv(_convs(G))
    x_dict, edge_index_dict, edge_attr_dict = _inputs()
    x_dict["author"] = torch.randn(12, 5)  # the layers take 4 features per author
    with pytest.raises(RuntimeError) as info:
        conv(x_dict, edge_index_dict, edge_attr_dict=edge_attr_dict)
    assert "in HeteroConv's layer for the relation ('author', 'writes', 'paper')" in info.value.__notes__


def test_hetero_linear_names_bad_type_vectors():
    lin, x = G.HeteroLinear(8, 5, num_types=3), torch.randn(4, 8)
    with pytest.raises(ValueError, match=r"outside \[0, 3\)"):
        lin(x, torch.tensor([0, 1, 3, 2]))
    with pytest.raises(ValueError, match="integer tensor with one type per row"):
        lin(x, torch.tensor([0.0, 1, 2, 2]))
    with pytest.raises(ValueError, match="one type per row of x \\(4\\)"):
        lin(x, torch.tensor([0, 1]))
