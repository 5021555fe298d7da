"""Planetoid from the packaged raw files; the restricted unpickler refuses code."""
import os
import pickle
import shutil

import pytest
import torch

from gnnx.datasets import Planetoid, safe_pickle
from gnnx.datasets.planetoid import PACKAGED


def test_cora_matches_the_published_statistics():
    dataset = Planetoid("Cora")
    g = dataset[0]
    assert (g.num_nodes, g.num_edges, dataset.num_features, dataset.num_classes) == (2708, 10556, 1433, 7)
    assert (int(g.train_mask.sum()), int(g.val_mask.sum()), int(g.test_mask.sum())) == (140, 500, 1000)
    assert torch.bincount(g.y[g.train_mask]).tolist() == [20] * 7
    assert not (g.train_mask & g.test_mask).any()
    assert bool((g.edge_index[0] != g.edge_index[1]).all())
    reversed_edges = set(map(tuple, g.edge_index.flip(0).t().tolist()))
    assert reversed_edges == set(map(tuple, g.edge_index.t().tolist()))  # undirected


def test_root_folder_and_checksum_mismatch(tmp_path):
    raw = tmp_path / "cora" / "raw"
    shutil.copytree(PACKAGED / "cora", raw)
    assert Planetoid("cora", root=tmp_path)[0].num_nodes == 2708
    os.chmod(raw / "ind.cora.y", 0o644)
    with open(raw / "ind.cora.y", "ab") as f:
        f.write(b"x")
    with pytest.raises(ValueError, match="SHA-256 does not match"):
        Planetoid("Cora", root=tmp_path)


def test_unknown_and_missing_datasets():
    with pytest.raises(ValueError, match="unknown Planetoid dataset"):
        Planetoid("Reddit")
    with pytest.raises(ValueError, match="only Cora ships"):
        Planetoid("CiteSeer")


class _Exploit:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_restricted_unpickler_refuses_code():
    with pytest.raises(safe_pickle.UnsafePickleError, match="posix.system|os.system"):
        safe_pickle.loads(pickle.dumps(_Exploit(), protocol=2))
    assert safe_pickle.loads(pickle.dumps([1, 2])) == [1, 2]


def test_python3_protocol_2_array_loads_and_exploits_still_do_not():
    import numpy as np

    array = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_array_equal(safe_pickle.loads(pickle.dumps(array, protocol=2)), array)
    with pytest.raises(safe_pickle.UnsafePickleError):
        safe_pickle.loads(pickle.dumps(_Exploit(), protocol=4))


def test_damaged_files_are_named(tmp_path):
    from gnnx.datasets import DatasetFormatError

    raw = tmp_path / "cora" / "raw"
    shutil.copytree(PACKAGED / "cora", raw)
    os.remove(raw / "SHA256SUMS")  # a user's own copy, without checksums
    for name in os.listdir(raw):
        os.chmod(raw / name, 0o644)
    data = (raw / "ind.cora.x").read_bytes()
    (raw / "ind.cora.x").write_bytes(data[: len(data) // 2])  # truncated
    with pytest.raises(DatasetFormatError, match=r"ind\.cora\.x: not a readable data pickle"):
        Planetoid("Cora", root=tmp_path)
