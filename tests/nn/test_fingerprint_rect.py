"""NeuralFingerprint and RECT_L against PyG's with PyG's weights (keys, repr, values,
gradients, RECT_L's embedding and semantic labels); compiled without recompiles over graph
sizes and exported."""
import pytest
import torch

import gnnx.nn as G
from tests.cases import IN, assert_compiles_once_and_exports, graph_batch, random_graph

P = pytest.importorskip("torch_geometric.nn")


def _pair(cls, *args, **kwargs):
    torch.manual_seed(0)
    pyg = getattr(P, cls)(*args, **kwargs)
    ours = getattr(G, cls)(*args, **kwargs)
    assert repr(ours) == repr(pyg) and list(ours.state_dict()) == list(pyg.state_dict())
    ours.load_state_dict(pyg.state_dict())
    return pyg, ours


def _check(pyg, ours, *inputs):
    outs = []
    for model in (pyg, ours):
        out = model(*inputs)
        out.square().sum().backward()
        outs.append(out)
    torch.testing.assert_close(outs[1], outs[0], rtol=1e-5, atol=1e-6)
    for (name, p), q in zip(ours.named_parameters(), pyg.parameters()):
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-4, atol=1e-5, msg=name)


@pytest.mark.parametrize("kwargs", [{}, {"max_degree": 4}])
def test_neural_fingerprint_equal_to_pyg(kwargs):
    pyg, ours = _pair("NeuralFingerprint", 16, 12, 8, 3, **kwargs)
    x, edge_index, batch = graph_batch([5, 9, 7])
    _check(pyg, ours, x, edge_index, batch, 3)
    _check(pyg, ours, x, edge_index)  # one molecule


def test_neural_fingerprint_compiles_once_and_exports():
    _, model = _pair("NeuralFingerprint", 16, 12, 8, 2)

    def inputs(sizes, seed=0):
        x, edge_index, batch = graph_batch(sizes, seed=seed)
        return x, edge_index, batch, len(sizes)

    n, e = torch.export.Dim("n", min=2), torch.export.Dim("e", min=2)
    assert_compiles_once_and_exports(model, inputs, sizes=[[4, 6], [5, 7, 9], [3, 8, 6, 10]], export_size=[6] * 7,
                                     dynamic_shapes=({0: n}, {1: e}, {0: n}, torch.export.Dim.DYNAMIC))


@pytest.mark.parametrize("kwargs", [{}, {"normalize": False, "dropout": 0.5}])
def test_rect_l_equal_to_pyg(kwargs):
    pyg, ours = _pair("RECT_L", IN, 16, **kwargs)
    pyg.eval(), ours.eval()
    x, edge_index, edge_weight, _ = random_graph(30, 100)
    _check(pyg, ours, x, edge_index, edge_weight)
    torch.testing.assert_close(ours.embed(x, edge_index), pyg.embed(x, edge_index))
    y, mask = torch.randint(4, (30,)), torch.rand(30) < 0.5
    torch.testing.assert_close(ours.get_semantic_labels(x, y, mask), pyg.get_semantic_labels(x, y, mask))


def test_rect_l_compiles_once_and_exports():
    _, model = _pair("RECT_L", IN, 16)
    model.eval()

    def inputs(n, seed=0):
        return random_graph(n, 3 * n, seed=seed)[:3]

    n, e = torch.export.Dim("n", min=2), torch.export.Dim("e", min=2)
    assert_compiles_once_and_exports(model, inputs, sizes=(20, 33, 57), export_size=120,
                                     dynamic_shapes=({0: n}, {1: e}, {0: e}))
