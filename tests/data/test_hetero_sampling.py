"""Heterogeneous neighbour sampling: what a batch holds (real edges, seeds first, hop order
and PyG's per-hop counts), the padded static mode, trim_to_layer, and the generated graph."""
import pytest
import torch

import gnnx
import gnnx.nn as gnn
from gnnx.data import HeteroNeighborLoader, NeighborLoader
from gnnx.datasets import hetero_benchmark_graph
from gnnx.utils import trim_to_layer


@pytest.fixture(scope="module")
def graph():
    return hetero_benchmark_graph(scale=0.003, num_features=8)


def test_generated_graph_has_igbh_shape_and_is_valid(graph):
    node_types, edge_types = graph.metadata()
    assert node_types == ["paper", "author", "institute", "fos"] and len(edge_types) == 8
    graph.validate()
    assert graph["paper"].y.max() < 19 and int(graph["paper"].train_mask.sum()) == int(0.6 * graph["paper"].num_nodes)
    degree = torch.bincount(graph["paper", "cites", "paper"].edge_index[1], minlength=graph["paper"].num_nodes)
    assert degree.max() > 5 * degree.float().mean()  # power-law: hubs


def test_exact_batches_hold_real_edges_seeds_first_and_pygs_counts(graph):
    loader = NeighborLoader(graph, num_neighbors=[5, 3], input_nodes=("paper", graph["paper"].train_mask),
                            batch_size=16, shuffle=True)
    assert isinstance(loader, HeteroNeighborLoader)
    batch = next(iter(loader))
    seeds = batch["paper"].n_id[:16]
    assert batch["paper"].batch_size == 16 and bool(graph["paper"].train_mask[seeds].all())
    for node_type, store in batch.node_items():
        assert store.n_id.unique().numel() == store.n_id.numel()
        assert sum(store.num_sampled_nodes) == store.num_nodes
        torch.testing.assert_close(store.x, graph[node_type].x[store.n_id])
    for edge_type, store in batch.edge_items():
        src, _, dst = edge_type
        assert sum(store.num_sampled_edges) == store.edge_index.size(1)
        real = set(map(tuple, graph[edge_type].edge_index.t().tolist()))
        sampled = torch.stack([batch[src].n_id[store.edge_index[0]], batch[dst].n_id[store.edge_index[1]]])
        assert set(map(tuple, sampled.t().tolist())) <= real


def test_fan_outs_per_edge_type(graph):
    cites = ("paper", "cites", "paper")
    loader = NeighborLoader(graph, num_neighbors={cites: [4, 2]}, input_nodes=("paper", torch.arange(8)),
                            batch_size=8)
    batch = next(iter(loader))
    assert batch["author", "written_by", "paper"] is not None
    assert all(batch[e].edge_index.size(1) == 0 for e in graph.edge_types if e != cites)
    assert int(torch.bincount(batch[cites].edge_index[1][:batch[cites].num_sampled_edges[0]]).max()) <= 4


def test_static_mode_gives_one_shape(graph):
    loader = NeighborLoader(graph, num_neighbors=[4, 3], input_nodes=("paper", graph["paper"].train_mask),
                            batch_size=16, shuffle=True, static=True, static_margin=2.0)  # small batches vary
    shapes = set()
    for i, batch in zip(range(4), loader):
        shapes.add(tuple((t, s.x.shape) for t, s in batch.node_items()) +
                   tuple((e, s.edge_index.shape) for e, s in batch.edge_items()))
        for edge_type, store in batch.edge_items():  # padded edges join padded rows only
            pad = ~store.edge_mask
            assert bool((~batch[edge_type[2]].node_mask[store.edge_index[1][pad]]).all())
    assert len(shapes) == 1


