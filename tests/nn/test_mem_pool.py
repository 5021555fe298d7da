"""MemPooling against PyG's: the same parameters for the same seed, keys and repr, pooled
features, assignments, KL loss and gradients, on node-level batches and on dense ones;
compiled without recompiles over batch and node counts (sizes given) and exported."""
import pytest
import torch

import gnnx.nn as G
from tests.cases import assert_compiles_once_and_exports, graph_batch

P = pytest.importorskip("torch_geometric.nn")


def _pair(**kwargs):
    models = []
    for M in (P, G):
        torch.manual_seed(0)
        models.append(M.MemPooling(16, 8, heads=3, num_clusters=4, **kwargs))
    return models


@pytest.mark.parametrize("tau", [1.0, 0.5])
def test_equal_to_pyg(tau):
    pyg, ours = _pair(tau=tau)
    assert repr(ours) == repr(pyg) and list(ours.state_dict()) == list(pyg.state_dict())
    for key, value in pyg.state_dict().items():
        assert torch.equal(ours.state_dict()[key], value), key
    x, _, batch = graph_batch([5, 9, 7])
    for args in ((x, batch), (x, batch, None, 9, 3)):
        results = []
        for model in (pyg, ours):
            out, S = model(*args)
            (out.square().sum() + model.kl_loss(S)).backward()
            results.append((out, S, model.kl_loss(S)))
        for a, b in zip(results[1], results[0]):  # distances summed in another order past 25 nodes
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    for p, q in zip(ours.parameters(), pyg.parameters()):
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-4, atol=1e-5)
    dense = torch.randn(2, 6, 16)
    torch.testing.assert_close(ours(dense)[0], pyg(dense)[0])


def test_compiles_once_and_exports():
    _, model = _pair()

    def inputs(sizes, seed=0):
        x, _, batch = graph_batch(sizes, seed=seed)
        return x, batch, None, 12, len(sizes)

    n = torch.export.Dim("n", min=2)
    assert_compiles_once_and_exports(model, inputs, sizes=[[4, 6], [5, 7, 9], [3, 8, 6, 10]], export_size=[6] * 7,
                                     dynamic_shapes=({0: n}, {0: n}, None, None, torch.export.Dim.DYNAMIC))
