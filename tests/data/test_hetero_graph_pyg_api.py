"""HeteroGraph answers PyG's ``HeteroData`` API (PyG's test/data/test_hetero_data.py, ported with
the import changed, found each gap; counts in bench/results/cpu/session31_pyg_loader_tests.txt)."""
import copy
import warnings

import pytest
import torch

import gnnx


def _graph():
    graph = gnnx.HeteroGraph()
    graph["paper"].x = torch.randn(10, 16)
    graph["author"].x = torch.randn(5, 32)
    graph["paper", "paper"].edge_index = torch.randint(10, (2, 40))
    graph["paper", "paper"].edge_attr = torch.randn(40, 8)
    graph["paper", "author"].edge_index = torch.stack([torch.randint(10, (30,)), torch.randint(5, (30,))])
    graph["author", "paper"].edge_index = graph["paper", "author"].edge_index.flip(0)
    return graph


def test_pyg_construction_keys_features_and_graph_level_attributes():
    graph = _graph()
    assert graph.edge_types == [("paper", "to", "paper"), ("paper", "to", "author"), ("author", "to", "paper")]
    assert sorted(graph.keys()) == ["edge_attr", "edge_index", "x"] and len(graph) == 3 and "edge_attr" in graph
    assert graph.num_node_features == {"paper": 16, "author": 32}
    assert graph.num_edge_features == {("paper", "to", "paper"): 8, ("paper", "to", "author"): 0,
                                       ("author", "to", "paper"): 0}
    graph.y = 0
    assert graph["y"] == 0 and graph.y == 0 and sorted(graph.keys()) == ["edge_attr", "edge_index", "x", "y"]
    with pytest.raises(KeyError, match="did not find any occurrences"):
        graph.collect("z")
    assert graph.collect("z", allow_empty=True) == {} and graph.z_dict == {}
    built = gnnx.HeteroGraph(paper={"x": graph["paper"].x}, paper__cites__paper={"edge_index": torch.zeros(2, 1).long()},
                             global_id="1")
    assert built.edge_types == [("paper", "cites", "paper")] and built.global_id == "1"
    again = gnnx.HeteroGraph.from_dict(built.to_dict())
    assert again.global_id == "1" and torch.equal(again["paper"].x, graph["paper"].x)
    del graph["paper", "author"]
    assert ("paper", "to", "author") not in graph.edge_types
    moved = graph.to("cpu")
    assert moved.y == 0 and copy.copy(graph)["paper"] is not graph["paper"]


def test_subgraphs_rename_update_and_ids():
    graph = _graph()
    graph["paper"].name = "paper"
    subset = {"paper": torch.tensor([4, 1, 7]), "author": torch.tensor([True, False, True, False, True])}
    out = graph.subgraph(subset)
    assert torch.equal(out["paper"].x, graph["paper"].x[[4, 1, 7]]) and out["paper"].name == "paper"
    assert out["author"].num_nodes == 3
    ei = graph["paper", "paper"].edge_index
    keep = torch.isin(ei[0], subset["paper"]) & torch.isin(ei[1], subset["paper"])
    assert torch.equal(out["paper", "paper"].edge_attr, graph["paper", "paper"].edge_attr[keep])
    position = torch.full((10,), -1)
    position[subset["paper"]] = torch.arange(3)
    assert torch.equal(out["paper", "paper"].edge_index, position[ei[:, keep]])
    assert graph.node_type_subgraph(["paper"]).edge_types == [("paper", "to", "paper")]
    assert graph.edge_type_subgraph([("paper", "author")]).node_types == ["paper", "author"]
    assert graph.edge_subgraph({("paper", "paper"): torch.arange(4)})["paper", "paper"].edge_attr.size(0) == 4
    renamed = _graph().rename("paper", "article")
    assert renamed.node_types == ["author", "article"] and ("article", "to", "author") in renamed.edge_types
    other = gnnx.HeteroGraph()
    other["author"].y = torch.arange(5)
    assert torch.equal(_graph().update(other)["author"].y, torch.arange(5))
    ids = _graph().generate_ids()
    assert torch.equal(ids["author"].n_id, torch.arange(5)) and torch.equal(ids["paper", "paper"].e_id, torch.arange(40))


def test_to_homogeneous_matches_pyg():
    pyg_data = pytest.importorskip("torch_geometric.data")
    graph = _graph()
    graph["paper"].y = torch.arange(10)
    ours = graph.to_homogeneous()
    theirs = graph.to_pyg().to_homogeneous()
    for name in ("edge_index", "node_type", "edge_type", "x"):
        assert torch.equal(getattr(ours, name), getattr(theirs, name)), name
    assert torch.equal(ours.y[:10], theirs.y[:10]) and (ours.y[10:] == -1).all() and (theirs.y[10:] == -1).all()
    assert isinstance(theirs, pyg_data.Data) and ours.num_nodes == theirs.num_nodes == 15


def test_validate_names_dangling_and_isolated_types():
    graph = gnnx.HeteroGraph()
    graph["src", "to", "dst"].edge_index = torch.randint(0, 10, (2, 20))
    with pytest.raises(ValueError, match="do not exist as node types"):
        graph.validate()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert graph.validate(raise_on_error=False) is False
    lonely = gnnx.HeteroGraph()
    lonely["node"].num_nodes = 10
    with pytest.warns(UserWarning, match="are isolated"):
        lonely.validate()
    bipartite = _graph().edge_type_subgraph([("paper", "author"), ("author", "paper")])
    assert bipartite.is_undirected()  # each edge has its reverse in the other type
    loops = gnnx.HeteroGraph()
    loops["a"].num_nodes = 3
    loops["a", "a"].edge_index = torch.tensor([[0, 1], [1, 0]])
    assert loops.is_undirected() and not loops.has_self_loops() and loops.has_isolated_nodes()


def test_to_homogeneous_and_back():
    graph = _graph()
    graph["paper", "paper"].edge_weight = torch.rand(40)
    back = graph.to_homogeneous().to_heterogeneous()
    assert back.node_types == graph.node_types and back.edge_types == graph.edge_types
    for node_type in graph.node_types:
        assert torch.equal(back[node_type].x[:, :graph[node_type].x.size(1)], graph[node_type].x)
    for edge_type in graph.edge_types:
        assert torch.equal(back[edge_type].edge_index, graph[edge_type].edge_index)
    homogeneous = graph.to_homogeneous()
    node_type, edge_type = homogeneous.node_type, homogeneous.edge_type
    del homogeneous.node_type
    again = homogeneous.to_heterogeneous(node_type, edge_type, ["paper", "author"], graph.edge_types)
    assert torch.equal(again["author", "to", "paper"].edge_index, graph["author", "to", "paper"].edge_index)
