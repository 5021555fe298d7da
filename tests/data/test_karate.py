"""KarateClub: PyG's graph (edges in PyG's order, features, communities, training nodes), and a
GCN trained on its four labelled members as in Kipf and Welling's example."""
import pytest
import torch
import torch.nn.functional as F

import gnnx.nn as gnn
from gnnx.datasets import KarateClub
from gnnx.transforms import NormalizeFeatures


def test_equals_pygs_karate_club():
    PyG = pytest.importorskip("torch_geometric.datasets").KarateClub
    ours, theirs = KarateClub(), PyG()
    graph, data = ours[0], theirs[0]
    assert torch.equal(graph.edge_index, data.edge_index)
    assert torch.equal(graph.x, data.x) and torch.equal(graph.y, data.y)
    assert torch.equal(graph.train_mask, data.train_mask)
    assert (len(ours), ours.num_classes, ours.num_features) == (len(theirs), theirs.num_classes, theirs.num_features)
    assert repr(ours) == repr(theirs)


def test_a_gcn_separates_the_communities_from_four_labels():
    dataset = KarateClub(transform=NormalizeFeatures())
    graph = dataset[-1]
    assert graph.edge_index.size(1) == 156 and int(graph.train_mask.sum()) == 4
    torch.manual_seed(0)
    model = gnn.GCN(dataset.num_features, 16, 2, dataset.num_classes)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(200):
        optimizer.zero_grad()
        F.cross_entropy(model(graph.x, graph.edge_index)[graph.train_mask], graph.y[graph.train_mask]).backward()
        optimizer.step()
    accuracy = (model(graph.x, graph.edge_index).argmax(1) == graph.y).float().mean()
    assert accuracy > 0.6  # four labels of 34: well above the 0.25 of chance
    with pytest.raises(IndexError, match="one graph"):
        dataset[1]
