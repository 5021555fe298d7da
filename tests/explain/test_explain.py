"""gnnx.explain against torch_geometric.explain: the same model weights, seeds and
configurations give the same masks, thresholds, subgraphs and metrics."""
import pytest
import torch

import gnnx.nn as G
from gnnx.explain import (
    AttentionExplainer,
    DummyExplainer,
    Explainer,
    Explanation,
    GNNExplainer,
    HeteroExplanation,
    PGExplainer,
    ThresholdConfig,
    metric,
)
from gnnx.utils import get_embeddings

P = pytest.importorskip("torch_geometric.nn")
PE = pytest.importorskip("torch_geometric.explain")
pyg_metric = pytest.importorskip("torch_geometric.explain.metric")

N, F, C = 30, 8, 4


def _graph(seed=0, num_nodes=N, num_edges=100):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(num_nodes, F, generator=g), torch.randint(0, num_nodes, (2, num_edges), generator=g)


class NodeNet(torch.nn.Module):
    def __init__(self, lib, conv="GCNConv", heads=None):
        super().__init__()
        make = getattr(lib, conv)
        extra = {} if heads is None else {"heads": heads, "concat": False}
        self.c1, self.c2 = make(F, 16, **extra), make(16, C, **extra)

    def forward(self, x, edge_index):
        return self.c2(self.c1(x, edge_index).relu(), edge_index).log_softmax(-1)


class GraphNet(torch.nn.Module):
    def __init__(self, lib, out=C, probs=False):
        super().__init__()
        self.c1, self.c2 = lib.GraphConv(F, 16), lib.GraphConv(16, 16)
        self.lin = torch.nn.Linear(16, out)
        self.pool = lib.global_mean_pool
        self.probs = probs

    def forward(self, x, edge_index, batch):
        h = self.c2(self.c1(x, edge_index).relu(), edge_index).relu()
        out = self.lin(self.pool(h, batch))
        return out.sigmoid() if self.probs else out


def _pair(make):
    ours, theirs = make(G), make(P)
    ours.load_state_dict(theirs.state_dict())
    return ours, theirs


def _explain_both(models, algorithm, seed=1, call=None, **config):
    out = []
    for model, (explainer_cls, algo) in zip(models, ((Explainer, algorithm[0]), (PE.Explainer, algorithm[1]))):
        torch.manual_seed(seed)
        explainer = explainer_cls(model, algo(), **config)
        out.append((explainer, call(explainer)))
    return out


NODE_CONFIG = dict(mode="multiclass_classification", task_level="node", return_type="log_probs")


@pytest.mark.parametrize("node_mask_type", ["attributes", "object", "common_attributes", None])
@pytest.mark.parametrize("index", [None, 3, torch.tensor([2, 5])])
def test_gnn_explainer_node_level_equals_pyg(node_mask_type, index):
    x, ei = _graph()
    ours, theirs = _pair(NodeNet)
    (_, a), (_, b) = _explain_both(
        (ours, theirs), (lambda: GNNExplainer(epochs=25), lambda: PE.GNNExplainer(epochs=25)),
        call=lambda e: e(x, ei, index=index), explanation_type="model", node_mask_type=node_mask_type,
        edge_mask_type="object", model_config=NODE_CONFIG)
    torch.testing.assert_close(a.edge_mask, b.edge_mask)
    if node_mask_type is not None:
        torch.testing.assert_close(a.node_mask, b.node_mask)
    torch.testing.assert_close(a.target, b.target)
    assert a.available_explanations == sorted(b.available_explanations, key=a.available_explanations.index)


@pytest.mark.parametrize("mode,return_type", [("multiclass_classification", "raw"), ("binary_classification", "raw"),
                                              ("binary_classification", "probs"), ("regression", "raw")])
