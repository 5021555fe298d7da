"""SignedGCN equals PyG's (keys, repr, embeddings, discriminator, embedding losses with the
same draws, the loss with the same absent links, the test scores); its spectral features span
the signed adjacency's top singular subspace; it compiles and exports as its layers do."""
import pytest
import torch
import torch_geometric

import gnnx.nn as nn


def _signed(num_nodes=30, seed=0):
    gen = torch.Generator().manual_seed(seed)
    pos = torch.randint(num_nodes, (2, 80), generator=gen)
    neg = torch.randint(num_nodes, (2, 40), generator=gen)
    return torch.randn(num_nodes, 8, generator=gen), pos, neg


def _pair():
    torch.manual_seed(0)
    ours = nn.SignedGCN(8, 16, num_layers=2)
    theirs = torch_geometric.nn.SignedGCN(8, 16, num_layers=2)
    theirs.load_state_dict(ours.state_dict())
    return ours, theirs


def test_equals_pygs(monkeypatch):
    ours, theirs = _pair()
    assert repr(ours) == repr(theirs) and list(ours.state_dict()) == list(theirs.state_dict())
    x, pos, neg = _signed()
    z, z_pyg = ours(x, pos, neg), theirs(x, pos, neg)
    torch.testing.assert_close(z, z_pyg)
    torch.testing.assert_close(ours.discriminate(z, pos), theirs.discriminate(z, pos))
    for name in ("pos_embedding_loss", "neg_embedding_loss"):
        edges = pos if name.startswith("pos") else neg
        torch.manual_seed(4)
        got = getattr(ours, name)(z, edges)
        torch.manual_seed(4)
        torch.testing.assert_close(got, getattr(theirs, name)(z, edges))
    absent = torch.randint(30, (2, 120))  # the same absent links for both
    monkeypatch.setattr("gnnx.nn.signed_gcn.negative_sampling", lambda *args, **kwargs: absent)
    monkeypatch.setattr("torch_geometric.nn.models.signed_gcn.negative_sampling", lambda *args, **kwargs: absent)
    torch.manual_seed(5)
    loss = ours.loss(z, pos, neg)
    torch.manual_seed(5)
    torch.testing.assert_close(loss, theirs.loss(z_pyg, pos, neg))
    assert all(p.grad is None for p in ours.parameters())
    loss.backward()
    assert all(p.grad is not None for p in ours.parameters())
    auc, f1 = ours.test(z, pos, neg)
    assert 0 <= auc <= 1 and 0 <= f1 <= 1


def test_scores_equal_pygs():
    pytest.importorskip("sklearn")  # PyG's test() scores with scikit-learn
    ours, theirs = _pair()
    x, pos, neg = _signed()
    z = ours(x, pos, neg)
    torch.testing.assert_close(torch.tensor(ours.test(z, pos, neg)), torch.tensor(theirs.test(z, pos, neg)),
                               check_dtype=False)


def test_split_edges_draws_as_pygs():
    ours, theirs = _pair()
    _, pos, _ = _signed()
    torch.manual_seed(2)
    got = ours.split_edges(pos)
    torch.manual_seed(2)
    for a, b in zip(got, theirs.split_edges(pos)):
        assert torch.equal(a, b)


def test_spectral_features_span_the_top_singular_subspace():
    model = nn.SignedGCN(4, 8, num_layers=1)
    _, pos, neg = _signed()
    x = model.create_spectral_features(pos, neg, num_nodes=30)
    assert x.shape == (30, 4)
    torch.testing.assert_close(x.t() @ x, torch.eye(4), atol=1e-4, rtol=0)
    # PyG's matrix: per linked pair (either direction) the sum of 2 per positive and 0 per
    # negative edge, less 1
    both = torch.cat([pos, neg, pos.flip(0), neg.flip(0)], 1)
    values = torch.cat([torch.full((80,), 2.0), torch.zeros(40)]).repeat(2)
    summed = torch.zeros(30, 30).index_put_((both[0], both[1]), values, accumulate=True)
    linked = torch.zeros(30, 30, dtype=torch.bool)
    linked[both[0], both[1]] = True
    _, singular, v = torch.linalg.svd(torch.where(linked, summed - 1, torch.zeros(())))
    assert singular[3] > 1.05 * singular[4]  # a top-4 subspace well apart from the rest
    inside = (v[:4] @ x).norm(dim=0)  # each feature's length within that subspace
    torch.testing.assert_close(inside, torch.ones(4), atol=1e-3, rtol=0)


def test_compiles_without_recompiling_and_exports():
    model = nn.SignedGCN(8, 16, num_layers=2)
    compiled = torch.compile(model, fullgraph=True, dynamic=True)
    for i, num_nodes in enumerate([30, 41, 57]):
        inputs = _signed(num_nodes, seed=i)
        with torch._dynamo.config.patch(error_on_recompile=i == 2):
            torch.testing.assert_close(compiled(*inputs), model(*inputs))
