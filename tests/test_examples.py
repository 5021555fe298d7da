"""The end-to-end example runs (short training; C++ and serving are tested on their own)."""
import os
import runpy
import sys

import pytest
import torch

EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "examples", "pointcloud_edgecnn.py")


def _run_main(path, args, monkeypatch, capsys):
    """Run an example script as ``python path args...``; it must exit with status 0."""
    monkeypatch.setattr(sys, "argv", [path] + args)
    with pytest.raises(SystemExit) as done:
        runpy.run_path(path, run_name="__main__")
    assert done.value.code == 0
    return capsys.readouterr().out


@pytest.mark.slow
def test_pointcloud_example_trains_and_packages(tmp_path, capsys, monkeypatch):
    out = _run_main(EXAMPLE, ["--epochs", "2", "--clouds", "8", "--no-serve",
                                      "--min-accuracy", "0", "--out-dir", str(tmp_path)], monkeypatch, capsys)
    assert "held-out per-point accuracy" in out
    diff = float(out.split("max |diff| vs eager ")[1].split()[0])
    assert diff < 1e-4
    assert (tmp_path / "pointcloud.pt2").exists()


CALORIMETER = os.path.join(os.path.dirname(__file__), "..", "examples", "calorimeter_gravnet.py")


@pytest.mark.slow
def test_calorimeter_example_trains_clusters_and_exports(tmp_path, capsys, monkeypatch):
    out = _run_main(CALORIMETER, ["--events", "30", "--epochs", "2", "--out-dir", str(tmp_path)], monkeypatch, capsys)
    ari = float(out.split("held-out adjusted Rand index ")[1].split()[0])
    assert -1.0 <= ari <= 1.0
    assert float(out.split("max |diff| vs eager ")[1].split()[0]) < 1e-4
    assert (tmp_path / "calorimeter.json").exists()


def test_adjusted_rand_index_and_components():
    module = runpy.run_path(CALORIMETER)
    ari, components = module["adjusted_rand_index"], module["components"]
    import numpy as np

    assert ari(np.array([0, 0, 1, 1]), np.array([5, 5, 7, 7])) == 1.0
    assert abs(ari(np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1])) - (-0.5)) < 1e-9
    assert components(4, np.array([[0, 2], [1, 3]])).tolist() == [1, 1, 3, 3]  # edges 0-1 and 2-3


COMPILE_EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "examples", "compile")


def _run(path, args, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", [path] + args)
    runpy.run_path(path, run_name="__main__")
    return capsys.readouterr().out


@pytest.mark.slow
def test_pyg_compile_tutorial_gcn_runs_ported(monkeypatch, capsys):
    out = _run(os.path.join(COMPILE_EXAMPLES, "gcn.py"), ["--epochs", "12"], monkeypatch, capsys)
    last = [line for line in out.splitlines() if line.startswith("Epoch: 012")][0]
    assert float(last.split("Train: ")[1].split(",")[0]) > 0.3 and "Median time per epoch" in out


@pytest.mark.slow
def test_pyg_compile_tutorial_gin_runs_ported_on_tu_files(tmp_path, monkeypatch, capsys):
    import importlib.util

    spec = importlib.util.spec_from_file_location("tu_files", os.path.join(os.path.dirname(__file__), "data",
                                                                             "test_tu.py"))
    tu_files = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tu_files)
    from gnnx.datasets import GraphClassification

    name = tu_files.write_tu(GraphClassification("MUTAG").graphs, tmp_path / "MUTAG", name="MUTAG")
    out = _run(os.path.join(COMPILE_EXAMPLES, "gin.py"), ["--root", str(tmp_path), "--name", name, "--epochs", "3"],
               monkeypatch, capsys)
    assert out.count("Epoch: ") == 3 and "Test: " in out


LINK_PRED = os.path.join(os.path.dirname(__file__), "..", "examples", "link_pred.py")


@pytest.mark.slow
def test_link_prediction_example_reports_auc_next_to_pyg(tmp_path, capsys, monkeypatch):
    out = _run_main(LINK_PRED, ["--epochs", "20", "--out", str(tmp_path)], monkeypatch, capsys)
    ours = float(out.split("gnnx eager")[1].split("test AUC ")[1].split()[0])
    compiled = float(out.split("gnnx.compile")[1].split("test AUC ")[1].split()[0])
    assert ours > 0.75 and compiled == pytest.approx(ours, abs=1e-3)
    assert (tmp_path / "link_pred.md").exists()


RGAT = os.path.join(os.path.dirname(__file__), "..", "examples", "rgat_igbh.py")


@pytest.mark.slow
def test_rgat_example_trains_on_sampled_heterogeneous_batches(capsys, monkeypatch):
    out = _run_main(RGAT, ["--scale", "0.005", "--epochs", "2", "--batches", "8",
                                      "--batch-size", "128", "--hidden", "32"], monkeypatch, capsys)
    accuracy = float(out.split("test accuracy ")[1].split()[0])
    floor = float(out.split("own features only: ")[1].split(",")[0])
    assert accuracy > floor  # message passing reads the planted neighbourhood signal


TGN = os.path.join(os.path.dirname(__file__), "..", "examples", "tgn.py")


def test_tgn_example_learns_the_streams_repeat_interactions(capsys, monkeypatch):
    out = _run_main(TGN, ["--events", "4000", "--epochs", "2"], monkeypatch, capsys)
    test_ap = float(out.strip().splitlines()[-1].split("test AP ")[1].split()[0])
    assert test_ap > 0.6  # a random ranking gives ~0.5


GIN = os.path.join(os.path.dirname(__file__), "..", "examples", "gin_graph_classification.py")


def _social_dataset(root, name="SOCIAL", graphs=40):
    """A GIN-format dataset without node labels (every tag 0): stars (label 0) and rings
    (label 1) of varied sizes, which only degree features tell apart."""
    gen = torch.Generator().manual_seed(0)
    lines = [str(graphs)]
    for g in range(graphs):
        n = int(torch.randint(5, 12, (1,), generator=gen))
        label = g % 2
        if label == 0:
            nbrs = [list(range(1, n))] + [[0] for _ in range(1, n)]
        else:
            nbrs = [[(i - 1) % n, (i + 1) % n] for i in range(n)]
        lines.append(f"{n} {label}")
        lines += [" ".join(["0", str(len(v))] + [str(j) for j in v]) for v in nbrs]
    folder = root / name
    (folder / "10fold_idx").mkdir(parents=True)
    (folder / f"{name}.txt").write_text("\n".join(lines) + "\n")
    for k in range(1, 11):
        test = [i for i in range(graphs) if i % 10 == k - 1]
        train = [i for i in range(graphs) if i % 10 != k - 1]
        (folder / "10fold_idx" / f"train_idx-{k}.txt").write_text("\n".join(map(str, train)) + "\n")
        (folder / "10fold_idx" / f"test_idx-{k}.txt").write_text("\n".join(map(str, test)) + "\n")


@pytest.mark.slow
def test_gin_example_reads_a_dataset_of_the_users_own_with_degree_features(tmp_path, capsys, monkeypatch):
    _social_dataset(tmp_path)
    out = _run_main(GIN, ["SOCIAL", "--root", str(tmp_path), "--epochs", "15", "--folds", "2",
                                      "--modes", "eager"], monkeypatch, capsys)
    assert "no node labels, using one-hot degrees" in out
    accuracy = float(out.split("SOCIAL eager: ")[1].split()[0])
    assert accuracy > 80.0  # stars and rings differ only in their degrees