def test_static_mode_pads_every_hop_so_trimmed_layers_keep_one_shape(graph):
    """Sizes per type *and hop*: each hop's block is padded in place (one spare row each),
    the per-hop counts are the padded sizes, and a trimmed model gives the seeds the outputs
    of the unpadded batch, with the same shapes at every layer in every batch."""
    from gnnx.data import pad_hetero

    loader = NeighborLoader(graph, num_neighbors=[4, 3], input_nodes=("paper", graph["paper"].train_mask),
                            batch_size=16, shuffle=True, static=True, static_margin=2.0)
    node_sizes, edge_sizes = loader.sizes
    assert all(isinstance(v, list) and len(v) == 3 for v in node_sizes.values())
    exact = NeighborLoader(graph, num_neighbors=[4, 3], input_nodes=("paper", graph["paper"].train_mask),
                           batch_size=16, shuffle=True)
    relations = [("paper", "cites", "paper"), ("author", "rev_written_by", "paper"), ("paper", "written_by", "author")]
    torch.manual_seed(0)
    model = _TrimmedRGAT(relations).eval()
    layer_shapes = set()
    for i, batch in zip(range(3), exact):
        padded = pad_hetero(batch, node_sizes, edge_sizes)
        for node_type, store in batch.node_items():
            got = padded[node_type]
            assert got.num_sampled_nodes == node_sizes[node_type]
            torch.testing.assert_close(got.x[got.node_mask], store.x)
            torch.testing.assert_close(got.n_id[got.node_mask], store.n_id)
        for edge_type, store in batch.edge_items():  # the same real edges, in the same hop blocks
            src, _, dst = edge_type
            got = padded[edge_type]
            ends = torch.stack([padded[src].n_id[got.edge_index[0]], padded[dst].n_id[got.edge_index[1]]])
            want = torch.stack([batch[src].n_id[store.edge_index[0]], batch[dst].n_id[store.edge_index[1]]])
            assert torch.equal(ends[:, got.edge_mask], want)
            assert not bool(padded[dst].node_mask[got.edge_index[1][~got.edge_mask]].any())
        counts = (padded.num_sampled_nodes_dict, padded.num_sampled_edges_dict)
        x, edge_index = padded.x_dict, padded.edge_index_dict
        for layer in range(2):
            x, edge_index, _ = trim_to_layer(layer, *counts, x, edge_index)
            layer_shapes.add((layer, tuple((k, tuple(v.shape)) for k, v in sorted(x.items())),
                              tuple((k, tuple(v.shape)) for k, v in sorted(edge_index.items()))))
        with torch.no_grad():
            got = model(padded.x_dict, padded.edge_index_dict, *counts)[:16]
            want = model(batch.x_dict, batch.edge_index_dict, batch.num_sampled_nodes_dict,
                         batch.num_sampled_edges_dict)[:16]
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
    assert len(layer_shapes) == 2  # one shape per layer over all batches


def test_trimming_keeps_the_seeds_outputs(graph):
    """A two-layer heterogeneous model trimmed per layer (PyG's trim_to_layer protocol) gives
    the seeds the outputs of the untrimmed one."""
    loader = NeighborLoader(graph, num_neighbors=[4, 3], input_nodes=("paper", torch.arange(24)), batch_size=24)
    batch = next(iter(loader))
    torch.manual_seed(0)
    convs = [gnn.HeteroConv({e: gnn.SAGEConv((-1, -1), 8) for e in graph.edge_types}) for _ in range(2)]
    x, edge_index = batch.x_dict, batch.edge_index_dict
    full = x
    for conv in convs:
        full = conv(full, edge_index)
    trimmed, ei = x, edge_index
    for layer, conv in enumerate(convs):
        trimmed, ei, _ = trim_to_layer(layer, batch.num_sampled_nodes_dict, batch.num_sampled_edges_dict,
                                       trimmed, ei)
        trimmed = conv(trimmed, ei)
    torch.testing.assert_close(trimmed["paper"][:24], full["paper"][:24], rtol=1e-5, atol=1e-6)
    assert trimmed["paper"].size(0) < full["paper"].size(0)
    pyg_utils = pytest.importorskip("torch_geometric.utils")
    ours = trim_to_layer(1, batch.num_sampled_nodes_dict, batch.num_sampled_edges_dict, x, edge_index)
    theirs = pyg_utils.trim_to_layer(1, batch.num_sampled_nodes_dict, batch.num_sampled_edges_dict, x, edge_index)
    for a, b in zip(ours[:2], theirs[:2]):
        assert all(torch.equal(a[k], b[k]) for k in a)


class _TrimmedRGAT(torch.nn.Module):
    """MLPerf's R-GAT shape, trimmed per layer from the batch's per-hop counts."""

    def __init__(self, edge_types, layers=2):
        super().__init__()
        self.convs = torch.nn.ModuleList(
            gnn.HeteroConv({e: gnn.GATConv((-1, -1), 4, heads=2, add_self_loops=False) for e in edge_types})
            for _ in range(layers))

    def forward(self, x, edge_index, num_nodes, num_edges):
        for layer, conv in enumerate(self.convs):
            x, edge_index, _ = trim_to_layer(layer, num_nodes, num_edges, x, edge_index)
            x = {k: v.relu() for k, v in conv(x, edge_index).items()}
        return x["paper"]


