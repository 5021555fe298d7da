"""The second batch of PyG's utils (tensor helpers, unbatching, isolated nodes, self-loop
helpers, augmentations, random graphs, sparse layouts, bipartite subgraphs, measures, grid)
against torch_geometric.utils in the same process: equal values, and for random ones the
same draws from the same seed."""
import numpy as np
import pytest
import torch

import gnnx.nn as G
import gnnx.utils as U

PU = pytest.importorskip("torch_geometric.utils")
PN = pytest.importorskip("torch_geometric.nn")


def _edges(num_nodes=12, num_edges=40, seed=0, loops=True):
    g = torch.Generator().manual_seed(seed)
    edge_index = torch.randint(0, num_nodes, (2, num_edges), generator=g)
    if loops:
        edge_index = torch.cat([edge_index, torch.tensor([[2, 5, 5], [2, 5, 5]])], dim=1)
    return edge_index, torch.randn(edge_index.size(1), 3, generator=g)


def _same(a, b):
    if isinstance(a, (tuple, list)):
        assert isinstance(b, (tuple, list)) and len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y)
    elif isinstance(a, torch.Tensor):
        assert a.dtype == b.dtype and a.shape == b.shape, (a.dtype, b.dtype, a.shape, b.shape)
        torch.testing.assert_close(a, b, equal_nan=True)
    else:
        assert a == pytest.approx(b)


def test_tensor_helpers_equal_pyg():
    g = torch.Generator().manual_seed(1)
    x = torch.randint(0, 5, (3, 7), generator=g)
    for dim in (0, 1):
        _same(U.cumsum(x, dim), PU.cumsum(x, dim))
    keys = [torch.randint(0, 3, (20,), generator=g) for _ in range(3)]
    for descending in (False, True):
        _same(U.lexsort(keys, descending=descending), PU.lexsort(keys, descending=descending))
    index = torch.randint(0, 4, (25,), generator=g)
    _same(U.index_sort(index, stable=True), PU.index_sort(index, stable=True))
    src = torch.randn(25, generator=g)
    for kwargs in ({}, {"descending": True}, {"return_consecutive": True}, {"num_groups": 6}):
        _same(U.group_argsort(src, index, **kwargs), PU.group_argsort(src, index, **kwargs))
    tensors = [torch.randn(4, 2, generator=g), torch.randn(3, 2, generator=g)]
    indices = [torch.tensor([0, 1, 1, 3]), torch.tensor([1, 2, 3])]
    _same(U.group_cat(tensors, indices, return_index=True), PU.group_cat(tensors, indices, return_index=True))
    y = torch.randn(4, 6, generator=g)
    mask = torch.tensor([True, False, True, True, False, True])
    _same(U.mask_select(y, 1, mask), PU.mask_select(y, 1, mask))
    _same(U.select(y, mask[:4], 0), PU.select(y, mask[:4], 0))
    _same(U.select(y, torch.tensor([3, 0]), 1), PU.select(y, torch.tensor([3, 0]), 1))
    assert U.select(list("abcd"), mask[:4], 0) == PU.select(list("abcd"), mask[:4], 0)
    _same(U.narrow(y, 1, 2, 3), PU.narrow(y, 1, 2, 3))
    assert U.narrow(list("abcdef"), 0, 1, 3) == PU.narrow(list("abcdef"), 0, 1, 3)
    ptr = torch.tensor([0, 2, 2, 5, 9])
    values = torch.randn(9, 3, generator=g)
    for reduce in ("sum", "mean", "min", "max"):
        _same(U.segment(values, ptr, reduce), PU.segment(values, ptr, reduce))
    from torch_geometric.utils._segment import segment_logsumexp as pyg_logsumexp
    _same(U.segment_logsumexp(values, ptr, 0), pyg_logsumexp(values, ptr, 0))


def test_unbatch_equals_pyg():
    batch = torch.tensor([0, 0, 0, 1, 1, 2, 2, 2, 2])
    x = torch.randn(9, 4)
    _same(U.unbatch(x, batch), list(PU.unbatch(x, batch)))
    edge_index = torch.tensor([[0, 1, 2, 3, 5, 6, 8], [1, 2, 0, 4, 6, 7, 5]])
    _same(U.unbatch_edge_index(edge_index, batch), list(PU.unbatch_edge_index(edge_index, batch)))


def test_isolated_nodes_and_self_loop_helpers_equal_pyg():
    edge_index, attr = _edges(num_nodes=15)
    edge_index = torch.cat([edge_index, torch.tensor([[13], [13]])], dim=1)  # 13: only a self loop
    attr = torch.cat([attr, torch.randn(1, 3)])
    assert U.contains_isolated_nodes(edge_index, 16) == PU.contains_isolated_nodes(edge_index, 16)
    assert U.contains_isolated_nodes(edge_index, 16)
    _same(U.remove_isolated_nodes(edge_index, attr, 16), PU.remove_isolated_nodes(edge_index, attr, 16))
    _same(U.segregate_self_loops(edge_index, attr), PU.segregate_self_loops(edge_index, attr))
    _same(U.get_self_loop_attr(edge_index, attr, 16), PU.get_self_loop_attr(edge_index, attr, 16))
    _same(U.get_self_loop_attr(edge_index), PU.get_self_loop_attr(edge_index))


