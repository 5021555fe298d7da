"""Traced TorchScript of the basic models: saved, reloaded without gnnx, any graph size."""
import subprocess
import sys

import pytest
import torch

import gnnx.export
from cases import IN, MODELS, call, random_graph


@pytest.mark.parametrize("case", MODELS, ids=lambda c: c.id)
def test_traced_model_equals_eager_at_other_sizes(case, tmp_path):
    model = case.gnnx().eval()

    class Plain(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, x, edge_index, edge_weight, edge_attr):
            return call(self.model, case, x, edge_index, edge_weight, edge_attr)

    path = str(tmp_path / "model.ts")
    gnnx.export.to_torchscript(Plain(), random_graph(20, 60), path)
    loaded = torch.jit.load(path)
    for size in [(5, 9), (300, 2000)]:
        inputs = random_graph(*size, seed=size[0])
        with torch.no_grad():
            torch.testing.assert_close(loaded(*inputs), call(model, case, *inputs), rtol=1e-4, atol=1e-5)


def test_traced_module_loads_in_a_process_without_gnnx(tmp_path):
    from gnnx.nn import GraphSAGE

    path = str(tmp_path / "sage.ts")
    gnnx.export.to_torchscript(GraphSAGE(IN, 16, 2, 3), random_graph(20, 60)[:2], path)
    code = ("import sys, torch; sys.modules['gnnx'] = None; m = torch.jit.load(sys.argv[1]); "
            "print(tuple(m(torch.randn(7, %d), torch.tensor([[0, 1], [1, 6]])).shape))" % IN)
    out = subprocess.run([sys.executable, "-c", code, path], capture_output=True, text=True, check=True, cwd=tmp_path)
    assert out.stdout.strip() == "(7, 3)"
