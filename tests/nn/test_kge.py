"""Knowledge-graph embeddings (TransE, DistMult, ComplEx, RotatE) against PyG's: the same
parameters for the same seed, scores, losses (same negatives), loader batches and
link-prediction metrics; compiled without recompiles and exported with a dynamic number of
triples; out-of-range indices named."""
import pytest
import torch

import gnnx.nn as G
from tests.cases import assert_compiles_once_and_exports

P = pytest.importorskip("torch_geometric.nn")

MODELS = [("TransE", {}), ("TransE", {"p_norm": 2.0, "margin": 0.5}), ("DistMult", {"margin": 2.0}),
          ("ComplEx", {}), ("RotatE", {"margin": 3.0})]
NODES, RELATIONS, HIDDEN = 40, 5, 16


def _triples(count, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return (torch.randint(NODES, (count,), generator=gen), torch.randint(RELATIONS, (count,), generator=gen),
            torch.randint(NODES, (count,), generator=gen))


def _pair(name, kwargs):
    models = []
    for M in (P, G):
        torch.manual_seed(0)
        models.append(getattr(M, name)(NODES, RELATIONS, HIDDEN, **kwargs))
    return models


@pytest.mark.parametrize("name,kwargs", MODELS)
def test_equal_to_pyg(name, kwargs):
    pyg, ours = _pair(name, kwargs)
    assert repr(ours) == repr(pyg)
    assert list(ours.state_dict()) == list(pyg.state_dict())
    for key, value in pyg.state_dict().items():
        assert torch.equal(ours.state_dict()[key], value), key
    triples = _triples(64)
    torch.testing.assert_close(ours(*triples), pyg(*triples), rtol=0, atol=0)
    losses = []
    for model in (pyg, ours):
        torch.manual_seed(5)  # the same corrupted triples
        losses.append(model.loss(*triples))
    torch.testing.assert_close(losses[1], losses[0], rtol=1e-6, atol=1e-7)
    losses[1].backward()
    assert all(p.grad is not None for p in ours.parameters())
    test_triples = _triples(25, seed=1)
    expected = pyg.test(*test_triples, batch_size=16, k=10, log=False)
    for batch_size in (16, 200, 5000):  # one triple a call in pieces, 5 triples a call, all at once
        assert ours.test(*test_triples, batch_size=batch_size, k=10, log=False) == pytest.approx(expected, rel=1e-6)


def test_loader_batches_as_pyg():
    pyg, ours = _pair("DistMult", {})
    triples = _triples(23)
    for theirs, mine in zip(pyg.loader(*triples, batch_size=8), ours.loader(*triples, batch_size=8)):
        assert all(torch.equal(a, b) for a, b in zip(theirs, mine))
    with pytest.raises(ValueError, match="one entry per triple"):
        ours.loader(triples[0], triples[1][:5], triples[2])


@pytest.mark.parametrize("name,kwargs", [MODELS[0], MODELS[3], MODELS[4]])
def test_compiles_once_and_exports(name, kwargs):
    _, model = _pair(name, kwargs)
    t = torch.export.Dim("t", min=2)
    assert_compiles_once_and_exports(model, lambda n, seed=0: _triples(n, seed), sizes=(6, 11, 30), export_size=57,
                                     dynamic_shapes=({0: t}, {0: t}, {0: t}))


def test_out_of_range_indices_are_named():
    _, model = _pair("TransE", {})
    head, rel, tail = _triples(10)
    with pytest.raises(ValueError, match=r"TransE: tail_index holds 40, outside the 40 entities"):
        model(head, rel, torch.full_like(tail, NODES))
    with pytest.raises(ValueError, match=r"rel_type holds -1, outside the 5 relations"):
        model(head, torch.full_like(rel, -1), tail)
    with pytest.raises(ValueError, match="batch_size must be positive"):
        model.test(head, rel, tail, batch_size=0, log=False)


@pytest.mark.parametrize("name,kwargs", MODELS)
def test_score_tails_equals_the_pairwise_scores(name, kwargs):
    """test() scores every tail by one product or distance matrix: the same scores as one
    forward call per pair, up to rounding; a subclass without it scores pair by pair."""
    _, model = _pair(name, kwargs)
    head, rel, _ = _triples(6)
    tails = torch.arange(NODES)
    pairwise = G.KGEModel.score_tails(model, head, rel, tails)
    torch.testing.assert_close(model.score_tails(head, rel, tails), pairwise, rtol=1e-5, atol=1e-5)


def test_a_custom_model_ranks_through_its_forward():
    class Dot(G.KGEModel):
        def forward(self, head_index, rel_type, tail_index):
            return (self.node_emb(head_index) * self.node_emb(tail_index)).sum(-1) + self.rel_emb(rel_type)[:, 0]

    torch.manual_seed(0)
    model = Dot(NODES, RELATIONS, HIDDEN)
    head, rel, tail = _triples(9)
    ranks = model.tail_ranks(head, rel, tail, batch_size=100)
    scores = torch.stack([model(head[i].repeat(NODES), rel[i].repeat(NODES), torch.arange(NODES)) for i in range(9)])
    assert torch.equal(ranks, (scores > scores[torch.arange(9), tail][:, None]).sum(1))


CUDA = pytest.param("cuda", marks=[pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(),
                                                                        reason="needs CUDA")])


@pytest.mark.parametrize("device", [CUDA])
@pytest.mark.parametrize("name,kwargs", MODELS)
def test_scores_loss_and_ranks_on_the_device(device, name, kwargs):
    _, model = _pair(name, kwargs)
    triples = _triples(50)
    expected_scores, expected_metrics = model(*triples), model.test(*triples, batch_size=300, log=False)
    model = model.to(device)
    on_device = [t.to(device) for t in triples]
    torch.testing.assert_close(model(*on_device).cpu(), expected_scores, rtol=1e-5, atol=1e-5)
    model.loss(*on_device).backward()
    assert model.test(*on_device, batch_size=300, log=False) == pytest.approx(expected_metrics, rel=1e-6)
