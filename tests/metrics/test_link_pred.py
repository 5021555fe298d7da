"""gnnx.metrics against torch_geometric.metrics: the same batches give the same values, for
each metric alone and in a collection (weighted and unweighted together)."""
import pytest
import torch

import gnnx.metrics as M

PM = pytest.importorskip("torch_geometric.metrics")


def _batches(seed=0, num_batches=3, rows=16, k=10, num_items=30):
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(num_batches):
        pred = torch.stack([torch.randperm(num_items, generator=g)[:k] for _ in range(rows)])
        links = torch.stack([torch.randint(0, rows, (60,), generator=g), torch.randint(0, num_items, (60,), generator=g)])
        links = torch.unique(links, dim=1)
        weight = torch.rand(links.size(1), generator=g) * 3 - 0.5  # some non-positive: dropped
        out.append((pred, links, weight))
    return out


def _both(make):
    return make(M), make(PM)


@pytest.mark.parametrize("make", [
    lambda lib: lib.LinkPredPrecision(5), lambda lib: lib.LinkPredRecall(5), lambda lib: lib.LinkPredF1(4),
    lambda lib: lib.LinkPredMAP(6), lambda lib: lib.LinkPredNDCG(5), lambda lib: lib.LinkPredMRR(7),
    lambda lib: lib.LinkPredHitRatio(3), lambda lib: lib.LinkPredRecall(5, weighted=True),
    lambda lib: lib.LinkPredNDCG(8, weighted=True), lambda lib: lib.LinkPredCoverage(5, num_dst_nodes=30),
    lambda lib: lib.LinkPredDiversity(4, category=torch.arange(30) % 4),
    lambda lib: lib.LinkPredPersonalization(5, batch_size=17),
    lambda lib: lib.LinkPredAveragePopularity(5, popularity=torch.arange(30).float()),
])
def test_metrics_equal_pyg(make):
    ours, theirs = _both(make)
    assert repr(ours) == repr(theirs)
    for pred, links, weight in _batches():
        for metric in (ours, theirs):
            metric.update(pred, links, weight)
    torch.testing.assert_close(ours.compute(), theirs.compute())
    ours.reset()
    theirs.reset()
    pred, links, weight = _batches(1, 1)[0]
    for metric in (ours, theirs):
        metric.update(pred, (links[0], links[1]), weight)
    torch.testing.assert_close(ours.compute(), theirs.compute())


def test_collection_equals_pyg():
    def make(lib):
        return lib.LinkPredMetricCollection([lib.LinkPredPrecision(5), lib.LinkPredRecall(5, weighted=True),
                                             lib.LinkPredNDCG(5), lib.LinkPredNDCG(5, weighted=True),
                                             lib.LinkPredMAP(5), lib.LinkPredCoverage(5, 30)])
    ours, theirs = _both(make)
    assert list(ours.keys()) == list(theirs.keys()) and ours.max_k == theirs.max_k == 5
    for pred, links, weight in _batches(2):
        ours.update(pred, links, weight)
        theirs.update(pred, links, weight)
    a, b = ours.compute(), theirs.compute()
    for name in a:
        torch.testing.assert_close(a[name], b[name], msg=name)
    with pytest.raises(ValueError, match="'edge_label_weight' is a required argument"):
        ours.update(*_batches()[0][:2])
    with pytest.raises(ValueError, match="positive integer"):
        M.LinkPredPrecision(0)
    assert M.LinkPredPrecision(3).compute() == 0
