"""ClusterPooling against PyG (which needs scipy): pooled features, edges, batch, cluster and
gradients for each score method."""
import pytest
import torch

import gnnx.nn as gnn

pyg_nn = pytest.importorskip("torch_geometric.nn")
pytest.importorskip("scipy")


def _graphs(seed=0):
    gen = torch.Generator().manual_seed(seed)
    sizes = [7, 5, 8]
    batch = torch.repeat_interleave(torch.arange(3), torch.tensor(sizes))
    edges = []
    for g, n in enumerate(sizes):
        start = sum(sizes[:g])
        edges.append(torch.randint(start, start + n, (2, 2 * n), generator=gen))
    edge_index = torch.cat(edges, 1)
    return torch.randn(batch.numel(), 4, generator=gen), edge_index, batch


@pytest.mark.parametrize("method", ["tanh", "sigmoid", "log_softmax"])
def test_cluster_pooling_equals_pyg(method):
    torch.manual_seed(0)
    theirs = pyg_nn.pool.ClusterPooling(4, edge_score_method=method)
    ours = gnn.ClusterPooling(4, edge_score_method=method)
    ours.load_state_dict(theirs.state_dict())
    x, edge_index, batch = _graphs()
    x.requires_grad_(True)
    got = ours(x, edge_index, batch)
    x2 = x.detach().clone().requires_grad_(True)
    expected = theirs(x2, edge_index, batch)
    torch.testing.assert_close(got[0], expected[0], rtol=1e-5, atol=1e-5)
    assert torch.equal(got[1], expected[1]) and torch.equal(got[2], expected[2])
    assert torch.equal(got[3].cluster, expected[3].cluster) and torch.equal(got[3].edge_index, expected[3].edge_index)
    grad = torch.autograd.grad(got[0].square().sum(), x)[0]
    torch.testing.assert_close(grad, torch.autograd.grad(expected[0].square().sum(), x2)[0], rtol=1e-4, atol=1e-5)
    assert repr(ours) == repr(theirs)
    with pytest.raises(ValueError, match="edge_score_method must be"):
        gnn.ClusterPooling(4, edge_score_method="relu")