def test_gnn_explainer_graph_level_modes_equal_pyg(mode, return_type):
    x, ei = _graph(1)
    batch = torch.arange(N) // 10
    out = 1 if mode != "multiclass_classification" else C
    ours, theirs = _pair(lambda lib: GraphNet(lib, out, probs=return_type == "probs"))
    target = None
    explanation_type = "model"
    if mode == "regression":
        explanation_type, target = "phenomenon", torch.randn(3, 1)
    (_, a), (_, b) = _explain_both(
        (ours, theirs), (lambda: GNNExplainer(epochs=20), lambda: PE.GNNExplainer(epochs=20)),
        call=lambda e: e(x, ei, target=target, batch=batch), explanation_type=explanation_type,
        node_mask_type="attributes", edge_mask_type="object",
        model_config=dict(mode=mode, task_level="graph", return_type=return_type))
    torch.testing.assert_close(a.edge_mask, b.edge_mask)
    torch.testing.assert_close(a.node_mask, b.node_mask)
    assert torch.equal(a.batch, batch) and a._model_args == ["batch"]


def test_attention_explainer_equals_pyg():
    x, ei = _graph(2)
    ei = ei[:, ei[0] != ei[1]]
    for conv in ("GATConv", "GATv2Conv", "TransformerConv"):
        ours, theirs = _pair(lambda lib: NodeNet(lib, conv, heads=2))
        for reduce in ("max", "mean"):
            for index in (None, 4):
                (_, a), (_, b) = _explain_both(
                    (ours, theirs), (lambda: AttentionExplainer(reduce), lambda: PE.AttentionExplainer(reduce)),
                    call=lambda e: e(x, ei, index=index), explanation_type="model", edge_mask_type="object",
                    model_config=NODE_CONFIG)
                torch.testing.assert_close(a.edge_mask, b.edge_mask, msg=f"{conv} {reduce} {index}")


@pytest.mark.parametrize("task_level", ["node", "graph"])
def test_pg_explainer_trains_and_explains_as_pyg(task_level):
    x, ei = _graph(3)
    batch = torch.arange(N) // 10
    if task_level == "node":
        ours, theirs = _pair(lambda lib: NodeNet(lib))
        target, kwargs, index = torch.randint(0, C, (N,)), {}, 7
    else:
        ours, theirs = _pair(lambda lib: GraphNet(lib))
        target, kwargs, index = torch.randint(0, C, (3,)), {"batch": batch}, None
    config = dict(mode="multiclass_classification", task_level=task_level,
                  return_type="log_probs" if task_level == "node" else "raw")
    results = []
    for model, explainer_cls, algo in ((ours, Explainer, PGExplainer), (theirs, PE.Explainer, PE.PGExplainer)):
        torch.manual_seed(4)
        explainer = explainer_cls(model, algo(epochs=5, lr=0.01), explanation_type="phenomenon",
                                  edge_mask_type="object", model_config=config)
        losses = [explainer.algorithm.train(epoch, model, x, ei, target=target, index=index, **kwargs)
                  for epoch in range(5)]
        results.append((losses, explainer(x, ei, target=target, index=index, **kwargs)))
    (losses_a, a), (losses_b, b) = results
    assert losses_a == pytest.approx(losses_b, rel=1e-5)
    torch.testing.assert_close(a.edge_mask, b.edge_mask)


def test_pg_explainer_refuses_before_training_and_unsupported_settings():
    x, ei = _graph()
    model = NodeNet(G)
    explainer = Explainer(model, PGExplainer(epochs=3), explanation_type="phenomenon", edge_mask_type="object",
                          model_config=NODE_CONFIG)
    with pytest.raises(ValueError, match="not yet fully trained"):
        explainer(x, ei, target=torch.zeros(N, dtype=torch.long), index=0)
    with pytest.raises(ValueError, match="does not support the given explanation settings: it only explains phenomenon"):
        Explainer(model, PGExplainer(epochs=3), explanation_type="model", edge_mask_type="object",
                  model_config=NODE_CONFIG)
    with pytest.raises(ValueError, match="needs to be provided"):
        explainer.algorithm.train(0, model, x, ei, target=torch.zeros(N, dtype=torch.long))
    assert explainer.algorithm.train(False) is explainer.algorithm and not explainer.algorithm.training


