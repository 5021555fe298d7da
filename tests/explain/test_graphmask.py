"""GraphMaskExplainer against PyG's: for the same seed the same node and edge masks (layers
with and without self loops of their own, node- and graph-level tasks); layers whose messages
see other widths than their channels train their gates (PyG's rebuild them untrained)."""
import pytest
import torch

import gnnx.nn as G
from gnnx.explain import Explainer, GraphMaskExplainer

P = pytest.importorskip("torch_geometric.nn")
PE = pytest.importorskip("torch_geometric.explain")

NODE_CONFIG = dict(mode="multiclass_classification", task_level="node", return_type="log_probs")


class NodeNet(torch.nn.Module):
    def __init__(self, lib, conv, hidden=8):
        super().__init__()
        self.c1, self.c2 = getattr(lib, conv)(8, hidden), getattr(lib, conv)(hidden, 8)
        self.lin = torch.nn.Linear(8, 3)

    def forward(self, x, edge_index):
        return self.lin(self.c2(self.c1(x, edge_index).relu(), edge_index)).log_softmax(-1)


class GraphNet(torch.nn.Module):
    def __init__(self, lib):
        super().__init__()
        self.c1, self.c2 = lib.GraphConv(8, 8), lib.GraphConv(8, 8)
        self.lin = torch.nn.Linear(8, 2)

    def forward(self, x, edge_index, batch):
        h = self.c2(self.c1(x, edge_index).relu(), edge_index)
        return self.lin(G.global_mean_pool(h, batch, 2) if isinstance(self.c1, G.GraphConv)
                        else P.global_mean_pool(h, batch, 2))


def _graph(loops):
    g = torch.Generator().manual_seed(1)
    x, edge_index = torch.randn(20, 8, generator=g), torch.randint(20, (2, 60), generator=g)
    return x, edge_index if loops else edge_index[:, edge_index[0] != edge_index[1]]


def _pair(make):
    torch.manual_seed(0)
    theirs = make(P)
    ours = make(G)
    ours.load_state_dict(theirs.state_dict())
    return ours, theirs


def _explain_both(models, call, **config):
    out = []
    for model, (explainer, algorithm) in zip(models, ((Explainer, GraphMaskExplainer),
                                                      (PE.Explainer, PE.algorithm.GraphMaskExplainer))):
        torch.manual_seed(5)
        out.append(call(explainer(model, algorithm(2, epochs=6, log=False), explanation_type="model", **config)))
    return out


@pytest.mark.parametrize("conv, loops", [("GraphConv", True), ("SAGEConv", True), ("GCNConv", False)])
@pytest.mark.parametrize("node_mask_type", ["attributes", "object"])
def test_node_level_equals_pyg(conv, loops, node_mask_type):
    x, edge_index = _graph(loops)
    ours, theirs = _explain_both(_pair(lambda lib: NodeNet(lib, conv)), lambda e: e(x, edge_index, index=3),
                                 node_mask_type=node_mask_type, edge_mask_type="object", model_config=NODE_CONFIG)
    torch.testing.assert_close(ours.node_mask, theirs.node_mask)
    torch.testing.assert_close(ours.edge_mask, theirs.edge_mask)


def test_graph_level_equals_pyg():
    x, edge_index = _graph(True)
    batch = torch.tensor([0] * 10 + [1] * 10)
    config = dict(mode="multiclass_classification", task_level="graph", return_type="raw")
    ours, theirs = _explain_both(_pair(GraphNet), lambda e: e(x, edge_index, batch=batch, index=1),
                                 node_mask_type="common_attributes", edge_mask_type="object", model_config=config)
    torch.testing.assert_close(ours.node_mask, theirs.node_mask)
    torch.testing.assert_close(ours.edge_mask, theirs.edge_mask)


def test_gates_train_where_messages_have_other_widths():
    """GCNConv(8, 16): its messages are 16 wide; the gates read them and learn."""
    model = NodeNet(G, "GCNConv", hidden=16)
    x, edge_index = _graph(False)
    gates = []
    for epochs in (0, 4):
        torch.manual_seed(0)
        algorithm = GraphMaskExplainer(2, epochs=epochs, log=False)
        explanation = Explainer(model, algorithm, explanation_type="model", edge_mask_type="object",
                                node_mask_type="attributes", model_config=NODE_CONFIG)(x, edge_index, index=2)
        gates.append(algorithm.gates[0][0].weight.detach().clone())
    assert explanation.edge_mask.shape == (edge_index.size(1),)
    assert ((explanation.edge_mask >= 0) & (explanation.edge_mask <= 1)).all()
    assert gates[1].shape == (16, 16)  # (hidden, source width) from the messages seen
    assert not torch.equal(gates[0], gates[1])  # trained from the same start
    with pytest.raises(ValueError, match="allowance must lie in"):
        GraphMaskExplainer(2, allowance=2)


def test_model_is_restored_after_the_explanation():
    model = NodeNet(G, "GraphConv")
    x, edge_index = _graph(True)
    before = model(x, edge_index)
    Explainer(model, GraphMaskExplainer(2, epochs=2, log=False), explanation_type="model", edge_mask_type="object",
              model_config=NODE_CONFIG)(x, edge_index, index=1)
    torch.testing.assert_close(model(x, edge_index), before)
    assert all(p.requires_grad for p in model.parameters())
    assert all(not layer.explain and "explain_message" not in layer.__dict__ for layer in (model.c1, model.c2))
