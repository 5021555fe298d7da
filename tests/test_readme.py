"""The README's quick start runs as written (fewer epochs), in a scratch folder."""
import os
import re

import torch

README = os.path.join(os.path.dirname(__file__), "..", "README.md")


def _example(start: str) -> str:
    """The README's python block whose code begins with ``start`` (a regular expression)."""
    return re.search(rf"```python\n({start}.*?)```", open(README).read(), re.S).group(1)


def _run(code: str, name: str, scope: dict = None) -> dict:
    """``code`` executed in ``scope`` (a new one by default), which is returned."""
    scope = {} if scope is None else scope
    exec(compile(code, f"README {name}", "exec"), scope)
    return scope


def test_quick_start_runs(tmp_path, monkeypatch):
    text = open(README).read()
    section = text[text.index("## Quick start"):text.index("## Porting from PyG")]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1).replace("range(200)", "range(3)")
    monkeypatch.chdir(tmp_path)
    scope = _run(code, "quick start")
    assert scope["pred"].shape == (scope["data"].num_nodes,)
    assert torch.isfinite(scope["loss"])


def test_porting_example_runs():
    code = _example(r"# PyG's other input forms")
    scope = _run(code, "porting example")
    assert scope["static"].shape == (3, 6, 16)
    assert scope["out"]["paper"].shape == (5, 16) and scope["out"]["author"].shape == (3, 16)


def test_heterogeneous_example_runs():
    code = _example(r"# Heterogeneous graphs")
    scope = _run(code, "heterogeneous example")
    batch, out = scope["batch"], scope["out"]
    assert out["paper"].shape == (batch["paper"].num_nodes, 19)
    assert "x__paper" in scope["names"] and "edge_index__paper__cites__paper" in scope["names"]


def test_mixed_precision_example_runs():
    code = _example(r"# Mixed precision, inference mode")
    scope = _run(code, "mixed precision example")
    assert scope["before"].shape == (100, 4) and scope["out"].dtype == torch.bfloat16
    assert all(p.grad is not None for p in scope["model"].parameters())


def test_int32_and_dense_pooling_example_runs():
    code = _example(r"# int32 edge indices and dense DiffPool")
    scope = _run(code, "int32 and dense pooling example")
    assert scope["pooled"].shape == (3, 2, 6) and scope["pooled_adj"].shape == (3, 2, 2)
    assert torch.isfinite(scope["link_loss"]) and torch.isfinite(scope["ent_loss"])


def test_point_cloud_example_runs():
    code = _example(r"\s*# Point clouds the PyG way")
    code = "\n".join(line[2:] if line.startswith("  ") else line for line in code.splitlines())
    scope = _run(code, "point cloud example")
    assert scope["x"].shape == (75, 64) and scope["readout"].shape == (3, 64) and scope["up"].shape == (300, 64)


def test_linear_and_kge_example_runs():
    code = _example(r"# Linear and knowledge-graph embeddings")
    scope = _run(code, "Linear and KGE example")
    assert scope["h"].shape == (10, 32) and repr(scope["lin"]) == "Linear(12, 32, bias=True)"
    assert torch.isfinite(scope["loss"]) and 0 <= scope["mrr"] <= 1 and 0 <= scope["hits_at_10"] <= 1


def test_retrieval_molecule_and_mesh_example_runs():
    import pytest

    pytest.importorskip("rdkit")
    code = _example(r"# Retrieval, molecules and MeshCNN")
    scope = _run(code, "retrieval example")
    assert scope["best"].index.shape == (4, 10) and not (scope["best"].index[0] == 17).any()
    assert scope["smiles"] == "CC(=O)Oc1ccccc1C(=O)O" and scope["aspirin"].x.shape == (13, 9)
    assert scope["out"].shape == (12, 8)


def test_visnet_lpformer_gpse_example_runs():
    code = _example(r"# ViSNet, LPFormer and GPSE")
    scope = _run(code, "ViSNet, LPFormer and GPSE example")
    assert scope["energy"].shape == (2, 1) and scope["forces"].shape == (7, 3)
    assert torch.isfinite(scope["forces"]).all() and scope["logits"].shape == (2,)
    assert scope["graph"].pestat_GPSE.shape == (20, 16)


def test_explain_example_runs():
    code = _example(r"# Explaining a prediction")
    code = code.replace("range(100)", "range(5)").replace("epochs=100", "epochs=5")
    scope = _run(code, "explain example")
    explanation, subgraph = scope["explanation"], scope["subgraph"]
    assert explanation.edge_mask.shape == (scope["data"].edge_index.size(1),)
    assert int((explanation.edge_mask > 0).sum()) <= 20 and subgraph.edge_index.size(1) <= 20
    assert 0.0 <= scope["pos_fidelity"] <= 1.0 and 0.0 <= scope["neg_fidelity"] <= 1.0


def test_karate_gdc_and_renet_examples_run():
    scope = _run(_example("# The karate club, diffused"), "karate GDC example")
    assert scope["club"].edge_index.shape == (2, 34 * 4) and scope["club"].edge_attr.shape == (34 * 4,)
    _run(_example("# RENet on a stream"), "RENet example", scope)
    assert scope["log_obj"].shape == scope["log_sub"].shape == (5, 4) and scope["metrics"].shape == (4,)


def test_second_derivative_example_runs():
    """The gradient penalty of the README through the fast kernels equals float64's."""
    code = _example(r"# A gradient penalty through GAT")
    scope = _run(code, "second-derivative example")
    conv, x = scope["conv"], scope["x"]
    reference = type(conv)(8, 4, heads=2).double()
    reference.load_state_dict(conv.state_dict())
    x64 = x.detach().double().requires_grad_()
    (grad_x,) = torch.autograd.grad(reference(x64, scope["edge_index"]).square().sum(), x64, create_graph=True)
    grad_x.square().sum().backward()
    torch.testing.assert_close(x.grad.double(), x64.grad, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(conv.lin.weight.grad.double(), reference.lin.weight.grad, rtol=1e-4, atol=1e-4)


def test_function_transforms_and_pyg_data_example_runs():
    _run(_example("# Per-sample gradients with torch.func"), "torch.func example")


def test_pyg_loaders_example_runs():
    scope = _run(_example(r"# PyG's loaders, ported by the import"), "PyG loaders example")
    assert scope["batch"].num_nodes == 16 and scope["first"].num_nodes == 5
    sub = scope["sub"]
    assert torch.equal(sub.batch[:8], torch.arange(8)) and (sub.time <= sub.seed_time[sub.batch]).all()
    pairs = scope["pairs"]
    assert pairs.edge_label_index.size(1) == 32 and (pairs.edge_label[16:] == 0).all()
