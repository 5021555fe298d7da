"""LPFormer equals PyG's: keys, repr, its attention layer's draws for the same seed, logits and gradients in
eval mode and, with the same seed, in training mode (dropout and the pairs' node dropout);
the configurations PyG 2.8 cannot run and bad inputs get errors naming them."""
import pytest
import torch

import gnnx.nn as gnn
from gnnx.utils import to_undirected

pyg_lpformer = pytest.importorskip("torch_geometric.nn.models.lpformer")

N, F, HIDDEN = 30, 6, 8


def _graph(seed=0):
    gen = torch.Generator().manual_seed(seed)
    edge_index = to_undirected(torch.randint(0, N, (2, 70), generator=gen), num_nodes=N)
    links = torch.randint(0, N, (2, 7), generator=gen)
    return torch.randn(N, F, generator=gen), edge_index, links


def _pair(**kwargs):
    torch.manual_seed(0)
    ours = gnn.LPFormer(F, HIDDEN, **kwargs)
    torch.manual_seed(0)
    theirs = pyg_lpformer.LPFormer(F, HIDDEN, **kwargs)
    return ours, theirs


def _run(model, x, edge_index, links, ppr, seed=1):
    model.zero_grad()
    x = x.clone().requires_grad_()
    torch.manual_seed(seed)
    out = model(links, x, edge_index, ppr)
    out.square().sum().backward()
    return [out, x.grad] + [p.grad for p in model.parameters()]


@pytest.mark.parametrize("kwargs", [{}, {"num_gnn_layers": 3, "ppr_thresholds": [0, 1e-3, 5e-3]}])
@pytest.mark.parametrize("mode", ["eval", "train"])
def test_equals_pygs(kwargs, mode):
    ours, theirs = _pair(**kwargs)
    assert repr(ours) == repr(theirs) and list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict(theirs.state_dict())  # gnnx's GCN draws its own initial weights
    getattr(ours, mode)(), getattr(theirs, mode)()
    x, edge_index, links = _graph()
    ppr = ours.calc_sparse_ppr(edge_index, N)
    got, expected = _run(ours, x, edge_index, links, ppr), _run(theirs, x, edge_index, links, ppr)
    assert got[0].shape == (links.size(1),)
    for a, b in zip(got, expected):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_attention_layer_draws_as_pygs():
    torch.manual_seed(0)
    ours = gnn.models.lpformer.LPAttLayer(HIDDEN, HIDDEN, None, 1, 0.1)
    torch.manual_seed(0)
    theirs = pyg_lpformer.LPAttLayer(HIDDEN, HIDDEN, None, 1, 0.1)
    assert repr(ours) == repr(theirs)
    for (key, a), b in zip(ours.state_dict().items(), theirs.state_dict().values()):
        assert torch.equal(a, b), key


def test_isolated_link_ends_equal_pygs():
    """Links between nodes without neighbours (the sparse products leave explicit zeros there)."""
    ours, theirs = _pair()
    ours.load_state_dict(theirs.state_dict())
    ours.eval(), theirs.eval()
    x, edge_index = torch.randn(10, F), torch.tensor([[0, 1, 2], [1, 2, 0]])
    links = torch.tensor([[5, 0, 1], [6, 7, 2]])
    ppr = ours.calc_sparse_ppr(edge_index, 10)
    torch.testing.assert_close(ours(links, x, edge_index, ppr), theirs(links, x, edge_index, ppr))


def test_more_heads_normalise_all_of_them():
    """PyG's LayerNorm is one head wide and fails with two; gnnx's spans the heads."""
    model = gnn.LPFormer(F, HIDDEN, num_heads=2).eval()
    x, edge_index, links = _graph()
    assert model.att_layers[0].post_att_norm.normalized_shape == (2 * HIDDEN,)
    assert model(links, x, edge_index, model.calc_sparse_ppr(edge_index, N)).shape == (links.size(1),)


def test_configurations_pyg_cannot_run_and_bad_inputs_are_named():
    with pytest.raises(ValueError, match="num_transformer_layers must be 1"):
        gnn.LPFormer(F, HIDDEN, num_transformer_layers=2)
    with pytest.raises(ValueError, match="threshold of 1"):
        gnn.LPFormer(F, HIDDEN, ppr_thresholds=[0, 1e-4, 1])
    with pytest.raises(ValueError, match="length 3"):
        gnn.LPFormer(F, HIDDEN, ppr_thresholds=[0, 1])
    model = gnn.LPFormer(F, HIDDEN).eval()
    x, edge_index, links = _graph()
    ppr = model.calc_sparse_ppr(edge_index, N)
    with pytest.raises(ValueError, match=r"links to score as \[2, B\]"):
        model(links[0], x, edge_index, ppr)
    with pytest.raises(ValueError, match="sparse COO"):
        model(links, x, edge_index, ppr.to_dense())
    sparse = torch.sparse_coo_tensor(edge_index, torch.ones(edge_index.size(1)), (N, N))
    torch.testing.assert_close(model(links, x, sparse, ppr), model(links, x, edge_index, ppr))


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_on_cuda_equals_the_cpu():
    torch.manual_seed(0)
    model = gnn.LPFormer(F, HIDDEN).eval()
    x, edge_index, links = _graph()
    ppr = model.calc_sparse_ppr(edge_index, N)
    expected = model(links, x, edge_index, ppr)
    model.cuda()
    got = model(links.cuda(), x.cuda(), edge_index.cuda(), ppr.cuda())
    torch.testing.assert_close(got.cpu(), expected, atol=1e-4, rtol=1e-3)
