"""LabelPropagation and CorrectAndSmooth equal PyG's (boolean and index masks, class indices
and soft labels, given edge weights, both correction modes), with PyG's reprs;
LabelPropagation compiles without recompiles."""
import pytest
import torch
import torch_geometric

import gnnx.nn as nn


def _graph(num_nodes=40, classes=4, seed=0):
    gen = torch.Generator().manual_seed(seed)
    edge_index = torch.randint(num_nodes, (2, 5 * num_nodes), generator=gen)
    y = torch.randint(classes, (num_nodes,), generator=gen)
    mask = torch.rand(num_nodes, generator=gen) < 0.4
    y_soft = torch.softmax(torch.randn(num_nodes, classes, generator=gen), -1)
    return edge_index, y, mask, y_soft, torch.rand(edge_index.size(1), generator=gen)


@pytest.mark.parametrize("mask_kind", ["bool", "index", None])
@pytest.mark.parametrize("labels", ["index", "soft"])
@pytest.mark.parametrize("weighted", [False, True])
def test_label_propagation_equals_pygs(mask_kind, labels, weighted):
    edge_index, y, mask, y_soft, weight = _graph()
    mask = {"bool": mask, "index": mask.nonzero().view(-1), None: None}[mask_kind]
    y = y if labels == "index" else y_soft
    ours, theirs = nn.LabelPropagation(3, 0.9), torch_geometric.nn.LabelPropagation(3, 0.9)
    assert repr(ours) == repr(theirs)
    kwargs = {"mask": mask, "edge_weight": weight if weighted else None}
    torch.testing.assert_close(ours(y, edge_index, **kwargs), theirs(y, edge_index, **kwargs))


@pytest.mark.parametrize("autoscale", [True, False])
@pytest.mark.parametrize("mask_kind", ["bool", "index"])
def test_correct_and_smooth_equals_pygs(autoscale, mask_kind):
    edge_index, y, mask, y_soft, _ = _graph()
    mask = mask if mask_kind == "bool" else mask.nonzero().view(-1)
    ours = nn.CorrectAndSmooth(3, 0.8, 4, 0.7, autoscale=autoscale, scale=2.0)
    theirs = torch_geometric.nn.CorrectAndSmooth(3, 0.8, 4, 0.7, autoscale=autoscale, scale=2.0)
    assert repr(ours) == repr(theirs)
    args = (y[mask], mask, edge_index)
    corrected = ours.correct(y_soft, *args)
    torch.testing.assert_close(corrected, theirs.correct(y_soft, *args))
    torch.testing.assert_close(ours.smooth(corrected, *args), theirs.smooth(corrected, *args))
    torch.testing.assert_close(ours(y_soft, *args), ours.smooth(corrected, *args))
    with pytest.raises(ValueError, match="one label per masked node"):
        ours.correct(y_soft, y, mask, edge_index)


def test_label_propagation_compiles_without_recompiling():
    model = nn.LabelPropagation(3, 0.9)
    compiled = torch.compile(model, fullgraph=True, dynamic=True)
    for i, num_nodes in enumerate([40, 55, 90]):
        edge_index, _, mask, y_soft, _ = _graph(num_nodes, seed=i)
        with torch._dynamo.config.patch(error_on_recompile=i == 2):
            torch.testing.assert_close(compiled(y_soft, edge_index, mask), model(y_soft, edge_index, mask))
