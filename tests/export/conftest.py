"""One AOTInductor CPU package shared by the package, C++ runner and server tests
(a compile costs 15-20 s on 2 cores)."""
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


def write_graph(folder, x, edge_index):
    np.save(folder / "x.npy", x.numpy())
    np.save(folder / "edge_index.npy", edge_index.numpy())
    return [str(folder / "x.npy"), str(folder / "edge_index.npy")]