@pytest.mark.slow
def test_trimmed_model_compiles_once_for_every_batch(graph):
    """The per-hop counts are Python ints that gnnx.compile keeps symbolic: batches of other
    sizes reuse the one compiled graph, and the seeds' outputs equal eager."""
    loader = NeighborLoader(graph, num_neighbors=[4, 3], input_nodes=("paper", graph["paper"].train_mask),
                            batch_size=16, shuffle=True)
    batches = [b for _, b in zip(range(3), loader)]
    torch.manual_seed(0)
    relations = [("paper", "cites", "paper"), ("author", "rev_written_by", "paper"), ("paper", "written_by", "author")]
    model = _TrimmedRGAT(relations).eval()
    counts = (batches[0].num_sampled_nodes_dict, batches[0].num_sampled_edges_dict)
    with torch.no_grad():
        model(batches[0].x_dict, batches[0].edge_index_dict, *counts)  # lazy widths
    torch._dynamo.reset()
    compiled = gnnx.compile(model)
    for i, batch in enumerate(batches):
        counts = (batch.num_sampled_nodes_dict, batch.num_sampled_edges_dict)
        torch.compiler.cudagraph_mark_step_begin()  # a training step starts (PyTorch's CUDA graph trees)
        with torch._dynamo.config.patch(error_on_recompile=i > 0):
            got = compiled(batch.x_dict, batch.edge_index_dict, *counts)[:16]
        expected = model(batch.x_dict, batch.edge_index_dict, *counts)[:16]
        torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)


def test_trimmed_batch_with_a_tiny_type_and_relations_under_gnnx_compile():
    """gnnx.compile pads node types of fewer than two rows and relations of fewer than two
    edges; the padding joins the last hop (its counts grow with it), so trimming still drops
    exactly the real last hop and the seeds' outputs equal eager."""
    gen = torch.Generator().manual_seed(0)
    x = {"paper": torch.randn(18, 5, generator=gen), "author": torch.randn(1, 5, generator=gen)}
    cites = torch.cat([torch.stack([torch.arange(4, 10), torch.arange(6) % 4]),
                       torch.stack([torch.arange(10, 18), 4 + torch.arange(8) % 6])], 1)
    edge_index = {("paper", "cites", "paper"): cites,
                  ("author", "writes", "paper"): torch.tensor([[0], [0]]),    # hop 1
                  ("paper", "rev_writes", "author"): torch.tensor([[10], [0]])}  # hop 2
    num_nodes = {"paper": [4, 6, 8], "author": [0, 1, 0]}
    num_edges = {("paper", "cites", "paper"): [6, 8], ("author", "writes", "paper"): [1, 0],
                 ("paper", "rev_writes", "author"): [0, 1]}
    torch.manual_seed(0)
    model = _TrimmedRGAT(list(edge_index)).eval()
    with torch.no_grad():
        expected = model(x, edge_index, num_nodes, num_edges)
    torch._dynamo.reset()
    got = gnnx.compile(model)(x, edge_index, num_nodes, num_edges)
    torch.testing.assert_close(got[:4], expected[:4], rtol=1e-4, atol=1e-5)
    assert num_nodes == {"paper": [4, 6, 8], "author": [0, 1, 0]}  # the caller's counts untouched


@pytest.mark.parametrize("static", [False, True])
def test_homogeneous_batches_carry_hop_counts_for_trimming(static):
    edge_index = torch.randint(200, (2, 1500), generator=torch.Generator().manual_seed(0))
    graph = gnnx.Graph(edge_index, 200, x=torch.randn(200, 6))
    loader = NeighborLoader(graph, num_neighbors=[4, 3], input_nodes=torch.arange(10), batch_size=10,
                            replace=static)
    batch = next(iter(loader))
    assert sum(batch.num_sampled_nodes) == batch.num_nodes and sum(batch.num_sampled_edges) == batch.num_edges
    torch.manual_seed(0)
    convs = [gnn.SAGEConv(6, 8), gnn.SAGEConv(8, 8)]
    full = convs[1](convs[0](batch.x, batch.edge_index), batch.edge_index)
    x, ei = batch.x, batch.edge_index
    for layer, conv in enumerate(convs):
        x, ei, _ = trim_to_layer(layer, batch.num_sampled_nodes, batch.num_sampled_edges, x, ei)
        x = conv(x, ei)
    torch.testing.assert_close(x[:10], full[:10], rtol=1e-5, atol=1e-6)


