"""HGTConv and HANConv on dict inputs: PyG's state-dict keys, values and gradients; compiled
without recompiles over three size sets; exported with every per-type size dynamic.
(RGATConv and HEATConv take type vectors: they are cases of tests/cases.py.)"""
import pytest
import torch

import gnnx.export
import gnnx.nn as gnn
from cases import HETERO_METADATA, random_hetero_graph

pyg_nn = pytest.importorskip("torch_geometric.nn")

WIDTHS = {"paper": 8, "author": 6}
LAYERS = {
    "hgt-heads": ("HGTConv", (WIDTHS, 16, HETERO_METADATA), {"heads": 2}),
    "hgt-lazy-skip": ("HGTConv", (-1, 8, HETERO_METADATA), {"heads": 4}),  # out == in for papers: the skip gate
    "han-heads": ("HANConv", (WIDTHS, 16, HETERO_METADATA), {"heads": 2}),
    "han-lazy": ("HANConv", (-1, 8, HETERO_METADATA), {"heads": 4, "negative_slope": 0.1}),
}


def _graph(sizes, seed=0):
    x_dict, edge_index_dict = random_hetero_graph(*sizes, seed=seed)
    x_dict["author"] = torch.randn(x_dict["author"].size(0), 6, generator=torch.Generator().manual_seed(seed))
    return x_dict, edge_index_dict


def _pair(layer_id):
    name, args, kwargs = LAYERS[layer_id]
    torch.manual_seed(0)
    ours, theirs = getattr(gnn, name)(*args, **kwargs), getattr(pyg_nn, name)(*args, **kwargs)
    with torch.no_grad():  # materialise lazy widths
        ours(*_graph((9, 5, 20))), theirs(*_graph((9, 5, 20)))
    assert sorted(ours.state_dict()) == sorted(theirs.state_dict())
    ours.load_state_dict(theirs.state_dict())
    assert repr(ours) == repr(theirs)
    return ours, theirs


@pytest.mark.porting
@pytest.mark.parametrize("layer_id", list(LAYERS))
def test_equals_pyg_values_and_gradients(layer_id):
    ours, theirs = _pair(layer_id)
    x_dict, edge_index_dict = _graph((23, 11, 60), seed=1)
    for value in x_dict.values():
        value.requires_grad_()
    out, expected = ours(x_dict, edge_index_dict), theirs(x_dict, edge_index_dict)
    assert out.keys() == expected.keys()
    for key in out:
        torch.testing.assert_close(out[key], expected[key], rtol=1e-5, atol=1e-5)
    weight = {k: torch.arange(o.numel()).view_as(o).sin() for k, o in out.items()}
    names = [n for n, _ in theirs.named_parameters()]
    ours_params = dict(ours.named_parameters())
    grads = torch.autograd.grad(sum((o * weight[k]).sum() for k, o in out.items()),
                                [ours_params[n] for n in names] + list(x_dict.values()), allow_unused=True)
    reference = torch.autograd.grad(sum((o * weight[k]).sum() for k, o in expected.items()),
                                    list(theirs.parameters()) + list(x_dict.values()), allow_unused=True)
    for name, got, want in zip(names + list(x_dict), grads, reference):  # None: an unused skip gate
        assert (got is None) == (want is None), name
        if want is not None:
            torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5, msg=lambda m: f"{name}: {m}")


def test_relations_missing_from_the_input_and_unknown_ones():
    ours, theirs = _pair("hgt-heads")
    x_dict, edge_index_dict = _graph((10, 6, 25))
    partial = {k: v for k, v in edge_index_dict.items() if k[1] != "cites"}
    out, expected = ours(x_dict, partial), theirs(x_dict, partial)
    for key in expected:
        torch.testing.assert_close(out[key], expected[key], rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="edge types \\[\\('author', 'likes', 'paper'\\)\\] are not in"):
        ours(x_dict, {**edge_index_dict, ("author", "likes", "paper"): edge_index_dict[("author", "writes", "paper")]})


def test_han_semantic_weights_and_message_hooks():
    """The fused attention path equals the propagate path that hooks (and dropout) take."""
    ours, theirs = _pair("han-heads")
    x_dict, edge_index_dict = _graph((15, 7, 40), seed=2)
    out, weights = ours(x_dict, edge_index_dict, return_semantic_attention_weights=True)
    _, expected_weights = theirs(x_dict, edge_index_dict, return_semantic_attention_weights=True)
    for key in expected_weights:
        torch.testing.assert_close(weights[key], expected_weights[key])
    seen = []
    ours.register_message_forward_hook(lambda module, inputs, output: seen.append(output.shape))
    hooked = ours(x_dict, edge_index_dict)
    assert seen and seen[0][0] == sum(e.size(1) for e in edge_index_dict.values())  # one call, every relation
    for key in out:
        torch.testing.assert_close(hooked[key], out[key], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("layer_id", ["hgt-heads", "han-heads"])
def test_compiles_without_recompiling_as_type_sizes_change(layer_id):
    ours, _ = _pair(layer_id)
    compiled = torch.compile(ours, fullgraph=True, dynamic=True)
    for i, sizes in enumerate([(20, 11, 50), (33, 7, 90), (57, 25, 31)]):
        inputs = _graph(sizes, seed=i)
        with torch._dynamo.config.patch(error_on_recompile=i > 0):
            out = compiled(*inputs)
        expected = ours(*inputs)
        for key in expected:
            torch.testing.assert_close(out[key], expected[key], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("layer_id", ["hgt-heads", "han-heads"])
def test_exported_with_dynamic_type_sizes(layer_id, tmp_path):
    ours, _ = _pair(layer_id)
    ours.eval()
    path = str(tmp_path / "layer.pt2")
    gnnx.export.save(gnnx.export.export(ours, _graph((10, 7, 20))), path)
    loaded = gnnx.export.load(path)
    for sizes in [(3, 2, 4), (40, 13, 120), (600, 90, 2000)]:
        inputs = _graph(sizes, seed=sizes[0])
        with torch.no_grad():
            out, expected = loaded(*inputs), ours(*inputs)
        for key in expected:
            torch.testing.assert_close(out[key], expected[key], rtol=1e-4, atol=1e-5)
