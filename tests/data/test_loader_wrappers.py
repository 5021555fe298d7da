"""PrefetchLoader and CachedLoader around gnnx's loaders (CUDA copies where a GPU is present)."""
import pytest
import torch

import gnnx
from gnnx.data import TemporalData
from gnnx.loader import CachedLoader, DataLoader, NeighborLoader, PrefetchLoader, TemporalDataLoader

CUDA = pytest.param("cuda", marks=[pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(),
                                                                        reason="needs CUDA")])


def _graphs(count=6):
    gen = torch.Generator().manual_seed(0)
    return [gnnx.Graph(torch.randint(0, 5, (2, 8), generator=gen), 5, x=torch.randn(5, 3, generator=gen),
                       y=torch.tensor(i % 2)) for i in range(count)]


@pytest.mark.parametrize("device", ["cpu", CUDA])
def test_prefetch_moves_every_batch_and_keeps_them_in_order(device):
    graphs = _graphs()
    loader = DataLoader(graphs, batch_size=2)
    got = list(PrefetchLoader(loader, device=device))
    assert len(got) == len(loader) == 3
    for batch, expected in zip(got, loader):
        assert batch.x.device.type == device and batch.csr.rowptr.device.type == device
        assert torch.equal(batch.x.cpu(), expected.x) and torch.equal(batch.edge_index.cpu(), expected.edge_index)
    events = TemporalData(src=torch.arange(6), dst=torch.arange(6) + 6, t=torch.arange(6), msg=torch.randn(6, 2))
    moved = list(PrefetchLoader(TemporalDataLoader(events, batch_size=4), device=device))
    assert [b.src.device.type for b in moved] == [device, device] and torch.equal(moved[1].src.cpu(), events.src[4:])


def test_cached_loader_samples_once_and_replays():
    graph = gnnx.Graph(torch.randint(0, 30, (2, 120), generator=torch.Generator().manual_seed(1)), 30,
                       x=torch.randn(30, 4))
    calls = []
    cached = CachedLoader(NeighborLoader(graph, fanouts=[3, 2], seeds=torch.arange(30), batch_size=10, shuffle=True),
                          transform=lambda b: calls.append(1) or b)
    first = list(cached)
    assert len(first) == len(cached) == 3 and len(calls) == 3
    second = list(cached)
    assert len(calls) == 3 and all(a is b for a, b in zip(first, second))  # replayed, not sampled again
    cached.clear()
    partial = iter(cached)
    next(partial)
    del partial  # a pass stopped early keeps nothing
    assert len(list(cached)) == 3 and len(calls) == 7
    assert repr(cached).startswith("CachedLoader(")