class _TrimmedSAGE(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.convs = torch.nn.ModuleList([gnn.SAGEConv(6, 8), gnn.SAGEConv(8, 8)])

    def forward(self, x, edge_index, num_sampled_nodes_per_hop, num_sampled_edges_per_hop):
        for layer, conv in enumerate(self.convs):
            x, edge_index, _ = trim_to_layer(layer, num_sampled_nodes_per_hop, num_sampled_edges_per_hop,
                                             x, edge_index)
            x = conv(x, edge_index).relu()
        return x


@pytest.mark.slow
def test_homogeneous_trimmed_model_under_gnnx_compile():
    """gnnx.compile hands the model a prepared Graph; trim_to_layer narrows its edge_index."""
    edge_index = torch.randint(200, (2, 1500), generator=torch.Generator().manual_seed(0))
    graph = gnnx.Graph(edge_index, 200, x=torch.randn(200, 6))
    loader = NeighborLoader(graph, num_neighbors=[4, 3], input_nodes=torch.arange(30), batch_size=10)
    torch.manual_seed(0)
    model = _TrimmedSAGE()
    torch._dynamo.reset()
    compiled = gnnx.compile(model)
    for batch in loader:
        inputs = (batch.x, batch.edge_index, batch.num_sampled_nodes, batch.num_sampled_edges)
        torch.testing.assert_close(compiled(*inputs)[:10], model(*inputs)[:10], rtol=1e-4, atol=1e-5)
    as_graph = gnnx.Graph(batch.edge_index, batch.num_nodes)
    torch.testing.assert_close(model(batch.x, as_graph, *inputs[2:])[:10], model(*inputs)[:10])


def test_generated_graph_at_tiny_scales_where_a_class_has_no_nodes():
    for scale in (0.0005, 0.001, 0.003):
        graph = hetero_benchmark_graph(scale=scale, num_features=4)
        graph.validate()
    assert torch.equal(hetero_benchmark_graph(scale=0.003, num_features=4)["paper"].y,
                       hetero_benchmark_graph(scale=0.003, num_features=4)["paper"].y)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_static_trimmed_batches_replay_from_cuda_graphs(graph):
    """Per-hop static batches give a trimmed model one shape per layer: CUDA graph trees
    (mode="reduce-overhead") replay its inference from one compiled graph, equal to eager.
    (Training under reduce-overhead fails at the second step in torch 2.11's CUDA graph
    trees, per relation or grouped: "accessing tensor output of CUDAGraphs that has been
    overwritten"; README, heterogeneous sampling.)"""
    cuda_graph = graph.to("cuda")
    loader = NeighborLoader(cuda_graph, num_neighbors=[4, 3], input_nodes=("paper", cuda_graph["paper"].train_mask),
                            batch_size=16, shuffle=True, static=True, static_margin=2.0)
    relations = [("paper", "cites", "paper"), ("author", "rev_written_by", "paper"), ("paper", "written_by", "author")]
    torch.manual_seed(0)
    model = _TrimmedRGAT(relations).cuda()
    batches = [b for _, b in zip(range(4), loader)]
    counts = (batches[0].num_sampled_nodes_dict, batches[0].num_sampled_edges_dict)
    with torch.no_grad():
        model(batches[0].x_dict, batches[0].edge_index_dict, *counts)  # lazy widths
    torch._dynamo.reset()
    compiled = torch.compile(model, mode="reduce-overhead", fullgraph=True, dynamic=False)
    for i, batch in enumerate(batches):
        counts = (batch.num_sampled_nodes_dict, batch.num_sampled_edges_dict)
        with torch.no_grad():
            expected = model(batch.x_dict, batch.edge_index_dict, *counts)[:16]
            torch.compiler.cudagraph_mark_step_begin()
            with torch._dynamo.config.patch(error_on_recompile=i > 0):
                got = compiled(batch.x_dict, batch.edge_index_dict, *counts)[:16]
        torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)


def test_hetero_fanout_minus_one_takes_every_neighbour(graph):
    cites = ("paper", "cites", "paper")
    for replace in (False, True):
        loader = NeighborLoader(graph, num_neighbors={cites: [-1]}, input_nodes=("paper", torch.arange(8)),
                                batch_size=8, replace=replace)
        batch = next(iter(loader))
        degree = torch.bincount(graph[cites].edge_index[1], minlength=graph["paper"].num_nodes)
        assert batch[cites].edge_index.size(1) == int(degree[:8].sum())


@pytest.mark.parametrize("input_nodes, batch_size, words", [
    (("paper", "mask of 3"), 4, "boolean mask needs one entry per node"),
    (("paper", torch.tensor([10 ** 7])), 4, "input_nodes \\('paper'\\) holds node id 10000000"),
    ("paper", 0, "batch_size must be a positive int"),
])
def test_bad_input_nodes_and_batch_sizes_are_named(graph, input_nodes, batch_size, words):
    if isinstance(input_nodes, tuple) and isinstance(input_nodes[1], str):
        input_nodes = ("paper", torch.ones(3, dtype=torch.bool))
    with pytest.raises(ValueError, match=words):
        NeighborLoader(graph, num_neighbors=[2, 2], input_nodes=input_nodes, batch_size=batch_size)


def test_bad_fan_outs_are_named(graph):
    seeds = ("paper", torch.arange(4))
    with pytest.raises(ValueError, match=r"edge types the graph does not have: \[\('paper', 'likes', 'paper'\)\]"):
        NeighborLoader(graph, num_neighbors={("paper", "likes", "paper"): [2]}, input_nodes=seeds, batch_size=4)
    with pytest.raises(ValueError, match=r"must hold whole numbers"):
        NeighborLoader(graph, num_neighbors=[2.5, 2], input_nodes=seeds, batch_size=4)
