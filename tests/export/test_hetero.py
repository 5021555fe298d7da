"""Heterogeneous models leave Python: dict inputs exported with a dynamic size per node and
edge type, saved and loaded, AOTInductor-packaged, checked per type."""
import pytest
import torch

import gnnx.export
from cases import IN, random_hetero_graph
from gnnx.export import InputError

SIZES = [(0, 3, 0), (1, 1, 0), (2, 5, 1), (40, 13, 120), (3000, 700, 9000)]  # (papers, authors, edges per relation)


@pytest.fixture(scope="module")
def saved(hetero_model, tmp_path_factory):
    program = gnnx.export.export(hetero_model, random_hetero_graph(10, 7, 20))
    path = str(tmp_path_factory.mktemp("hetero") / "hetero.pt2")
    return gnnx.export.save(program, path), gnnx.export.load(path)


def _assert_dicts_close(actual, expected):
    assert list(actual) == list(expected)
    for key in expected:
        torch.testing.assert_close(actual[key], expected[key], rtol=1e-4, atol=1e-5, msg=lambda m: f"{key}: {m}")


def test_metadata_names_every_type(saved):
    metadata, _ = saved
    names = [i["name"] for i in metadata["inputs"]]
    assert names == ["x__paper", "x__author", "edge_index__paper__cites__paper",
                     "edge_index__paper__written_by__author", "edge_index__author__writes__paper"]
    assert metadata["inputs"][3]["index_counts"] == ["num_nodes__paper", "num_nodes__author"]
    assert [o["name"] for o in metadata["outputs"]] == ["out__paper", "out__author"]
    assert set(metadata["minimum_sizes"].values()) == {0}  # empty types and relations are valid


@pytest.mark.parametrize("sizes", SIZES)
def test_loaded_program_equals_eager_at_every_size(saved, hetero_model, sizes):
    _, loaded = saved
    inputs = random_hetero_graph(*sizes, seed=sizes[0])
    with torch.no_grad():
        _assert_dicts_close(loaded(*inputs), hetero_model(*inputs))


def test_dict_order_of_the_caller_does_not_matter(saved, hetero_model):
    _, loaded = saved
    x_dict, edge_index_dict = random_hetero_graph(12, 5, 30)
    reversed_inputs = (dict(reversed(list(x_dict.items()))), dict(reversed(list(edge_index_dict.items()))))
    with torch.no_grad():
        _assert_dicts_close(loaded(*reversed_inputs), hetero_model(x_dict, edge_index_dict))


WRITES = ("author", "writes", "paper")


def _damage(what):
    x_dict, edge_index_dict = random_hetero_graph(10, 7, 20)
    x_dict, edge_index_dict = dict(x_dict), dict(edge_index_dict)
    if what == "source":
        edge_index_dict[WRITES] = edge_index_dict[WRITES].clone()
        edge_index_dict[WRITES][0, 3] = 7
    elif what == "destination":
        edge_index_dict[WRITES] = edge_index_dict[WRITES].clone()
        edge_index_dict[WRITES][1, 3] = -1
    elif what == "width":
        x_dict["author"] = x_dict["author"][:, :3]
    elif what == "missing":
        del x_dict["author"]
    elif what == "unknown":
        edge_index_dict[("author", "likes", "paper")] = edge_index_dict[WRITES]
    elif what == "nan":
        x_dict["paper"] = x_dict["paper"].clone()
        x_dict["paper"][0, 0] = float("nan")
    return x_dict, edge_index_dict


@pytest.mark.parametrize("what, match", [
    ("source", "edge_index__author__writes__paper: source index 7 is outside \\[0, 7\\) for 7 'author' nodes"),
    ("destination", "edge_index__author__writes__paper: destination index -1 is outside \\[0, 10\\) for 10 'paper'"),
    ("width", f"x__author: dimension 1 must be {IN}"),
    ("missing", "x__author: no entry for type 'author'"),
    ("unknown", "types \\[\\('author', 'likes', 'paper'\\)\\] are not inputs"),
    ("nan", "x__paper: contains NaN"),
])
def test_bad_per_type_inputs_are_named(saved, what, match):
    _, loaded = saved
    with pytest.raises(InputError, match=match):
        loaded(*_damage(what))


@pytest.mark.slow
def test_package_equals_eager_and_runs_flat(hetero_package, hetero_model):
    loaded = gnnx.export.load_package(hetero_package)
    for sizes in SIZES[:4]:
        inputs = random_hetero_graph(*sizes, seed=sizes[1])
        with torch.no_grad():
            expected = hetero_model(*inputs)
            _assert_dicts_close(loaded(*inputs), expected)
            flat = loaded.run_flat(*loaded.flatten(inputs))  # what the C++ runner and the server see
        for out, key in zip(flat, expected):
            torch.testing.assert_close(out, expected[key], rtol=1e-4, atol=1e-5)
    with pytest.raises(InputError, match="source index 7"):
        loaded(*_damage("source"))


