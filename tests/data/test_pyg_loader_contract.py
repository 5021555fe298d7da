"""gnnx's loaders take what PyG's take and batch as PyG's batch (PyG's own tests, ported with the
import changed, found each gap here; counts in bench/results/cpu/session31_pyg_loader_tests.txt)."""
from collections import namedtuple

import pytest
import torch

import gnnx
from gnnx.data import HeteroBatch
from gnnx.loader import DataLoader, ImbalancedSampler, NeighborLoader, RandomNodeLoader, TemporalDataLoader

pyg_data = pytest.importorskip("torch_geometric.data")
pyg_loader = pytest.importorskip("torch_geometric.loader")

DEVICES = ["cpu", pytest.param("cuda", marks=[pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(),
                                                                                   reason="needs CUDA")])]


def _random_data(n, e, seed, **extra):
    gen = torch.Generator().manual_seed(seed)
    return pyg_data.Data(x=torch.randn(n, 4, generator=gen), edge_index=torch.randint(n, (2, e), generator=gen),
                         **extra)


def test_dataloader_batches_pyg_data_with_numbers_faces_and_followed_attributes():
    data = pyg_data.Data(x=torch.ones(3, 1), edge_index=torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]]), y=2.0,
                         z=torch.tensor(0.0), name="data", face=torch.tensor([[0], [1], [2]]))
    ours = next(iter(DataLoader([data] * 4, batch_size=2, follow_batch=["edge_index", "x"], exclude_keys=["z"])))
    theirs = next(iter(pyg_loader.DataLoader([data] * 4, batch_size=2, follow_batch=["edge_index", "x"],
                                             exclude_keys=["z"])))
    assert ours.num_graphs == len(ours) == 2
    for name in ("edge_index", "y", "face", "batch", "ptr", "edge_index_batch", "x_batch", "x_ptr"):
        assert torch.equal(getattr(ours, name), getattr(theirs, name)), name
    assert ours.name == theirs.name == ["data", "data"]
    assert "z" not in ours.attrs


def test_dataloader_batches_points_without_edges_and_sparse_adjacency():
    clouds = [pyg_data.Data(pos=torch.randn(n, 3), y=torch.tensor(n)) for n in (5, 7, 4)]
    batch = next(iter(DataLoader(clouds, batch_size=3)))
    assert batch.num_nodes == 16 and batch.edge_index.shape == (2, 0)
    assert torch.equal(batch.batch, torch.tensor([0] * 5 + [1] * 7 + [2] * 4))
    adj = torch.sparse_coo_tensor(torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]]), torch.randn(4), (3, 3))
    batch = next(iter(DataLoader([pyg_data.Data(adj_t=adj), pyg_data.Data(adj_t=adj)], batch_size=2)))
    expected = torch.block_diag(adj.to_dense(), adj.to_dense())
    assert batch.adj_t.is_sparse and torch.equal(batch.adj_t.to_dense(), expected)


def test_dataloader_falls_back_to_pyg_collation_for_other_items():
    assert torch.equal(next(iter(DataLoader([torch.ones(3)] * 4, batch_size=4))), torch.ones(4, 3))
    assert torch.equal(next(iter(DataLoader([1.0] * 4, batch_size=4))), torch.ones(4))
    assert torch.equal(next(iter(DataLoader([1] * 4, batch_size=4))), torch.ones(4, dtype=torch.long))
    assert next(iter(DataLoader(["a"] * 4, batch_size=4))) == ["a"] * 4
    batch = next(iter(DataLoader([{"x": torch.ones(3), "y": 1}] * 4, batch_size=4)))
    assert torch.equal(batch["x"], torch.ones(4, 3)) and torch.equal(batch["y"], torch.ones(4, dtype=torch.long))
    Pair = namedtuple("Pair", "x y")
    batch = next(iter(DataLoader([Pair(0.0, 1)] * 4, batch_size=4)))
    assert torch.equal(batch.x, torch.zeros(4)) and torch.equal(batch.y, torch.ones(4, dtype=torch.long))
    with pytest.raises(TypeError, match="cannot batch items of type object"):
        next(iter(DataLoader([object()] * 2, batch_size=2)))