@pytest.mark.parametrize("name,kwargs", [
    ("shuffle_node", {}), ("shuffle_node", {"batch": torch.tensor([0] * 5 + [1] * 7)}),
    ("mask_feature", {"mode": "col"}), ("mask_feature", {"mode": "row", "p": 0.3}),
    ("mask_feature", {"mode": "all", "fill_value": -1.0}), ("dropout_adj", {}),
    ("dropout_adj", {"force_undirected": True}),
])
def test_augmentations_draw_as_pyg(name, kwargs):
    x = torch.randn(12, 5)
    edge_index, attr = _edges()
    args = (x,) if name != "dropout_adj" else (edge_index, attr)
    outs = []
    for lib in (U, PU):
        torch.manual_seed(3)
        outs.append(getattr(lib, name)(*args, **kwargs))
    _same(*outs)
    assert getattr(U, name)(*args, **kwargs, training=False)[0] is args[0]


def test_add_random_edge_adds_new_edges():
    edge_index, _ = _edges(num_nodes=30, loops=False)
    torch.manual_seed(0)
    out, added = U.add_random_edge(edge_index, p=0.5, num_nodes=30)
    assert added.size(1) == 20 and torch.equal(out[:, :edge_index.size(1)], edge_index)
    existing = set(map(tuple, edge_index.t().tolist()))
    assert not existing & set(map(tuple, added.t().tolist()))
    out, added = U.add_random_edge(edge_index, p=0.2, force_undirected=True, num_nodes=30)
    pairs = set(map(tuple, added.t().tolist()))
    assert all((j, i) in pairs for i, j in pairs)
    with pytest.raises(ValueError, match="between 0 and 1"):
        U.add_random_edge(edge_index, p=1.5)


@pytest.mark.parametrize("directed", [False, True])
def test_random_graphs_draw_as_pyg(directed):
    outs = []
    for lib in (U, PU):
        torch.manual_seed(5)
        outs.append((lib.erdos_renyi_graph(15, 0.3, directed),
                     lib.stochastic_blockmodel_graph([4, 6], [[0.7, 0.1], [0.1, 0.5]], directed)))
    _same(*outs)
    outs = []
    for lib in (U, PU):
        torch.manual_seed(6)
        np.random.seed(6)
        outs.append(lib.barabasi_albert_graph(20, 3))
    _same(*outs)


@pytest.mark.parametrize("size", [None, 14, (12, 16)])
def test_sparse_layouts_equal_pyg(size):
    edge_index, attr = _edges(loops=False)
    edge_index = torch.cat([edge_index, edge_index[:, :3]], dim=1)  # duplicates: summed
    attr = torch.cat([attr, attr[:3]])
    for name in ("to_torch_coo_tensor", "to_torch_csr_tensor", "to_torch_csc_tensor"):
        for values in (None, attr):
            a, b = getattr(U, name)(edge_index, values, size), getattr(PU, name)(edge_index, values, size)
            assert a.layout == b.layout
            _same(a.to_dense(), b.to_dense())
            _same(U.to_edge_index(a), PU.to_edge_index(b))
            assert U.is_torch_sparse_tensor(a) and U.is_sparse(a) and not U.is_sparse(values)
    layout = U.to_torch_sparse_tensor(edge_index, layout=torch.sparse_csr, size=size)
    assert layout.layout == torch.sparse_csr
    adj = U.to_torch_csr_tensor(edge_index, attr[:, 0], size=size)
    other = torch.randn(adj.size(1), 4)
    for reduce in ("sum", "mean"):
        _same(U.spmm(adj, other, reduce), PU.spmm(adj, other, reduce))


def test_scipy_conversion_equals_pyg():
    pytest.importorskip("scipy")
    edge_index, attr = _edges(loops=False)
    a, b = U.to_scipy_sparse_matrix(edge_index, attr[:, 0], 12), PU.to_scipy_sparse_matrix(edge_index, attr[:, 0], 12)
    assert (a != b).nnz == 0 and a.shape == b.shape
    _same(U.from_scipy_sparse_matrix(a), PU.from_scipy_sparse_matrix(b))


@pytest.mark.parametrize("relabel", [False, True])
def test_bipartite_subgraph_and_num_hops_equal_pyg(relabel):
    g = torch.Generator().manual_seed(9)
    edge_index = torch.stack([torch.randint(0, 10, (40,), generator=g), torch.randint(0, 7, (40,), generator=g)])
    attr = torch.randn(40, 2, generator=g)
    for subset in ((torch.tensor([1, 4, 2, 8]), torch.tensor([0, 3, 5])),
                   (torch.rand(10, generator=g) > 0.5, torch.rand(7, generator=g) > 0.4)):
        kwargs = dict(relabel_nodes=relabel, size=(10, 7), return_edge_mask=True)
        _same(U.bipartite_subgraph(subset, edge_index, attr, **kwargs),
              PU.bipartite_subgraph(subset, edge_index, attr, **kwargs))

    class Net(torch.nn.Module):
        def __init__(self, lib):
            super().__init__()
            self.convs = torch.nn.ModuleList([lib.GCNConv(4, 4) for _ in range(3)])
    assert U.get_num_hops(Net(G)) == PU.get_num_hops(Net(PN)) == 3