def test_example_with_an_empty_relation_and_a_single_node_type_exports(hetero_model):
    """A sampled batch often lacks a relation or has one node of a type: the example is
    widened for the trace, and the program still takes every size."""
    x_dict, edge_index_dict = random_hetero_graph(10, 1, 20)
    edge_index_dict[("paper", "cites", "paper")] = edge_index_dict[("paper", "cites", "paper")][:, :0]
    program = gnnx.export.export(hetero_model, (x_dict, edge_index_dict))
    for sizes in [(0, 1, 0), (17, 1, 30), (50, 20, 90)]:
        inputs = random_hetero_graph(*sizes, seed=sizes[2])
        with torch.no_grad():
            _assert_dicts_close(program.module()(*inputs), hetero_model(*inputs))


def test_a_layer_whose_forward_takes_varargs_exports_with_dynamic_type_sizes(tmp_path):
    """PyG's ``HeteroConv.forward(*args_dict)`` names no inputs: they are named by what they
    hold (node-type dict ``x_dict``, edge-type dict of ``[2, E]`` ``edge_index_dict``), so every
    per-type size is dynamic and checked, where the export was silently static before."""
    from cases import HETERO_METADATA

    torch.manual_seed(0)
    conv = gnnx.nn.HeteroConv({e: gnnx.nn.SAGEConv((-1, -1), 16) for e in HETERO_METADATA[1]}, aggr="mean").eval()
    with torch.no_grad():
        conv(*random_hetero_graph(9, 5, 20))  # lazy widths
    path = str(tmp_path / "conv.pt2")
    gnnx.export.save(gnnx.export.export(conv, random_hetero_graph(10, 6, 25)), path)
    loaded = gnnx.export.load(path)
    assert [spec["name"] for spec in loaded.metadata["inputs"]] == [
        "x__paper", "x__author", "edge_index__paper__cites__paper", "edge_index__paper__written_by__author",
        "edge_index__author__writes__paper"]
    for sizes in [(1, 1, 0), (40, 13, 120)]:
        inputs = random_hetero_graph(*sizes, seed=sizes[0])
        with torch.no_grad():
            _assert_dicts_close(loaded(*inputs), conv(*inputs))
    x_dict, edge_index_dict = random_hetero_graph(40, 13, 120)
    edge_index_dict[("author", "writes", "paper")][0, 0] = 13
    with pytest.raises(InputError, match="edge_index__author__writes__paper: source index 13"):
        loaded(x_dict, edge_index_dict)


class _TwoLayerGNN(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = gnnx.nn.SAGEConv(IN, 16)
        self.conv2 = gnnx.nn.GraphConv(16, 16)

    def forward(self, x, edge_index):
        return self.conv2(self.conv1(x, edge_index).relu(), edge_index)


class _HeteroLayers(torch.nn.Module):
    """HGTConv, HANConv, MLPerf's R-GAT layer (HeteroConv of bipartite GATConvs, run grouped:
    gnnx/nn/hetero_gat.py) and R-GCN's basis decomposition (``to_hetero_with_bases``) side by
    side: one package holds the heterogeneous layers that are not ``to_hetero`` of a plain
    model (that one is ``hetero_package``)."""

    def __init__(self):
        super().__init__()
        from cases import HETERO_METADATA

        self.hgt = gnnx.nn.HGTConv(IN, 16, HETERO_METADATA, heads=2)
        self.han = gnnx.nn.HANConv(IN, 16, HETERO_METADATA, heads=2)
        self.rgat = gnnx.nn.HeteroConv({e: gnnx.nn.GATConv((-1, -1), 8, heads=2, add_self_loops=False)
                                        for e in HETERO_METADATA[1]})
        self.bases = gnnx.nn.to_hetero_with_bases(_TwoLayerGNN(), HETERO_METADATA, num_bases=2)

    def forward(self, x_dict, edge_index_dict):
        hgt, han = self.hgt(x_dict, edge_index_dict), self.han(x_dict, edge_index_dict)
        rgat, bases = self.rgat(x_dict, edge_index_dict), self.bases(x_dict, edge_index_dict)
        return {key: hgt[key] + (han[key] if han.get(key) is not None else 0) + rgat[key] + bases[key] for key in hgt}


@pytest.mark.slow
def test_heterogeneous_layers_inside_a_package_equal_eager(tmp_path, monkeypatch):
    from gnnx.nn import hetero_gat

    monkeypatch.setattr(hetero_gat, "ENABLED", True)  # the grouped R-GAT path, as on CUDA
    torch.manual_seed(5)
    model = _HeteroLayers().eval()
    with torch.no_grad():
        model(*random_hetero_graph(5, 4, 8))  # lazy widths
    program = gnnx.export.export(model, random_hetero_graph(10, 7, 20))
    loaded = gnnx.export.load_package(gnnx.export.compile_package(program, str(tmp_path / "layers.pt2")))
    for sizes in SIZES[1:4]:
        inputs = random_hetero_graph(*sizes, seed=sizes[0])
        with torch.no_grad():
            expected = model(*inputs)
            _assert_dicts_close(program.module()(*inputs), expected)
            _assert_dicts_close(loaded(*inputs), expected)