class PairData(pyg_data.Data):
    """PyG's tutorial pair of graphs in one Data: each edge_index shifts by its own graph."""

    def __inc__(self, key, value, *args, **kwargs):
        if key == "edge_index_s":
            return self.x_s.size(0)
        if key == "edge_index_t":
            return self.x_t.size(0)
        return super().__inc__(key, value, *args, **kwargs)


def test_data_classes_with_their_own_rules_batch_by_them():
    pairs = [PairData(x_s=torch.randn(n, 2), edge_index_s=torch.tensor([[0], [n - 1]]), x_t=torch.randn(2, 2),
                      edge_index_t=torch.tensor([[0], [1]])) for n in (3, 5)]
    ours = next(iter(DataLoader(pairs, batch_size=2, follow_batch=["x_s", "x_t"])))
    theirs = next(iter(pyg_loader.DataLoader(pairs, batch_size=2, follow_batch=["x_s", "x_t"])))
    for name in ("edge_index_s", "edge_index_t", "x_s_batch", "x_t_batch"):
        assert torch.equal(ours[name], theirs[name]), name
    assert ours.edge_index_s.tolist() == [[0, 3], [2, 7]]  # shifted by x_s's rows, not by num_nodes


def _hetero(seed):
    gen = torch.Generator().manual_seed(seed)
    data = pyg_data.HeteroData()
    data["p"].x = torch.randn(10 + seed, 4, generator=gen)
    data["a"].x = torch.randn(6 + seed, 4, generator=gen)
    data["p", "to", "a"].edge_index = torch.stack([torch.randint(10 + seed, (20,), generator=gen),
                                                   torch.randint(6 + seed, (20,), generator=gen)])
    data["p", "to", "a"].edge_attr = torch.randn(20, 3, generator=gen)
    return data


def test_heterogeneous_graphs_batch_as_pyg_batches_them():
    graphs = [_hetero(s) for s in range(3)]
    ours = next(iter(DataLoader(graphs, batch_size=3)))
    theirs = pyg_data.Batch.from_data_list(graphs)
    assert isinstance(ours, HeteroBatch) and ours.num_graphs == len(ours) == 3
    for node_type in ("p", "a"):
        for name in ("x", "batch", "ptr"):
            assert torch.equal(ours[node_type][name], theirs[node_type][name]), (node_type, name)
    for name in ("edge_index", "edge_attr"):
        assert torch.equal(ours["p", "to", "a"][name], theirs["p", "to", "a"][name])
    native = next(iter(DataLoader([gnnx.HeteroGraph.from_pyg(g) for g in graphs], batch_size=3)))
    assert torch.equal(native["p", "to", "a"].edge_index, ours["p", "to", "a"].edge_index)
    for graph, example in zip(graphs, ours.to("cpu").to_data_list()):  # and apart again
        assert torch.equal(example["a"].x, graph["a"].x)
        assert torch.equal(example["p", "to", "a"].edge_index, graph["p", "to", "a"].edge_index)
        assert torch.equal(example["p", "to", "a"].edge_attr, graph["p", "to", "a"].edge_attr)


@pytest.mark.parametrize("device", DEVICES)
def test_exact_batches_keep_repeated_seeds_carry_e_id_edge_attributes_and_masks(device):
    data = _random_data(60, 400, 0, edge_attr=torch.arange(400.0).view(-1, 1), train_mask=torch.rand(60) > 0.5)
    data = data.to(device)
    seeds = torch.tensor([5, 7, 5, 9, 5], device=device)
    batch = NeighborLoader(data, num_neighbors=[4, 3], input_nodes=seeds, batch_size=5)(torch.arange(5))
    assert torch.equal(batch.n_id[:5], seeds)  # every input on its own row, in order
    assert torch.equal(batch.edge_attr.view(-1), batch.e_id.float())  # edge attributes follow e_id
    assert torch.equal(batch.train_mask, data.train_mask[batch.n_id])
    real = data.edge_index[:, batch.e_id]
    assert torch.equal(batch.n_id[batch.edge_index], real)  # each edge is the input edge e_id
    for row in range(5):  # every seed row has in-edges of its own
        assert (batch.edge_index[1] == row).any()


