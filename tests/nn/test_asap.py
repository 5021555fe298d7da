"""ASAPooling against PyG's: same weights -> same pooled graph, weights and gradients."""
import pytest
import torch

import gnnx.nn as G

P = pytest.importorskip("torch_geometric.nn")


def _graph(seed=0):
    g = torch.Generator().manual_seed(seed)
    edge_index = torch.randint(0, 10, (2, 40), generator=g)
    edge_index = torch.cat([edge_index, torch.randint(10, 22, (2, 50), generator=g)], dim=1)  # two graphs
    batch = torch.tensor([0] * 10 + [1] * 12)
    return torch.randn(22, 8, generator=g), edge_index, batch, torch.rand(90, generator=g)


def _sorted_edges(out):
    """PyG's CSR product leaves each row's columns unsorted; gnnx's are sorted: compare the
    pooled edges in one order."""
    x, edge_index, edge_weight, batch, perm = out
    order = torch.argsort(edge_index[0] * (x.size(0) + 1) + edge_index[1])
    return (x, edge_index[:, order], None if edge_weight is None else edge_weight[order], batch, perm)


@pytest.mark.parametrize("kwargs", [{}, {"ratio": 3}, {"GNN": "GraphConv"}, {"add_self_loops": True},
                                    {"negative_slope": 0.1, "ratio": 0.7}])
@pytest.mark.parametrize("weighted", [False, True])
def test_asap_pooling_equals_pyg(kwargs, weighted):
    x0, edge_index, batch, weight = _graph()
    torch.manual_seed(0)
    theirs = P.ASAPooling(8, **{k: getattr(P, v) if k == "GNN" else v for k, v in kwargs.items()})
    ours = G.ASAPooling(8, **{k: getattr(G, v) if k == "GNN" else v for k, v in kwargs.items()})
    ours.load_state_dict(theirs.state_dict())
    assert repr(ours) == repr(theirs) and list(ours.state_dict()) == list(theirs.state_dict())
    results = []
    for model in (ours, theirs):
        x = x0.clone().requires_grad_()
        out = model(x, edge_index, weight if weighted else None, batch)
        out[0].square().sum().backward()  # PyG cannot differentiate its pooled edge weights
        results.append((out, x.grad, [p.grad for p in model.parameters()]))
    (a, grad_a, params_a), (b, grad_b, params_b) = results
    a, b = _sorted_edges(a), _sorted_edges(b)
    for ta, tb in zip(a, b):
        assert (ta is None) == (tb is None)
        if ta is not None:
            torch.testing.assert_close(ta, tb, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(grad_a, grad_b, atol=1e-5, rtol=1e-4)
    for pa, pb in zip(params_a, params_b):
        assert (pa is None) == (pb is None)
        if pa is not None:
            torch.testing.assert_close(pa, pb, atol=1e-5, rtol=1e-4)


def test_gradients_reach_the_pooled_edge_weights():
    x, edge_index, batch, weight = _graph(1)
    weight = weight.clone().requires_grad_()
    model = G.ASAPooling(8)
    out = model(x, edge_index, weight, batch)
    out[2].sum().backward()
    assert weight.grad is not None and weight.grad.abs().sum() > 0
    assert model.att.weight.grad.abs().sum() > 0  # through the cluster weights
