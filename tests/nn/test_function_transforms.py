"""``torch.func`` transforms over gnnx layers, as over PyG's: per-sample gradients
(``grad`` of ``functional_call``) and batching (``vmap``) over node features. The fast kernels
are custom ops and autograd Functions without vmap rules, so inside transforms gnnx's dispatch
takes the plain-ATen references (``gnnx.ops.dispatch.under_function_transforms``); before that,
every layer with a prepared structure raised "must override the setup_context staticmethod".

One layer of each kernel family: SpMM sum (GCN, SAGE, GIN), fused attention (GAT, GATv2),
the fused EdgeConv."""
import pytest
import torch

import gnnx
from gnnx.nn import MLP, EdgeConv, GATConv, GATv2Conv, GCNConv, GINConv, SAGEConv

CUDA = pytest.param("cuda", marks=[pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(),
                                                                        reason="needs CUDA")])

LAYERS = {
    "GCNConv": lambda: GCNConv(8, 8),
    "SAGEConv": lambda: SAGEConv(8, 8),
    "GINConv": lambda: GINConv(MLP([8, 8, 8], norm=None)),
    "GATConv": lambda: GATConv(8, 8, heads=2),
    "GATv2Conv": lambda: GATv2Conv(8, 8, heads=2),
    "EdgeConv": lambda: EdgeConv(MLP([16, 8, 8], norm=None)),
}


def _setup(name, device, prepared):
    torch.manual_seed(0)
    layer = LAYERS[name]().to(device)
    x = torch.randn(30, 8, device=device)
    edge_index = torch.randint(30, (2, 120), device=device)
    adjacency = gnnx.Graph(edge_index, 30) if prepared else edge_index
    for _ in range(2):  # a bare edge_index reaches the structure cache's CSR from its second call
        layer(x, adjacency)
    return layer, x, adjacency


@pytest.mark.parametrize("device", ["cpu", CUDA])
@pytest.mark.parametrize("prepared", [False, True], ids=["edge_index", "Graph"])
@pytest.mark.parametrize("name", list(LAYERS))
def test_grad_of_functional_call_equals_autograd(name, prepared, device):
    layer, x, adjacency = _setup(name, device, prepared)
    params = dict(layer.named_parameters())

    def loss(p, features):
        return torch.func.functional_call(layer, p, (features, adjacency)).square().sum()

    grads, grad_x = torch.func.grad(loss, argnums=(0, 1))(params, x)
    x_leaf = x.clone().requires_grad_()
    expected = torch.autograd.grad(layer(x_leaf, adjacency).square().sum(), [*params.values(), x_leaf])
    for got, want in zip([*grads.values(), grad_x], expected):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("device", ["cpu", CUDA])
@pytest.mark.parametrize("prepared", [False, True], ids=["edge_index", "Graph"])
@pytest.mark.parametrize("name", list(LAYERS))
def test_vmap_over_node_features_equals_a_loop(name, prepared, device):
    layer, _, adjacency = _setup(name, device, prepared)
    batch = torch.randn(3, 30, 8, device=device)
    got = torch.func.vmap(lambda features: layer(features, adjacency))(batch)
    torch.testing.assert_close(got, torch.stack([layer(features, adjacency) for features in batch]),
                               rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("model", ["GAT", "EdgeCNN"])
def test_per_sample_gradients_of_a_model(model):
    """``vmap(grad(loss))`` over a batch of feature matrices (the per-sample gradient recipe):
    each row equals that sample's autograd gradient; the model prepares its structure itself."""
    torch.manual_seed(0)
    net = getattr(gnnx.nn, model)(8, 16, 2, 4)
    edge_index = torch.randint(30, (2, 120))
    samples = torch.randn(3, 30, 8)
    net(samples[0], edge_index)
    params = {name: p.detach() for name, p in net.named_parameters()}

    def loss(p, features):
        return torch.func.functional_call(net, p, (features, edge_index)).square().mean()

    per_sample = torch.func.vmap(torch.func.grad(loss), in_dims=(None, 0))(params, samples)
    for i, features in enumerate(samples):
        expected = torch.autograd.grad(net(features, edge_index).square().mean(), list(net.parameters()))
        for name, want in zip(params, expected):
            torch.testing.assert_close(per_sample[name][i], want, rtol=1e-4, atol=1e-6)
