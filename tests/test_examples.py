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
