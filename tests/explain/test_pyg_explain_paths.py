"""PyG's explain import paths and a heterogeneous explanation's checks (PyG's test/explain, ported
with the imports changed, found these; counts in bench/results/cpu/session31_pyg_loader_tests.txt)."""
import pytest
import torch

from gnnx.explain import HeteroExplanation, characterization_score, fidelity, groundtruth_metrics, unfaithfulness
from gnnx.explain.algorithm.utils import clear_masks, set_hetero_masks, set_masks


def test_metrics_and_mask_helpers_import_from_pyg_paths():
    assert callable(fidelity) and callable(unfaithfulness) and callable(set_masks) and callable(clear_masks)
    assert callable(set_hetero_masks)
    assert float(characterization_score(torch.tensor([0.8]), torch.tensor([0.2]))) > 0
    assert groundtruth_metrics(torch.tensor([0.9, 0.1]), torch.tensor([1, 0]), "accuracy") == 1.0


def test_heterogeneous_explanation_validates_masks_by_their_own_rules():
    explanation = HeteroExplanation()
    explanation["paper"].x = torch.randn(8, 16)
    explanation["paper"].node_mask = torch.rand(1, 16)  # one row for every node: common attributes
    explanation["author"].node_mask = torch.rand(4, 1)
    explanation["paper", "author"].edge_index = torch.tensor([[0, 7], [1, 3]])
    explanation["paper", "author"].edge_mask = torch.rand(2)
    assert explanation.validate(raise_on_error=True)
    explanation["paper", "author"].edge_mask = torch.rand(3)
    with pytest.raises(ValueError):
        explanation.validate(raise_on_error=True)


def test_attentive_fp_is_explained_without_its_readout():
    from gnnx.explain import Explainer, GNNExplainer
    from gnnx.nn import AttentiveFP

    torch.manual_seed(0)
    x, edge_attr = torch.randn(8, 3), torch.randn(14, 5)
    edge_index = torch.randint(8, (2, 14))
    batch = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1])
    explainer = Explainer(AttentiveFP(3, 16, 1, edge_dim=5, num_layers=2, num_timesteps=2),
                          algorithm=GNNExplainer(epochs=2), explanation_type="model", node_mask_type="object",
                          edge_mask_type="object",
                          model_config=dict(mode="binary_classification", task_level="graph", return_type="raw"))
    explanation = explainer(x, edge_index, edge_attr=edge_attr, batch=batch)
    assert explanation.edge_mask.shape == (14,) and explanation.node_mask.shape == (8, 1)
    assert explanation.num_features == 3
