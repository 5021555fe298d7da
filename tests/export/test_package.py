"""AOTInductor packages: portable CPU code, gnnx metadata inside, input checks, plain ATen."""
import pytest
import torch

import gnnx.export
from cases import IN, random_graph
from gnnx.export import InputError


def test_package_metadata_and_portable_isa(sage_package):
    loaded = gnnx.export.load_package(sage_package)
    assert loaded.metadata["aoti"]["AOTI_CPU_ISA"] == "AVX2"
    assert [i["name"] for i in loaded.metadata["inputs"]] == ["x", "edge_index"]
    assert loaded.metadata["inputs"][0]["shape"] == [-1, IN]
    assert loaded.metadata["torch_version"] == torch.__version__


@pytest.mark.parametrize("size", [(0, 0), (1, 0), (1, 2), (6, 0), (2, 1), (50, 200), (20000, 90000)])
def test_package_equals_eager(sage_model, sage_package, size):
    loaded = gnnx.export.load_package(sage_package)
    x, edge_index, _, _ = random_graph(*size, seed=size[0])
    with torch.no_grad():
        torch.testing.assert_close(loaded(x, edge_index), sage_model(x, edge_index), rtol=1e-4, atol=1e-5)


def test_package_takes_any_layout(sage_model, sage_package):
    """Transposed, strided and expanded inputs (e.g. ``torch.from_numpy(a).t()``) give the
    eager answer: the loader makes them contiguous for the package."""
    loaded = gnnx.export.load_package(sage_package)
    x, edge_index, _, _ = random_graph(40, 160, seed=3)
    wide = torch.randn(40, 2 * IN)
    layouts = [
        (x, edge_index.t().contiguous().t()),                        # column-major edge_index
        (wide[:, ::2], edge_index),                                    # strided features
        (torch.randn(1, IN).expand(40, IN), edge_index),               # expanded features
        (x, torch.cat([edge_index, edge_index], 1)[:, ::2]),           # strided edge_index
    ]
    with torch.no_grad():
        for features, edges in layouts:
            torch.testing.assert_close(loaded(features, edges), sage_model(features.contiguous(), edges.contiguous()),
                                       rtol=1e-4, atol=1e-5)


def test_package_checks_inputs(sage_package):
    loaded = gnnx.export.load_package(sage_package)
    x, edge_index, _, _ = random_graph(10, 30)
    with pytest.raises(InputError, match="dimension 1 must be 8"):
        loaded(x[:, :4], edge_index)
    with pytest.raises(InputError, match="node index 10 is outside"):
        loaded(x, torch.cat([edge_index, torch.tensor([[0], [10]])], 1))


def test_cpu_package_refuses_python_custom_ops(tmp_path):
    program = torch.export.export(_CustomOpModule(), (torch.randn(3, 2),))
    assert gnnx.export.foreign_ops(program) == ["gnnx_test.double.default"]
    with pytest.raises(ValueError, match="only ATen ops"):
        gnnx.export.compile_package(program, str(tmp_path / "bad.pt2"))


@torch.library.custom_op("gnnx_test::double", mutates_args=())
def _double(x: torch.Tensor) -> torch.Tensor:
    return x * 2


@_double.register_fake
def _(x):
    return torch.empty_like(x)


class _CustomOpModule(torch.nn.Module):
    def forward(self, x):
        return _double(x)


@pytest.mark.slow
def test_cpp_only_package_holds_sources_and_cmake(sage_model, tmp_path):
    import zipfile

    path = gnnx.export.compile_package(sage_model, str(tmp_path / "src.pt2"), random_graph(10, 30)[:2],
                                       cpp_only=True)
    names = zipfile.ZipFile(path).namelist()
    assert any(n.endswith("CMakeLists.txt") for n in names) and any(n.endswith(".cpp") for n in names)
    assert not any(n.endswith(".so") for n in names)


@pytest.mark.slow
def test_metadata_reads_without_loading_and_the_loader_probe(sage_package, hetero_package):
    """gnnx serve reads a package's metadata from the archive (a crashing loader cannot take it
    down) and probes torch's Python loader in a child process before choosing a route."""
    from gnnx.export import load_package, package_metadata
    from gnnx.export.package import python_loader_fails

    for path in (sage_package, hetero_package):
        assert package_metadata(path) == load_package(path).metadata
    assert python_loader_fails(sage_package) == ""
    with pytest.raises(ValueError, match="no AOTInductor model metadata"):
        import zipfile

        broken = sage_package + ".empty.zip"
        zipfile.ZipFile(broken, "w").close()
        package_metadata(broken)


_STATIC_GXX = """#!/bin/sh
# g++ that links libstdc++ statically into shared libraries, as the lent GPU image's compiler does
case " $* " in *" -shared "*) exec {gxx} "$@" -static-libstdc++ ;; esac
exec {gxx} "$@"
"""

_LOAD = """
import sys, torch
from gnnx.export.package import aoti_load
load = aoti_load if sys.argv[2] == "gnnx" else torch._inductor.aoti_load_package
print(float(load(sys.argv[1])(torch.ones(5, 8)).sum()))
"""


@pytest.mark.slow
def test_package_built_with_static_libstdcxx_loads(tmp_path):
    """A package whose wrapper holds its own copy of libstdc++ (the lent GPU image's compiler
    links it statically) loads through gnnx: torch's loader alone binds the copy's locale
    code half to it and half to torch's libstdc++ (a segfault there, std::bad_cast here)."""
    import os
    import shutil
    import subprocess
    import sys

    gxx = shutil.which("g++")
    static = subprocess.run([gxx or "g++", "-print-file-name=libstdc++.a"], capture_output=True, text=True)
    if gxx is None or not os.path.isabs(static.stdout.strip()):
        pytest.skip("needs GNU g++ with a static libstdc++")
    wrapper = tmp_path / "g++"
    wrapper.write_text(_STATIC_GXX.format(gxx=gxx))
    wrapper.chmod(0o755)
    package = tmp_path / "linear.pt2"
    build = ("import torch\ntorch.manual_seed(0)\nlinear = torch.nn.Linear(8, 4)\n"
             "program = torch.export.export(linear, (torch.randn(5, 8),))\n"
             f"torch._inductor.aoti_compile_and_package(program, package_path={str(package)!r})\n")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = {**os.environ, "CXX": str(wrapper), "TORCHINDUCTOR_CACHE_DIR": str(tmp_path / "cache"), "PYTHONPATH": root}
    subprocess.run([sys.executable, "-c", build], env=env, check=True, capture_output=True, timeout=600)
    script = tmp_path / "load.py"
    script.write_text(_LOAD)
    runs = {how: subprocess.run([sys.executable, str(script), str(package), how], env=env, capture_output=True,
                                text=True, timeout=300) for how in ("torch", "gnnx")}
    torch.manual_seed(0)
    with torch.no_grad():
        expected = float(torch.nn.Linear(8, 4)(torch.ones(5, 8)).sum())
    assert runs["gnnx"].returncode == 0, runs["gnnx"].stderr[-2000:]
    assert abs(float(runs["gnnx"].stdout.split()[-1]) - expected) < 1e-4
    assert runs["torch"].returncode != 0  # the failure gnnx's loader avoids (if this passes, torch fixed it)
