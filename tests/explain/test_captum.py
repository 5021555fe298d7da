"""CaptumExplainer and the Captum helpers against PyG's: the same weights and attribution
method give the same node and edge attributions (homogeneous and dict inputs, every mask level,
each supported method, binary and regression modes); unsupported settings are named."""
import pytest
import torch

import gnnx.nn as G
from gnnx.explain import CaptumExplainer, Explainer
from gnnx.explain.algorithm.captum import CaptumModel, MaskLevelType

pytest.importorskip("captum")
P = pytest.importorskip("torch_geometric.nn")
PE = pytest.importorskip("torch_geometric.explain")

N, F, C = 24, 6, 3
EDGE_TYPES = [("paper", "cites", "paper"), ("author", "writes", "paper"), ("paper", "rev_writes", "author")]
NODE_CONFIG = dict(mode="multiclass_classification", task_level="node", return_type="log_probs")
MASKS = {"node": dict(node_mask_type="attributes"), "edge": dict(edge_mask_type="object"),
         "node_and_edge": dict(node_mask_type="attributes", edge_mask_type="object")}


def _graph(seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(N, F, generator=g), torch.randint(0, N, (2, 70), generator=g)


class NodeNet(torch.nn.Module):
    def __init__(self, lib, out=C, head=None):
        super().__init__()
        self.c1, self.c2 = lib.GCNConv(F, 16), lib.SAGEConv(16, out)
        self.head = head

    def forward(self, x, edge_index):
        out = self.c2(self.c1(x, edge_index).relu(), edge_index)
        return {"log_softmax": lambda o: o.log_softmax(-1), "sigmoid": torch.sigmoid, None: lambda o: o}[self.head](out)


def _pair(make):
    torch.manual_seed(0)
    theirs = make(P)
    ours = make(G)
    ours.load_state_dict(theirs.state_dict())
    return ours.eval(), theirs.eval()


def _explain(model, explainer_cls, algorithm, x, edge_index, index, masks, model_config, seed=0):
    torch.manual_seed(seed)
    explainer = explainer_cls(model, algorithm, explanation_type="model", model_config=model_config, **masks)
    return explainer(x, edge_index, index=index)


def _assert_same(ours, theirs, keys=("node_mask", "edge_mask")):
    for key in keys:
        a, b = ours.get(key) if hasattr(ours, "get") else getattr(ours, key, None), getattr(theirs, key, None)
        if b is None:
            assert a is None, key
            continue
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6, msg=lambda m: f"{key}: {m}")


@pytest.mark.parametrize("mask", list(MASKS))
@pytest.mark.parametrize("method", ["IntegratedGradients", "Saliency", "InputXGradient", "Deconvolution",
                                    "GuidedBackprop"])
def test_node_level_attributions_equal_pyg(method, mask):
    ours, theirs = _pair(lambda lib: NodeNet(lib, head="log_softmax"))
    x, edge_index = _graph()
    kwargs = {"n_steps": 8} if method == "IntegratedGradients" else {}
    index = torch.tensor([2, 7])
    got = _explain(ours, Explainer, CaptumExplainer(method, **kwargs), x, edge_index, index, MASKS[mask], NODE_CONFIG)
    expected = _explain(theirs, PE.Explainer, PE.algorithm.CaptumExplainer(method, **kwargs), x, edge_index, index,
                        MASKS[mask], NODE_CONFIG)
    _assert_same(got, expected)
    assert (got.get("node_mask") is not None) == (mask != "edge")


def test_shapley_sampling_equals_pyg_with_the_same_seed():
    ours, theirs = _pair(lambda lib: NodeNet(lib, head="log_softmax"))
    x, edge_index = _graph(1)
    got = _explain(ours, Explainer, CaptumExplainer("ShapleyValueSampling", n_samples=2), x, edge_index, 3,
                   MASKS["edge"], NODE_CONFIG)
    expected = _explain(theirs, PE.Explainer, PE.algorithm.CaptumExplainer("ShapleyValueSampling", n_samples=2), x,
                        edge_index, 3, MASKS["edge"], NODE_CONFIG)
    _assert_same(got, expected)


@pytest.mark.parametrize("mode, head", [("binary_classification", "sigmoid"), ("regression", None)])
def test_binary_and_regression_modes_equal_pyg(mode, head):
    ours, theirs = _pair(lambda lib: NodeNet(lib, out=1, head=head))
    x, edge_index = _graph(2)
    config = dict(mode=mode, task_level="node", return_type="probs" if head == "sigmoid" else "raw")
    got = _explain(ours, Explainer, CaptumExplainer("IntegratedGradients", n_steps=6), x, edge_index, 5,
                   MASKS["node_and_edge"], config)
    expected = _explain(theirs, PE.Explainer, PE.algorithm.CaptumExplainer("IntegratedGradients", n_steps=6), x,
                        edge_index, 5, MASKS["node_and_edge"], config)
    _assert_same(got, expected)


def _hetero_graph(seed=3):
    g = torch.Generator().manual_seed(seed)
    sizes = {"paper": 15, "author": 9}
    x = {t: torch.randn(n, F, generator=g) for t, n in sizes.items()}
    edge_index = {e: torch.stack([torch.randint(0, sizes[e[0]], (30,), generator=g),
                                  torch.randint(0, sizes[e[2]], (30,), generator=g)]) for e in EDGE_TYPES}
    return x, edge_index


