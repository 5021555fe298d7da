"""The demo runs end to end (short): trains eagerly and compiled, exports, reloads."""
import json

from gnnx import demo


def test_demo_short_run(tmp_path, capsys):
    assert demo.main(["--seeds", "1", "--epochs", "30", "--out-dir", str(tmp_path)]) == 0
    summary = json.loads((tmp_path / "demo_results.json").read_text())
    assert summary["export"]["predictions_identical"]
    assert summary["eager"]["test_acc_mean"] > 0.6 and summary["compiled"]["test_acc_mean"] > 0.6
    assert "GCN on Cora" in capsys.readouterr().out
