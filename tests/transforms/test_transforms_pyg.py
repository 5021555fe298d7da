"""gnnx.transforms against torch_geometric.transforms in the same process: equal results
where deterministic, PyG's properties where random."""
import pytest
import torch

import gnnx
import gnnx.transforms as T

PT = pytest.importorskip("torch_geometric.transforms")
from torch_geometric.data import Data  # noqa: E402


def pair(n=15, e=50, seed=0, pos=True, x=True, weight=False):
    gen = torch.Generator().manual_seed(seed)
    edge_index = torch.randint(n, (2, e), generator=gen)
    fields = {}
    if x:
        fields["x"] = torch.randn(n, 4, generator=gen)
    if pos:
        fields["pos"] = torch.rand(n, 3, generator=gen) * 4 - 1
    if weight:
        fields["edge_weight"] = torch.rand(e, generator=gen) + 0.2
    return gnnx.Graph(edge_index, n, **fields), Data(edge_index=edge_index, num_nodes=n, **fields)


def same(ours, theirs, names):
    for name in names:
        a, b = getattr(ours, name), getattr(theirs, name)
        assert (a is None) == (b is None), name
        if a is not None:
            assert a.shape == b.shape, (name, a.shape, b.shape)
            torch.testing.assert_close(a, b.to(a.dtype), rtol=1e-5, atol=1e-5, msg=lambda m: f"{name}: {m}")