class HeteroNet(torch.nn.Module):
    """Two layers, so every relation reaches the papers' outputs (an edge mask that does not
    is an error in Captum's gradients, in PyG as in gnnx)."""

    def __init__(self, lib):
        super().__init__()
        self.conv1 = lib.HeteroConv({e: lib.SAGEConv((F, F), 8) for e in EDGE_TYPES}, aggr="sum")
        self.conv2 = lib.HeteroConv({e: lib.SAGEConv((8, 8), 8) for e in EDGE_TYPES}, aggr="sum")
        self.lin = torch.nn.Linear(8, C)

    def forward(self, x_dict, edge_index_dict):
        h = {k: v.relu() for k, v in self.conv1(x_dict, edge_index_dict).items()}
        return self.lin(self.conv2(h, edge_index_dict)["paper"].relu())


@pytest.mark.parametrize("mask", list(MASKS))
def test_dict_inputs_equal_pyg(mask, monkeypatch):
    """PyG's dict path puts its edge masks through a sigmoid (its homogeneous path does not),
    so a mask of ones scales every message by 0.73; gnnx applies none on either path. With
    PyG's sigmoid taken out the attributions are equal."""
    import torch_geometric.explain.algorithm.captum as pyg_captum

    without_sigmoid = pyg_captum.set_hetero_masks
    monkeypatch.setattr(pyg_captum, "set_hetero_masks",
                        lambda model, masks, edges, apply_sigmoid=True: without_sigmoid(model, masks, edges, False))
    ours, theirs = _pair(HeteroNet)
    x, edge_index = _hetero_graph()
    config = dict(mode="multiclass_classification", task_level="node", return_type="raw")
    got = _explain(ours, Explainer, CaptumExplainer("IntegratedGradients", n_steps=5), x, edge_index, 4,
                   MASKS[mask], config)
    expected = _explain(theirs, PE.Explainer, PE.algorithm.CaptumExplainer("IntegratedGradients", n_steps=5), x,
                        edge_index, 4, MASKS[mask], config)
    for key in ("node_mask", "edge_mask"):
        theirs_dict, ours_dict = _collected(expected, key), _collected(got, key)
        assert set(ours_dict) == set(theirs_dict), key
        for type_, value in theirs_dict.items():
            torch.testing.assert_close(ours_dict[type_], value, rtol=1e-4, atol=1e-6)


def test_dict_model_with_masks_of_ones_is_the_model():
    ours, _ = _pair(HeteroNet)
    x, edge_index = _hetero_graph()
    captum_model = G.to_captum_model(ours, "node_and_edge", output_idx=4, metadata=(list(x), list(edge_index)))
    inputs, extra = G.to_captum_input(x, edge_index, "node_and_edge")
    torch.testing.assert_close(captum_model(*inputs, *extra), ours(x, edge_index)[4].unsqueeze(0))


def _collected(explanation, key):
    try:
        return explanation.collect(key)
    except KeyError:  # no such mask in any type
        return {}


def test_helpers_equal_pyg_with_captum_directly():
    from captum.attr import IntegratedGradients

    ours, theirs = _pair(lambda lib: NodeNet(lib, head="log_softmax"))
    x, edge_index = _graph(4)
    attributions = []
    for lib, model in ((G, ours), (P, theirs)):
        captum_model = lib.to_captum_model(model, mask_type="node_and_edge", output_idx=6)
        inputs, extra = lib.to_captum_input(x, edge_index, "node_and_edge")
        attributions.append(IntegratedGradients(captum_model).attribute(
            inputs, target=1, additional_forward_args=extra, internal_batch_size=1, n_steps=5))
    for a, b in zip(*attributions):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)
    x_dict, edge_index_dict = _hetero_graph()
    metadata = (list(x_dict), list(edge_index_dict))
    ours_inputs, _ = G.to_captum_input(x_dict, edge_index_dict, "edge")
    assert [t.shape for t in ours_inputs] == [(1, 30)] * 3
    node_dict, edge_dict = G.captum_output_to_dicts(ours_inputs, "edge", metadata)
    assert node_dict is None and list(edge_dict) == EDGE_TYPES


def test_unsupported_settings_are_named():
    model, _ = _pair(lambda lib: NodeNet(lib, head="log_softmax"))
    with pytest.raises(ValueError, match="does not support attribution method"):
        CaptumExplainer("Lime")
    with pytest.raises(ValueError, match="node_mask_type"):
        Explainer(model, CaptumExplainer("Saliency"), explanation_type="model", node_mask_type="object",
                  model_config=NODE_CONFIG)
    with pytest.raises(ValueError, match="'probs' for binary"):
        Explainer(model, CaptumExplainer("Saliency"), explanation_type="model", edge_mask_type="object",
                  model_config=dict(mode="binary_classification", task_level="node", return_type="raw"))
    with pytest.raises(ValueError, match="one sample"):
        CaptumModel(model, MaskLevelType.node)(torch.randn(2, N, F), _graph()[1])
    with pytest.warns(UserWarning, match="internal_batch_size"):
        CaptumExplainer("IntegratedGradients", internal_batch_size=4)
