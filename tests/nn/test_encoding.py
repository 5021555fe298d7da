"""PositionalEncoding and TemporalEncoding equal to PyG's (buffers, outputs, repr), compiled
without recompiles and exported with a dynamic number of positions."""
import pytest
import torch

import gnnx.nn as G
from tests.cases import assert_compiles_once_and_exports

P = pytest.importorskip("torch_geometric.nn")


@pytest.mark.parametrize("name,args", [("PositionalEncoding", (16,)), ("PositionalEncoding", (8, 1e-3, 0.5)),
                                       ("TemporalEncoding", (16,)), ("TemporalEncoding", (5,))])
def test_equal_to_pyg_compiles_and_exports(name, args):
    ours, pyg = getattr(G, name)(*args), getattr(P, name)(*args)
    assert repr(ours) == repr(pyg)
    assert [(k, v.shape) for k, v in ours.state_dict().items()] == [(k, v.shape) for k, v in pyg.state_dict().items()]
    x = torch.rand(3, 7) * 100
    assert torch.equal(ours(x), pyg(x))

    def inputs(n, seed=0):
        return (torch.rand(n, generator=torch.Generator().manual_seed(seed)) * 50,)

    assert_compiles_once_and_exports(ours, inputs, sizes=(4, 9, 17), export_size=40,
                                     dynamic_shapes=({0: torch.export.Dim("n", min=2)},))


def test_odd_positional_width_is_refused():
    with pytest.raises(ValueError, match="even out_channels"):
        G.PositionalEncoding(7)
