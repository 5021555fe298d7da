"""AOTInductor CPU packages shared by the package, C++ runner and server tests (a compile
costs 15-20 s on 2 cores): a homogeneous GraphSAGE and a heterogeneous one (to_hetero)."""
import os
import subprocess

import numpy as np
import pytest
import torch

import gnnx.export
from cases import IN
from gnnx.nn import GraphSAGE

OUT = 3


@pytest.fixture(scope="session")
def sage_model():
    torch.manual_seed(0)
    return GraphSAGE(IN, 16, 2, OUT).eval()


@pytest.fixture(scope="session")
def sage_package(sage_model, tmp_path_factory):
    from cases import random_graph

    x, edge_index, _, _ = random_graph(10, 30)
    path = str(tmp_path_factory.mktemp("package") / "sage.pt2")
    return gnnx.export.compile_package(sage_model, path, (x, edge_index))


@pytest.fixture(scope="session")
def cpp_runner(tmp_path_factory):
    """Build cpp/ (CMake against the installed torch) once per session."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    build = tmp_path_factory.mktemp("cpp-build")
    prefix = torch.utils.cmake_prefix_path
    subprocess.run(["cmake", "-S", os.path.join(root, "cpp"), "-B", str(build), f"-DCMAKE_PREFIX_PATH={prefix}",
                    "-DCMAKE_BUILD_TYPE=Release"], check=True, capture_output=True)
    subprocess.run(["cmake", "--build", str(build), "-j2"], check=True, capture_output=True)
    return str(build / "gnnx_run")


@pytest.fixture(scope="session")
def hetero_model():
    from cases import HETERO_METADATA, random_hetero_graph
    from gnnx.nn import to_hetero

    torch.manual_seed(0)
    model = to_hetero(GraphSAGE(IN, 16, 2, OUT), HETERO_METADATA, aggr="mean").eval()
    with torch.no_grad():
        model(*random_hetero_graph(5, 4, 8))
    return model


@pytest.fixture(scope="session")
def hetero_package(hetero_model, tmp_path_factory):
    from cases import random_hetero_graph

    path = str(tmp_path_factory.mktemp("package") / "hetero.pt2")
    return gnnx.export.compile_package(hetero_model, path, random_hetero_graph(10, 7, 20))


def write_graph(folder, x, edge_index):
    np.save(folder / "x.npy", x.numpy())
    np.save(folder / "edge_index.npy", edge_index.numpy())
    return [str(folder / "x.npy"), str(folder / "edge_index.npy")]
