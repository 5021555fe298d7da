"""GraphMixer's LinkEncoder and NodeEncoder against PyG (values with tied time stamps and edges
past the seed time, gradients); both compile without recompiles and export."""
import pytest
import torch

from gnnx.nn.models.graph_mixer import LinkEncoder, NodeEncoder

pyg_mixer = pytest.importorskip("torch_geometric.nn.models.graph_mixer")


def _temporal(num_nodes=12, num_edges=60, seed=0):
    gen = torch.Generator().manual_seed(seed)
    edge_index = torch.randint(0, num_nodes, (2, num_edges), generator=gen)
    edge_time = torch.randint(0, 20, (num_edges,), generator=gen).float()  # ties
    seed_time = torch.randint(5, 25, (num_nodes,), generator=gen).float()
    return edge_index, torch.randn(num_edges, 3, generator=gen), edge_time, seed_time


def test_link_encoder_equals_pyg():
    torch.manual_seed(0)
    theirs = pyg_mixer.LinkEncoder(k=4, in_channels=3, hidden_channels=8, out_channels=5, time_channels=6).eval()
    ours = LinkEncoder(k=4, in_channels=3, hidden_channels=8, out_channels=5, time_channels=6).eval()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict(theirs.state_dict())
    edge_index, edge_attr, edge_time, seed_time = _temporal()
    edge_attr.requires_grad_(True)
    got = ours(edge_index, edge_attr, edge_time, seed_time)
    attr2 = edge_attr.detach().clone().requires_grad_(True)
    expected = theirs(edge_index, attr2, edge_time, seed_time)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(torch.autograd.grad(got.sum(), edge_attr)[0],
                               torch.autograd.grad(expected.sum(), attr2)[0], rtol=1e-5, atol=1e-5)
    assert repr(ours) == repr(theirs)


def test_node_encoder_equals_pyg():
    edge_index, _, edge_time, seed_time = _temporal(seed=1)
    x = torch.randn(12, 4)
    torch.testing.assert_close(NodeEncoder(5)(x, edge_index, edge_time, seed_time),
                               pyg_mixer.NodeEncoder(5)(x, edge_index, edge_time, seed_time))
    assert repr(NodeEncoder(5)) == "NodeEncoder(time_window=5)"


def test_encoders_compile_and_export():
    torch.manual_seed(0)
    link = LinkEncoder(k=4, in_channels=3, hidden_channels=8, out_channels=5, time_channels=6).eval()
    torch._dynamo.reset()
    compiled = torch.compile(link, fullgraph=True, dynamic=True)
    for i, (n, e) in enumerate([(12, 60), (20, 35), (9, 80)]):
        inputs = _temporal(n, e, seed=i)
        with torch.no_grad(), torch._dynamo.config.patch(error_on_recompile=i == 2):
            torch.testing.assert_close(compiled(*inputs), link(*inputs), rtol=1e-5, atol=1e-5)
    nodes, edges = torch.export.Dim("nodes", min=2), torch.export.Dim("edges", min=2)
    program = torch.export.export(link, _temporal(), dynamic_shapes=({1: edges}, {0: edges}, {0: edges}, {0: nodes}))
    inputs = _temporal(20, 35, seed=4)
    torch.testing.assert_close(program.module()(*inputs), link(*inputs), rtol=1e-5, atol=1e-5)
    node = NodeEncoder(5)
    torch._dynamo.reset()
    compiled_node = torch.compile(node, fullgraph=True, dynamic=True)
    for i, (n, e) in enumerate([(12, 60), (20, 35), (9, 80)]):
        edge_index, _, edge_time, seed_time = _temporal(n, e, seed=i)
        x = torch.randn(n, 4)
        with torch._dynamo.config.patch(error_on_recompile=i == 2):
            torch.testing.assert_close(compiled_node(x, edge_index, edge_time, seed_time),
                                       node(x, edge_index, edge_time, seed_time))
