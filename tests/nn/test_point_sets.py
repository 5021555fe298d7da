"""PyG's point-set functions in gnnx.nn (fps, knn, knn_graph, radius, radius_graph, nearest,
knn_interpolate): PyG's return conventions, equal to brute force (PyG's own need torch-cluster
or pyg-lib, which do not install for current torch), fps compiled and exported with a
data-dependent output size, PyG's knn_interpolate and PointNet++ set abstraction ported by an
import change."""
import math

import pytest
import torch
import torch_geometric

import gnnx.nn as nn

CUDA = pytest.param("cuda", marks=[pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(),
                                                                        reason="needs CUDA")])
DEVICES = ["cpu", CUDA]


def _clouds(sizes, dims=3, seed=0, device="cpu"):
    gen = torch.Generator().manual_seed(seed)
    pos = torch.rand(sum(sizes), dims, generator=gen)
    batch = torch.arange(len(sizes)).repeat_interleave(torch.tensor(sizes))
    return pos.to(device), batch.to(device)


def _brute_fps(x, batch, ratio, starts):
    taken = []
    for graph, start in zip(range(int(batch.max()) + 1), starts):
        members = (batch == graph).nonzero().view(-1)
        if members.numel() == 0:
            continue
        points = x[members]
        count = math.ceil(torch.tensor(members.numel(), dtype=torch.float32).item() * ratio)
        chosen, nearest = [start], torch.full((members.numel(),), float("inf"), dtype=x.dtype)
        for _ in range(count - 1):
            nearest = torch.minimum(nearest, (points - points[chosen[-1]]).square().sum(1))
            chosen.append(int(nearest.argmax()))  # the first of equal maxima
        taken += [int(members[c]) for c in chosen]
    return torch.tensor(taken)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("sizes, ratio", [([50], 0.5), ([13, 1, 40, 7], 0.25), ([9, 30], 1.0), ([33, 20], 0.1)])
def test_fps_equals_brute_force(device, sizes, ratio):
    pos, batch = _clouds(sizes, device=device)
    got = nn.fps(pos, batch, ratio, random_start=False)
    assert got.dtype == torch.long and got.device.type == device
    assert torch.equal(got.cpu(), _brute_fps(pos.cpu(), batch.cpu(), ratio, [0] * len(sizes)))


def test_fps_random_start_is_a_farthest_sequence_from_a_point_of_each_graph():
    pos, batch = _clouds([20, 30, 25])
    torch.manual_seed(3)
    first = nn.fps(pos, batch, 0.5)
    torch.manual_seed(3)
    assert torch.equal(nn.fps(pos, batch, 0.5), first)  # the global RNG seeds it, as PyG's
    counts = [10, 15, 13]
    starts = [int(first[sum(counts[:g])]) - [0, 20, 50][g] for g in range(3)]
    assert torch.equal(first, _brute_fps(pos, batch, 0.5, starts))


def test_fps_without_batch_flattens_features_and_names_bad_input():
    x = torch.rand(16, 2, 3)
    assert torch.equal(nn.fps(x, ratio=0.5, random_start=False),
                       _brute_fps(x.view(16, 6), torch.zeros(16, dtype=torch.long), 0.5, [0]))
    with pytest.raises(ValueError, match="ratio must be in"):
        nn.fps(x, ratio=0.0)
    with pytest.raises(ValueError, match="batch must be sorted"):
        nn.fps(torch.rand(4, 3), torch.tensor([1, 0, 0, 1]))
    with pytest.raises(TypeError, match="floating point"):
        nn.fps(torch.ones(4, 3, dtype=torch.long))
    assert nn.fps(torch.rand(0, 3)).numel() == 0


