"""gnnx.export: named dynamic sizes, metadata, loading without the class, input checks."""
import subprocess
import sys

import pytest
import torch

import gnnx.export
from cases import IN, random_graph
from gnnx.export.checks import InputError
from gnnx.nn import GCN


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    model = GCN(IN, 16, 2, 3).eval()
    x, edge_index, edge_weight, _ = random_graph(10, 30)
    program = gnnx.export.export(model, (x, edge_index, edge_weight))
    path = str(tmp_path_factory.mktemp("export") / "gcn.pt2")
    metadata = gnnx.export.save(program, path)
    return model, path, metadata


def test_metadata_names_inputs_sizes_and_versions(saved):
    _, _, metadata = saved
    assert [i["name"] for i in metadata["inputs"]] == ["x", "edge_index", "edge_weight"]
    assert metadata["inputs"][0]["shape"] == [-1, IN] and metadata["inputs"][1]["shape"] == [2, -1]
    assert metadata["outputs"][0]["shape"] == [-1, 3]
    assert metadata["minimum_sizes"] == {"num_nodes": 0, "num_edges": 0}  # an empty graph is valid input
    assert metadata["torch_version"] == torch.__version__


@pytest.mark.parametrize("size", [(0, 0), (1, 0), (2, 1), (17, 40), (20000, 80000)])
def test_loaded_program_equals_eager(saved, size):
    model, path, _ = saved
    loaded = gnnx.export.load(path)
    x, edge_index, edge_weight, _ = random_graph(*size, seed=size[0])
    with torch.no_grad():
        torch.testing.assert_close(loaded(x, edge_index, edge_weight), model(x, edge_index, edge_weight),
                                   rtol=1e-4, atol=1e-5)


def test_loads_in_a_process_without_gnnx_models(saved, tmp_path):
    _, path, _ = saved
    code = (
        "import sys, torch; p = torch.export.load(sys.argv[1]); "
        "x = torch.randn(5, %d); e = torch.tensor([[0, 1, 2], [1, 2, 3]]); w = torch.ones(3); "
        "print(tuple(p.module()(x, e, w).shape))" % IN
    )
    out = subprocess.run([sys.executable, "-c", code, path], capture_output=True, text=True, check=True,
                         cwd=tmp_path)
    assert out.stdout.strip() == "(5, 3)"


@pytest.mark.parametrize(
    "mutate, match",
    [
        (lambda x, e, w: (x[:, :3], e, w), "dimension 1 must be 8"),
        (lambda x, e, w: (x, e.float(), w), "expected dtype int64"),
        (lambda x, e, w: (x, e.int(), w), "expected dtype int64, got int32"),
        (lambda x, e, w: (x, e[0], w), "expected 2 dimensions"),
        (lambda x, e, w: (x, e + 100, w), "node index 109 is outside"),
        (lambda x, e, w: (x, e - 100, w), "node index -100 is outside"),
        (lambda x, e, w: (x, e, w[:2]), "num_edges is 2 here but 30"),
        (lambda x, e, w: (x * float("nan"), e, w), "NaN"),
        (lambda x, e, w: (x, e), "expected 3 inputs"),
    ],
)
def test_bad_inputs_are_named(saved, mutate, match):
    _, path, _ = saved
    loaded = gnnx.export.load(path)
    x, edge_index, edge_weight, _ = random_graph(10, 30)
    with pytest.raises(InputError, match=match):
        loaded(*mutate(x, edge_index, edge_weight))


def test_a_program_refuses_graphs_below_its_minimum_sizes(tmp_path):
    """A program exported for at least 2 nodes and 1 edge (a trace may need it) says so."""
    model = GCN(IN, 8, 1, 2).eval()
    x, edge_index, edge_weight, _ = random_graph(10, 30)
    path = str(tmp_path / "gcn2.pt2")
    gnnx.export.save(gnnx.export.export(model, (x, edge_index, edge_weight), min_nodes=2, min_edges=1), path)
    loaded = gnnx.export.load(path)
    with pytest.raises(InputError, match="this program needs num_nodes >= 2, got 1"):
        loaded(x[:1], edge_index[:, :1] * 0, edge_weight[:1])
