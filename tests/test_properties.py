"""Property-based tests (hypothesis; seeded and bounded for CI) over adversarial graphs: one node,
no edges, isolated nodes, self loops, duplicate edges, a hub holding most edges, and features
from tiny to large.

For every layer family (one case per layer class of tests/cases.py): gnnx eager equals PyG with
the same weights, and the NaN/Inf policy holds: finite inputs give finite outputs and finite
gradients. On representative families: compiled equals eager, the exported program equals
eager, and the reference path passes ``gradcheck`` in float64.
"""
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gnnx
from cases import EDGE_DIM, IN, LAYERS, call

pytest.importorskip("torch_geometric")

FAMILIES = list({case.cls: case for case in reversed(LAYERS)}.values())  # first case of each class
REPRESENTATIVE = ["gcn", "sage-mean", "gin", "gat-heads", "gatv2-heads", "edgeconv-max", "transformer-heads-edge"]
PROFILE = settings(max_examples=20, deadline=None, derandomize=True, database=None,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@st.composite
def graphs(draw, max_nodes: int = 24, max_edges: int = 60):
    """``(x, edge_index, edge_weight, edge_attr)`` of an adversarial graph."""
    num_nodes = draw(st.integers(1, max_nodes))
    num_edges = draw(st.integers(0, max_edges))
    shape = draw(st.sampled_from(["random", "hub", "self-loops", "duplicates", "no-edges", "isolated"]))
    scale = draw(st.sampled_from([1e-4, 1.0, 30.0]))
    gen = torch.Generator().manual_seed(draw(st.integers(0, 2 ** 31 - 1)))
    edge_index = torch.randint(num_nodes, (2, num_edges), generator=gen)
    if shape == "hub":  # most edges end at node 0
        edge_index[1, : (4 * num_edges) // 5] = 0
    elif shape == "self-loops":
        loops = torch.arange(num_nodes).repeat(2, 1)
        edge_index = torch.cat([edge_index, loops], 1)
    elif shape == "duplicates" and num_edges:
        edge_index = torch.cat([edge_index, edge_index[:, :3].repeat(1, 3)], 1)
    elif shape == "no-edges":
        edge_index = edge_index[:, :0]
    elif shape == "isolated":  # edges only among the first third
        edge_index = edge_index % max(1, num_nodes // 3)
    count = edge_index.size(1)
    x = torch.randn(num_nodes, IN, generator=gen) * scale
    edge_weight = torch.rand(count, generator=gen) + 0.1
    edge_attr = torch.randn(count, EDGE_DIM, generator=gen)
    return x, edge_index, edge_weight, edge_attr


_MODULES = {}


def _pair(case):
    if case.id not in _MODULES:
        ours, theirs = case.gnnx().eval(), case.pyg().eval()
        theirs.load_state_dict(ours.state_dict())
        _MODULES[case.id] = ours, theirs
    return _MODULES[case.id]


@pytest.mark.parametrize("case", FAMILIES, ids=lambda c: c.cls)
def test_family_equals_pyg_and_stays_finite(case):
    if case.cls in ("DynamicEdgeConv", "GravNetConv"):
        pytest.skip("PyG's kNN needs pyg-lib (tests/nn/test_dynamic.py compares through a shim)")
    ours, theirs = _pair(case)

    @PROFILE
    @given(graphs())
    def check(inputs):
        x = inputs[0].clone().requires_grad_()
        actual = call(ours, case, x, *inputs[1:])
        assert torch.isfinite(actual).all(), "finite input gave a non-finite output"
        actual.sum().backward()
        assert torch.isfinite(x.grad).all(), "finite input gave a non-finite gradient"
        with torch.no_grad():
            expected = call(theirs, case, *inputs)
        if torch.isfinite(expected).all():  # PyG's own NaN (ChebConv without edges) is documented
            torch.testing.assert_close(actual.detach(), expected, rtol=1e-4, atol=1e-5)

    check()


@pytest.mark.parametrize("case_id", REPRESENTATIVE)
def test_compiled_and_exported_equal_eager(case_id):
    case = next(c for c in LAYERS if c.id == case_id)
    module = case.gnnx().eval()
    compiled = torch.compile(module, fullgraph=True, dynamic=True)
    from cases import Uniform, random_graph

    program = gnnx.export.export(Uniform(case, module), random_graph(10, 30)).module()

    @settings(max_examples=6, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(graphs())
    def check(inputs):
        with torch.no_grad():
            expected = call(module, case, *inputs)
            torch.testing.assert_close(call(compiled, case, *inputs), expected, rtol=1e-4, atol=1e-5)
            torch.testing.assert_close(program(*inputs), expected, rtol=1e-4, atol=1e-5)

    check()


@pytest.mark.parametrize("case_id", REPRESENTATIVE)
def test_reference_path_gradcheck(case_id):
    """float64 gradients of the reference kernels (CPU, no CSR) against finite differences."""
    case = next(c for c in LAYERS if c.id == case_id)
    module = case.gnnx().double().eval()

    @settings(max_examples=3, deadline=None, derandomize=True, database=None)
    @given(graphs(max_nodes=6, max_edges=10))
    def check(inputs):
        x, edge_index, edge_weight, edge_attr = inputs
        x = (x / x.abs().max().clamp(min=1e-3)).double().requires_grad_()  # unit scale for finite differences
        torch.autograd.gradcheck(
            lambda x_: call(module, case, x_, edge_index, edge_weight.double(), edge_attr.double()), (x,),
            eps=1e-6, atol=1e-4, fast_mode=True)

    check()