def test_configuration_errors_name_the_problem():
    model = NodeNet(G)
    with pytest.raises(ValueError, match="Either 'node_mask_type' or 'edge_mask_type'"):
        Explainer(model, GNNExplainer(), explanation_type="model", model_config=NODE_CONFIG)
    with pytest.raises(ValueError, match="'edge_mask_type' needs be None or of type 'object'"):
        Explainer(model, GNNExplainer(), explanation_type="model", edge_mask_type="attributes",
                  model_config=NODE_CONFIG)
    with pytest.raises(ValueError, match="regression needs to return raw"):
        Explainer(model, GNNExplainer(), explanation_type="model", edge_mask_type="object",
                  model_config=dict(mode="regression", task_level="node", return_type="probs"))
    with pytest.raises(ValueError, match="between 0 and 1"):
        ThresholdConfig("hard", 2.0)
    with pytest.raises(ValueError, match="needs to be an integer"):
        ThresholdConfig("topk", 0.5)
    explainer = Explainer(model, GNNExplainer(epochs=1), explanation_type="phenomenon", edge_mask_type="object",
                          model_config=NODE_CONFIG)
    x, ei = _graph()
    with pytest.raises(ValueError, match="'target' has to be provided"):
        explainer(x, ei)
    with pytest.raises(ValueError, match="is not yet connected"):
        GNNExplainer().model_config


@pytest.mark.parametrize("threshold", [("hard", 0.5), ("topk", 10), ("topk_hard", 10), ("topk", 1000)])
def test_thresholds_and_subgraphs_equal_pyg(threshold):
    x, ei = _graph(5)
    g = torch.Generator().manual_seed(6)
    node_mask, edge_mask = torch.rand(N, F, generator=g), torch.rand(ei.size(1), generator=g)
    ours = Explanation(x=x, edge_index=ei, node_mask=node_mask, edge_mask=edge_mask, edge_attr=torch.randn(100, 3))
    theirs = PE.Explanation(x=x, edge_index=ei, node_mask=node_mask, edge_mask=edge_mask,
                            edge_attr=ours.edge_attr)
    a, b = ours.threshold(*threshold), theirs.threshold(*threshold)
    torch.testing.assert_close(a.node_mask, b.node_mask)
    torch.testing.assert_close(a.edge_mask, b.edge_mask)
    hard_a, hard_b = ours.threshold("hard", 0.7), theirs.threshold("hard", 0.7)
    for get in ("get_explanation_subgraph", "get_complement_subgraph"):
        sa, sb = getattr(hard_a, get)(), getattr(hard_b, get)()
        for key in ("x", "edge_index", "node_mask", "edge_mask", "edge_attr"):
            assert torch.equal(sa[key], sb[key]), (get, key)
    assert ours.validate() and ours.threshold(None) is ours


def test_validate_masks_names_the_wrong_shape():
    x, ei = _graph()
    with pytest.raises(ValueError, match="Expected an 'edge_mask' with 100 edges"):
        Explanation(x=x, edge_index=ei, edge_mask=torch.rand(99)).validate_masks()
    with pytest.raises(ValueError, match="Expected a 'node_mask' with 8 features"):
        Explanation(x=x, edge_index=ei, node_mask=torch.rand(N, 3)).validate_masks()
    with pytest.warns(UserWarning, match="two dimensions"):
        assert not Explanation(x=x, edge_index=ei, node_mask=torch.rand(N)).validate_masks(raise_on_error=False)


@pytest.mark.parametrize("explanation_type", ["model", "phenomenon"])
def test_metrics_equal_pyg(explanation_type):
    x, ei = _graph(7)
    ours, theirs = _pair(NodeNet)
    target = torch.randint(0, C, (N,)) if explanation_type == "phenomenon" else None
    pairs = _explain_both(
        (ours, theirs), (lambda: GNNExplainer(epochs=15), lambda: PE.GNNExplainer(epochs=15)),
        call=lambda e: e(x, ei, target=target, index=torch.arange(10)), explanation_type=explanation_type,
        node_mask_type="attributes", edge_mask_type="object", model_config=NODE_CONFIG,
        threshold_config=dict(threshold_type="topk", value=40))
    (ea, a), (eb, b) = pairs
    assert metric.fidelity(ea, a) == pytest.approx(pyg_metric.fidelity(eb, b))
    assert metric.unfaithfulness(ea, a) == pytest.approx(pyg_metric.unfaithfulness(eb, b), abs=1e-6)
    assert metric.unfaithfulness(ea, a, top_k=3) == pytest.approx(pyg_metric.unfaithfulness(eb, b, top_k=3), abs=1e-6)
    pos, neg = torch.tensor([0.9, 0.6, 0.3]), torch.tensor([0.1, 0.2, 0.5])
    torch.testing.assert_close(metric.characterization_score(pos, neg), pyg_metric.characterization_score(pos, neg))
    steps = torch.tensor([0.0, 0.5, 1.0])
    torch.testing.assert_close(metric.fidelity_curve_auc(pos, neg, steps), pyg_metric.fidelity_curve_auc(pos, neg, steps))
    with pytest.raises(ValueError, match="ascending"):
        metric.fidelity_curve_auc(pos, neg, steps.flip(0))