def test_measures_and_grid_equal_pyg():
    edge_index, attr = _edges(loops=False)
    _same(U.normalized_cut(edge_index, attr[:, 0].abs(), 12), PU.normalized_cut(edge_index, attr[:, 0].abs(), 12))
    for seed in range(3):
        edges, _ = _edges(num_nodes=20, num_edges=60, seed=seed, loops=False)
        assert U.assortativity(edges) == pytest.approx(PU.assortativity(edges), abs=1e-6)
    for shape in ((3, 4), (5, 2), (1, 6)):
        _same(U.grid(*shape), PU.grid(*shape))
    _same(U.grid(3, 3, dtype=torch.float64), PU.grid(3, 3, dtype=torch.float64))


def test_bad_inputs_name_the_problem():
    with pytest.raises(ValueError, match="between 0 and 1"):
        U.mask_feature(torch.randn(3, 3), p=2.0)
    with pytest.raises(ValueError, match="'row', 'col' or 'all'"):
        U.mask_feature(torch.randn(3, 3), mode="diag")
    with pytest.raises(ValueError, match="0 < num_edges < num_nodes"):
        U.barabasi_albert_graph(3, 5)
    with pytest.raises(ValueError, match="symmetric"):
        U.stochastic_blockmodel_graph([2, 2], [[0.5, 0.1], [0.2, 0.5]])
    with pytest.raises(ValueError, match="sparse 'src'"):
        U.spmm(torch.randn(3, 3), torch.randn(3, 2))
    with pytest.raises(ValueError, match="reduce must be sum/mean/min/max"):
        U.segment(torch.randn(4, 2), torch.tensor([0, 4]), "median")


def test_edge_index_as_a_row_col_pair_equals_pyg():
    """coalesce and sort_edge_index take PyG's other edge form, a ``(row, col)`` pair, and
    hand one back."""
    edge_index, _ = _edges()
    pair = (edge_index[0], edge_index[1])
    for name in ("coalesce", "sort_edge_index"):
        got, want = getattr(U, name)(pair), getattr(PU, name)(pair)
        assert isinstance(got, tuple) and len(got) == 2
        assert torch.equal(torch.stack(got), torch.stack(want))
        assert torch.equal(torch.stack(got), getattr(U, name)(edge_index))


@pytest.mark.parametrize("dim", [0, 1])
def test_scatter_any_takes_each_slots_first_value(dim):
    """``reduce="any"``: one of the slot's values (PyG leaves which unspecified; gnnx takes the
    first), 0 where nothing arrives."""
    src = torch.randn(6, 4) if dim == 0 else torch.randn(4, 6)
    index = torch.tensor([3, 0, 0, 3, 1, 1])
    got = U.scatter(src, index, dim=dim, dim_size=5, reduce="any")
    first = {3: 0, 0: 1, 1: 4}
    for slot in range(5):
        row = got.select(dim, slot)
        want = src.select(dim, first[slot]) if slot in first else torch.zeros_like(row)
        assert torch.equal(row, want)
    pyg = PU.scatter(src, index, dim=dim, dim_size=5, reduce="any")
    assert pyg.shape == got.shape


@pytest.mark.parametrize("reduce", ["sum", "mean", "max", "min"])
def test_spmm_reductions_on_every_layout(reduce):
    """gnnx.utils.spmm reduces by max and min too, for COO, CSR and CSC (PyG converts to CSR
    and runs those on the CPU only) and PyG's ``EdgeIndex``; values equal torch's CSR product
    with that reduction, an empty row gives 0, and gradients reach the sparse values."""
    from torch_geometric import EdgeIndex

    torch.manual_seed(0)
    dense = torch.randn(6, 5)
    dense[dense.abs() < 0.6] = 0
    dense[2] = 0
    other = torch.randn(5, 3)
    torch_reduce = {"max": "amax", "min": "amin"}.get(reduce, reduce)
    want = torch.sparse.mm(dense.to_sparse_csr(), other, torch_reduce) if reduce != "sum" else dense @ other
    for adj in (dense.to_sparse_coo(), dense.to_sparse_csr(), dense.to_sparse_csc()):
        torch.testing.assert_close(U.spmm(adj, other, reduce), want)
    ones = (dense != 0).float()
    edge_index = EdgeIndex(ones.nonzero().t().contiguous(), sparse_size=(6, 5), sort_order="row")
    torch.testing.assert_close(U.spmm(edge_index, other, reduce), PU.spmm(ones.to_sparse_csr(), other, reduce))
    adj = dense.to_sparse_coo().requires_grad_()
    U.spmm(adj, other, reduce).sum().backward()
    assert adj.grad is not None