def test_neighbor_loader_honours_sampler_transform_and_refuses_what_it_cannot_do():
    y = torch.cat([torch.zeros(10, dtype=torch.long), torch.ones(90, dtype=torch.long)])
    data = pyg_data.Data(edge_index=torch.empty(2, 0, dtype=torch.long), y=y, num_nodes=100)
    torch.manual_seed(0)
    loader = NeighborLoader(data, num_neighbors=[-1], batch_size=10, sampler=ImbalancedSampler(data))
    labels = torch.cat([batch.y[:batch.batch_size] for batch in loader])
    assert labels.numel() == 100 and 0.3 < labels.float().mean() < 0.7  # balanced, not 90 % ones
    marked = NeighborLoader(data=data, num_neighbors=[1], batch_size=50, transform=lambda b: b.replace(seen=True))
    assert all(batch.seen for batch in marked)
    with pytest.raises(ValueError, match="time_attr 'time' must name a node- or edge-level"):
        NeighborLoader(data, num_neighbors=[1], time_attr="time")
    with pytest.raises(ValueError, match="subgraph_type='weird' is not supported"):
        NeighborLoader(data, num_neighbors=[1], subgraph_type="weird")
    with pytest.raises(TypeError, match="unexpected option 'bogus'"):
        NeighborLoader(data, num_neighbors=[1], bogus=1)
    mask = torch.ones(100, dtype=torch.bool)
    mask[0] = False
    assert NeighborLoader(data, num_neighbors=[1], input_nodes=mask, batch_size=2)([0, 1]).input_id.tolist() == [1, 2]


def test_bidirectional_batches_reproduce_the_full_graph_outputs():
    from gnnx.nn import GraphConv

    data = _random_data(40, 120, 1)
    data.edge_index = torch.cat([data.edge_index, data.edge_index.flip(0)], 1).unique(dim=1)  # undirected, simple
    data.edge_attr = torch.randn(data.edge_index.size(1), 2)
    conv1, conv2 = GraphConv(4, 8), GraphConv(8, 3)

    def model(x, edge_index):
        return conv2(conv1(x, edge_index).relu(), edge_index)

    seeds = torch.arange(5, 9)
    full = model(data.x, data.edge_index)[seeds]
    loader = NeighborLoader(data, num_neighbors=[-1, -1], input_nodes=seeds, batch_size=4, subgraph_type="bidirectional")
    batch = next(iter(loader))
    assert torch.allclose(model(batch.x, batch.edge_index)[:4], full, atol=1e-5)
    assert torch.equal(batch.edge_attr, data.edge_attr[batch.e_id])
    assert "num_sampled_nodes" not in batch.attrs


def test_heterogeneous_batches_carry_edge_attributes_masks_and_input_ids():
    data = _hetero(0)
    data["a", "rev_to", "p"].edge_index = data["p", "to", "a"].edge_index.flip(0)
    data["a"].train_mask = torch.arange(6) % 2 == 0
    loader = NeighborLoader(data, num_neighbors=[-1, -1], input_nodes=("a", torch.tensor([1, 3, 1])), batch_size=3)
    batch = next(iter(loader))
    store = batch["p", "to", "a"]
    assert torch.equal(store.edge_attr, data["p", "to", "a"].edge_attr[store.e_id])
    assert torch.equal(batch["a"].n_id[:3], torch.tensor([1, 3, 1]))
    assert torch.equal(batch["a"].train_mask, data["a"].train_mask[batch["a"].n_id])
    assert batch["a"].input_id.tolist() == [0, 1, 2]
    both = next(iter(NeighborLoader(data, num_neighbors=[-1], input_nodes="a", batch_size=6,
                                    subgraph_type="bidirectional")))
    assert torch.equal(both["a", "rev_to", "p"].edge_index, both["p", "to", "a"].edge_index.flip(0))


