"""``KNNIndex`` and its subclasses: PyG's faiss-backed classes give the same scores, indices and
padding (faiss is a test-only dependency); brute force over every pair gives the same answer
without faiss, in blocks too; bad input is named."""
import pytest
import torch

import gnnx.nn as G
from gnnx.nn import knn_index

CLASSES = ["L2KNNIndex", "MIPSKNNIndex"]


def _points(n, f=8, seed=0):
    return torch.randn(n, f, generator=torch.Generator().manual_seed(seed))


def _exclusions(num_queries, num_points, count, seed=1):
    g = torch.Generator().manual_seed(seed)
    links = torch.stack([torch.randint(num_queries, (count,), generator=g), torch.randint(num_points, (count,), generator=g)])
    return torch.cat([links, links[:, :3]], dim=1)  # a few repeated pairs


def _brute_force(name, queries, points, k, exclude=None):
    if name == "MIPSKNNIndex":
        score, largest, removed = queries @ points.t(), True, float("-inf")
    else:
        score, largest, removed = torch.cdist(queries.double(), points.double()).square().float(), False, float("inf")
    if exclude is not None:
        score[exclude[0], exclude[1]] = removed
    return score.topk(min(k, points.size(0)), dim=1, largest=largest)


@pytest.mark.parametrize("name", CLASSES)
@pytest.mark.parametrize("k, exclude", [(5, False), (5, True), (40, True), (40, False)])
def test_equals_pyg_with_faiss(name, k, exclude):
    pytest.importorskip("faiss")
    P = pytest.importorskip("torch_geometric.nn.pool")
    points, more, queries = _points(20), _points(10, seed=2), _points(12, seed=3)
    links = _exclusions(12, 30, 25) if exclude else None
    theirs, ours = getattr(P, name)(points), getattr(G, name)(points)
    theirs.add(more)
    ours.add(more)
    assert ours.numel == theirs.numel == 30
    torch.testing.assert_close(ours.get_emb(), theirs.get_emb())
    expected, got = theirs.search(queries, k, links), ours.search(queries, k, links)
    assert got.index.shape == expected.index.shape
    assert torch.equal(got.index, expected.index)
    torch.testing.assert_close(got.score, expected.score, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", CLASSES)
def test_equals_brute_force_over_blocks_of_queries(name, monkeypatch):
    points, queries = _points(50, 6), _points(23, 6, seed=4)
    links = _exclusions(23, 50, 60)
    monkeypatch.setattr(knn_index, "BLOCK_SCORES", 50 * 4)  # blocks of 4 queries
    index = getattr(G, name)(points)
    for exclude in (None, links):
        got = index.search(queries, 7, exclude)
        score, position = _brute_force(name, queries, points, 7, exclude)
        assert torch.equal(got.index, position)
        torch.testing.assert_close(got.score, score, rtol=1e-5, atol=1e-5)


def test_rows_with_too_few_points_left_are_padded_as_pyg():
    points = _points(4)
    index = G.MIPSKNNIndex(points)
    exclude = torch.tensor([[0, 0, 0, 1], [0, 1, 2, 3]])
    out = index.search(_points(2, seed=5), 3, exclude)
    assert out.index.shape == (2, 3)
    assert out.index[0].tolist() == [3, -1, -1] and out.score[0, 1:].eq(float("-inf")).all()
    assert (out.index[1] >= 0).all()
    assert index.search(_points(2, seed=5), 9).index.shape == (2, 4)  # without exclusions: min(k, numel)


def test_approximate_classes_take_pyg_arguments_and_search_exactly():
    points, queries = _points(40), _points(5, seed=6)
    approx = G.ApproxL2KNNIndex(num_cells=4, num_cells_to_visit=2, bits_per_vector=8, emb=points)
    assert torch.equal(approx.search(queries, 3).index, G.L2KNNIndex(points).search(queries, 3).index)
    mips = G.ApproxMIPSKNNIndex(4, 2, 8, emb=points)
    assert torch.equal(mips.search(queries, 3).index, G.MIPSKNNIndex(points).search(queries, 3).index)
    assert (approx.num_cells, approx.num_cells_to_visit, approx.bits_per_vector) == (4, 2, 8)


def test_bad_input_is_named():
    index = G.L2KNNIndex()
    with pytest.raises(RuntimeError, match="not yet initialized"):
        index.search(_points(2), 1)
    with pytest.raises(ValueError, match="two-dimensional"):
        index.add(torch.randn(5))
    bad = _points(3)
    bad[1, 2] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        index.add(bad)
    with pytest.raises(ValueError, match="floating-point"):
        index.add(torch.ones(3, 8, dtype=torch.long))
    index.add(_points(6))
    with pytest.raises(ValueError, match="8-wide points"):
        index.add(_points(2, 5))
    with pytest.raises(ValueError, match="8-wide points"):
        index.search(_points(2, 5), 1)
    with pytest.raises(ValueError, match="k must be at least 1"):
        index.search(_points(2), 0)
    with pytest.raises(ValueError, match="outside 2 queries x 6 points"):
        index.search(_points(2), 1, torch.tensor([[0], [6]]))
    with pytest.raises(ValueError, match=r"\[2, num_links\]"):
        index.search(_points(2), 1, torch.tensor([0, 1]))


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("name", CLASSES)
def test_searches_on_cuda_as_on_the_cpu(name):
    points, queries = _points(3000, 16), _points(300, 16, seed=7)
    links = _exclusions(300, 3000, 2000)
    cpu = getattr(G, name)(points).search(queries, 10, links)
    cuda = getattr(G, name)(points.cuda()).search(queries.cuda(), 10, links.cuda())
    assert torch.equal(cuda.index.cpu(), cpu.index)
    torch.testing.assert_close(cuda.score.cpu(), cpu.score, rtol=1e-4, atol=1e-4)
