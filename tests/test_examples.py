"""The end-to-end example runs (short training; C++ and serving are tested on their own)."""
import os
import runpy
import sys

import pytest

EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "examples", "pointcloud_edgecnn.py")


@pytest.mark.slow
def test_pointcloud_example_trains_and_packages(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(sys, "argv", [EXAMPLE, "--epochs", "2", "--clouds", "8", "--no-serve",
                                      "--min-accuracy", "0", "--out-dir", str(tmp_path)])
    with pytest.raises(SystemExit) as done:
        runpy.run_path(EXAMPLE, run_name="__main__")
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert "held-out per-point accuracy" in out
    diff = float(out.split("max |diff| vs eager ")[1].split()[0])
    assert diff < 1e-4
    assert (tmp_path / "pointcloud.pt2").exists()


CALORIMETER = os.path.join(os.path.dirname(__file__), "..", "examples", "calorimeter_gravnet.py")


@pytest.mark.slow
def test_calorimeter_example_trains_clusters_and_exports(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(sys, "argv", [CALORIMETER, "--events", "30", "--epochs", "2", "--out-dir", str(tmp_path)])
    with pytest.raises(SystemExit) as done:
        runpy.run_path(CALORIMETER, run_name="__main__")
    assert done.value.code == 0
    out = capsys.readouterr().out
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
