"""graclus (PyG's needs pyg-lib): a greedy matching. Heaviest pairs win, clusters are pairs
joined by an edge or single nodes named by their smaller index, the matching is maximal, the
same seed gives the same clusters, and the clusters feed max_pool as in PyG's graclus examples."""
import torch

import gnnx.nn as nn
from gnnx import Graph


def _undirected(num_nodes, num_edges, seed=0):
    gen = torch.Generator().manual_seed(seed)
    edges = torch.randint(num_nodes, (2, num_edges), generator=gen)
    return torch.cat([edges, edges.flip(0)], 1)


def test_heaviest_pairs_win():
    ring = torch.tensor([[0, 1, 1, 2, 2, 3, 3, 0], [1, 0, 2, 1, 3, 2, 0, 3]])
    weight = torch.tensor([1.0, 1.0, 5.0, 5.0, 1.0, 1.0, 2.0, 2.0])
    for seed in range(5):  # whatever the visiting order
        torch.manual_seed(seed)
        assert nn.graclus(ring, weight).tolist() == [0, 1, 1, 0]
    torch.manual_seed(0)
    assert nn.graclus(ring, -weight).tolist() == [0, 1, 2, 3]  # nothing heavier than 0: alone


def test_a_maximal_matching_of_edges():
    edge_index = _undirected(60, 90)
    torch.manual_seed(1)
    cluster = nn.graclus(edge_index)
    sizes = torch.bincount(cluster, minlength=60)
    assert int(sizes.max()) <= 2
    edges = set(map(tuple, edge_index.t().tolist()))
    alone = set()
    for c in cluster.unique().tolist():
        members = (cluster == c).nonzero().view(-1).tolist()
        assert c == min(members)
        if len(members) == 2:
            assert tuple(members) in edges
        else:
            alone.add(members[0])
    assert not any(u in alone and v in alone and u != v for u, v in edges)  # maximal
    torch.manual_seed(1)
    assert torch.equal(nn.graclus(edge_index), cluster)  # the seed fixes the visiting order


def test_feeds_max_pool():
    edge_index = _undirected(30, 50, seed=2)
    x = torch.randn(30, 4)
    torch.manual_seed(0)
    cluster = nn.graclus(edge_index, num_nodes=30)
    pooled = nn.max_pool(cluster, Graph(edge_index, 30, x=x))
    assert pooled.num_nodes == int(cluster.unique().numel())
    assert pooled.x.shape == (pooled.num_nodes, 4)