def test_fps_compiles_over_point_counts_without_recompiling_and_exports():
    def sampled_mean(pos, batch):
        return pos[nn.fps(pos, batch, 0.5, random_start=False)].mean(0)

    compiled = torch.compile(sampled_mean, fullgraph=True, dynamic=True)
    for i, sizes in enumerate([[20, 30], [41, 17], [9, 60]]):
        pos, batch = _clouds(sizes, seed=i)
        with torch._dynamo.config.patch(error_on_recompile=i == 2):
            torch.testing.assert_close(compiled(pos, batch), sampled_mean(pos, batch))

    class Module(torch.nn.Module):
        def forward(self, pos, batch):
            return sampled_mean(pos, batch)

    pos, batch = _clouds([20, 30])
    points = torch.export.Dim("points", min=2)
    program = torch.export.export(Module(), (pos, batch), dynamic_shapes=({0: points}, {0: points}))
    pos, batch = _clouds([41, 17, 9], seed=5)
    torch.testing.assert_close(program.module()(pos, batch), sampled_mean(pos, batch))


def _brute_neighbours(x, y, batch_x, batch_y, k=None, r=None, exclude_self=False):
    """{(y index, x index)} of the k nearest (or the nearest k within r)."""
    pairs = set()
    for i in range(y.size(0)):
        dist = (x - y[i]).square().sum(1)
        dist[batch_x != batch_y[i]] = float("inf")
        if exclude_self:
            dist[i] = float("inf")
        order = [int(j) for j in dist.argsort() if math.isfinite(dist[j]) and (r is None or dist[j] <= r * r)]
        pairs |= {(i, j) for j in order[:k]}
    return pairs


def _as_pairs(edge_index):
    return set(map(tuple, edge_index.t().tolist()))


@pytest.mark.parametrize("device", DEVICES)
def test_neighbour_graphs_follow_pygs_conventions(device):
    pos, batch = _clouds([30, 3, 25], device=device)  # the 3-point graph has fewer than k others
    cpu_pos, cpu_batch = pos.cpu(), batch.cpu()
    want = _brute_neighbours(cpu_pos, cpu_pos, cpu_batch, cpu_batch, k=5, exclude_self=True)
    graph = nn.knn_graph(pos, 5, batch)
    assert graph.size(1) == 30 * 5 + 3 * 2 + 25 * 5  # only the edges that exist, as PyG's
    assert _as_pairs(graph.flip(0).cpu()) == want  # source_to_target: row 0 the neighbours
    assert _as_pairs(nn.knn_graph(pos, 5, batch, flow="target_to_source").cpu()) == want
    within = _brute_neighbours(cpu_pos, cpu_pos, cpu_batch, cpu_batch, k=4, r=0.3, exclude_self=True)
    assert _as_pairs(nn.radius_graph(pos, 0.3, batch, max_num_neighbors=4).flip(0).cpu()) == within
    queries, query_batch = pos[::4], batch[::4]
    assert _as_pairs(nn.knn(pos, queries, 3, batch, query_batch).cpu()) == _brute_neighbours(
        cpu_pos, queries.cpu(), cpu_batch, query_batch.cpu(), k=3)
    assert _as_pairs(nn.radius(pos, queries, 0.25, batch, query_batch, max_num_neighbors=6).cpu()) == \
        _brute_neighbours(cpu_pos, queries.cpu(), cpu_batch, query_batch.cpu(), k=6, r=0.25)
    with pytest.raises(ValueError, match="flow must be one of"):
        nn.knn_graph(pos, 5, batch, flow="both")


def test_approx_knn_answers_exactly_where_pygs_approximates():
    """PyG's approx_knn / approx_knn_graph (pynndescent) under gnnx's exact search: the
    brute-force neighbours, PyG's edge layout; PyG's own may miss a true neighbour."""
    from gnnx.nn.pool import approx_knn_graph

    pos, batch = _clouds([30, 25])
    queries, query_batch = pos[::3], batch[::3]
    got = nn.approx_knn(pos, queries, 4, batch, query_batch)
    assert got.size(1) == 4 * queries.size(0) and got[0].tolist() == torch.arange(queries.size(0)).repeat_interleave(4).tolist()
    assert _as_pairs(got) == _brute_neighbours(pos, queries, batch, query_batch, k=4)
    graph = approx_knn_graph(pos, 5, batch)
    assert _as_pairs(graph.flip(0)) == _brute_neighbours(pos, pos, batch, batch, k=5, exclude_self=True)
    assert _as_pairs(nn.approx_knn(pos[:, 0], pos[:5, 0], 2)) == _brute_neighbours(pos[:, :1], pos[:5, :1],
                                                                                     torch.zeros(55), torch.zeros(5), k=2)


