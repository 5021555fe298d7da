"""Every layer and model equals PyG 2.8's with the same weights (loaded via ``state_dict``)."""
import pytest
import torch

from cases import ALL, EDGE_DIM, IN, call, random_graph

pyg = pytest.importorskip("torch_geometric")


def edge_case_graphs():
    """(name, x, edge_index): the structures that break careless kernels."""
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(10, IN, generator=gen)
    yield "isolated-nodes", x, torch.tensor([[0, 1, 2, 3, 4, 0], [1, 2, 3, 4, 0, 2]])
    yield "no-incoming", x, torch.tensor([[3, 4, 5, 6, 7, 8, 9], [0, 0, 1, 1, 2, 2, 0]])
    yield "self-loops", x, torch.tensor([[0, 1, 2, 3, 3, 5], [0, 1, 2, 3, 4, 5]])
    yield "duplicates", x, torch.tensor([[1, 1, 1, 2, 2, 9], [0, 0, 0, 0, 0, 8]])
    yield "no-edges", x, torch.zeros(2, 0, dtype=torch.long)


def _compare(case, x, edge_index):
    ours, theirs = case.gnnx().eval(), case.pyg().eval()
    theirs.load_state_dict(ours.state_dict())
    num_edges = edge_index.size(1)
    gen = torch.Generator().manual_seed(5)
    edge_weight = torch.rand(num_edges, generator=gen) + 0.1
    edge_attr = torch.randn(num_edges, EDGE_DIM, generator=gen)
    with torch.no_grad():
        expected = call(theirs, case, x, edge_index, edge_weight, edge_attr)
        actual = call(ours, case, x, edge_index, edge_weight, edge_attr)
    if not torch.isfinite(expected).all():  # PyG's NaN (e.g. ChebConv on an edgeless graph): ours stays finite
        assert torch.isfinite(actual).all(), f"{case.id}: non-finite output"
        return
    torch.testing.assert_close(actual, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("case", ALL, ids=lambda c: c.id)
@pytest.mark.parametrize("size", [(12, 40), (57, 300)])
@pytest.mark.status("PyG parity")
def test_random_graphs_match_pyg(case, size):
    x, edge_index, _, _ = random_graph(*size, seed=size[0])
    _compare(case, x, edge_index)


@pytest.mark.parametrize("case", ALL, ids=lambda c: c.id)
@pytest.mark.status("PyG parity")
def test_edge_case_graphs_match_pyg(case):
    for name, x, edge_index in edge_case_graphs():
        try:
            _compare(case, x, edge_index)
        except AssertionError as err:
            raise AssertionError(f"{case.id} differs from PyG on the {name} graph") from err