CASES = {
    "Constant": (lambda M: M.Constant(2.5), ["x"]),
    "Constant-replace": (lambda M: M.Constant(cat=False), ["x"]),
    "OneHotDegree": (lambda M: M.OneHotDegree(12), ["x"]),
    "OneHotDegree-in": (lambda M: M.OneHotDegree(12, in_degree=True, cat=False), ["x"]),
    "Center": (lambda M: M.Center(), ["pos"]),
    "NormalizeScale": (lambda M: M.NormalizeScale(), ["pos"]),
    "Distance": (lambda M: M.Distance(), ["edge_attr"]),
    "Distance-raw": (lambda M: M.Distance(norm=False), ["edge_attr"]),
    "Cartesian": (lambda M: M.Cartesian(), ["edge_attr"]),
    "Cartesian-max": (lambda M: M.Cartesian(max_value=5.0), ["edge_attr"]),
    "LocalCartesian": (lambda M: M.LocalCartesian(), ["edge_attr"]),
    "LocalCartesian-raw": (lambda M: M.LocalCartesian(norm=False), ["edge_attr"]),
    "VirtualNode": (lambda M: M.VirtualNode(), ["edge_index", "x", "edge_type"]),
    "AddRandomWalkPE": (lambda M: M.AddRandomWalkPE(4), ["random_walk_pe"]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_equals_pyg(name):
    make, fields = CASES[name]
    ours, theirs = pair(seed=sum(map(ord, name)))
    same(make(T)(ours), make(PT)(theirs), fields)


def test_local_cartesian_is_finite_where_pyg_divides_by_zero():
    edge_index = torch.tensor([[0, 1, 2, 2], [1, 0, 2, 2]])  # node 2: only self loops
    pos = torch.rand(3, 3)
    out = T.LocalCartesian()(gnnx.Graph(edge_index, 3, pos=pos)).edge_attr
    theirs = PT.LocalCartesian()(Data(edge_index=edge_index, pos=pos)).edge_attr
    assert bool(torch.isfinite(out).all()) and bool(torch.isnan(theirs[2:]).all())
    torch.testing.assert_close(out[:2], theirs[:2])


def test_chained_edge_features_equal_pyg():
    ours, theirs = pair(seed=5)
    chain = lambda M: M.Compose([M.Distance(norm=False), M.Cartesian(cat=True)])  # noqa: E731
    same(chain(T)(ours), chain(PT)(theirs), ["edge_attr"])


def test_random_walk_pe_with_weights_equals_pyg():
    ours, theirs = pair(seed=6, weight=True)
    same(T.AddRandomWalkPE(3)(ours), PT.AddRandomWalkPE(3)(theirs), ["random_walk_pe"])




def test_knn_and_radius_graph_edges():
    ours, _ = pair(n=40, seed=7)
    out = T.KNNGraph(k=5)(ours)
    assert out.edge_index.size(1) == 40 * 5 and bool((out.edge_index[0] != out.edge_index[1]).all())
    dist = torch.cdist(ours.pos, ours.pos)
    dist.fill_diagonal_(float("inf"))
    kth = dist.topk(5, largest=False).values[:, -1]
    src, dst = out.edge_index
    assert bool(((ours.pos[src] - ours.pos[dst]).norm(dim=-1) <= kth[dst] + 1e-6).all())
    undirected = T.KNNGraph(k=5, force_undirected=True)(ours)
    assert gnnx.utils.is_undirected(undirected.edge_index)
    radius = T.RadiusGraph(0.9)(ours)
    lengths = (ours.pos[radius.edge_index[0]] - ours.pos[radius.edge_index[1]]).norm(dim=-1)
    assert bool((lengths <= 0.9).all()) and radius.edge_index.size(1) == int(((dist <= 0.9)).sum())


def test_face_to_edge_equals_pyg():
    face = torch.tensor([[0, 1, 2], [1, 2, 3], [2, 3, 4]])
    ours = gnnx.Graph(torch.zeros(2, 0, dtype=torch.long), 5, face=face, validate=False)
    theirs = PT.FaceToEdge()(Data(face=face, num_nodes=5))
    out = T.FaceToEdge()(ours)
    assert torch.equal(out.edge_index, theirs.edge_index) and out.attrs.get("face") is None


def test_largest_connected_components():
    """Components {0,1,2}, {3,4}, {5,6,7}, {8,9} (PyG's needs scipy, not installed here)."""
    edge_index = torch.tensor([[0, 1, 2, 3, 4, 5, 6, 8], [1, 2, 0, 4, 3, 6, 7, 9]])
    x = torch.arange(10.).view(10, 1)
    one = T.LargestConnectedComponents(1)(gnnx.Graph(edge_index, 10, x=x))
    assert one.num_nodes == 3 and one.x.view(-1).tolist() == [0.0, 1.0, 2.0]
    assert one.edge_index.tolist() == [[0, 1, 2], [1, 2, 0]]
    two = T.LargestConnectedComponents(2)(gnnx.Graph(edge_index, 10, x=x))
    assert two.x.view(-1).tolist() == [0.0, 1.0, 2.0, 5.0, 6.0, 7.0] and two.edge_index.size(1) == 5


def test_to_sparse_tensor_feeds_layers():
    ours, _ = pair(seed=8, weight=True)
    out = T.ToSparseTensor()(ours)
    conv = gnnx.nn.GCNConv(4, 8)
    torch.testing.assert_close(conv(out.x, out.adj_t), conv(ours.x, ours.edge_index, ours.edge_weight),
                               rtol=1e-5, atol=1e-5)


def test_laplacian_eigenvector_pe_is_an_eigenbasis():
    """Eigenvectors of the normalised Laplacian for the smallest non-trivial eigenvalues
    (PyG's needs scipy, not installed here): L v = lambda v, orthonormal, ascending."""
    edge_index = gnnx.utils.to_undirected(torch.randint(20, (2, 60), generator=torch.Generator().manual_seed(9)))
    graph = gnnx.Graph(edge_index, 20)
    pe = T.AddLaplacianEigenvectorPE(3, is_undirected=True)(graph).laplacian_eigenvector_pe.double()
    ei, w = gnnx.utils.get_laplacian(edge_index, normalization="sym", num_nodes=20)
    laplacian = gnnx.utils.to_dense_adj(ei, edge_attr=w, max_num_nodes=20)[0].double()
    eigenvalues = torch.linalg.eigvalsh(laplacian)
    for i in range(3):
        torch.testing.assert_close(laplacian @ pe[:, i], eigenvalues[i + 1] * pe[:, i], rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(pe.t() @ pe, torch.eye(3, dtype=torch.double), rtol=1e-4, atol=1e-4)


def test_random_node_split_properties():
    graph = gnnx.Graph(torch.randint(100, (2, 300)), 100, y=torch.arange(100) % 4)
    out = T.RandomNodeSplit(num_val=10, num_test=20, generator=torch.Generator().manual_seed(0))(graph)
    assert (int(out.train_mask.sum()), int(out.val_mask.sum()), int(out.test_mask.sum())) == (70, 10, 20)
    assert not bool((out.train_mask & out.val_mask).any() or (out.val_mask & out.test_mask).any())
    per_class = T.RandomNodeSplit("random", num_train_per_class=5, num_val=0.1, num_test=0.2)(graph)
    assert torch.bincount(graph.y[per_class.train_mask]).tolist() == [5, 5, 5, 5]
    assert int(per_class.val_mask.sum()) == 10 and int(per_class.test_mask.sum()) == 20
    several = T.RandomNodeSplit(num_splits=3, num_val=10, num_test=20)(graph)
    assert several.train_mask.shape == (100, 3)


@pytest.mark.parametrize("undirected", [False, True])
def test_random_link_split_layout_matches_pyg(undirected):
    edge_index = torch.randint(50, (2, 400), generator=torch.Generator().manual_seed(1))
    edge_index = gnnx.utils.coalesce(edge_index[:, edge_index[0] != edge_index[1]], num_nodes=50)
    if undirected:
        edge_index = gnnx.utils.to_undirected(edge_index, num_nodes=50)
    ours = T.RandomLinkSplit(num_val=0.1, num_test=0.2, is_undirected=undirected,
                             generator=torch.Generator().manual_seed(0))(gnnx.Graph(edge_index, 50))
    theirs = PT.RandomLinkSplit(num_val=0.1, num_test=0.2, is_undirected=undirected)(
        Data(edge_index=edge_index, num_nodes=50))
    edges = set(map(tuple, edge_index.t().tolist()))
    for a, b in zip(ours, theirs):
        assert a.edge_index.shape == b.edge_index.shape
        assert a.edge_label_index.shape == b.edge_label_index.shape and a.edge_label.shape == b.edge_label.shape
        positives = a.edge_label_index[:, a.edge_label == 1]
        negatives = a.edge_label_index[:, a.edge_label == 0]
        assert set(map(tuple, positives.t().tolist())) <= edges
        assert not set(map(tuple, negatives.t().tolist())) & edges
    train, val, test = ours
    train_links = set(map(tuple, train.edge_label_index[:, train.edge_label == 1].t().tolist()))
    test_links = set(map(tuple, test.edge_label_index[:, test.edge_label == 1].t().tolist()))
    assert not train_links & test_links
    assert torch.equal(train.edge_index, val.edge_index)  # validation passes messages over training edges
    if undirected:
        assert gnnx.utils.is_undirected(train.edge_index)


@pytest.mark.parametrize("kwargs", [
    {},
    {"normalization_in": "col", "normalization_out": "row", "diffusion_kwargs": {"method": "ppr", "alpha": 0.3},
     "sparsification_kwargs": {"method": "topk", "k": 4, "dim": 0}},
    {"normalization_out": None, "diffusion_kwargs": {"method": "coeff", "coeffs": [0.5, 0.3, 0.2]},
     "sparsification_kwargs": {"method": "threshold", "eps": 0.01}},
    {"sparsification_kwargs": {"method": "topk", "k": 3, "dim": 1}},
])
def test_gdc_equals_pyg(kwargs):
    edge_index = gnnx.utils.to_undirected(torch.randint(30, (2, 80), generator=torch.Generator().manual_seed(2)))
    ours = T.GDC(**kwargs)(gnnx.Graph(edge_index, 30))
    theirs = PT.GDC(**kwargs)(Data(edge_index=edge_index, num_nodes=30))
    assert torch.equal(ours.edge_index, theirs.edge_index)
    torch.testing.assert_close(ours.edge_attr, theirs.edge_attr, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("kwargs", [
    {"diffusion_kwargs": {"method": "ppr", "alpha": 0.15, "eps": 1e-4}},  # sym in, col out, avg_degree threshold
    {"normalization_in": "col", "normalization_out": "row", "diffusion_kwargs": {"method": "ppr", "alpha": 0.3,
     "eps": 1e-3}, "sparsification_kwargs": {"method": "threshold", "eps": 0.02}},
    {"normalization_in": "row", "normalization_out": None, "diffusion_kwargs": {"method": "ppr", "alpha": 0.2,
     "eps": 1e-4}, "sparsification_kwargs": {"method": "threshold", "eps": 0.01}},
    {"self_loop_weight": None, "diffusion_kwargs": {"method": "ppr", "alpha": 0.15, "eps": 1e-4},
     "sparsification_kwargs": {"method": "threshold", "avg_degree": 5}},
])
def test_approximate_gdc_equals_pyg(kwargs):
    """``exact=False``: push-based PPR from every node, then the sparse sparsification, as PyG's
    (which needs numba for its push); a directed graph, so the normalisations differ."""
    pytest.importorskip("numba")
    edge_index = torch.randint(40, (2, 160), generator=torch.Generator().manual_seed(5))
    ours = T.GDC(exact=False, **kwargs)(gnnx.Graph(edge_index, 40))
    theirs = PT.GDC(exact=False, **kwargs)(Data(edge_index=edge_index, num_nodes=40))
    assert torch.equal(ours.edge_index, theirs.edge_index)
    torch.testing.assert_close(ours.edge_attr, theirs.edge_attr, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("dim", [0, 1])
def test_approximate_gdc_topk_keeps_each_nodes_heaviest_edges(dim):
    """Sparse top-k (PyG 2.8 raises NotImplementedError for it; its later versions have it): per
    node of ``edge_index[dim]``, the ``k`` heaviest edges, ties to the earlier edge."""
    from gnnx.transforms.diffusion import sparsify_edges

    gen = torch.Generator().manual_seed(6)
    edge_index = torch.randint(12, (2, 90), generator=gen)
    weight = torch.randint(5, (90,), generator=gen).float()  # many ties
    kept, kept_weight = sparsify_edges(edge_index, weight, 12, "topk", k=3, dim=dim)
    expected = []
    for node in range(12):
        edges = (edge_index[dim] == node).nonzero().flatten().tolist()
        expected += sorted(edges, key=lambda e: (-weight[e].item(), e))[:3]
    expected = torch.tensor(sorted(expected, key=lambda e: (edge_index[dim, e].item(), -weight[e].item(), e)))
    assert torch.equal(kept, edge_index[:, expected]) and torch.equal(kept_weight, weight[expected])
    graph = T.GDC(exact=False, diffusion_kwargs={"method": "ppr", "alpha": 0.15, "eps": 1e-4},
                  sparsification_kwargs={"method": "topk", "k": 2, "dim": dim})(gnnx.Graph(edge_index, 12))
    assert torch.bincount(graph.edge_index[dim], minlength=12).max() <= 2


def test_approximate_gdc_names_what_it_cannot_do():
    graph = gnnx.Graph(torch.tensor([[0, 1], [1, 2]]), 3)
    with pytest.raises(ValueError, match="self_loop_weight"):
        T.GDC(exact=False, self_loop_weight=2.0)
    with pytest.raises(ValueError, match="eps"):
        T.GDC(exact=False)(graph)  # PyG's default diffusion_kwargs have no eps
    with pytest.raises(NotImplementedError, match="heat"):
        T.GDC(exact=False, diffusion_kwargs={"method": "heat", "t": 2.0})(graph)
    with pytest.raises(ValueError, match="unweighted"):
        T.GDC(exact=False, diffusion_kwargs={"method": "ppr", "alpha": 0.15, "eps": 1e-4})(
            graph.replace(edge_attr=torch.ones(2)))


def test_gdc_heat_kernel_is_the_matrix_exponential():
    """PyG's heat diffusion needs scipy (not installed here): check e^{-t(I - T)} directly."""
    from gnnx.transforms.diffusion import diffusion_matrix, transition_matrix

    edge_index = gnnx.utils.to_undirected(torch.randint(12, (2, 30), generator=torch.Generator().manual_seed(3)))
    edge_index, weight = transition_matrix(edge_index, torch.ones(edge_index.size(1)), 12, "sym")
    heat = diffusion_matrix(edge_index, weight, 12, "heat", t=1.5).double()
    T_ = gnnx.utils.to_dense_adj(edge_index, edge_attr=weight, max_num_nodes=12)[0].double()
    values, vectors = torch.linalg.eigh(-1.5 * (torch.eye(12, dtype=torch.double) - T_))
    torch.testing.assert_close(heat, vectors @ torch.diag(values.exp()) @ vectors.t(), rtol=1e-4, atol=1e-5)


def test_random_link_split_on_a_hetero_graph_matches_pygs_layout():
    from torch_geometric.data import HeteroData

    gen = torch.Generator().manual_seed(4)
    rates = torch.stack([torch.randint(30, (200,), generator=gen), torch.randint(20, (200,), generator=gen)])
    rates = gnnx.utils.coalesce(rates, num_nodes=30)
    ours = gnnx.HeteroGraph()
    ours["user"].x, ours["movie"].x = torch.randn(30, 4), torch.randn(20, 3)
    ours["user", "rates", "movie"].edge_index = rates
    ours["user", "rates", "movie"].rating = torch.rand(rates.size(1))
    ours["movie", "rev_rates", "user"].edge_index = rates.flip(0)
    theirs = HeteroData()
    theirs["user"].x, theirs["movie"].x = ours["user"].x, ours["movie"].x
    theirs["user", "rates", "movie"].edge_index = rates
    theirs["movie", "rev_rates", "user"].edge_index = rates.flip(0)
    kwargs = dict(num_val=0.1, num_test=0.2, edge_types=("user", "rates", "movie"),
                  rev_edge_types=("movie", "rev_rates", "user"))
    edges = set(map(tuple, rates.t().tolist()))
    for a, b in zip(T.RandomLinkSplit(**kwargs)(ours), PT.RandomLinkSplit(**kwargs)(theirs)):
        for edge_type in [("user", "rates", "movie"), ("movie", "rev_rates", "user")]:
            assert a[edge_type].edge_index.shape == b[edge_type].edge_index.shape
        store = a["user", "rates", "movie"]
        assert store.edge_label_index.shape == b["user", "rates", "movie"].edge_label_index.shape
        assert torch.equal(a["movie", "rev_rates", "user"].edge_index, store.edge_index.flip(0))
        assert store.rating.shape == (store.edge_index.size(1),)
        positives = store.edge_label_index[:, store.edge_label == 1]
        negatives = store.edge_label_index[:, store.edge_label == 0]
        assert set(map(tuple, positives.t().tolist())) <= edges
        assert not set(map(tuple, negatives.t().tolist())) & edges
        assert int(negatives[0].max()) < 30 and int(negatives[1].max()) < 20


def test_constant_on_a_hetero_graph_equals_pyg():
    from torch_geometric.data import HeteroData

    ours, theirs = gnnx.HeteroGraph(), HeteroData()
    for store in (ours, theirs):
        store["paper"].x = torch.arange(6.).view(3, 2)
        store["author"].num_nodes = 4
        store["author", "writes", "paper"].edge_index = torch.tensor([[0, 1], [2, 0]])
    a, b = T.Constant(0.5)(ours), PT.Constant(0.5)(theirs)
    for node_type in ("paper", "author"):
        torch.testing.assert_close(a[node_type].x, b[node_type].x)
    a = T.Constant(node_types="author")(ours)
    assert a["paper"].x.shape == (3, 2) and a["author"].x.shape == (4, 1)


def test_node_split_and_sparse_adjacency_on_a_hetero_graph():
    graph = gnnx.HeteroGraph()
    graph["paper"].x, graph["paper"].y = torch.randn(40, 3), torch.arange(40) % 4
    graph["author"].x = torch.randn(10, 2)
    graph["author", "writes", "paper"].edge_index = torch.stack([torch.arange(10), torch.arange(10) * 3])
    split = T.RandomNodeSplit(num_val=5, num_test=10)(graph)
    assert int(split["paper"].train_mask.sum()) == 25 and "train_mask" not in split["author"]
    adj = T.ToSparseTensor()(graph)["author", "writes", "paper"].adj_t
    assert adj.shape == (40, 10)
    conv = gnnx.nn.SAGEConv((2, 3), 4)
    x = (graph["author"].x, graph["paper"].x)
    torch.testing.assert_close(conv(x, adj), conv(x, graph["author", "writes", "paper"].edge_index))


def _cloud(n, pos=True):
    graph = gnnx.Graph(torch.empty(2, 0, dtype=torch.long), n)
    if pos:
        graph.pos = torch.rand(n, 3)
    return graph


@pytest.mark.parametrize("transform, graph, words", [
    (lambda: T.KNNGraph(3), lambda: _cloud(5, pos=False), "KNNGraph needs node positions"),
    (lambda: T.Distance(), lambda: gnnx.Graph(torch.tensor([[0], [1]]), 2), "Distance needs node positions"),
    (lambda: T.RandomNodeSplit(num_val=10, num_test=10), lambda: _cloud(5), "do not fit the 5 nodes"),
    (lambda: T.AddLaplacianEigenvectorPE(k=5), lambda: gnnx.Graph(torch.tensor([[0, 1], [1, 0]]), 2),
     "k=5 eigenvectors need at least 6 nodes"),
    (lambda: T.FaceToEdge(), lambda: gnnx.Graph(torch.zeros(2, 0, dtype=torch.long), 4,
                                                face=torch.tensor([[0], [1], [7]]), validate=False),
     r"face holds node index 7, outside the 4 nodes"),
    (lambda: T.FaceToEdge(), lambda: _cloud(4), r"FaceToEdge needs graph.face .* got None"),
])
def test_transforms_name_inputs_they_cannot_use(transform, graph, words):
    with pytest.raises(ValueError, match=words):
        transform()(graph())


def test_normalize_scale_of_coincident_points_stays_finite():
    graph = _cloud(1)
    assert torch.equal(T.NormalizeScale()(graph).pos, torch.zeros(1, 3))


def test_random_node_split_checks_counts_against_the_nodes_they_draw_from():
    graph = gnnx.Graph(torch.empty(2, 0, dtype=torch.long), 100, y=torch.arange(100) % 3)
    split = T.RandomNodeSplit("test_rest", num_train_per_class=5, num_val=10)(graph)  # num_test unused
    assert int(split.test_mask.sum()) == 100 - 15 - 10
    with pytest.raises(ValueError, match="do not fit the 85 nodes left after the training nodes"):
        T.RandomNodeSplit("random", num_train_per_class=5, num_val=50, num_test=50)(graph)
