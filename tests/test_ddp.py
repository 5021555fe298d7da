"""DDP with gloo in 2 CPU processes equals one process on the same global batch; resume works."""
import os
import subprocess
import sys
import warnings

import pytest
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE = os.path.join(ROOT, "examples", "ddp_graph_classification.py")


def _run(args, nproc=None):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": ROOT}
    if nproc:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}", EXAMPLE]
    else:
        cmd = [sys.executable, EXAMPLE]
    # One retry for the launcher: once in ~10 loaded CI runs a gloo rank aborted (SIGABRT)
    # at start-up or shutdown; it has not reproduced since (72 launches alone and under load).
    # A retried failure is reported as a warning with its stderr, so the next one is seen.
    failed = ""
    for attempt in range(2 if nproc else 1):
        result = subprocess.run(cmd + args, capture_output=True, text=True, env=env, timeout=600)
        if result.returncode == 0:
            if attempt:
                warnings.warn(f"DDP launch failed once, passed on retry: {failed[-3000:]}")
            return result.stdout
        failed = f"rc={result.returncode}\n{result.stderr}"
    raise AssertionError(result.stderr[-4000:])


@pytest.mark.slow
def test_two_gloo_ranks_equal_one_process_and_resume(tmp_path):
    single, double, resumed = (str(tmp_path / f) for f in ("single.pt", "ddp.pt", "resumed.pt"))
    _run(["--epochs", "3", "--out", single])
    _run(["--backend", "gloo", "--epochs", "3", "--out", double], nproc=2)
    a, b = torch.load(single)["model"], torch.load(double)["model"]
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-4, atol=1e-5, msg=lambda m: f"{key}: {m}")
    # Stop after 2 epochs, resume for the third: same as 3 straight epochs.
    _run(["--backend", "gloo", "--epochs", "2", "--out", resumed], nproc=2)
    _run(["--backend", "gloo", "--epochs", "3", "--out", resumed, "--resume"], nproc=2)
    c = torch.load(resumed)
    assert c["epoch"] == 2
    for key in a:
        torch.testing.assert_close(c["model"][key], b[key], rtol=1e-4, atol=1e-5)


@pytest.mark.slow
def test_neighbour_sampled_node_classification_on_two_ranks(tmp_path):
    out = _run(["--task", "node", "--backend", "gloo", "--epochs", "15", "--global-batch", "28",
                "--out", str(tmp_path / "node.pt")], nproc=2)
    accuracy = float(out.strip().splitlines()[-1].split()[-1])
    assert torch.load(tmp_path / "node.pt")["epoch"] == 14 and accuracy > 0.5
