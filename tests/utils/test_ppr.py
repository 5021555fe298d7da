"""get_ppr against PyG's (which needs numba): the same edges, order and weights, through numba
and through plain Python; sinks and isolated nodes included; alpha out of range is named."""
import pytest
import torch

import gnnx.utils as U
from gnnx.utils import ppr


def _edges(seed, nodes=30, edges=120):
    return torch.randint(nodes, (2, edges), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("python", [False, True])
@pytest.mark.parametrize("kwargs", [{"alpha": 0.2, "eps": 1e-4}, {"alpha": 0.15, "eps": 1e-5, "target": torch.tensor([3, 7, 0])}])
def test_equals_pyg(kwargs, python, monkeypatch):
    pytest.importorskip("numba")
    PU = pytest.importorskip("torch_geometric.utils")
    if python:
        monkeypatch.setattr(ppr, "_compiled_push", ppr._push)
    for seed in range(2):
        edge_index = _edges(seed)
        ours, theirs = U.get_ppr(edge_index, **kwargs), PU.get_ppr(edge_index, **kwargs)
        assert torch.equal(ours[0], theirs[0]) and torch.equal(ours[1], theirs[1])
    sparse = torch.tensor([[0, 1, 1], [1, 2, 3]])  # 2 and 3 are sinks, 4 is isolated
    ours, theirs = U.get_ppr(sparse, num_nodes=5), PU.get_ppr(sparse, num_nodes=5)
    assert torch.equal(ours[0], theirs[0]) and torch.equal(ours[1], theirs[1])


def test_estimates_approach_exact_pagerank():
    edge_index = _edges(3, nodes=12, edges=60)
    rows, weights = U.get_ppr(edge_index, alpha=0.2, eps=1e-9)
    dense = torch.zeros(12, 12, dtype=torch.float64)
    dense[rows[0], rows[1]] = weights.double()
    adjacency = torch.zeros(12, 12, dtype=torch.float64)
    adjacency.index_put_((edge_index[0], edge_index[1]), torch.ones(60, dtype=torch.float64), accumulate=True)
    degree = adjacency.sum(1, keepdim=True)
    walk = torch.where(degree > 0, adjacency / degree.clamp_min(1), torch.zeros_like(adjacency))
    exact = 0.2 * torch.linalg.inv(torch.eye(12, dtype=torch.float64) - 0.8 * walk)  # rows: sources
    has_out = degree.view(-1) > 0
    torch.testing.assert_close(dense[has_out][:, :], exact[has_out], atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="alpha must lie in"):
        U.get_ppr(edge_index, alpha=1.5)
