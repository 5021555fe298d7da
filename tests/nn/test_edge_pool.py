"""EdgePooling against PyG's: keys and repr, pooled features, edges, batch and unpooled
features with PyG's weights, for each edge-score method; gradients; eager only, as PyG's."""
import pytest
import torch

import gnnx.nn as G
from tests.cases import graph_batch

P = pytest.importorskip("torch_geometric.nn")


@pytest.mark.parametrize("method", [None, "compute_edge_score_tanh", "compute_edge_score_sigmoid"])
def test_equal_to_pyg(method):
    torch.manual_seed(0)
    pyg = P.EdgePooling(16, None if method is None else getattr(P.EdgePooling, method), add_to_edge_score=0.3)
    ours = G.EdgePooling(16, None if method is None else getattr(G.EdgePooling, method), add_to_edge_score=0.3)
    assert repr(ours) == repr(pyg) and list(ours.state_dict()) == list(pyg.state_dict())
    ours.load_state_dict(pyg.state_dict())
    x, edge_index, batch = graph_batch([6, 9, 5])
    edge_index = torch.cat([edge_index, torch.tensor([[3, 11], [3, 11]])], 1)  # self loops take part too
    results = []
    for model in (pyg, ours):
        x_leaf = x.clone().requires_grad_()
        out, pooled_edges, pooled_batch, info = model(x_leaf, edge_index, batch)
        back, back_edges, back_batch = model.unpool(out, info)
        (out.square().sum() + back.sum()).backward()
        results.append((out, pooled_edges, pooled_batch, info.cluster, info.new_edge_score, back, back_edges,
                        back_batch, x_leaf.grad, model.lin.weight.grad))
    for a, b in zip(results[1], results[0]):
        torch.testing.assert_close(a, b)
    assert results[1][0].size(0) < x.size(0)


def test_a_graph_without_edges_keeps_its_nodes():
    model = G.EdgePooling(4)
    x = torch.randn(3, 4)
    out, edge_index, batch, info = model(x, torch.empty(2, 0, dtype=torch.long), torch.zeros(3, dtype=torch.long))
    torch.testing.assert_close(out, x)
    assert edge_index.shape == (2, 0) and batch.tolist() == [0, 0, 0]


@pytest.mark.parametrize("name", ["max_pool_neighbor_x", "avg_pool_neighbor_x"])
@pytest.mark.parametrize("flow", ["source_to_target", "target_to_source"])
def test_pool_neighbor_x_equal_to_pyg(name, flow):
    """PyG's max/avg_pool_neighbor_x: x over each node and its neighbours, updated in place on
    a PyG Data object and on a gnnx Graph alike."""
    from torch_geometric.data import Data

    import gnnx

    x, edge_index, _ = graph_batch([6, 9])
    expected = getattr(P, name)(Data(x=x.clone(), edge_index=edge_index), flow=flow).x
    data = Data(x=x.clone(), edge_index=edge_index)
    assert getattr(G, name)(data, flow=flow) is data
    torch.testing.assert_close(data.x, expected)
    graph = gnnx.Graph(edge_index, 15, x=x.clone())
    torch.testing.assert_close(getattr(G, name)(graph, flow=flow).x, expected)
    with pytest.raises(ValueError, match="flow must be"):
        getattr(G, name)(graph, flow="both")
