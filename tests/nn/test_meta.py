"""MetaLayer (the Graph Network block): PyG's docstring example equal to PyG's, with its
repr and state_dict keys; compiled without recompiles and exported with dynamic node, edge and
graph counts; int32 edge_index; bad edge_attr named."""
import pytest
import torch
import torch_geometric

import gnnx.nn as nn
from gnnx.utils import scatter


def _blocks(scatter):
    """PyG's MetaLayer docstring models, over a library's ``scatter``."""
    def mlp(a, b):
        return torch.nn.Sequential(torch.nn.Linear(a, 16), torch.nn.ReLU(), torch.nn.Linear(16, b))

    class EdgeModel(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.edge_mlp = mlp(2 * 6 + 3 + 4, 3)

        def forward(self, src, dst, edge_attr, u, batch):
            return self.edge_mlp(torch.cat([src, dst, edge_attr, u[batch]], 1))

    class NodeModel(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.node_mlp_1, self.node_mlp_2 = mlp(6 + 3, 8), mlp(6 + 8 + 4, 6)

        def forward(self, x, edge_index, edge_attr, u, batch):
            row, col = edge_index
            out = self.node_mlp_1(torch.cat([x[row], edge_attr], dim=1))
            out = scatter(out, col, dim=0, dim_size=x.size(0), reduce="mean")
            return self.node_mlp_2(torch.cat([x, out, u[batch]], dim=1))

    class GlobalModel(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.global_mlp = mlp(4 + 6, 4)

        def forward(self, x, edge_index, edge_attr, u, batch):
            return self.global_mlp(torch.cat([u, scatter(x, batch, dim=0, dim_size=u.size(0), reduce="mean")], dim=1))

    return EdgeModel(), NodeModel(), GlobalModel()


def _graphs(sizes, seed=0):
    gen = torch.Generator().manual_seed(seed)
    num_nodes = sum(sizes)
    batch = torch.arange(len(sizes)).repeat_interleave(torch.tensor(sizes))
    src = torch.randint(num_nodes, (4 * num_nodes,), generator=gen)
    dst = torch.cat([torch.randint(int(batch.eq(g).nonzero()[0]), int(batch.eq(g).nonzero()[-1]) + 1, (1,),
                                   generator=gen) for g in batch[src]])  # edges within a graph
    edge_index = torch.stack([src, dst])
    return (torch.randn(num_nodes, 6, generator=gen), edge_index, torch.randn(edge_index.size(1), 3, generator=gen),
            torch.randn(len(sizes), 4, generator=gen), batch)


def test_equals_pygs_metalayer_with_its_keys_and_repr():
    torch.manual_seed(0)
    ours = nn.MetaLayer(*_blocks(scatter))
    theirs = torch_geometric.nn.MetaLayer(*_blocks(torch_geometric.utils.scatter))
    theirs.load_state_dict(ours.state_dict())
    assert repr(ours) == repr(theirs)
    inputs = _graphs([7, 12, 5])
    for got, want in zip(ours(*inputs), theirs(*inputs)):
        torch.testing.assert_close(got, want)
    x, edge_index, edge_attr, u, batch = inputs
    for got, want in zip(ours(x, edge_index.int(), edge_attr, u, batch), ours(*inputs)):
        torch.testing.assert_close(got, want)
    with pytest.raises(ValueError, match="edge_attr must have one row per edge"):
        ours(x, edge_index, edge_attr[1:], u, batch)


def test_compiles_without_recompiling_and_exports_with_dynamic_counts():
    torch.manual_seed(0)
    model = nn.MetaLayer(*_blocks(scatter))
    compiled = torch.compile(model, fullgraph=True, dynamic=True)
    for i, sizes in enumerate([[7, 12, 5], [9, 4], [20, 3, 6, 8]]):
        inputs = _graphs(sizes, seed=i)
        with torch._dynamo.config.patch(error_on_recompile=i == 2):
            for got, want in zip(compiled(*inputs), model(*inputs)):
                torch.testing.assert_close(got, want)
    nodes, edges, graphs = torch.export.Dim("nodes", min=2), torch.export.Dim("edges", min=2), torch.export.Dim("graphs")
    program = torch.export.export(model, _graphs([7, 12, 5]), dynamic_shapes=(
        {0: nodes}, {1: edges}, {0: edges}, {0: graphs}, {0: nodes}))
    inputs = _graphs([9, 4, 10, 2], seed=5)
    for got, want in zip(program.module()(*inputs), model(*inputs)):
        torch.testing.assert_close(got, want)