def test_groundtruth_metrics():
    pred = torch.tensor([0.9, 0.8, 0.3, 0.6, 0.1, 0.5])
    truth = torch.tensor([1.0, 1.0, 1.0, 0.0, 0.0, 0.0])
    acc, rec, prec, f1, auroc = metric.groundtruth_metrics(pred, truth)
    # predicted positive at >= 0.5: 0.9, 0.8, 0.6, 0.5 -> TP 2, FP 2, FN 1, TN 1
    assert (acc, rec, prec, f1) == pytest.approx((3 / 6, 2 / 3, 2 / 4, 4 / 7))
    assert auroc == pytest.approx(7 / 9)  # positive-negative pairs ranked right: 7 of 9
    assert metric.groundtruth_metrics(torch.tensor([0.5, 0.5]), torch.tensor([1.0, 0.0]), "auroc") == 0.5
    with pytest.raises(ValueError, match="invalid metric"):
        metric.groundtruth_metrics(pred, truth, "bleu")


def test_dummy_explainer_and_get_embeddings():
    x, ei = _graph()
    model = NodeNet(G)
    explanation = Explainer(model, DummyExplainer(), explanation_type="model", node_mask_type="common_attributes",
                            edge_mask_type="object", model_config=NODE_CONFIG)(x, ei)
    assert explanation.node_mask.shape == (1, F) and explanation.edge_mask.shape == (100,)
    ours, theirs = _pair(NodeNet)
    from torch_geometric.utils import get_embeddings as pyg_get_embeddings
    for a, b in zip(get_embeddings(ours, x, ei), pyg_get_embeddings(theirs, x, ei)):
        torch.testing.assert_close(a, b)


# -- heterogeneous ----------------------------------------------------------------------------------
EDGE_TYPES = [("paper", "cites", "paper"), ("author", "writes", "paper"), ("paper", "rev_writes", "author")]


def _hetero_graph(seed=8):
    g = torch.Generator().manual_seed(seed)
    x = {"paper": torch.randn(20, F, generator=g), "author": torch.randn(12, F, generator=g)}
    sizes = {"paper": 20, "author": 12}
    ei = {e: torch.stack([torch.randint(0, sizes[e[0]], (40,), generator=g),
                          torch.randint(0, sizes[e[2]], (40,), generator=g)]) for e in EDGE_TYPES}
    return x, ei


class HeteroNet(torch.nn.Module):
    def __init__(self, lib):
        super().__init__()
        self.conv1 = lib.HeteroConv({e: lib.SAGEConv((F, F), 16) for e in EDGE_TYPES}, aggr="sum")
        self.conv2 = lib.HeteroConv({e: lib.GATConv((16, 16), 16, add_self_loops=False) for e in EDGE_TYPES})
        self.lin = torch.nn.Linear(16, C)

    def forward(self, x_dict, edge_index_dict):
        h = {k: v.relu() for k, v in self.conv1(x_dict, edge_index_dict).items()}
        return self.lin(self.conv2(h, edge_index_dict)["paper"].relu())


