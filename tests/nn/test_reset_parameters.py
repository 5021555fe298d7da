"""Every layer of the four-way cases has PyG's ``reset_parameters``: it runs after a forward,
redraws the random weights, and the layer still gives finite outputs. A PyG-style custom
layer may call ``super().reset_parameters()``."""
import pytest
import torch

import gnnx.nn as G
from cases import ALL, call, random_graph


@pytest.mark.parametrize("case", ALL, ids=[c.id for c in ALL])
def test_reset_parameters_redraws_weights(case):
    layer = case.gnnx()
    inputs = random_graph(12, 40)
    call(layer, case, *inputs)  # lazy widths materialise
    before = {k: v.clone() for k, v in layer.state_dict().items()}
    torch.manual_seed(123)
    layer.reset_parameters()
    after = layer.state_dict()
    random_weights = [k for k, v in before.items() if v.is_floating_point() and v.numel() > 1 and v.std() > 0
                      and k in dict(layer.named_parameters())]
    if random_weights:
        assert any(not torch.equal(before[k], after[k]) for k in random_weights), case.id
    out = call(layer, case, *inputs)
    out = out[0] if isinstance(out, tuple) else out
    assert torch.isfinite(out).all()


def test_custom_layer_calls_super_reset_parameters():
    class Mine(G.MessagePassing):
        def __init__(self):
            super().__init__(aggr="mean")
            self.lin = torch.nn.Linear(4, 4)
            self.reset_parameters()

        def reset_parameters(self):
            super().reset_parameters()
            self.lin.reset_parameters()

        def forward(self, x, edge_index):
            return self.propagate(edge_index, x=self.lin(x))

    layer = Mine()
    layer.reset_parameters()
    assert layer(torch.randn(5, 4), torch.tensor([[0, 1], [1, 2]])).shape == (5, 4)
