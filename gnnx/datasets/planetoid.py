"""Planetoid citation graphs (Cora, CiteSeer, PubMed) from their raw files.

The raw format (Yang et al., 2016) is eight files ``ind.<name>.{x,y,tx,ty,allx,ally,graph,
test.index}``, all but the last Python-2 pickles, read here with
:mod:`gnnx.datasets.safe_pickle`. Assembly and the public split follow the GCN paper
and PyG: features ``vstack(allx, tx)`` with the test rows put in ``test.index`` order,
edges from the adjacency dict made undirected without duplicates or self loops,
train = the labelled ``x`` rows (20 per class), validation = the next 500 nodes,
test = the 1,000 ``test.index`` nodes. Cora ships inside the package.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, Callable, Optional, Union

import numpy as np
import torch

from gnnx.datasets import safe_pickle
from gnnx.datasets.arguments import name_and_root
from gnnx.datasets.errors import DatasetFormatError
from gnnx.datasets.single_graph import SingleGraph
from gnnx.graph import Graph

NAMES = {"cora": "cora", "citeseer": "citeseer", "pubmed": "pubmed"}
PARTS = ("x", "y", "tx", "ty", "allx", "ally", "graph", "test.index")
PACKAGED = Path(__file__).parent / "raw"


class Planetoid(SingleGraph):
    """A Planetoid dataset: one :class:`~gnnx.Graph` with ``x``, ``y`` and split masks.

    Args:
        name_or_root, name: ``"Cora"``, ``"CiteSeer"`` or ``"PubMed"`` (case-insensitive),
            given first (gnnx's order) or as ``name=`` after the root (PyG's order).
        root: folder holding the raw ``ind.<name>.*`` files (directly or under
            ``<root>/<name>/raw``). Cora is read from the package when omitted.
        transform: applied once to the graph (e.g. :class:`gnnx.transforms.NormalizeFeatures`).

    Attributes:
        graph: the graph, with ``train_mask``, ``val_mask``, ``test_mask`` attributes.
        num_features, num_classes: sizes for building a model.
    """

    def __init__(self, name_or_root: Optional[Union[str, os.PathLike]] = None,
                 root: Optional[Union[str, os.PathLike]] = None,
                 transform: Optional[Callable[[Graph], Graph]] = None, *, name: Optional[str] = None,
                 split: str = "public", **pyg_kwargs: Any) -> None:
        # gnnx's Planetoid("Cora", root=...) and PyG's Planetoid(root, name="Cora"); PyG's
        # download options (pyg_kwargs) are ignored: the files are read locally.
        name, root = name_and_root(name_or_root, root, name, tuple(NAMES))
        if split != "public":
            raise ValueError(f"Planetoid: only the public split is built, got split={split!r}")
        key = name.lower()
        if key not in NAMES:
            raise ValueError(f"unknown Planetoid dataset {name!r}; expected Cora, CiteSeer or PubMed")
        self.name = name
        folder = _find_folder(key, root)
        _verify_checksums(folder)
        graph = read_planetoid(folder, key)
        super().__init__(graph, transform)

    def __repr__(self) -> str:
        return f"Planetoid({self.name}: {self.graph})"


def _find_folder(key: str, root) -> Path:
    candidates = []
    if root is not None:
        root = Path(root)
        candidates += [root, root / key / "raw", root / key, root / key.capitalize() / "raw"]
    if key == "cora":  # also behind a root without the files (a PyG script's download folder)
        candidates.append(PACKAGED / "cora")
    elif root is None:
        raise ValueError(f"{key}: only Cora ships with gnnx; pass root= pointing at the raw ind.{key}.* files")
    for folder in candidates:
        if (folder / f"ind.{key}.x").is_file():
            return folder
    raise FileNotFoundError(f"no raw file ind.{key}.x under {', '.join(map(str, candidates))}")


def _verify_checksums(folder: Path) -> None:
    sums = folder / "SHA256SUMS"
    if not sums.is_file():
        return
    for line in sums.read_text().splitlines():
        if not line.strip():
            continue
        digest, name = line.split()
        path = folder / name
        if path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            raise ValueError(f"{path}: SHA-256 does not match {sums}; the file is damaged or altered")


def _read(folder: Path, key: str, part: str):
    path = folder / f"ind.{key}.{part}"
    if part == "test.index":
        rows = path.read_text().splitlines()
        bad = next((n for n, line in enumerate(rows, 1) if line.strip() and not line.strip().isdigit()), None)
        if bad is not None:
            raise DatasetFormatError(f"{path}, line {bad}: not a node index: {rows[bad - 1].strip()!r}")
        return np.array([int(line) for line in rows if line.strip()], dtype=np.int64)
    try:
        with open(path, "rb") as f:
            obj = safe_pickle.load(f)
    except safe_pickle.UnsafePickleError as error:
        raise safe_pickle.UnsafePickleError(f"{path}: {error}") from None
    except Exception as error:  # truncated or damaged: name the file
        raise DatasetFormatError(f"{path}: not a readable data pickle ({type(error).__name__}: {error})") from None
    return obj.toarray() if isinstance(obj, safe_pickle.SparseRows) else obj


def read_planetoid(folder: Union[str, Path], key: str) -> Graph:
    """Assemble the graph and the public split from the raw files in ``folder``."""
    folder = Path(folder)
    x, y, tx, ty, allx, ally, adjacency, test_index = (_read(folder, key, p) for p in PARTS)
    sorted_test = np.sort(test_index)
    if key == "citeseer":  # some test indices are isolated nodes missing from tx: pad with zeros
        full = sorted_test.max() - sorted_test.min() + 1
        tx_full = np.zeros((full, tx.shape[1]), dtype=tx.dtype)
        ty_full = np.zeros((full, ty.shape[1]), dtype=ty.dtype)
        tx_full[sorted_test - sorted_test.min()] = tx
        ty_full[sorted_test - sorted_test.min()] = ty
        tx, ty = tx_full, ty_full
    features = torch.from_numpy(np.vstack([allx, tx]).astype(np.float32))
    labels = torch.from_numpy(np.vstack([ally, ty]).argmax(1).astype(np.int64))
    test_t, sorted_t = torch.from_numpy(test_index), torch.from_numpy(sorted_test)
    features[test_t] = features[sorted_t]
    labels[test_t] = labels[sorted_t]
    num_nodes = features.size(0)

    src = [int(k) for k, neighbours in adjacency.items() for _ in neighbours]
    dst = [int(v) for neighbours in adjacency.values() for v in neighbours]
    edges = torch.tensor([src + dst, dst + src], dtype=torch.long)
    edges = edges[:, edges[0] != edges[1]]
    key_ = torch.unique(edges[1] * num_nodes + edges[0])
    edge_index = torch.stack([key_ % num_nodes, key_ // num_nodes])

    def mask(index: torch.Tensor) -> torch.Tensor:
        out = torch.zeros(num_nodes, dtype=torch.bool)
        out[index] = True
        return out

    num_train = y.shape[0]
    return Graph(
        edge_index, num_nodes, x=features, y=labels,
        train_mask=mask(torch.arange(num_train)),
        val_mask=mask(torch.arange(num_train, num_train + 500)),
        test_mask=mask(sorted_t),
    )
