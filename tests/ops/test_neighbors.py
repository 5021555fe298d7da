"""knn_graph, radius_graph, knn and radius against brute-force loops; batch-aware; exportable."""
import torch
from torch.export import Dim

from gnnx.ops import knn, knn_graph, radius, radius_graph


def _points(n=40, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(n, 3, generator=gen), torch.randint(3, (n,), generator=gen).sort().values


def test_knn_matches_brute_force_within_graphs():
    x, batch = _points()
    k = 4
    edges = knn_graph(x, k, batch)
    assert edges.shape == (2, x.size(0) * k)
    for i in range(x.size(0)):
        same = [j for j in range(x.size(0)) if batch[j] == batch[i] and j != i]
        best = sorted(same, key=lambda j: float((x[i] - x[j]).norm()))[:k]
        got = edges[0, edges[1] == i].tolist()
        assert sorted(got) == sorted(best + [i] * (k - len(best)))


def test_radius_matches_brute_force_and_static_shape():
    x, batch = _points(seed=1)
    edge_index, mask = radius_graph(x, 0.3, batch, max_num_neighbors=64)
    assert edge_index.shape[1] == mask.numel() == x.size(0) * 40  # min(64, N) slots each
    valid = set(map(tuple, edge_index[:, mask].t().tolist()))
    expected = {(j, i) for i in range(x.size(0)) for j in range(x.size(0))
                if i != j and batch[i] == batch[j] and float((x[i] - x[j]).norm()) <= 0.3}
    assert valid == expected
    assert radius_graph(x, 0.3, batch, max_num_neighbors=64, static=False).shape[1] == len(expected)


def test_knn_exports_with_dynamic_point_count():
    class Build(torch.nn.Module):
        def forward(self, x):
            return knn_graph(x, 3)

    ep = torch.export.export(Build(), (torch.rand(10, 3),), dynamic_shapes=({0: Dim("num_points", min=4)},))
    x = torch.rand(25, 3)
    assert torch.equal(ep.module()(x), knn_graph(x, 3))


def test_knn_and_radius_between_two_sets_match_brute_force():
    x, batch_x = _points(30, seed=2)
    y, batch_y = _points(12, seed=3)
    k, r = 3, 0.35
    (edges, mask), (r_edges, r_mask) = knn(x, y, k, batch_x, batch_y), radius(x, y, r, batch_x, batch_y, 64)
    assert edges.shape == (2, 12 * k) and r_edges.shape == (2, 12 * 30)
    for i in range(12):
        same = [j for j in range(30) if batch_x[j] == batch_y[i]]
        dist = {j: float((y[i] - x[j]).norm()) for j in same}
        best = sorted(same, key=dist.get)[:k]
        assert sorted(edges[1, (edges[0] == i) & mask].tolist()) == sorted(best)
        assert sorted(r_edges[1, (r_edges[0] == i) & r_mask].tolist()) == sorted(j for j in same if dist[j] <= r)
    assert torch.equal(knn(x, y, k, batch_x, batch_y, static=False), edges[:, mask])


def test_knn_masks_slots_of_graphs_with_too_few_points():
    x, y = torch.rand(3, 2), torch.rand(2, 2)
    edges, mask = knn(x, y, 3, torch.tensor([0, 0, 1]), torch.tensor([0, 1]))
    assert mask.view(2, 3).sum(1).tolist() == [2, 1]


def test_cosine_knn_graph_matches_brute_force():
    x, _ = _points(25, seed=4)
    x = x - 0.5
    edges = knn_graph(x, 2, cosine=True)
    unit = torch.nn.functional.normalize(x, dim=-1)
    for i in range(25):
        sims = {j: float(unit[i] @ unit[j]) for j in range(25) if j != i}
        assert sorted(edges[0, edges[1] == i].tolist()) == sorted(sorted(sims, key=sims.get, reverse=True)[:2])


def test_blocked_eager_search_equals_one_matrix(monkeypatch):
    import gnnx.ops.neighbors as neighbors

    x, batch = _points(50, seed=5)
    expected = knn_graph(x, 4, batch), radius_graph(x, 0.3, batch)
    monkeypatch.setattr(neighbors, "BLOCK_ELEMENTS", 7 * 50)  # blocks of 7 queries
    assert torch.equal(knn_graph(x, 4, batch), expected[0])
    for a, e in zip(radius_graph(x, 0.3, batch), expected[1]):
        assert torch.equal(a, e)
