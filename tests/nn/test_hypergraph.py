"""HypergraphConv against PyG's with the same weights (values and gradients, with and without
attention, both attention modes, hyperedge weights, empty hyperedges); compiled over sizes
without recompiles and exported with dynamic node, hyperedge and incidence counts; bad input named."""
import pytest
import torch

from cases import assert_same_outputs_and_gradients
from gnnx import nn

CONFIGS = {
    "plain": dict(),
    "attention-node-heads": dict(use_attention=True, heads=2),
    "attention-edge-mean": dict(use_attention=True, attention_mode="edge", heads=3, concat=False),
}


def _hypergraph(num_nodes, num_edges, incidences, seed=0, channels=5):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(num_nodes, channels, generator=gen)
    index = torch.stack([torch.randint(0, num_nodes, (incidences,), generator=gen),
                         torch.randint(0, max(num_edges - 1, 1), (incidences,), generator=gen)])  # last one empty
    weight = torch.rand(num_edges, generator=gen) + 0.5
    attr = torch.randn(num_edges, channels, generator=gen)
    return x, index, weight, attr


def _pair(config):
    pyg_nn = pytest.importorskip("torch_geometric.nn")
    torch.manual_seed(0)
    ours = nn.HypergraphConv(5, 4, **CONFIGS[config])
    theirs = pyg_nn.HypergraphConv(5, 4, **CONFIGS[config])
    theirs.load_state_dict(ours.state_dict())
    assert list(ours.state_dict()) == list(theirs.state_dict()) and repr(ours) == repr(theirs)
    return ours, theirs


@pytest.mark.parametrize("config", list(CONFIGS))
@pytest.mark.parametrize("weighted", [False, True])
def test_equals_pyg_values_and_gradients(config, weighted):
    ours, theirs = _pair(config)
    x, index, weight, attr = _hypergraph(30, 12, 80)
    assert_same_outputs_and_gradients(ours, theirs, x, index, weight if weighted else None, attr, num_edges=12)
    # num_edges read from the incidences in an eager call, as PyG does
    torch.testing.assert_close(ours(x, index, None, attr[:11]), theirs(x, index, None, attr[:11]))


@pytest.mark.parametrize("config", ["plain", "attention-node-heads"])
def test_compiles_without_recompiling_and_exports(config):
    ours, _ = _pair(config)
    compiled = torch.compile(ours, fullgraph=True, dynamic=True)
    for i, sizes in enumerate([(20, 8, 50), (33, 11, 90), (41, 15, 120)]):
        x, index, weight, attr = _hypergraph(*sizes, seed=i)
        with torch._dynamo.config.patch(error_on_recompile=i == 2):
            got = compiled(x, index, weight, attr, num_edges=attr.size(0))
        torch.testing.assert_close(got, ours(x, index, weight, attr, num_edges=attr.size(0)))
    x, index, weight, attr = _hypergraph(20, 8, 50)

    class Wrapped(torch.nn.Module):
        def __init__(self, conv):
            super().__init__()
            self.conv = conv

        def forward(self, x, index, weight, attr):
            return self.conv(x, index, weight, attr, num_edges=attr.size(0))

    nodes, edges, incidences = (torch.export.Dim(n, min=2) for n in ("nodes", "edges", "incidences"))
    program = torch.export.export(Wrapped(ours), (x, index, weight, attr),
                                  dynamic_shapes=({0: nodes}, {1: incidences}, {0: edges}, {0: edges}))
    x, index, weight, attr = _hypergraph(37, 13, 99, seed=4)
    torch.testing.assert_close(program.module()(x, index, weight, attr), ours(x, index, weight, attr, num_edges=13))


def test_bad_input_is_named():
    x, index, weight, attr = _hypergraph(10, 4, 20)
    with pytest.raises(ValueError, match="attention_mode must be 'node' or 'edge'"):
        nn.HypergraphConv(5, 4, attention_mode="both")
    with pytest.raises(ValueError, match=r"needs hyperedge_attr"):
        nn.HypergraphConv(5, 4, use_attention=True)(x, index)
    with pytest.raises(ValueError, match=r"hyperedge_index\[1\] holds 2, outside the num_edges=2 hyperedges"):
        nn.HypergraphConv(5, 4)(x, index, num_edges=2)
    with pytest.raises(TypeError, match="hyperedge_index must have dtype torch.int64"):
        nn.HypergraphConv(5, 4)(x, index.float())
    # under fullgraph Dynamo reports the layer's ValueError as unsupported, with its text
    with pytest.raises((ValueError, torch._dynamo.exc.Unsupported), match="pass num_edges in compiled"):
        torch.compile(nn.HypergraphConv(5, 4), fullgraph=True)(x, index)
