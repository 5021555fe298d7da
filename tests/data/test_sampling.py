"""Neighbour sampling: static shapes with replacement, exact without; edges are real."""
import pytest
import torch

import gnnx
from gnnx.data import NeighborLoader, sample_exact, sample_static
from gnnx.datasets import Planetoid
from gnnx.nn import GraphSAGE


def _graph(seed=0, n=200, e=1500):
    gen = torch.Generator().manual_seed(seed)
    edge_index = torch.randint(n, (2, e), generator=gen)
    return gnnx.Graph(edge_index, n, x=torch.randn(n, 4, generator=gen), y=torch.randint(3, (n,), generator=gen))


def _edge_set(g):
    return set(map(tuple, g.edge_index.t().tolist()))


def test_static_sampling_has_static_shapes_and_real_edges():
    g = _graph()
    edges = _edge_set(g)
    for b in (7, 31):
        sub = sample_static(g, torch.arange(b), [5, 3], torch.Generator().manual_seed(b))
        assert sub.num_nodes == b * (1 + 5 + 15) and sub.num_edges == b * (5 + 15)
        src, dst = sub.n_id[sub.edge_index[0]], sub.n_id[sub.edge_index[1]]
        for s, d, ok in zip(src.tolist(), dst.tolist(), sub.edge_mask.tolist()):
            assert (s, d) in edges if ok else s == d
        assert torch.equal(sub.x, g.x[sub.n_id]) and int(sub.seed_mask.sum()) == b


def test_exact_sampling_takes_distinct_edges_up_to_fanout():
    g = _graph()
    edges = _edge_set(g)
    sub = sample_exact(g, torch.tensor([0, 5, 9]), [4, 2], torch.Generator().manual_seed(0))
    assert sub.n_id[:3].tolist() == [0, 5, 9] and sub.n_id.unique().numel() == sub.num_nodes
    pairs = list(zip(sub.n_id[sub.edge_index[0]].tolist(), sub.n_id[sub.edge_index[1]].tolist()))
    assert all(p in edges for p in pairs)
    for seed in (0, 5, 9):  # seeds are expanded once: exactly min(fanout, in-degree) edges in
        assert sum(1 for p in pairs if p[1] == seed) == min(4, int(g.in_degree[seed]))


def test_loader_trains_sage_compiled_once_on_cora():
    g = Planetoid("Cora")[0]
    loader = NeighborLoader(g, [5, 5], seeds=g.train_mask.nonzero().view(-1), batch_size=35, drop_last=True)
    model = GraphSAGE(g.x.size(1), 16, 2, 7)
    compiled = torch.compile(model, fullgraph=True, dynamic=False)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    losses = []
    with torch._dynamo.config.patch(error_on_recompile=True):
        for _ in range(8):
            for sub in loader:
                optimizer.zero_grad()
                out = compiled(sub.x, sub.edge_index)[sub.seed_mask]
                loss = torch.nn.functional.cross_entropy(out, sub.y[sub.seed_mask])
                loss.backward()
                optimizer.step()
                losses.append(float(loss))
    assert len(loader) == 4 and losses[-1] < losses[0]


def test_zero_degree_seeds_are_masked_self_loops():
    g = gnnx.Graph(torch.tensor([[1], [0]]), 3)
    sub = sample_static(g, torch.tensor([2]), [3])
    assert not sub.edge_mask.any() and sub.edge_index[0].eq(0).all()


@pytest.mark.parametrize("method", ["floyd", "random_keys"])
def test_draws_without_replacement_are_distinct_and_uniform(method):
    """Small rows keep every edge; large rows draw fanout distinct positions (Floyd's
    algorithm on the CPU, the smallest random keys on a GPU: both run here), each edge of a
    row equally likely."""
    from gnnx.data import sampling
    from gnnx.graph import build_csr

    def draw_without_replacement(csr, frontier, fanout, gen):
        if method == "floyd":
            return sampling.draw_without_replacement(csr, frontier, fanout, gen)
        start = csr.rowptr[frontier]
        slot, owner = sampling._smallest_random_keys(frontier, start, csr.rowptr[frontier + 1] - start, fanout, gen)
        return csr.col[slot], frontier[owner]

    # node 0: 20 incoming edges, node 1: 3, node 2: none
    src = torch.cat([torch.arange(10, 30), torch.tensor([40, 41, 42])])
    dst = torch.cat([torch.zeros(20, dtype=torch.long), torch.ones(3, dtype=torch.long)])
    csr = build_csr(torch.stack([src, dst]), 50)
    gen = torch.Generator().manual_seed(0)
    hits = torch.zeros(50)
    for _ in range(2000):
        sources, destinations = draw_without_replacement(csr, torch.tensor([0, 1, 2]), 5, gen)
        assert (destinations == 0).sum() == 5 and (destinations == 1).sum() == 3 and (destinations == 2).sum() == 0
        assert sources[destinations == 0].unique().numel() == 5
        assert sorted(sources[destinations == 1].tolist()) == [40, 41, 42]
        hits[sources[destinations == 0]] += 1
    share = hits[10:30] / 2000  # each of the 20 edges: 5 / 20 of the draws
    assert float((share - 0.25).abs().max()) < 0.05


def test_fanout_minus_one_takes_every_neighbour_as_pyg():
    g = _graph()
    sub = sample_exact(g, torch.tensor([0, 5, 9]), [-1], torch.Generator().manual_seed(0))
    dst = sub.n_id[sub.edge_index[1]]
    for seed in (0, 5, 9):
        assert int((dst == seed).sum()) == int(g.in_degree[seed])
    loader = NeighborLoader(g, num_neighbors=[-1, 2], input_nodes=torch.arange(4), batch_size=4)
    assert next(iter(loader)).num_sampled_edges[0] == int(g.in_degree[:4].sum())
    with pytest.raises(ValueError, match="exact sampling"):
        NeighborLoader(g, [-1, 2], replace=True)


@pytest.mark.parametrize("kwargs, error, words", [
    ({"seeds": torch.tensor([0, 500])}, ValueError, "node id 500, outside the 200 nodes"),
    ({"input_nodes": torch.ones(3, dtype=torch.bool)}, ValueError, "one entry per node \\(200\\)"),
    ({"seeds": torch.tensor([0.0, 1.0])}, TypeError, "integer node ids"),
    ({"seeds": torch.arange(4), "batch_size": 0}, ValueError, "batch_size must be a positive int"),
    ({"num_neighbors": [2.5], "input_nodes": None}, ValueError, r"num_neighbors must hold whole numbers .*\[2.5\]"),
])
def test_bad_seeds_and_batch_sizes_are_named(kwargs, error, words):
    fanouts = {} if "num_neighbors" in kwargs else {"num_neighbors": [2]} if "input_nodes" in kwargs else {"fanouts": [2]}
    with pytest.raises(error, match=words):
        NeighborLoader(_graph(), **fanouts, **kwargs)


def test_numpy_whole_numbers_as_batch_size_and_fanouts():
    """Sizes read from a config or computed with numpy (``np.int64``) are whole numbers too."""
    import numpy as np

    loader = NeighborLoader(_graph(), num_neighbors=[np.int64(2)], input_nodes=torch.arange(6),
                            batch_size=np.int64(4))
    assert loader.batch_size == 4 and type(loader.batch_size) is int
    assert [int(b.batch_size) for b in loader] == [4, 2]