def test_random_node_loader_and_temporal_loader_take_pyg_objects():
    data = _random_data(100, 500, 2, node_id=torch.arange(100), edge_attr=torch.randn(500, 3))
    for batch in RandomNodeLoader(data, num_parts=4, shuffle=True):
        assert torch.equal(batch.x, data.x[batch.node_id]) and batch.edge_attr.size(0) == batch.num_edges
    hetero = _hetero(1)
    parts = list(RandomNodeLoader(hetero, num_parts=3))
    assert sum(p["p"].num_nodes for p in parts) == 11 and sum(p["a"].num_nodes for p in parts) == 7
    events = pyg_data.TemporalData(src=torch.arange(10), dst=torch.arange(10), t=torch.arange(10),
                                   msg=torch.randn(10, 4))
    batches = list(TemporalDataLoader(events, batch_size=4))
    assert [b.src.tolist() for b in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


def _bipartite(seed=0):
    gen = torch.Generator().manual_seed(seed)
    data = pyg_data.HeteroData()
    data["user"].x = torch.arange(30.0).view(-1, 1)
    data["movie"].x = torch.arange(100.0, 140.0).view(-1, 1)
    ratings = torch.stack([torch.randint(30, (200,), generator=gen), torch.randint(40, (200,), generator=gen)])
    data["user", "rates", "movie"].edge_index = ratings
    data["movie", "rev_rates", "user"].edge_index = ratings.flip(0)
    return data


@pytest.mark.parametrize("device", DEVICES)
def test_heterogeneous_link_loader_binary_batches_as_pyg_lays_them_out(device):
    from gnnx.loader import LinkNeighborLoader

    data = _bipartite()
    links = data["user", "rates", "movie"].edge_index
    labels = torch.randint(0, 5, (200,))  # ratings 0-4: shifted up by one, 0 marks negatives
    loader = LinkNeighborLoader(data.clone().to(device), num_neighbors=[5, 3],
                                edge_label_index=(("user", "rates", "movie"), links.to(device)),
                                edge_label=labels.to(device), neg_sampling_ratio=2.0, batch_size=16, shuffle=True)
    assert str(loader) == "LinkNeighborLoader()" and len(loader) == 13
    for batch in loader:
        batch = batch.to("cpu")
        store = batch["user", "rates", "movie"]
        assert batch.input_type == ("user", "rates", "movie")
        positives = store.input_id.numel()
        assert store.edge_label_index.size(1) == positives + 2 * positives
        assert torch.equal(store.edge_label[:positives], labels[store.input_id] + 1)
        assert (store.edge_label[positives:] == 0).all()
        users = batch["user"].x[store.edge_label_index[0, :positives], 0].long()
        movies = batch["movie"].x[store.edge_label_index[1, :positives], 0].long() - 100
        assert torch.equal(torch.stack([users, movies]), links[:, store.input_id])  # positives are the links
        ends = batch["movie"].x[store.edge_label_index[1], 0]
        assert ends.min() >= 100  # every endpoint is a movie row


def test_triplet_negatives_homogeneous_and_heterogeneous():
    from gnnx.loader import LinkNeighborLoader

    data = _random_data(50, 300, 3)
    loader = LinkNeighborLoader(data, num_neighbors=[2], batch_size=10, neg_sampling=dict(mode="triplet", amount=3))
    batch = loader(torch.arange(10))
    assert batch.src_index.shape == (10,) and batch.dst_pos_index.shape == (10,) and batch.dst_neg_index.shape == (10, 3)
    pairs = torch.stack([batch.n_id[batch.src_index], batch.n_id[batch.dst_pos_index]])
    assert torch.equal(pairs, data.edge_index[:, :10])
    hetero = LinkNeighborLoader(_bipartite(), num_neighbors=[2], edge_label_index=("user", "movie"), batch_size=8,
                                neg_sampling="triplet")
    batch = hetero(torch.arange(8))
    assert batch["user"].src_index.shape == (8,) and batch["movie"].dst_neg_index.shape == (8,)
    with pytest.raises(ValueError, match="takes no edge_label"):
        LinkNeighborLoader(data, num_neighbors=[2], edge_label=torch.ones(300), neg_sampling="triplet")
    with pytest.raises(ValueError, match="whole amount"):
        LinkNeighborLoader(data, num_neighbors=[2], neg_sampling=dict(mode="triplet", amount=1.5))


def test_bidirectional_link_batches_keep_their_links():
    from gnnx.loader import LinkNeighborLoader

    data = _bipartite()
    loader = LinkNeighborLoader(data, num_neighbors=[-1], edge_label_index=("user", "rates", "movie"), batch_size=20,
                                subgraph_type="bidirectional")
    batch = next(iter(loader))
    store = batch["user", "rates", "movie"]
    assert store.edge_label_index.size(1) == 20 and store.input_id.numel() == 20 and "e_id" not in store
    assert torch.equal(batch["movie", "rev_rates", "user"].edge_index, store.edge_index.flip(0))


def _reachable(edge_index, seed, hops, allowed):
    """Nodes within ``hops`` in-edges of ``seed`` through allowed nodes (brute force)."""
    seen, frontier = {seed}, {seed}
    for _ in range(hops):
        new = {int(s) for s, d in edge_index.t().tolist() if d in frontier and allowed(int(s))} - seen
        seen |= new
        frontier = new
    return seen


@pytest.mark.parametrize("device", DEVICES)
def test_temporal_disjoint_sampling_sees_no_future_and_each_seed_its_own_tree(device):
    data = _random_data(40, 200, 4, time=torch.randint(0, 10, (40,)))
    seeds = torch.tensor([3, 7, 3, 11])
    loader = NeighborLoader(data.clone().to(device), num_neighbors=[-1, -1], input_nodes=seeds.to(device),
                            batch_size=4, time_attr="time")  # PyG's Data.to moves in place: a copy
    batch = next(iter(loader)).to("cpu")
    assert torch.equal(batch.n_id[:4], seeds) and torch.equal(batch.batch[:4], torch.arange(4))
    for b, seed in enumerate(seeds.tolist()):
        t = int(data.time[seed])
        mine = set(batch.n_id[batch.batch == b].tolist())
        assert mine == _reachable(data.edge_index, seed, 2, lambda v: int(data.time[v]) <= t), b
    src, dst = batch.edge_index
    assert torch.equal(batch.batch[src], batch.batch[dst])  # no edge crosses trees
    assert torch.equal(batch.n_id[batch.edge_index], data.edge_index[:, batch.e_id])
    assert (batch.time <= batch.seed_time[batch.batch]).all()


def test_temporal_strategy_last_keeps_the_latest_neighbours():
    edge_index = torch.stack([torch.arange(1, 9), torch.zeros(8, dtype=torch.long)])  # 1..8 -> 0
    data = pyg_data.Data(edge_index=edge_index, num_nodes=9, time=torch.tensor([5, 0, 1, 2, 3, 4, 5, 6, 7]))
    loader = NeighborLoader(data, num_neighbors=[3], input_nodes=torch.tensor([0]), time_attr="time",
                            temporal_strategy="last")
    assert sorted(next(iter(loader)).n_id[1:].tolist()) == [4, 5, 6]  # times 3, 4, 5: the latest not after 5
    disjoint = NeighborLoader(data, num_neighbors=[-1], input_nodes=torch.tensor([0, 0]), batch_size=2,
                              disjoint=True)
    batch = next(iter(disjoint))
    assert batch.num_nodes == 18 and torch.equal(batch.batch.bincount(), torch.tensor([9, 9]))


def test_heterogeneous_temporal_sampling_with_input_time():
    data = pyg_data.HeteroData()
    data["a"].x = torch.arange(10)
    data["b"].x = torch.arange(10)
    data["b"].time = torch.arange(0, 10)
    data["c"].x = torch.arange(10)
    data["c"].time = torch.arange(1, 11)
    for one, other in (("a", "b"), ("b", "a"), ("a", "c"), ("c", "a")):
        data[one, "to", other].edge_index = torch.arange(10).view(1, -1).repeat(2, 1)
    loader = NeighborLoader(data, num_neighbors=[-1], input_nodes="a", time_attr="time",
                            input_time=torch.arange(0, 10), batch_size=10)
    batch = next(iter(loader))
    assert batch["a"].num_nodes == 10 and batch["b"].num_nodes == 10 and batch["c"].num_nodes == 0
    assert torch.equal(batch["b"].batch, batch["b"].x)  # seed i reaches b's node i (time i <= i)
    with pytest.raises(ValueError, match="disjoint, temporal, induced and weighted sampling are exact"):
        NeighborLoader(data, num_neighbors=[1], input_nodes="a", disjoint=True, replace=True)


@pytest.mark.parametrize("device", DEVICES)
def test_induced_batches_hold_every_edge_between_the_sampled_nodes(device):
    data = _random_data(50, 300, 5, edge_attr=torch.arange(300.0))
    loader = NeighborLoader(data.clone().to(device), num_neighbors=[2, 2], input_nodes=torch.arange(6, device=device),
                            batch_size=6, subgraph_type="induced")
    batch = next(iter(loader)).to("cpu")
    n_id = set(batch.n_id.tolist())
    between = [(s, d) for s, d in data.edge_index.t().tolist() if s in n_id and d in n_id]
    assert sorted(map(tuple, batch.n_id[batch.edge_index].t().tolist())) == sorted(between)
    assert torch.equal(batch.edge_attr, data.edge_attr[batch.e_id]) and "num_sampled_edges" not in batch.attrs
    hetero = _hetero(2)
    batch = next(iter(NeighborLoader(hetero, num_neighbors=[3], input_nodes="a", batch_size=4, directed=False)))
    store = batch["p", "to", "a"]
    p_ids, a_ids = set(batch["p"].n_id.tolist()), set(batch["a"].n_id.tolist())
    edges = hetero["p", "to", "a"].edge_index.t().tolist()
    assert store.edge_index.size(1) == sum(1 for s, d in edges if s in p_ids and d in a_ids)
    assert torch.equal(store.edge_attr, hetero["p", "to", "a"].edge_attr[store.e_id])


@pytest.mark.parametrize("device", DEVICES)
def test_weighted_sampling_draws_in_proportion_and_never_a_zero_weight(device):
    edge_index = torch.tensor([[1, 2, 3, 4, 5], [0, 0, 0, 0, 0]])
    data = pyg_data.Data(edge_index=edge_index, num_nodes=6, w=torch.tensor([1.0, 1.0, 1.0, 97.0, 0.0]))
    seeds = torch.zeros(400, dtype=torch.long)
    loader = NeighborLoader(data.clone().to(device), num_neighbors=[1], input_nodes=seeds.to(device), batch_size=400,
                            weight_attr="w", disjoint=False)
    batch = next(iter(loader)).to("cpu")
    picks = batch.n_id[batch.edge_index[0]]  # each seed row drew one in-edge
    assert picks.numel() == 400
    assert (picks != 5).all() and 0.9 < (picks == 4).float().mean() <= 1.0
    batch = NeighborLoader(data, num_neighbors=[4], input_nodes=torch.tensor([0]), weight_attr="w")([0])
    assert sorted(batch.n_id[1:].tolist()) == [1, 2, 3, 4]  # four draws: every edge with weight, 5 never
    hetero = _hetero(3)
    hetero["p", "to", "a"].w = torch.zeros(20)
    hetero["p", "to", "a"].w[0] = 1.0
    batch = next(iter(NeighborLoader(hetero, num_neighbors=[5], input_nodes="a", batch_size=9, weight_attr="w")))
    assert batch["p", "to", "a"].e_id.tolist() == [0]
    with pytest.raises(ValueError, match="non-negative"):
        NeighborLoader(pyg_data.Data(edge_index=edge_index, num_nodes=6, w=-torch.ones(5)), num_neighbors=[1],
                       weight_attr="w")
