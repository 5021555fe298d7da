"""The shipped GIN-format datasets, their folds, and errors for malformed files."""
import pytest

from gnnx.datasets import DatasetFormatError, GraphClassification


@pytest.mark.parametrize("name, graphs, nodes, edges, tags", [
    ("MUTAG", 188, 3371, 7442, 7), ("PROTEINS", 1113, 43471, 162088, 3), ("PTC", 344, 8792, 17862, 19),
])
def test_shipped_datasets_match_their_statistics(name, graphs, nodes, edges, tags):
    d = GraphClassification(name)
    assert (len(d), sum(g.num_nodes for g in d), sum(g.num_edges for g in d), d.num_features) == \
        (graphs, nodes, edges, tags)
    assert d.num_classes == 2
    train, test = d.fold(1)
    assert not set(train) & set(test) and len(train) + len(test) == graphs


def _write(tmp_path, text):
    folder = tmp_path / "BAD"
    folder.mkdir()
    (folder / "BAD.txt").write_text(text)
    return tmp_path


@pytest.mark.parametrize("text, message", [
    ("2\n2 0\n0 1 1\n0 1 0\n", r"BAD.txt, line 5: file ends early"),
    ("1\n2 0 7\n0 1 1\n0 1 0\n", r"line 2: graph 0 header must be 'num_nodes label'"),
    ("1\n2 0\n0 2 1\n0 1 0\n", r"line 3: node 0 of graph 0 lists 1 neighbours but says 2"),
    ("1\n2 0\n0 1 5\n0 1 0\n", r"line 3: node 0 of graph 0 has neighbour 5 outside \[0, 2\)"),
    ("1\n2 x\n0 1 1\n0 1 0\n", r"line 2: label must be an integer, got 'x'"),
    ("1\n2 0\n0 1 1 0.5\n0 1 0 0.5 2.0\n", r"line 4: node 1 of graph 0 has 2 attributes, earlier nodes 1"),
    ("1\n2 0\n0 1 1 0.5\n0 1 0 nan\n", r"line 4: node attribute 'nan' is NaN or infinite"),
    ("1\n2 0\n0 1 1 0.5\n0 1 0 abc\n", r"line 4: node attribute must be a number, got 'abc'"),
    ("1\n2 0\n0 1 1\n0 1 0\n1 1\n0 0\n", r"line 5: more lines after the 1 graphs that line 1 announces"),
])
def test_malformed_files_name_file_and_line(tmp_path, text, message):
    with pytest.raises(DatasetFormatError, match=message):
        GraphClassification("BAD", root=_write(tmp_path, text))
