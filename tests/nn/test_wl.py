"""WLConv equals PyG's: colours over rounds and across graphs sharing the palette, one-hot
input, histograms (plain and normalised); bad colours named."""
import pytest
import torch
import torch_geometric

import gnnx.nn as nn


def test_colours_and_histograms_equal_pygs():
    ours, theirs = nn.WLConv(), torch_geometric.nn.WLConv()
    gen = torch.Generator().manual_seed(0)
    for num_nodes in (12, 20):
        edge_index = torch.randint(num_nodes, (2, 3 * num_nodes), generator=gen)
        x = torch.zeros(num_nodes, dtype=torch.long)
        colours = [x, x]
        for _ in range(3):
            colours = [ours(colours[0], edge_index), theirs(colours[1], edge_index)]
            assert torch.equal(colours[0], colours[1])
    one_hot = torch.nn.functional.one_hot(torch.randint(3, (12,), generator=gen))
    edge_index = torch.randint(12, (2, 30), generator=gen)
    assert torch.equal(ours(one_hot, edge_index), theirs(one_hot, edge_index))
    x, batch = ours(one_hot, edge_index), torch.tensor([0] * 5 + [1] * 7)
    theirs(one_hot, edge_index)
    for norm in (False, True):
        torch.testing.assert_close(ours.histogram(x, batch, norm=norm), theirs.histogram(x, batch, norm=norm))
    with pytest.raises(TypeError, match="colours must be int64"):
        ours(torch.zeros(4), edge_index[:, :0])
