"""PANConv and PANPooling: PyG's keys, repr and initialisation; the convolution against a
dense evaluation of its path sum (PyG's forward needs torch-sparse), the pooling against
PyG's given the same path matrix."""
import pytest
import torch

import gnnx.nn as G

P = pytest.importorskip("torch_geometric.nn")


def _graph(seed=0, n=9):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 4, generator=g), torch.randint(0, n, (2, 24), generator=g)


def _dense_reference(conv, x, edge_index):
    """PyG's PANConv in dense form: the weighted sum of adjacency powers, each row and
    column scaled by the inverse square root of the row's entry count."""
    n = x.size(0)
    adj_t = torch.zeros(n, n).index_put_((edge_index[1], edge_index[0]), torch.ones(edge_index.size(1)),
                                         accumulate=True)
    term = torch.eye(n) * conv.weight[0]
    total, reach, pattern = term.clone(), torch.eye(n), torch.eye(n)
    for step in range(1, conv.filter_size + 1):
        term = term @ adj_t * conv.weight[step]
        total = total + term
        reach = reach @ (adj_t > 0).float()
        pattern = pattern + reach
    # the entries are counted by structure (stored entries, as torch-sparse's rowcount), even
    # where weights of opposite signs cancel
    inv_sqrt = (pattern > 0).sum(1).float().pow(-0.5)
    inv_sqrt[torch.isinf(inv_sqrt)] = 0
    M = inv_sqrt.view(-1, 1) * total * inv_sqrt.view(1, -1)
    return conv.lin(M @ x), M


@pytest.mark.parametrize("filter_size", [1, 3])
def test_pan_conv_equals_its_dense_definition(filter_size):
    torch.manual_seed(0)
    theirs = P.PANConv(4, 6, filter_size)
    ours = G.PANConv(4, 6, filter_size)
    assert repr(ours) == repr(theirs) and list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict(theirs.state_dict())
    with torch.no_grad():
        ours.weight.copy_(torch.tensor([0.7, -0.4, 0.9, 0.3][:filter_size + 1]))
    x, edge_index = _graph()
    out, M = ours(x, edge_index)
    expected_out, expected_M = _dense_reference(ours, x, edge_index)
    torch.testing.assert_close(out, expected_out)
    torch.testing.assert_close(M.to_dense(), expected_M)
    out.sum().backward()
    assert ours.weight.grad is not None and ours.weight.grad.abs().sum() > 0
    from gnnx.utils import coalesce

    unique = coalesce(edge_index, num_nodes=9)  # a sparse adj_t holds each edge once, as PyG reads it
    adj_t = torch.sparse_coo_tensor(unique.flip(0), torch.ones(unique.size(1)), (9, 9)).coalesce()
    torch.testing.assert_close(ours(x, adj_t)[0], ours(x, unique)[0])


class _SparseShim:
    """What PyG's PANPooling reads of its SparseTensor: ``coo()``."""

    def __init__(self, M):
        self.M = M.coalesce()

    def coo(self):
        row, col = self.M.indices()
        return row, col, self.M.values()


@pytest.mark.parametrize("kwargs", [{}, {"ratio": 0.7, "multiplier": 2.0}, {"min_score": 0.1}])
def test_pan_pooling_equals_pyg(kwargs):
    x, edge_index = _graph(1, n=12)
    conv = G.PANConv(4, 5, 2)
    h, M = conv(x, edge_index)
    h, M = h.detach(), M.detach()
    batch = torch.tensor([0] * 7 + [1] * 5)
    torch.manual_seed(1)
    theirs = P.PANPooling(5, **kwargs)
    ours = G.PANPooling(5, **kwargs)
    assert repr(ours) == repr(theirs) and list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict(theirs.state_dict())
    a = ours(h, M, batch)
    b = theirs(h, _SparseShim(M), batch)
    for ta, tb in zip(a, b):
        torch.testing.assert_close(ta, tb)
    with pytest.raises(ValueError, match="sparse COO"):
        ours(h, M.to_dense(), batch)
