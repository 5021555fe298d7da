"""MetaPath2Vec equals PyG's: with the same seed the same embeddings, positive and negative
walks (dead ends and isolated nodes on the dummy), loss and gradients; repr, keys; per-type
embeddings; bad metapaths named."""
import pytest
import torch
import torch_geometric

import gnnx.nn as nn

METAPATH = [("author", "writes", "paper"), ("paper", "published_in", "venue"), ("venue", "publishes", "paper"),
            ("paper", "written_by", "author")]


def _edges(seed=0):
    gen = torch.Generator().manual_seed(seed)
    writes = torch.stack([torch.randint(0, 30, (80,), generator=gen), torch.randint(0, 50, (80,), generator=gen)])
    published = torch.stack([torch.arange(45), torch.randint(0, 6, (45,), generator=gen)])  # papers 45-49: none
    return {METAPATH[0]: writes, METAPATH[1]: published, METAPATH[2]: published.flip(0),
            METAPATH[3]: writes.flip(0)}


def _pair(**kwargs):
    args = dict(embedding_dim=8, metapath=METAPATH, walk_length=6, context_size=3, walks_per_node=2,
                num_negative_samples=2, **kwargs)
    torch.manual_seed(0)
    ours = nn.MetaPath2Vec(_edges(), **args)
    torch.manual_seed(0)
    theirs = torch_geometric.nn.MetaPath2Vec(_edges(), **args)
    return ours, theirs


@pytest.mark.parametrize("num_nodes_dict", [None, {"author": 32, "paper": 50, "venue": 7}])
def test_equals_pygs(num_nodes_dict):
    ours, theirs = _pair(num_nodes_dict=num_nodes_dict)
    assert repr(ours) == repr(theirs) and list(ours.state_dict()) == list(theirs.state_dict())
    torch.testing.assert_close(ours.embedding.weight, theirs.embedding.weight)
    batch = torch.arange(0, 30, 3)
    torch.manual_seed(1)
    pos, neg = next(iter(ours.loader(batch_size=10)))
    torch.manual_seed(1)
    pos_pyg, neg_pyg = next(iter(theirs.loader(batch_size=10)))
    assert torch.equal(pos, pos_pyg) and torch.equal(neg, neg_pyg)
    assert (pos == ours.dummy_idx).any()  # the walks met dead ends
    loss, loss_pyg = ours.loss(pos, neg), theirs.loss(pos, neg)
    torch.testing.assert_close(loss, loss_pyg)
    loss.backward()
    loss_pyg.backward()
    torch.testing.assert_close(ours.embedding.weight.grad, theirs.embedding.weight.grad)
    for node_type in ("author", "paper", "venue"):
        torch.testing.assert_close(ours(node_type), theirs(node_type))
    torch.testing.assert_close(ours("paper", batch), theirs("paper", batch))


def test_bad_metapaths_are_named():
    with pytest.raises(ValueError, match="invalid metapath"):
        nn.MetaPath2Vec(_edges(), 8, [METAPATH[0], METAPATH[0]], walk_length=2, context_size=2)
    with pytest.raises(ValueError, match="not a cycle"):
        nn.MetaPath2Vec(_edges(), 8, METAPATH[:2], walk_length=5, context_size=2)
    with pytest.raises(ValueError, match="context_size"):
        nn.MetaPath2Vec(_edges(), 8, METAPATH, walk_length=2, context_size=4)
    edges = _edges()
    del edges[METAPATH[1]]
    with pytest.raises(ValueError, match="no edges given"):
        nn.MetaPath2Vec(edges, 8, METAPATH, walk_length=4, context_size=2)
