"""AttentiveFP equals PyG's (values, gradients, keys, repr) on batched molecules with bond
features; compiled over batches of varying size without recompiles (with ``batch_size``) and
exported with dynamic atom, bond and molecule counts."""
import torch
import torch_geometric

import gnnx.nn as nn
from cases import assert_same_outputs_and_gradients


def _molecules(sizes, seed=0):
    gen = torch.Generator().manual_seed(seed)
    batch = torch.arange(len(sizes)).repeat_interleave(torch.tensor(sizes))
    first = torch.cumsum(torch.tensor([0] + sizes[:-1]), 0).tolist()
    bonds = torch.cat([torch.randint(n, (2, 2 * n), generator=gen) + f for n, f in zip(sizes, first)], 1)
    bonds = torch.cat([bonds, bonds.flip(0)], 1)
    return (torch.randn(sum(sizes), 9, generator=gen), bonds, torch.randn(bonds.size(1), 3, generator=gen), batch)


def _pair(num_layers=3, num_timesteps=2):
    kwargs = dict(in_channels=9, hidden_channels=16, out_channels=2, edge_dim=3, num_layers=num_layers,
                  num_timesteps=num_timesteps)
    torch.manual_seed(0)
    ours, theirs = nn.AttentiveFP(**kwargs), torch_geometric.nn.AttentiveFP(**kwargs)
    theirs.load_state_dict(ours.state_dict())
    return ours, theirs


def test_equals_pygs():
    ours, theirs = _pair()
    assert repr(ours) == repr(theirs) and list(ours.state_dict()) == list(theirs.state_dict())
    assert_same_outputs_and_gradients(ours, theirs, *_molecules([5, 9, 3, 7]))


def test_compiles_without_recompiling_and_exports():
    model, _ = _pair(num_layers=2, num_timesteps=1)  # every part once: a shorter compile
    compiled = torch.compile(model, fullgraph=True, dynamic=True)
    for i, sizes in enumerate([[5, 9, 3], [7, 4], [6, 2, 8, 3]]):
        inputs = _molecules(sizes, seed=i)
        with torch._dynamo.config.patch(error_on_recompile=i == 2):
            torch.testing.assert_close(compiled(*inputs, batch_size=len(sizes)), model(*inputs))

    class WithCount(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, x, edge_index, edge_attr, batch, graphs):  # the molecule count as a tensor's length
            return self.model(x, edge_index, edge_attr, batch, batch_size=graphs.size(0))

    atoms, bonds, graphs = (torch.export.Dim(n, min=2) for n in ("atoms", "bonds", "graphs"))
    inputs = _molecules([5, 9, 3])
    program = torch.export.export(WithCount(), (*inputs, torch.zeros(3)), dynamic_shapes=(
        {0: atoms}, {1: bonds}, {0: bonds}, {0: atoms}, {0: graphs}))
    inputs = _molecules([6, 2, 8, 3, 4], seed=4)
    torch.testing.assert_close(program.module()(*inputs, torch.zeros(5)), model(*inputs))