def test_nearest_assigns_each_point_of_x_to_its_nearest_point_of_y():
    pos, batch = _clouds([30, 25])
    centres, centre_batch = pos[[3, 9, 14, 40, 50]], batch[[3, 9, 14, 40, 50]]
    got = nn.nearest(pos, centres, batch, centre_batch)
    dist = torch.cdist(pos, centres).masked_fill(batch.view(-1, 1) != centre_batch.view(1, -1), float("inf"))
    assert torch.equal(got, dist.argmin(1))
    with pytest.raises(ValueError, match="point 30 of x has no point of y in its graph"):
        nn.nearest(pos, centres[:3], batch, centre_batch[:3])


def test_knn_interpolate_equals_pygs_code(monkeypatch):
    import importlib

    pyg_module = importlib.import_module("torch_geometric.nn.unpool.knn_interpolate")
    monkeypatch.setattr(pyg_module, "knn", nn.knn)  # PyG's own needs torch-cluster
    pos_x, batch_x = _clouds([20, 12])
    pos_y, batch_y = _clouds([35, 2], seed=1)
    x = torch.randn(32, 8, requires_grad=True)
    got = nn.knn_interpolate(x, pos_x, pos_y, batch_x, batch_y, k=3)
    want = pyg_module.knn_interpolate(x, pos_x, pos_y, batch_x, batch_y, k=3)
    torch.testing.assert_close(got, want)
    torch.testing.assert_close(torch.autograd.grad(got.sum(), x)[0], torch.autograd.grad(want.sum(), x)[0])
    compiled = torch.compile(nn.knn_interpolate, fullgraph=True, dynamic=True)
    torch.testing.assert_close(compiled(x, pos_x, pos_y, batch_x, batch_y), got)


class SetAbstraction(torch.nn.Module):
    """PyG's examples/pointnet2_classification.py SAModule, over ``lib`` (gnnx.nn or PyG's)."""

    def __init__(self, lib, ratio, r, channels):
        super().__init__()
        self.lib, self.ratio, self.r = lib, ratio, r
        self.conv = lib.PointNetConv(lib.MLP(channels), add_self_loops=False)

    def forward(self, x, pos, batch):
        idx = self.lib.fps(pos, batch, ratio=self.ratio)
        row, col = self.lib.radius(pos, pos[idx], self.r, batch, batch[idx], max_num_neighbors=64)
        edge_index = torch.stack([col, row], dim=0)
        x_dst = None if x is None else x[idx]
        x = self.conv((x, x_dst), (pos, pos[idx]), edge_index)
        return x, pos[idx], batch[idx]


def test_pointnet2_set_abstraction_ports_by_an_import_change(monkeypatch):
    for name in ("fps", "radius"):  # PyG's need pyg-lib / torch-cluster: the same searches on both sides
        monkeypatch.setattr(torch_geometric.nn, name, getattr(nn, name), raising=False)
    torch.manual_seed(0)
    ours = torch.nn.ModuleList([SetAbstraction(nn, 0.5, 0.3, [3, 16, 32]), SetAbstraction(nn, 0.25, 0.5, [32 + 3, 32, 64])])
    theirs = torch.nn.ModuleList([SetAbstraction(torch_geometric.nn, 0.5, 0.3, [3, 16, 32]),
                                  SetAbstraction(torch_geometric.nn, 0.25, 0.5, [32 + 3, 32, 64])])
    theirs.load_state_dict(ours.state_dict())
    pos, batch = _clouds([60, 45])
    outputs = []
    for model in (ours, theirs):
        torch.manual_seed(1)  # fps's random starts
        x, p, b = None, pos, batch
        for module in model:
            x, p, b = module(x, p, b)
        outputs.append(nn.global_max_pool(x, b))
    assert outputs[0].shape == (2, 64)
    torch.testing.assert_close(outputs[0], outputs[1])


