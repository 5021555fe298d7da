"""PyG's sparse adjacency formats wherever edge_index is accepted: torch.sparse (COO, CSR),
PyG's EdgeIndex (sizes honoured) and torch_sparse.SparseTensor, equal to PyG."""
import pytest
import torch

import gnnx.nn as G

P = pytest.importorskip("torch_geometric.nn")
from torch_geometric import EdgeIndex  # noqa: E402

N, F = 12, 8


def _graph(seed=0, loops=False):
    g = torch.Generator().manual_seed(seed)
    ei = torch.randint(0, N, (2, 50), generator=g).unique(dim=1)
    if not loops:  # PyG's sparse GCN path adds loops where edge_index's path replaces them
        ei = ei[:, ei[0] != ei[1]]
    return ei.contiguous(), torch.randn(N, F, generator=g), torch.rand(ei.size(1), generator=g) + 0.5


def _adj_t(ei, values, layout):
    adj = torch.sparse_coo_tensor(ei.flip(0), values, (N, N)).coalesce()
    return adj.to_sparse_csr() if layout == "csr" else adj


def _pair(name, **kwargs):
    if name == "GINConv":
        pyg, ours = P.GINConv(torch.nn.Linear(F, 16)), G.GINConv(torch.nn.Linear(F, 16))
    else:
        # PyG generates a layer's propagate once per class, from its first instance (one with an
        # aggregation module elsewhere in the process would lack the sparse path): a fresh subclass.
        pyg_cls = type(f"Pyg{name}", (getattr(P, name),), {})
        pyg, ours = pyg_cls(F, 16, **kwargs), getattr(G, name)(F, 16, **kwargs)
    ours.load_state_dict(pyg.state_dict())
    return pyg, ours


WEIGHTED = ["GCNConv", "GraphConv", "TAGConv", "SGConv", "LEConv"]
UNWEIGHTED = ["SAGEConv", "GINConv", "GATConv", "TransformerConv", "ResGatedGraphConv"]