def test_hetero_gnn_explainer_equals_pyg():
    x, ei = _hetero_graph()
    ours, theirs = _pair(HeteroNet)
    (_, a), (_, b) = _explain_both(
        (ours, theirs), (lambda: GNNExplainer(epochs=20), lambda: PE.GNNExplainer(epochs=20)),
        call=lambda e: e(x, ei, index=torch.arange(5)), explanation_type="model", node_mask_type="attributes",
        edge_mask_type="object", model_config=dict(mode="multiclass_classification", task_level="node",
                                                   return_type="raw"))
    assert isinstance(a, HeteroExplanation)
    for node_type in x:
        torch.testing.assert_close(a[node_type].node_mask, b[node_type].node_mask)
        assert torch.equal(a[node_type].x, x[node_type])
    for edge_type in EDGE_TYPES:
        torch.testing.assert_close(a[edge_type].edge_mask, b[edge_type].edge_mask)
    hard_a, hard_b = a.threshold("topk_hard", 30), b.threshold("topk_hard", 30)
    for get in ("get_explanation_subgraph", "get_complement_subgraph"):
        sa, sb = getattr(hard_a, get)(), getattr(hard_b, get)()
        for node_type in x:
            assert torch.equal(sa[node_type].x, sb[node_type].x), (get, node_type)
        for edge_type in EDGE_TYPES:
            assert torch.equal(sa[edge_type].edge_index, sb[edge_type].edge_index), (get, edge_type)
            assert torch.equal(sa[edge_type].edge_mask, sb[edge_type].edge_mask), (get, edge_type)
    assert set(a.node_mask_dict) == set(x) and a.validate_masks()


def test_hetero_to_hetero_model_masks_reach_every_relation():
    from gnnx.explain.algorithm import clear_masks, set_hetero_masks

    x, ei = _hetero_graph(9)

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = G.SAGEConv((-1, -1), 8)

        def forward(self, x, edge_index):
            return self.conv(x, edge_index)

    model = G.to_hetero(Net(), (list(x), EDGE_TYPES), aggr="sum")
    model(x, ei)
    base = model(x, ei)["paper"]
    zero = {e: torch.zeros(40) for e in EDGE_TYPES}
    set_hetero_masks(model, zero, ei, apply_sigmoid=False)
    masked = model(x, ei)["paper"]
    clear_masks(model)
    # with every message zeroed only the root term and the bias remain
    convs = [model.conv["__".join(e)] for e in EDGE_TYPES if e[2] == "paper"]
    root = sum(conv.lin_r(x["paper"]) + conv.lin_l.bias for conv in convs)
    torch.testing.assert_close(masked, root)
    assert not torch.allclose(base, masked)


CUDA = pytest.param("cuda", marks=[pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(),
                                                                        reason="needs a CUDA device")])


@pytest.mark.parametrize("device", ["cpu", CUDA])
def test_explainers_on_device_equal_the_cpu(device):
    """AttentionExplainer on the device gives the CPU's mask (GAT: on CUDA its explain mode
    leaves the fused attention kernel for the per-edge path); GNNExplainer's masks start from
    the device's random stream, so they are checked for their shape, range and the model's
    receptive field (the same edges as on the CPU)."""
    x, ei = _graph(10)
    model = NodeNet(G, "GATConv", heads=2)
    results = []
    for dev in ("cpu", device):
        on = model.to(dev)
        masks = []
        for algorithm in (GNNExplainer(epochs=10), AttentionExplainer()):
            torch.manual_seed(0)
            explainer = Explainer(on, algorithm, explanation_type="model", edge_mask_type="object",
                                  node_mask_type="attributes" if isinstance(algorithm, GNNExplainer) else None,
                                  model_config=NODE_CONFIG)
            masks.append(explainer(x.to(dev), ei.to(dev), index=3).edge_mask.cpu())
        results.append(masks)
    (gnn_cpu, attention_cpu), (gnn_dev, attention_dev) = results
    torch.testing.assert_close(attention_cpu, attention_dev, atol=1e-5, rtol=1e-4)
    assert torch.equal(gnn_cpu > 0, gnn_dev > 0) and float(gnn_dev.max()) <= 1.0


def test_subgraph_by_unsorted_indices_equals_pyg():
    x, ei = _graph(14)
    subset = torch.tensor([7, 2, 19, 4, 11])
    ours = Explanation(x=x, edge_index=ei, edge_mask=torch.rand(ei.size(1))).subgraph(subset)
    theirs = PE.Explanation(x=x, edge_index=ei).subgraph(subset)
    assert torch.equal(ours.x, theirs.x) and torch.equal(ours.edge_index, theirs.edge_index)
