"""HGTLoader: per-type budgets of sampled nodes per hop, each sampled node an in-neighbour of
an earlier one, the induced subgraph of all of them (PyG's own needs torch-sparse)."""
import pytest
import torch

import gnnx.nn as gnn
from gnnx.data import HGTLoader
from gnnx.datasets import hetero_benchmark_graph


@pytest.fixture(scope="module")
def graph():
    return hetero_benchmark_graph(scale=0.002, num_features=8)


def test_batches_follow_the_budgets_and_are_induced(graph):
    num_samples = {"paper": [30, 20], "author": [25, 10], "institute": [5, 5], "fos": [10, 0]}
    loader = HGTLoader(graph, num_samples, input_nodes=("paper", graph["paper"].train_mask), batch_size=16,
                       shuffle=True)
    batch = next(iter(loader))
    assert batch["paper"].batch_size == 16
    seeds = batch["paper"].n_id[:16]
    assert bool(graph["paper"].train_mask[seeds].all())
    for node_type, store in batch.node_items():
        extra = 16 if node_type == "paper" else 0
        assert store.n_id.numel() <= extra + sum(num_samples[node_type])
        assert store.n_id.unique().numel() == store.n_id.numel()
        torch.testing.assert_close(store.x, graph[node_type].x[store.n_id])
    chosen = {t: set(s.n_id.tolist()) for t, s in batch.node_items()}
    reached = {t: set() for t in graph.node_types}  # every in-neighbour of a sampled node
    for (src, _, dst), store in graph.edge_items():
        for a, b in store.edge_index.t().tolist():
            if b in chosen[dst]:
                reached[src].add(a)
    for node_type in graph.node_types:
        extra = set(seeds.tolist()) if node_type == "paper" else set()
        assert chosen[node_type] - extra <= reached[node_type]
    for edge_type, store in batch.edge_items():
        src_type, _, dst_type = edge_type
        full = graph[edge_type].edge_index
        inside = torch.isin(full[0], batch[src_type].n_id) & torch.isin(full[1], batch[dst_type].n_id)
        assert torch.equal(store.e_id, inside.nonzero().view(-1))  # every edge between sampled nodes
        assert torch.equal(full[:, store.e_id], torch.stack([batch[src_type].n_id[store.edge_index[0]],
                                                             batch[dst_type].n_id[store.edge_index[1]]]))


def test_a_heterogeneous_model_trains_on_hgt_batches(graph):
    loader = HGTLoader(graph, [16, 8], input_nodes="paper", batch_size=32, shuffle=True, seed=1)
    model = gnn.HeteroConv({e: gnn.SAGEConv((-1, -1), 8) for e in graph.edge_types})
    batches = [b for _, b in zip(range(3), loader)]
    with torch.no_grad():
        model(batches[0].x_dict, batches[0].edge_index_dict)
    for batch in batches:
        out = model(batch.x_dict, batch.edge_index_dict)["paper"][:32]
        out.sum().backward()
    assert len(loader) == -(-graph["paper"].num_nodes // 32)


def test_bad_arguments_are_named(graph):
    with pytest.raises(ValueError, match="num_samples names node type 'venue'"):
        HGTLoader(graph, {"venue": [2]}, input_nodes="paper")
    with pytest.raises(ValueError, match="must be non-negative ints"):
        HGTLoader(graph, {"paper": [-1]}, input_nodes="paper")
    with pytest.raises(ValueError, match="no node type 'venue'"):
        HGTLoader(graph, [4], input_nodes="venue")