def _brute_voxels(pos, size, batch, start, end):
    """torch-cluster's grid_cluster, written out per point."""
    coords = torch.cat([pos, batch.view(-1, 1).to(pos.dtype)], 1)
    cells = [int((end[d] - start[d]) / size[d]) + 1 for d in range(coords.size(1))]
    out = []
    for point in coords.tolist():
        index, stride = 0, 1
        for d, value in enumerate(point):
            index += int((value - start[d]) / size[d]) * stride
            stride *= cells[d]
        out.append(index)
    return torch.tensor(out)


def test_voxel_grid_equals_grid_cluster():
    pos, batch = _clouds([40, 25, 30])
    coords = torch.cat([pos, batch.view(-1, 1).float()], 1)
    got = nn.voxel_grid(pos, 0.3, batch)
    assert torch.equal(got, _brute_voxels(pos, [0.3] * 3 + [1.0], batch, coords.min(0).values.tolist(),
                                          coords.max(0).values.tolist()))
    got = nn.voxel_grid(pos, [0.2, 0.5], batch, start=0.0, end=[1.0, 1.0, 2.0])  # size 0.5 repeats for z
    assert torch.equal(got, _brute_voxels(pos, [0.2, 0.5, 0.5, 1.0], batch, [0, 0, 0, 0], [1.0, 1.0, 2.0, 2]))
    same_voxel = got.view(-1, 1) == got.view(1, -1)
    same_cell = ((pos / torch.tensor([0.2, 0.5, 0.5])).long().unsqueeze(1) == (pos / torch.tensor(
        [0.2, 0.5, 0.5])).long().unsqueeze(0)).all(-1) & (batch.view(-1, 1) == batch.view(1, -1))
    assert torch.equal(same_voxel, same_cell)


@pytest.mark.parametrize("name", ["max_pool_x", "avg_pool_x"])
def test_cluster_pooling_equals_pygs(name):
    pos, batch = _clouds([40, 25, 30])
    x = torch.randn(95, 6)
    cluster = nn.voxel_grid(pos, 0.4, batch)
    ours, theirs = getattr(nn, name), getattr(torch_geometric.nn, name)
    for got, want in zip(ours(cluster, x, batch), theirs(cluster, x, batch)):
        torch.testing.assert_close(got, want)
    local = cluster - cluster.min()  # ids below batch_size * size: the static form
    size = int(local.max()) // 3 + 1
    got, none = ours(local, x, batch, batch_size=3, size=size)
    want, _ = theirs(local, x, batch, batch_size=3, size=size)
    assert none is None and got.shape == (3 * size, 6)
    torch.testing.assert_close(got, want)


@pytest.mark.parametrize("name", ["max_pool", "avg_pool"])
@pytest.mark.parametrize("with_attr", [True, False])
def test_graph_pooling_equals_pygs(name, with_attr):
    """Voxel pooling of a batch of point-cloud graphs (PyG's mnist_voxel_grid step): features,
    positions, batch and the edges between clusters (merged, their attributes summed)."""
    from gnnx import Graph

    pos, batch = _clouds([40, 25, 30])
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(95, 6, generator=gen)
    edge_index = nn.radius_graph(pos, 0.3, batch)
    edge_attr = torch.randn(edge_index.size(1), 2, generator=gen) if with_attr else None
    cluster = nn.voxel_grid(pos, 0.4, batch)
    got = getattr(nn, name)(cluster, Graph(edge_index, 95, x=x, pos=pos, batch=batch, edge_attr=edge_attr))
    want = getattr(torch_geometric.nn, name)(cluster, torch_geometric.data.Batch(
        x=x, edge_index=edge_index, edge_attr=edge_attr, pos=pos, batch=batch))
    assert got.num_nodes == want.num_nodes
    for key in ("x", "pos", "batch", "edge_index", "edge_attr"):
        a, b = getattr(got, key), getattr(want, key)
        assert (a is None) == (b is None), key
        if a is not None:
            torch.testing.assert_close(a, b)
    with pytest.raises(ValueError, match="one entry per node"):
        getattr(nn, name)(cluster[1:], Graph(edge_index, 95, x=x, pos=pos, batch=batch))
