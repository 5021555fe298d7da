"""knn_graph, radius_graph, knn and radius against brute-force loops; batch-aware; exportable."""
import pytest
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
    assert edge_index.shape[1] == mask.numel() == x.size(0) * 64  # max_num_neighbors slots each, also past N
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
    assert edges.shape == (2, 12 * k) and r_edges.shape == (2, 12 * 64)  # max_num_neighbors slots
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


# -- the grid (cell-list) search of eager calls on large inputs (gnnx/ops/grid.py) ----------------
def _all_pairs_kth(x, y, k, batch_x, batch_y, exclude_self):
    dist = (y[:, None] - x[None]).square().sum(-1)
    if batch_x is not None:
        dist = dist.masked_fill(batch_y[:, None] != batch_x[None], float("inf"))
    if exclude_self:
        dist.fill_diagonal_(float("inf"))
    return dist.topk(k, dim=1, largest=False).values


@pytest.mark.parametrize("dims", [1, 2, 3, 4])  # 4: GravNet's learnt space
@pytest.mark.parametrize("layout", ["uniform", "clustered", "lattice", "gaussian"])
def test_grid_knn_is_exact(dims, layout):
    from gnnx.ops import grid, neighbors

    gen = torch.Generator().manual_seed(dims)
    n = 2400
    if layout == "uniform":
        x = torch.rand(n, dims, generator=gen)
    elif layout == "clustered":  # crowded cells and empty space: the fallbacks run
        x = torch.cat([torch.rand(n // 2, dims, generator=gen) * 0.01, torch.rand(n - n // 2, dims, generator=gen)])
    elif layout == "gaussian":  # density varying smoothly, far outliers: coarser grids, per-graph brute force
        x = torch.randn(n, dims, generator=gen)
        x[::120] *= 30.0
    else:  # points on a lattice: many equal distances
        x = torch.randint(0, 14, (n, dims), generator=gen).float()
    batch = torch.arange(3).repeat_interleave(n // 3)
    assert grid.usable(x, x, 8, False)
    values, index = neighbors._nearest(x, x, 8, batch, batch, False, True)
    torch.testing.assert_close(values, _all_pairs_kth(x, x, 8, batch, batch, True), atol=1e-5, rtol=1e-5)
    found = (x[index] - x[:, None]).square().sum(-1)
    torch.testing.assert_close(found, values, atol=1e-5, rtol=1e-5)  # the indices hold those distances
    assert bool((batch[index] == batch[:, None]).all()) and not bool((index == torch.arange(n)[:, None]).any())
    again = neighbors._nearest(x, x, 8, batch, batch, False, True)[1]
    assert torch.equal(index, again)  # deterministic, ties included


def test_grid_sends_crowded_queries_to_brute_force(monkeypatch):
    """Queries whose block of cells holds more than MAX_CANDIDATES points skip the grid (and its
    coarser retries) for brute force against their cloud; answers stay exact."""
    from gnnx.ops import grid, neighbors

    monkeypatch.setattr(grid, "MAX_CANDIDATES", 40)
    gen = torch.Generator().manual_seed(3)
    x = torch.cat([torch.rand(1200, 3, generator=gen) * 0.01, torch.rand(1200, 3, generator=gen)])
    batch = torch.arange(2).repeat(1200)
    brute_rows = []
    real = neighbors._brute_rows

    def counting(x, y, *args):
        brute_rows.append(y.size(0))
        return real(x, y, *args)

    values, index = grid.grid_nearest(x, x, 8, batch, batch, True, counting)
    assert sum(brute_rows) > 500  # the cluster's queries
    torch.testing.assert_close(values, _all_pairs_kth(x, x, 8, batch, batch, True), atol=1e-5, rtol=1e-5)
    assert bool((batch[index] == batch[:, None]).all())
    # every query crowded: copies of one point
    same = torch.cat([torch.zeros(1, 3), torch.ones(2999, 3)])
    values, index = grid.grid_nearest(same, same, 4, None, None, True, real)
    assert index[0].eq(torch.tensor([1, 2, 3, 4])).all() and index[1].eq(torch.tensor([2, 3, 4, 5])).all()


def test_high_dimensional_eager_search_runs_per_graph(monkeypatch):
    """Above the grid's dimensions, eager calls with graph ids compare each graph's queries with
    its own points (not all pairs masked): the masked all-pairs answer, a graph smaller than k
    padded, no point its own neighbour, and each graph searched once."""
    from gnnx.ops import neighbors

    gen = torch.Generator().manual_seed(4)
    x = torch.randn(2100, 16, generator=gen)
    batch = torch.cat([torch.zeros(1000), torch.ones(1095), torch.full((5,), 2)]).long()  # graph 2: 5 points
    calls = []
    real = neighbors._all_pairs

    def counting(xs, ys, *args, **kwargs):
        calls.append(xs.size(0))
        return real(xs, ys, *args, **kwargs)

    monkeypatch.setattr(neighbors, "_all_pairs", counting)
    values, index = neighbors._nearest_k(x, x, 8, batch, batch, False, True)
    assert sorted(calls) == [5, 1000, 1095]
    expected = _all_pairs_kth(x, x, 8, batch, batch, True)
    small = batch == 2
    torch.testing.assert_close(values[~small], expected[~small], atol=1e-4, rtol=1e-5)
    assert torch.isinf(values[small][:, 4:]).all() and index[small][:, 4:].eq(0).all()  # 4 neighbours each
    found = index[:, :4]
    assert bool((batch[found] == batch[:, None]).all()) and not bool((found == torch.arange(2100)[:, None]).any())


def test_grid_radius_in_four_dimensions_is_exact():
    """GravNet-like 4-D points through the grid's radius search: each point's neighbour count
    within r equals all pairs' (capped at max_num_neighbors), pairs within their graph."""
    from gnnx.ops import grid

    gen = torch.Generator().manual_seed(6)
    x = torch.randn(3000, 4, generator=gen)
    batch = torch.arange(2).repeat_interleave(1500)
    assert grid.usable(x, x, 32, False)
    r = 0.5
    edge_index, mask = radius_graph(x, r, batch, max_num_neighbors=32)
    found = torch.zeros(3000, dtype=torch.long).index_add_(0, edge_index[1][mask],
                                                           torch.ones(int(mask.sum()), dtype=torch.long))
    dist = (x[:, None] - x[None]).square().sum(-1).masked_fill(batch[:, None] != batch[None], float("inf"))
    dist.fill_diagonal_(float("inf"))
    assert torch.equal(found, (dist <= r * r).sum(1).clamp(max=32))
    assert bool((batch[edge_index[0][mask]] == batch[edge_index[1][mask]]).all())


def test_brute_force_per_graph_matches_all_pairs():
    """The grid's leftovers searched one graph at a time: each graph's own points, the query
    itself excluded, ties to the smaller index, slots past a small graph's points ``inf`` / 0."""
    from gnnx.ops import neighbors

    gen = torch.Generator().manual_seed(8)
    x = torch.randint(0, 4, (60, 3), generator=gen).float()  # many equal distances
    batch = torch.cat([torch.zeros(25), torch.full((5,), 2), torch.ones(30)]).long()  # graph 2: 5 points
    rows = torch.tensor([0, 3, 26, 29, 40, 59])
    values, index = neighbors._brute_rows(x, x[rows], 8, batch, batch[rows], rows)
    dist = (x[rows, None] - x[None]).square().sum(-1)
    dist = dist.masked_fill(batch[rows, None] != batch[None], float("inf"))
    dist[torch.arange(6), rows] = float("inf")
    key = dist * 100 + torch.arange(60)  # distance first, then the smaller index
    want = key.topk(8, dim=1, largest=False).indices
    want_values = dist.gather(1, want)
    assert torch.equal(values, want_values)
    assert torch.equal(index, torch.where(torch.isinf(want_values), 0, want))
    assert torch.isinf(values[2:4, 4:]).all() and index[2:4, 4:].eq(0).all()  # graph 2: 4 neighbours


def test_grid_ties_go_to_the_smaller_index():
    from gnnx.ops import neighbors

    x = torch.cat([torch.zeros(1, 3), torch.ones(3000, 3)])  # 3000 copies of one point
    _, index = neighbors._nearest(x, x[:1].expand(2100, 3).contiguous(), 4, None, None, False, False)
    assert index[:, 0].eq(0).all() and index[:, 1:].eq(torch.tensor([1, 2, 3])).all()


def test_grid_radius_and_bipartite_knn_are_exact():
    gen = torch.Generator().manual_seed(5)
    x, y = torch.rand(3000, 3, generator=gen), torch.rand(2500, 3, generator=gen)
    r = 0.08
    edge_index, mask = radius_graph(x, r, max_num_neighbors=64)
    found = torch.zeros(3000, dtype=torch.long).index_add_(0, edge_index[1][mask], torch.ones(int(mask.sum()),
                                                                                              dtype=torch.long))
    dist = (x[:, None] - x[None]).square().sum(-1)
    dist.fill_diagonal_(float("inf"))
    assert torch.equal(found, (dist <= r * r).sum(1).clamp(max=64))
    pairs, valid = knn(x, y, 6)
    kth = (y[pairs[0]] - x[pairs[1]]).square().sum(-1).view(2500, 6)
    torch.testing.assert_close(kth, _all_pairs_kth(x, y, 6, None, None, False), atol=1e-5, rtol=1e-5)


def test_k_beyond_the_points_pads_as_a_small_graph_does():
    """k larger than the candidates (eager): the real neighbours, then the documented filler
    (self loops for knn_graph, masked slots for knn), static N * k shape kept."""
    x = torch.rand(5, 3)
    edges = knn_graph(x, 16)
    assert edges.shape == (2, 5 * 16)
    for i in range(5):
        got = edges[0, edges[1] == i].tolist()
        assert sorted(got) == sorted([j for j in range(5) if j != i] + [i] * 12)
    pairs, mask = knn(x, torch.rand(2, 3), 8)
    assert pairs.shape == (2, 16) and mask.view(2, 8).sum(1).tolist() == [5, 5]
    looped = knn_graph(x, 16, loop=True)
    assert looped.shape == (2, 80) and all(i in looped[0, looped[1] == i].tolist() for i in range(5))


def test_empty_point_sets():
    empty = torch.empty(0, 3)
    assert knn_graph(empty, 4).shape == (2, 0)
    edge_index, mask = radius_graph(empty, 0.5)
    assert edge_index.shape == (2, 0) and mask.numel() == 0
    pairs, mask = knn(torch.rand(4, 3), empty, 3)
    assert pairs.shape == (2, 0) and mask.numel() == 0


@pytest.mark.parametrize("call, error, words", [
    (lambda x: knn_graph(x.long(), 3), TypeError, "floating point"),
    (lambda x: knn_graph(x, 3, batch=torch.zeros(10)), TypeError, "integer graph ids"),
    (lambda x: knn_graph(x, -1), ValueError, "k must be"),
    (lambda x: radius_graph(x, -0.5), ValueError, "r must be"),
    (lambda x: radius_graph(x, float("nan")), ValueError, "r must be"),
    (lambda x: radius_graph(x, 0.5, max_num_neighbors=-2), ValueError, "max_num_neighbors"),
    (lambda x: knn_graph(torch.cat([x[:3], torch.tensor([[0.0, float("nan"), 1.0]]), x[4:]]), 3), ValueError,
     "point 3"),
    (lambda x: knn(x, torch.full((2, 3), float("inf")), 3), ValueError, "y must be finite"),
])
def test_bad_point_inputs_are_named(call, error, words):
    with pytest.raises(error, match=words):
        call(torch.rand(10, 3))


def test_compiled_calls_name_a_k_beyond_the_points():
    torch._dynamo.reset()
    compiled = torch.compile(lambda x: knn_graph(x, 8), fullgraph=True, dynamic=True)
    assert compiled(torch.rand(20, 3)).shape == (2, 160)
    with pytest.raises(Exception, match="k neighbours need at least k points"):
        compiled(torch.rand(5, 3))
