"""gnnx.data.Dataset / InMemoryDataset against PyG's: one user dataset class written for
both (only the graph class differs) gives the same processing, indexing, shuffling,
transforms and properties; processed files load with weights_only=True."""
import os

import pytest
import torch

import gnnx
import gnnx.transforms as T
from gnnx.data import Dataset, InMemoryDataset

PD = pytest.importorskip("torch_geometric.data")
PT = pytest.importorskip("torch_geometric.transforms")


def _graphs(make, count=12):
    g = torch.Generator().manual_seed(0)
    out = []
    for i in range(count):
        n = 3 + i % 5
        out.append(make(x=torch.randn(n, 4, generator=g), edge_index=torch.randint(0, n, (2, 2 * n), generator=g),
                        y=torch.tensor([i % 3])))
    return out


def dataset_class(base, make, style="new"):
    class Molecules(base):
        calls = 0

        @property
        def raw_file_names(self):
            return []

        @property
        def processed_file_names(self):
            return ["data.pt"]

        def process(self):
            type(self).calls += 1
            data_list = _graphs(make)
            if self.pre_filter is not None:
                data_list = [d for d in data_list if self.pre_filter(d)]
            if self.pre_transform is not None:
                data_list = [self.pre_transform(d) for d in data_list]
            if style == "new":
                self.save(data_list, self.processed_paths[0])
            else:  # PyG's older form
                torch.save(self.collate(data_list), self.processed_paths[0])

        def __init__(self, root, transform=None, pre_transform=None, pre_filter=None, force_reload=False):
            super().__init__(root, transform, pre_transform, pre_filter, force_reload=force_reload)
            if style == "new":
                self.load(self.processed_paths[0])
            else:
                self.data, self.slices = torch.load(self.processed_paths[0], weights_only=True)
    return Molecules


def _make_gnnx(x, edge_index, y):
    return gnnx.Graph(edge_index, x.size(0), x=x, label=y)


def _make_pyg(x, edge_index, y):
    return PD.Data(x=x, edge_index=edge_index, label=y)


@pytest.mark.parametrize("style", ["new", "old"])
def test_in_memory_dataset_equals_pyg(tmp_path, style):
    ours_cls = dataset_class(InMemoryDataset, _make_gnnx, style)
    theirs_cls = dataset_class(PD.InMemoryDataset, _make_pyg, "new")
    keep = lambda d: d.num_nodes > 3  # noqa: E731
    ours = ours_cls(str(tmp_path / "ours"), transform=T.AddSelfLoops(), pre_filter=keep)
    theirs = theirs_cls(str(tmp_path / "theirs"), transform=PT.AddSelfLoops(), pre_filter=keep)
    assert len(ours) == len(theirs) == 9 and ours_cls.calls == 1
    assert ours.num_features == theirs.num_features == 4
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a.x, b.x)
        assert sorted(map(tuple, a.edge_index.t().tolist())) == sorted(map(tuple, b.edge_index.t().tolist()))
        assert torch.equal(a.label, b.label)
    for index in (slice(2, 7), slice(0.25, 0.75), [4, 0, 2], torch.tensor([1, 3]),
                  torch.arange(9) % 2 == 0):
        sub_a, sub_b = ours[index], theirs[index]
        assert len(sub_a) == len(sub_b)
        for a, b in zip(sub_a, sub_b):
            torch.testing.assert_close(a.x, b.x)
    torch.manual_seed(3)
    shuffled_a, perm_a = ours.shuffle(return_perm=True)
    torch.manual_seed(3)
    shuffled_b, perm_b = theirs.shuffle(return_perm=True)
    assert torch.equal(perm_a, perm_b)
    torch.testing.assert_close(shuffled_a[0].x, shuffled_b[0].x)
    again = ours_cls(str(tmp_path / "ours"), pre_filter=keep)  # processed files are read, not rebuilt
    assert ours_cls.calls == 1 and len(again) == 9
    with pytest.warns(UserWarning, match="pre_transform"):
        ours_cls(str(tmp_path / "ours"), pre_transform=T.AddSelfLoops(), pre_filter=keep)
    ours_cls(str(tmp_path / "ours"), pre_filter=keep, force_reload=True)
    assert ours_cls.calls == 2
    copied = ours.copy(slice(0, 3))
    assert len(copied) == 3 and len(copied.data) == 3


def test_num_classes_and_a_plain_dataset(tmp_path):
    class Labelled(InMemoryDataset):
        def __init__(self, graphs):
            super().__init__()
            self._graphs = graphs

    graphs = [gnnx.Graph(torch.tensor([[0], [1]]), 2, y=torch.tensor(i % 4)) for i in range(8)]
    assert Labelled(graphs).num_classes == 4

    class OnTheFly(Dataset):
        def len(self):
            return 5

        def get(self, idx):
            return gnnx.Graph(torch.tensor([[0], [1]]), 2, x=torch.full((2, 3), float(idx)))

    dataset = OnTheFly()
    assert len(dataset) == 5 and dataset[3].x[0, 0] == 3 and dataset.num_features == 3
    assert [int(g.x[0, 0]) for g in dataset[1:4]] == [1, 2, 3]
    with pytest.raises(IndexError, match="boolean mask of 3 entries"):
        dataset[torch.tensor([True, False, True])]


def test_processed_files_refuse_arbitrary_objects(tmp_path):
    cls = dataset_class(InMemoryDataset, _make_gnnx)
    dataset = cls(str(tmp_path))
    torch.save([gnnx.Graph(torch.tensor([[0], [1]]), 2), os.system], dataset.processed_paths[0])
    with pytest.raises(Exception, match="[Ww]eights only load failed|Unsupported global"):
        cls(str(tmp_path))
