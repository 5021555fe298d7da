"""knn_graph and radius_graph against a brute-force loop; batch-aware; exportable."""
import torch
from torch.export import Dim

from gnnx.ops import knn_graph, radius_graph


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
