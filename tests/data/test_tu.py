"""TUDataset: read TU-format files written from the shipped MUTAG graphs; errors name the file."""
import pytest
import torch

from gnnx.datasets import DatasetFormatError, GraphClassification, TUDataset


def write_tu(graphs, folder, name="MUTAG_TU"):
    folder.mkdir(parents=True, exist_ok=True)
    edges, indicator, node_labels, graph_labels = [], [], [], []
    offset = 0
    for g_id, g in enumerate(graphs, 1):
        for s, d in g.edge_index.t().tolist():
            edges.append(f"{s + offset + 1}, {d + offset + 1}")
        indicator += [str(g_id)] * g.num_nodes
        node_labels += [str(int(t)) for t in g.x.argmax(1).tolist()]
        graph_labels.append(str(int(g.y) * 2 - 1))  # TU files often use -1/1
        offset += g.num_nodes
    for part, rows in (("A", edges), ("graph_indicator", indicator), ("node_labels", node_labels),
                       ("graph_labels", graph_labels)):
        (folder / f"{name}_{part}.txt").write_text("\n".join(rows) + "\n")
    return name


def test_tu_files_round_trip_the_shipped_graphs(tmp_path):
    source = GraphClassification("MUTAG")
    name = write_tu(source.graphs, tmp_path / "MUTAG_TU")
    d = TUDataset(name, tmp_path)
    assert len(d) == len(source) and d.num_classes == 2 and d.label_values == [-1, 1]
    for a, b in zip(d.graphs[:20], source.graphs[:20]):
        assert a.num_nodes == b.num_nodes and torch.equal(a.edge_index, b.edge_index) and int(a.y) == int(b.y)
        assert torch.equal(a.x.argmax(1), b.x.argmax(1))


def test_tu_errors_name_file_and_line(tmp_path):
    name = write_tu(GraphClassification("MUTAG").graphs[:3], tmp_path / "MUTAG_TU")
    path = tmp_path / name / f"{name}_A.txt"
    path.write_text(path.read_text() + "1, 2, 3\n")
    with pytest.raises(DatasetFormatError, match=r"_A.txt, line \d+: expected 2 comma-separated values, got 3"):
        TUDataset(name, tmp_path)
    path.write_text("1, 999\n")
    with pytest.raises(DatasetFormatError, match=r"_A.txt, line 1: node id outside"):
        TUDataset(name, tmp_path)


def _three(tmp_path):
    return write_tu(GraphClassification("MUTAG").graphs[:3], tmp_path / "MUTAG_TU"), tmp_path / "MUTAG_TU"


def test_tu_rejects_nodes_out_of_graph_order(tmp_path):
    name, folder = _three(tmp_path)
    path = folder / f"{name}_graph_indicator.txt"
    rows = path.read_text().split()
    rows[0], rows[-1] = rows[-1], rows[0]  # first node claims the last graph
    path.write_text("\n".join(rows) + "\n")
    with pytest.raises(DatasetFormatError, match=r"graph_indicator.txt.*(line \d+: graph id|edge joins two graphs)"):
        TUDataset(name, tmp_path)


def test_tu_rejects_a_graph_without_nodes(tmp_path):
    name, folder = _three(tmp_path)
    labels = folder / f"{name}_graph_labels.txt"
    labels.write_text(labels.read_text() + "1\n")  # a fourth graph that no node belongs to
    with pytest.raises(DatasetFormatError, match="graph 4 has no nodes"):
        TUDataset(name, tmp_path)


@pytest.mark.parametrize("bad", ["nan", "inf"])
def test_tu_rejects_non_finite_attributes(tmp_path, bad):
    name, folder = _three(tmp_path)
    count = len((folder / f"{name}_graph_indicator.txt").read_text().split())
    rows = ["0.5, 1.0"] * count
    rows[4] = f"0.5, {bad}"
    (folder / f"{name}_node_attributes.txt").write_text("\n".join(rows) + "\n")
    with pytest.raises(DatasetFormatError, match=r"node_attributes.txt, line 5: NaN or infinite"):
        TUDataset(name, tmp_path)
