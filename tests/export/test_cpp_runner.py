"""The C++ runner (cpp/, built with CMake against the installed torch) runs the package."""
import subprocess

import numpy as np
import pytest
import torch
from conftest import write_graph

from cases import random_graph


@pytest.mark.slow
@pytest.mark.parametrize("size", [(0, 0), (1, 0), (1, 3), (5, 0), (2, 1), (300, 2000)])
def test_cpp_runner_equals_python(cpp_runner, sage_package, sage_model, tmp_path, size):
    x, edge_index, _, _ = random_graph(*size, seed=size[0])
    files = write_graph(tmp_path, x, edge_index)
    out = tmp_path / "out.npy"
    result = subprocess.run([cpp_runner, sage_package, str(out)] + files, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    with torch.no_grad():
        expected = sage_model(x, edge_index)
    torch.testing.assert_close(torch.from_numpy(np.load(out)), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize(
    "x_shape, edge_index, message",
    [
        ((10, 5), [[0, 1], [1, 2]], "x: dimension 1 must be 8"),
        ((10, 8), [[0, 1], [1, 12]], "edge_index: node index 12 is outside"),
        ((10, 8), [[0, -1], [1, 2]], "edge_index: node index -1 is outside"),
        ((10, 8), [[0, 1, 2]], "edge_index: dimension 0 must be 2"),
    ],
)
def test_cpp_runner_reports_bad_input(cpp_runner, sage_package, tmp_path, x_shape, edge_index, message):
    files = write_graph(tmp_path, torch.randn(*x_shape), torch.tensor(edge_index, dtype=torch.long))
    result = subprocess.run([cpp_runner, sage_package, str(tmp_path / "o.npy")] + files, capture_output=True, text=True)
    assert result.returncode == 2 and message in result.stderr, result.stderr


@pytest.mark.slow
def test_cpp_runner_reports_wrong_dtype_and_missing_file(cpp_runner, sage_package, tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((4, 8), dtype=np.float32))
    np.save(tmp_path / "e.npy", np.zeros((2, 3), dtype=np.float32))
    result = subprocess.run([cpp_runner, sage_package, str(tmp_path / "o.npy"), str(tmp_path / "x.npy"),
                             str(tmp_path / "e.npy")], capture_output=True, text=True)
    assert result.returncode == 2 and "edge_index: expected dtype int64, got float32" in result.stderr
    result = subprocess.run([cpp_runner, sage_package, str(tmp_path / "o.npy"), str(tmp_path / "nope.npy")],
                            capture_output=True, text=True)
    assert result.returncode != 0 and "nope.npy" in result.stderr


@pytest.mark.slow
def test_cpp_runner_runs_a_heterogeneous_package(cpp_runner, hetero_package, hetero_model, tmp_path):
    """One .npy per type, in the package's order; one output file per node type."""
    import gnnx.export
    from cases import random_hetero_graph

    loaded = gnnx.export.load_package(hetero_package)
    x_dict, edge_index_dict = random_hetero_graph(30, 11, 70, seed=4)
    files = []
    for spec, value in zip(loaded.metadata["inputs"], loaded.flatten((x_dict, edge_index_dict))):
        files.append(str(tmp_path / f"{spec['name']}.npy"))
        np.save(files[-1], value.numpy())
    result = subprocess.run([cpp_runner, hetero_package, str(tmp_path / "out.npy")] + files,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    with torch.no_grad():
        expected = hetero_model(x_dict, edge_index_dict)
    for node_type in ("paper", "author"):
        out = torch.from_numpy(np.load(tmp_path / f"out__{node_type}.npy"))
        torch.testing.assert_close(out, expected[node_type], rtol=1e-4, atol=1e-5)
    bad = edge_index_dict[("author", "writes", "paper")].clone()
    bad[0, 0] = 11
    np.save(files[-1], bad.numpy())
    result = subprocess.run([cpp_runner, hetero_package, str(tmp_path / "o.npy")] + files, capture_output=True,
                            text=True)
    assert result.returncode == 2
    assert "edge_index__author__writes__paper: source index 11 is outside [0, 11) for 11 'author' nodes" \
        in result.stderr


@pytest.mark.slow
def test_cpp_packaged_model_runs_the_package_through_the_cpp_loader(cpp_runner, sage_package, sage_model):
    """load_package_cpp: one long-lived `gnnx_run --serve` child, the PackagedModel interface."""
    from gnnx.export import InputError, load_package_cpp

    model = load_package_cpp(sage_package, cpp_runner)
    assert model.metadata["inputs"][0]["name"] == "x"
    try:
        for size in [(0, 0), (1, 0), (300, 2000), (57, 400)]:
            x, edge_index, _, _ = random_graph(*size, seed=size[0])
            with torch.no_grad():
                expected = sage_model(x, edge_index)
            torch.testing.assert_close(model(x, edge_index), expected, rtol=1e-4, atol=1e-5)
            torch.testing.assert_close(model.run_flat(x, edge_index)[0], expected, rtol=1e-4, atol=1e-5)
        with pytest.raises(InputError, match="node index 12 is outside"):
            model(torch.randn(10, 8), torch.tensor([[0, 1], [1, 12]]))
        x, edge_index, _, _ = random_graph(20, 50, seed=3)
        model(x, edge_index)  # still serving after a bad request
        model._process.kill()
        with pytest.raises(RuntimeError, match="gnnx_run stopped"):
            model(x, edge_index)
    finally:
        model.close()


@pytest.mark.slow
def test_cpp_packaged_model_returns_per_type_outputs(cpp_runner, hetero_package, hetero_model):
    from cases import random_hetero_graph
    from gnnx.export import load_package_cpp

    model = load_package_cpp(hetero_package, cpp_runner)
    try:
        x_dict, edge_index_dict = random_hetero_graph(9, 4, 15, seed=2)
        got = model(x_dict, edge_index_dict)
        with torch.no_grad():
            expected = hetero_model(x_dict, edge_index_dict)
        assert set(got) == set(expected)
        for node_type, value in expected.items():
            torch.testing.assert_close(got[node_type], value, rtol=1e-4, atol=1e-5)
    finally:
        model.close()
