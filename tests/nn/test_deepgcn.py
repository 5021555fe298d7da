"""DeepGCNLayer: PyG's blocks, keys and repr; values and gradients equal PyG's (with and
without activation checkpointing); compiled without recompiles."""
import pytest
import torch

import gnnx.nn as gnn
from cases import random_graph

pyg_nn = pytest.importorskip("torch_geometric.nn")


def _layer(ns, block, ckpt_grad=False):
    torch.manual_seed(0)
    conv = ns.GENConv(8, 8, aggr="softmax", t=1.0, learn_t=True, num_layers=2, norm="layer")
    return ns.DeepGCNLayer(conv, torch.nn.LayerNorm(8), torch.nn.ReLU(), block=block, dropout=0.0, ckpt_grad=ckpt_grad)


@pytest.mark.porting
@pytest.mark.parametrize("ckpt_grad", [False, True], ids=["plain-grad", "checkpointed"])
@pytest.mark.parametrize("block", ["res+", "res", "dense", "plain"])
def test_equals_pyg(block, ckpt_grad):
    ours, theirs = _layer(gnn, block, ckpt_grad), _layer(pyg_nn, block, ckpt_grad)
    assert list(ours.state_dict()) == list(theirs.state_dict()) and repr(ours) == repr(theirs)
    ours.load_state_dict(theirs.state_dict())
    x, edge_index, _, _ = random_graph(30, 120)
    outputs, grads = [], []
    for layer in (ours, theirs):
        x_in = x.clone().requires_grad_()
        out = layer(x_in, edge_index)
        out.square().mean().backward()
        outputs.append(out)
        grads.append((x_in.grad, {n: p.grad for n, p in layer.named_parameters() if p.grad is not None}))
    torch.testing.assert_close(outputs[0], outputs[1])
    torch.testing.assert_close(grads[0], grads[1])


def test_compiled_without_recompiles_and_bad_block_named():
    layer = _layer(gnn, "res+", ckpt_grad=True)
    compiled = torch.compile(layer, fullgraph=True, dynamic=True)
    for i, size in enumerate([(20, 64), (33, 101), (47, 150)]):
        x, edge_index, _, _ = random_graph(*size, seed=i)
        x.requires_grad_()
        with torch._dynamo.config.patch(error_on_recompile=i == 2):
            got = compiled(x, edge_index)
        torch.testing.assert_close(got, layer(x, edge_index))
    with pytest.raises(ValueError, match="block must be one of"):
        gnn.DeepGCNLayer(block="resnet")
