"""Node2Vec and its random walks: walks follow edges (uniform steps uniform, node2vec's p and q
bias the second-order steps as they should, isolated nodes hold the walk), PyG's repr, keys,
sampling layout and loss; trained on a two-community graph, the linear probe separates the
communities."""
import torch

import gnnx.nn as nn
from gnnx.data import random_walk


def _csr(edge_index, num_nodes):
    src, dst = edge_index
    order = torch.argsort(src * num_nodes + dst)
    rowptr = torch.cat([torch.zeros(1, dtype=torch.long), torch.bincount(src, minlength=num_nodes).cumsum(0)])
    return rowptr, dst[order]


def _ring(n):  # undirected ring plus chords: every node has degree 4
    nodes = torch.arange(n)
    src = torch.cat([nodes, nodes, (nodes + 1) % n, (nodes + 2) % n])
    dst = torch.cat([(nodes + 1) % n, (nodes + 2) % n, nodes, nodes])
    return torch.stack([src, dst])


def test_walks_follow_edges_and_uniform_steps_are_uniform():
    edge_index = torch.cat([_ring(10), torch.tensor([[0], [5]])], 1)  # node 0: degree 5
    rowptr, col = _csr(edge_index, 11)  # node 10 has no edges
    start = torch.tensor([0] * 20000 + [10])
    walks = random_walk(rowptr, col, start, 4, generator=torch.Generator().manual_seed(0))
    assert walks.shape == (20001, 5) and torch.equal(walks[:, 0], start)
    edges = set(map(tuple, edge_index.t().tolist()))
    assert all((a, b) in edges for walk in walks[:-1].tolist() for a, b in zip(walk, walk[1:]))
    assert walks[-1].tolist() == [10] * 5
    first = torch.bincount(walks[:-1, 1], minlength=11)[[1, 2, 8, 9, 5]].double() / 20000
    assert torch.allclose(first, torch.full((5,), 0.2, dtype=torch.float64), atol=0.02)


def test_p_and_q_bias_second_order_steps():
    rowptr, col = _csr(_ring(12), 12)
    start = torch.zeros(20000, dtype=torch.long)

    def returns(p, q):
        walks = random_walk(rowptr, col, start, 2, p=p, q=q, generator=torch.Generator().manual_seed(1))
        return float((walks[:, 2] == walks[:, 0]).double().mean())

    uniform = returns(1.0, 1.0)
    assert abs(uniform - 0.25) < 0.02  # 1 of 4 neighbours leads back
    assert returns(0.25, 1.0) > 0.45  # return weight 4 against 1 and 1/q = 1
    assert returns(4.0, 1.0) < 0.12
    # the node2vec probabilities for p = 0.5, q = 2 from the middle node of 0 -> 1: back (2),
    # neighbours of 0 (1 each), the rest (0.5 each)
    walks = random_walk(rowptr, col, start, 2, p=0.5, q=2.0, generator=torch.Generator().manual_seed(2))
    via_one = walks[walks[:, 1] == 1]
    counts = torch.bincount(via_one[:, 2], minlength=12).double()
    weights = torch.zeros(12, dtype=torch.float64)
    weights[[0, 2, 11, 3]] = torch.tensor([2.0, 1.0, 1.0, 0.5], dtype=torch.float64)  # 1's neighbours: 0, 2, 3, 11 (12 wraps)
    torch.testing.assert_close(counts / counts.sum(), weights / weights.sum(), atol=0.03, rtol=0)


def test_pygs_layout_repr_keys_and_loss():
    torch.manual_seed(0)
    model = nn.Node2Vec(_ring(20), embedding_dim=8, walk_length=6, context_size=3, walks_per_node=2,
                        num_negative_samples=2)
    assert repr(model) == "Node2Vec(20, 8)" and list(model.state_dict()) == ["embedding.weight"]
    pos_rw, neg_rw = next(iter(model.loader(batch_size=4)))
    windows = 1 + 5 + 1 - 3
    assert pos_rw.shape == (4 * 2 * windows, 3) and neg_rw.shape == (4 * 2 * 2 * windows, 3)
    assert torch.equal(neg_rw[:16, 0], torch.arange(4).repeat(4))

    def pyg_loss(emb, pos_rw, neg_rw):  # PyG 2.8's Node2Vec.loss
        def part(rw, positive):
            out = (emb[rw[:, 0]].view(rw.size(0), 1, -1) * emb[rw[:, 1:].reshape(-1)].view(rw.size(0), -1, 8)).sum(-1)
            prob = torch.sigmoid(out.view(-1))
            return -torch.log((prob if positive else 1 - prob) + 1e-15).mean()
        return part(pos_rw, True) + part(neg_rw, False)

    torch.testing.assert_close(model.loss(pos_rw, neg_rw), pyg_loss(model.embedding.weight, pos_rw, neg_rw))


def test_embeddings_of_two_communities_separate():
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    community = torch.arange(60) // 30
    src, dst = torch.randint(60, (2, 1500), generator=gen)
    same = community[src] == community[dst]
    keep = same | (torch.rand(1500, generator=gen) < 0.02)
    edge_index = torch.stack([src[keep], dst[keep]])
    edge_index = torch.cat([edge_index, edge_index.flip(0)], 1)
    model = nn.Node2Vec(edge_index, 16, walk_length=10, context_size=5, walks_per_node=5, p=1.0, q=0.5,
                        num_negative_samples=1)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(15):
        for pos_rw, neg_rw in model.loader(batch_size=30, shuffle=True):
            optimizer.zero_grad()
            model.loss(pos_rw, neg_rw).backward()
            optimizer.step()
    z = model().detach()
    order = torch.randperm(60, generator=gen)
    assert model.test(z[order[:40]], community[order[:40]], z[order[40:]], community[order[40:]]) >= 0.9
