"""Exported (dynamic node and edge counts) and AOTInductor-packaged programs equal eager.

All cases live in one :class:`cases.Zoo` module, so a single export and a single
AOTInductor compile (the slow part, ~20-60 s on 2 cores) cover every layer and model.
"""
import pytest
import torch
from torch.export import Dim

from cases import ALL, Zoo, random_graph
from gnnx.export.package import aoti_load

SIZES = [(0, 0), (1, 0), (2, 1), (3, 7), (64, 300), (2000, 9000)]  # empty graphs too


@pytest.fixture(scope="module")
def zoo():
    return Zoo(ALL).eval()


@pytest.fixture(scope="module")
def exported(zoo):
    nodes, edges = Dim("num_nodes", min=0), Dim("num_edges", min=0)
    dynamic = {"x": {0: nodes}, "edge_index": {1: edges}, "edge_weight": {0: edges}, "edge_attr": {0: edges}}
    return torch.export.export(zoo, random_graph(10, 30), dynamic_shapes=dynamic)


def _assert_all_close(zoo, actual, expected):
    assert len(actual) == len(expected)
    for name, a, e in zip(zoo.names, actual, expected):
        torch.testing.assert_close(a, e, rtol=1e-4, atol=1e-5, msg=lambda m: f"{name}: {m}")


def test_exported_program_is_plain_aten(exported):
    targets = {str(n.target) for n in exported.graph.nodes if n.op == "call_function"}
    foreign = sorted(t for t in targets if not (t.startswith("aten.") or t.startswith("<built-in")))
    assert not foreign, f"non-ATen ops in the export: {foreign}"


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.status("exported")
def test_exported_equals_eager(zoo, exported, size):
    inputs = random_graph(*size, seed=size[1])
    with torch.no_grad():
        _assert_all_close(zoo, exported.module()(*inputs), zoo(*inputs))


@pytest.mark.slow
@pytest.mark.status("AOTInductor CPU")
def test_aoti_package_equals_eager(zoo, exported, tmp_path_factory):
    path = torch._inductor.aoti_compile_and_package(
        exported, package_path=str(tmp_path_factory.mktemp("aoti") / "zoo.pt2")
    )
    runner = aoti_load(path)
    for size in SIZES:
        inputs = random_graph(*size, seed=size[0])
        with torch.no_grad():
            _assert_all_close(zoo, runner(*inputs), zoo(*inputs))