@pytest.mark.porting("sparse adjacency")
@pytest.mark.parametrize("name", WEIGHTED + UNWEIGHTED)
def test_torch_sparse_csr_equals_pyg(name):
    ei, x, w = _graph()
    values = w if name in WEIGHTED else torch.ones_like(w)
    pyg, ours = _pair(name)
    adj = _adj_t(ei, values, "csr")
    torch.testing.assert_close(ours(x, adj), pyg(x, adj), atol=1e-5, rtol=1e-5)
    # the same as passing the edge list (and its weights) directly
    direct = ours(x, ei, values) if name in WEIGHTED else ours(x, ei)
    torch.testing.assert_close(ours(x, adj), direct, atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("layout", ["coo", "csr"])
def test_coo_and_csr_agree(layout):
    ei, x, w = _graph(1, loops=True)
    conv = G.GraphConv(F, 16)
    torch.testing.assert_close(conv(x, _adj_t(ei, w, layout)), conv(x, ei, w), atol=1e-6, rtol=1e-6)


def test_sparse_values_refused_where_a_layer_takes_no_weights():
    ei, x, w = _graph()
    with pytest.raises(ValueError, match="SAGEConv takes no edge weights"):
        G.SAGEConv(F, 16)(x, _adj_t(ei, w, "csr"))


@pytest.mark.porting("sparse adjacency")
@pytest.mark.parametrize("name", ["GCNConv", "SAGEConv", "GATConv", "GINConv"])
def test_edge_index_subclass_equals_pyg(name):
    ei, x, _ = _graph(2)
    pyg, ours = _pair(name)
    adj = EdgeIndex(ei, sparse_size=(N, N))
    torch.testing.assert_close(ours(x, adj), pyg(x, adj), atol=1e-5, rtol=1e-5)


def test_edge_index_sparse_size_sets_the_destination_count():
    ei = torch.tensor([[0, 3, 1, 2, 3, 0], [1, 0, 0, 1, 1, 0]])
    x_src = torch.randn(4, F)
    pyg, ours = type("PygSAGEConv", (P.SAGEConv,), {})((F, F), 16), G.SAGEConv((F, F), 16)
    ours.load_state_dict(pyg.state_dict())
    for adj in (EdgeIndex(ei, sparse_size=(4, 2)), torch.sparse_coo_tensor(ei.flip(0), torch.ones(6), (2, 4))):
        out = ours((x_src, None), adj)
        assert out.shape == (2, 16)
        torch.testing.assert_close(out, pyg((x_src, None), EdgeIndex(ei, sparse_size=(4, 2))), atol=1e-5, rtol=1e-5)


def test_models_take_sparse_adjacency():
    ei, x, w = _graph(4)
    for cls in ("GCN", "GraphSAGE", "GIN"):
        pyg, ours = getattr(P, cls)(F, 16, 2), getattr(G, cls)(F, 16, 2)
        ours.load_state_dict(pyg.state_dict())
        adj = _adj_t(ei, torch.ones_like(w), "csr")
        torch.testing.assert_close(ours(x, adj), pyg(x, ei), atol=1e-5, rtol=1e-5)  # PyG's edge_index path


def test_plain_calls_after_a_sparse_call_forget_its_sizes():
    conv = G.SAGEConv((F, F), 16)
    conv((torch.randn(4, F), None), EdgeIndex(torch.tensor([[0, 3], [1, 0]]), sparse_size=(4, 2)))
    assert conv(torch.randn(5, F), torch.tensor([[0, 4], [1, 2]])).shape == (5, 16)


def test_torch_sparse_tensor_when_installed():
    torch_sparse = pytest.importorskip("torch_sparse")
    ei, x, w = _graph(5)
    adj = torch_sparse.SparseTensor(row=ei[1], col=ei[0], value=w, sparse_sizes=(N, N))
    pyg, ours = _pair("GCNConv")
    torch.testing.assert_close(ours(x, adj), pyg(x, adj), atol=1e-5, rtol=1e-5)


def test_gnnx_compile_keeps_an_edge_index_size():
    """gnnx.compile converts before its compiled frame; the frame must not forget the sizes."""
    import gnnx

    conv = G.SAGEConv((F, F), 16)
    ei = torch.tensor([[0, 3, 1, 2, 3, 0], [1, 0, 0, 1, 1, 0]])
    x_src = torch.randn(4, F)
    expected = conv((x_src, None), EdgeIndex(ei, sparse_size=(4, 2)))
    out = gnnx.compile(conv)((x_src, None), EdgeIndex(ei, sparse_size=(4, 2)))
    assert out.shape == (2, 16)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("layout", ["coo", "csr"])
def test_gnnx_compile_takes_a_weighted_sparse_matrix(layout):
    """The matrix's values reach the compiled frame as a tensor of their own (its values view
    made Dynamo fail with an IndexError before session 30)."""
    import gnnx

    ei, x, w = _graph(6)
    pyg, ours = _pair("GCNConv")
    compiled = gnnx.compile(ours)
    for values in (w, w * 2):
        torch.testing.assert_close(compiled(x, _adj_t(ei, values, layout)), pyg(x, _adj_t(ei, values, layout)),
                                   atol=1e-5, rtol=1e-5)


def _gat_pair(cls, in_channels, **kwargs):
    torch.manual_seed(0)
    ours = getattr(G, cls)(in_channels, 4, heads=2, **kwargs)
    theirs = getattr(P, cls)(in_channels, 4, heads=2, **kwargs)
    theirs.load_state_dict(ours.state_dict())
    return ours, theirs


@pytest.mark.parametrize("cls", ["GATConv", "GATv2Conv"])
def test_attention_weights_over_pyg_edges(cls):
    """``return_attention_weights`` gives PyG's edge list (the graph's own self loop removed,
    fresh ones added, PyG's order) and weights, for an ``edge_index`` and for a sparse
    adjacency (then, as in PyG, a sparse ``[N, N, heads]`` matrix of the weights)."""
    from torch_geometric.utils import to_torch_csc_tensor

    x = torch.randn(5, 8)
    edge_index = torch.tensor([[0, 1, 2, 3, 4, 4], [0, 0, 1, 1, 2, 3]])  # (0, 0): an old loop
    ours, theirs = _gat_pair(cls, 8)
    out, (edges, alpha) = ours(x, edge_index, return_attention_weights=True)
    want_out, (want_edges, want_alpha) = theirs(x, edge_index, return_attention_weights=True)
    torch.testing.assert_close(out, want_out)
    assert torch.equal(edges, want_edges)
    torch.testing.assert_close(alpha, want_alpha)
    adj_t = to_torch_csc_tensor(edge_index, size=(5, 5)).t()
    out, (weights, _) = ours(x, adj_t, return_attention_weights=True)
    want_out, (want_weights, _) = theirs(x, adj_t, return_attention_weights=True)
    torch.testing.assert_close(out, want_out)
    assert weights.shape == want_weights.shape == (5, 5, 2) and weights._nnz() == want_weights._nnz() == 10
    torch.testing.assert_close(weights.to_dense(), want_weights.to_dense())


def test_gat_with_source_features_only_takes_the_adjacency_destination_count():
    """``GATConv((x_src, None), adj_t)``: the destinations are the sparse adjacency's rows, as
    in PyG (they were ``x_src``'s count, a shape error)."""
    from torch_geometric.utils import to_torch_csc_tensor

    x = torch.randn(4, 8)
    edge_index = torch.tensor([[0, 1, 2, 3], [0, 0, 1, 1]])
    ours, theirs = _gat_pair("GATConv", (8, 16))
    adj_t = to_torch_csc_tensor(edge_index, size=(4, 2)).t()
    torch.testing.assert_close(ours((x, None), adj_t), theirs((x, None), adj_t))
    torch.testing.assert_close(ours((x, None), adj_t), ours((x, None), edge_index, size=(4, 2)))


def test_sparse_values_reach_the_argument_pyg_gives_them():
    """PyG's propagate: one value per edge is an ``edge_weight``, never an ``edge_attr``; a
    hybrid matrix's dense dimensions are the ``edge_attr``; a binary matrix is no weight at all
    (FAConv's normalisation refuses weights). Found by PyG's own conv tests (session 30)."""
    ei, x, w = _graph(7)
    adj = torch.sparse_coo_tensor(ei.flip(0), w, (N, N)).coalesce()
    torch.manual_seed(0)
    ours, theirs = G.CGConv(F), P.CGConv(F)
    theirs.load_state_dict(ours.state_dict())
    torch.testing.assert_close(ours(x, adj), ours(x, ei))  # [E] values: not CGConv's edge_attr
    torch.testing.assert_close(ours(x, adj), theirs(x, adj))
    attr = torch.rand(ei.size(1), 3)
    hybrid = torch.sparse_coo_tensor(ei.flip(0), attr, (N, N, 3)).coalesce()
    ours, theirs = G.GMMConv(F, 4, dim=3, kernel_size=2), P.GMMConv(F, 4, dim=3, kernel_size=2)
    theirs.load_state_dict(ours.state_dict())
    torch.testing.assert_close(ours(x, hybrid), ours(x, ei, attr), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(ours(x, hybrid), theirs(x, hybrid), atol=1e-5, rtol=1e-5)
    binary = _adj_t(ei, torch.ones(ei.size(1)), "csr")
    fa = G.FAConv(F)
    out, (weights, values) = fa(x, x, binary, return_attention_weights=True)
    torch.testing.assert_close(out, fa(x, x, ei))
    assert weights.is_sparse and weights.shape == (N, N) and values.shape == (weights._nnz(),)


def test_every_sparse_adjacency_argument_and_dict_is_read():
    """SignedConv's positive and negative adjacencies both; heterogeneous layers' dicts of
    sparse matrices; a plain module (WLConv) reads them too."""
    ei, x, _ = _graph(8)
    neg = ei.flip(0)
    pos_adj, neg_adj = (torch.sparse_coo_tensor(e.flip(0), torch.ones(e.size(1)), (N, N)).coalesce() for e in (ei, neg))
    signed = G.SignedConv(F, 4, first_aggr=True)
    torch.testing.assert_close(signed(x, pos_adj, neg_adj), signed(x, ei, neg))
    metadata = (["a", "b"], [("a", "to", "b"), ("b", "to", "a")])
    x_dict = {"a": torch.randn(5, F), "b": torch.randn(7, F)}
    edges = {("a", "to", "b"): torch.tensor([[0, 1, 4], [6, 0, 2]]), ("b", "to", "a"): torch.tensor([[6, 3], [0, 4]])}
    sizes = {("a", "to", "b"): (7, 5), ("b", "to", "a"): (5, 7)}
    adj_dict = {k: torch.sparse_coo_tensor(e.flip(0), torch.ones(e.size(1)), sizes[k]).coalesce()
                for k, e in edges.items()}
    for conv in (G.HGTConv(F, 8, metadata, heads=2), G.HANConv(F, 8, metadata, heads=2)):
        got, want = conv(x_dict, adj_dict), conv(x_dict, edges)
        for key in want:
            torch.testing.assert_close(got[key], want[key])
    colours = torch.tensor([1, 0, 0, 1])
    ring = torch.tensor([[0, 1, 1, 2, 2, 3], [1, 0, 2, 1, 3, 2]])
    ring_adj = torch.sparse_coo_tensor(ring.flip(0), torch.ones(6), (4, 4)).coalesce()
    wl = G.WLConv()
    expected = wl(colours, ring)
    assert torch.equal(wl(colours, ring_adj), expected)
    assert torch.equal(wl(torch.nn.functional.one_hot(colours).float(), ring_adj), expected)  # float one-hot
