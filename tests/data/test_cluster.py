"""ClusterData / ClusterLoader: METIS through pymetis, and, given the same partition, PyG's
clusters and batches exactly (PyG's own METIS needs pyg-lib or torch-sparse)."""
import pytest
import torch

import gnnx
from gnnx.data import ClusterData, ClusterLoader
from gnnx.data import cluster as cluster_module

pytest.importorskip("pymetis")


def _graph(num_nodes=120, seed=0):
    """Communities of 20 nodes, dense inside, a few edges between; duplicates and loops too."""
    gen = torch.Generator().manual_seed(seed)
    group = torch.arange(num_nodes) // 20
    src = torch.randint(0, num_nodes, (900,), generator=gen)
    dst = torch.where(torch.rand(900, generator=gen) < 0.9, group[src] * 20 + torch.randint(0, 20, (900,), generator=gen),
                      torch.randint(0, num_nodes, (900,), generator=gen))
    edge_index = torch.stack([src, dst])
    return gnnx.Graph(edge_index, num_nodes, x=torch.randn(num_nodes, 3, generator=gen), y=group,
                      edge_attr=torch.randn(900, 2, generator=gen), train_mask=torch.rand(num_nodes, generator=gen) < 0.5)


def test_metis_finds_the_communities():
    graph = _graph()
    cluster = cluster_module.metis(graph.edge_index, graph.num_nodes, 6)
    assert cluster.shape == (120,) and set(cluster.tolist()) == set(range(6))
    cut = (cluster[graph.edge_index[0]] != cluster[graph.edge_index[1]]).float().mean()
    random = torch.randint(0, 6, (120,), generator=torch.Generator().manual_seed(1))
    assert cut < 0.5 * (random[graph.edge_index[0]] != random[graph.edge_index[1]]).float().mean()


@pytest.mark.parametrize("sparse_format", ["csr", "csc"])
@pytest.mark.parametrize("keep", [False, True])
def test_clusters_and_batches_equal_pygs_for_the_same_partition(sparse_format, keep, monkeypatch, tmp_path):
    pyg_loader = pytest.importorskip("torch_geometric.loader")
    graph = _graph(seed=2)
    cluster = cluster_module.metis(graph.edge_index, graph.num_nodes, 5)
    monkeypatch.setattr(pyg_loader.ClusterData, "_metis", lambda self, edge_index, num_nodes: cluster)
    monkeypatch.setattr(cluster_module, "metis", lambda *args: cluster)
    ours = ClusterData(graph, 5, keep_inter_cluster_edges=keep, sparse_format=sparse_format, log=False,
                       save_dir=str(tmp_path))
    theirs = pyg_loader.ClusterData(graph.to_pyg(), 5, keep_inter_cluster_edges=keep, sparse_format=sparse_format,
                                    log=False)
    for name in ("indptr", "index", "partptr", "node_perm", "edge_perm"):
        assert torch.equal(getattr(ours.partition, name), getattr(theirs.partition, name)), name
    for i in range(len(ours)):
        _same(ours[i], theirs[i])
    again = ClusterData(graph, 5, sparse_format=sparse_format, log=False, save_dir=str(tmp_path))  # cached
    assert torch.equal(again.partition.node_perm, ours.partition.node_perm)
    if keep:
        return
    for batch in ([0, 3], [4, 1, 2], [2]):
        _same(ClusterLoader(ours)._collate(batch), pyg_loader.ClusterLoader(theirs)._collate(batch))
    batches = list(ClusterLoader(ours, batch_size=2, shuffle=True))
    assert len(batches) == 3 and sum(b.num_nodes for b in batches) == graph.num_nodes


def _same(ours, theirs):
    assert ours.num_nodes == theirs.num_nodes
    for name in ("edge_index", "x", "y", "edge_attr", "train_mask"):
        assert torch.equal(getattr(ours, name), getattr(theirs, name)), name


def test_bad_arguments_are_named():
    graph = _graph()
    with pytest.raises(ValueError, match="sparse_format must be 'csr' or 'csc'"):
        ClusterData(graph, 4, sparse_format="coo")
    with pytest.raises(ValueError, match="num_parts must be at least 1"):
        ClusterData(graph, 0, log=False)
    data = ClusterData(graph, 4, log=False)
    with pytest.raises(IndexError, match="cluster 4 out of range for 4 clusters"):
        data[4]
    with pytest.raises(TypeError, match="ClusterLoader takes a ClusterData"):
        ClusterLoader(graph)
