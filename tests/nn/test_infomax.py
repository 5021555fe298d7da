"""DeepGraphInfomax: PyG's keys, repr, outputs, loss and gradients with the same encoder and
corruption; a compiled training step without recompiles; ``test`` without scikit-learn."""
import torch
import torch_geometric

import gnnx.nn as nn


def _shuffled(x, edge_index):
    return x[torch.randperm(x.size(0), generator=torch.Generator().manual_seed(3))], edge_index


def _model(lib, corruption=_shuffled):
    class Encoder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv, self.act = lib.GCNConv(8, 16), torch.nn.PReLU(16)

        def forward(self, x, edge_index):
            return self.act(self.conv(x, edge_index))

    return lib.DeepGraphInfomax(16, Encoder(), summary=lambda z, *args, **kwargs: torch.sigmoid(z.mean(0)),
                                corruption=corruption)


def _graph(num_nodes, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(num_nodes, 8, generator=gen), torch.randint(num_nodes, (2, 4 * num_nodes), generator=gen)


def test_equals_pygs_loss_and_gradients():
    torch.manual_seed(0)
    ours, theirs = _model(nn), _model(torch_geometric.nn)
    theirs.load_state_dict(ours.state_dict())
    assert repr(ours) == repr(theirs) == "DeepGraphInfomax(16)"
    assert set(ours.state_dict()) == set(theirs.state_dict())
    x, edge_index = _graph(30)
    losses = []
    for model in (ours, theirs):
        pos_z, neg_z, summary = model(x, edge_index)
        losses.append(model.loss(pos_z, neg_z, summary))
        losses[-1].backward()
    torch.testing.assert_close(losses[0], losses[1])
    for (name, a), (_, b) in zip(sorted(ours.named_parameters()), sorted(theirs.named_parameters())):
        torch.testing.assert_close(a.grad, b.grad, msg=name)
    torch.testing.assert_close(ours.discriminate(pos_z, summary, sigmoid=False),
                               theirs.discriminate(pos_z, summary, sigmoid=False))


def test_compiled_training_step_without_recompiling():
    torch.manual_seed(0)
    model = _model(nn, corruption=lambda x, edge_index: (x.roll(1, 0), edge_index))  # a fixed permutation
    compiled = torch.compile(model, fullgraph=True, dynamic=True)
    for i, num_nodes in enumerate([30, 45, 70]):
        x, edge_index = _graph(num_nodes, seed=i)
        with torch._dynamo.config.patch(error_on_recompile=i == 2):
            got = model.loss(*compiled(x, edge_index))
        torch.testing.assert_close(got, model.loss(*model(x, edge_index)))


def test_linear_evaluation_without_scikit_learn():
    gen = torch.Generator().manual_seed(0)
    y = torch.randint(3, (200,), generator=gen)
    z = torch.randn(200, 16, generator=gen) + 3 * torch.nn.functional.one_hot(y, 16).float()
    accuracy = _model(nn).test(z[:150], y[:150], z[150:], y[150:])
    assert accuracy > 0.9
