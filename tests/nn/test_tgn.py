"""Temporal graphs: TemporalData / TemporalDataLoader and TGN's memory against PyG's, in a
TGN training loop (memories, update times, losses and parameters after optimiser steps), in
evaluation, and on bad input."""
import pytest
import torch

import gnnx.nn as gnn
from gnnx.data import TemporalData, TemporalDataLoader
from gnnx.nn.models.tgn import IdentityMessage, LastAggregator, LastNeighborLoader, MeanAggregator

NUM_NODES, MSG_DIM, MEMORY_DIM, TIME_DIM = 40, 5, 12, 6


def _stream(num_events=300, seed=0, ties=False):
    gen = torch.Generator().manual_seed(seed)
    src = torch.randint(0, NUM_NODES // 2, (num_events,), generator=gen)
    dst = torch.randint(NUM_NODES // 2, NUM_NODES, (num_events,), generator=gen)
    step = torch.randint(0 if ties else 1, 4, (num_events,), generator=gen)
    t = torch.cumsum(step, 0) + 1000
    msg = torch.randn(num_events, MSG_DIM, generator=gen)
    return TemporalData(src=src, dst=dst, t=t, msg=msg)


def _torch_scatter_last(monkeypatch, tgn_module):
    """PyG's LastAggregator as with torch-scatter installed: a node without messages gets
    zeros. (Without torch-scatter PyG's fallback argmax points such a node at message
    ``dim_size - 1``; ties go to the last position in both.)"""
    def scatter_argmax(src, index, dim=0, dim_size=None):
        out = torch.full((dim_size,), src.size(0), dtype=torch.long)
        best = torch.full((dim_size,), torch.iinfo(src.dtype).min if not src.is_floating_point() else -float("inf"),
                          dtype=src.dtype).scatter_reduce(0, index, src, "amax")
        hits = (src == best[index]).nonzero().view(-1)
        out[index[hits]] = hits
        return out

    monkeypatch.setattr(tgn_module, "scatter_argmax", scatter_argmax)


def _pair(aggregator, monkeypatch):
    pyg_tgn = pytest.importorskip("torch_geometric.nn.models.tgn")
    _torch_scatter_last(monkeypatch, pyg_tgn)
    torch.manual_seed(0)
    ours = gnn.TGNMemory(NUM_NODES, MSG_DIM, MEMORY_DIM, TIME_DIM, IdentityMessage(MSG_DIM, MEMORY_DIM, TIME_DIM),
                         LastAggregator() if aggregator == "last" else MeanAggregator())
    pyg_aggr = pyg_tgn.LastAggregator() if aggregator == "last" else pyg_tgn.MeanAggregator()
    theirs = pyg_tgn.TGNMemory(NUM_NODES, MSG_DIM, MEMORY_DIM, TIME_DIM,
                               pyg_tgn.IdentityMessage(MSG_DIM, MEMORY_DIM, TIME_DIM), pyg_aggr)
    assert set(ours.state_dict()) == set(theirs.state_dict())
    ours.load_state_dict(theirs.state_dict())
    return ours, theirs, pyg_tgn


def _assert_same_state(ours, theirs):
    torch.testing.assert_close(ours.memory, theirs.memory, rtol=1e-5, atol=1e-6)
    assert torch.equal(ours.last_update, theirs.last_update)


@pytest.mark.parametrize("aggregator", ["last", "mean"])
@pytest.mark.parametrize("ties", [False, True])
def test_tgn_training_loop_equals_pyg(aggregator, ties, monkeypatch):
    """PyG's examples/tgn.py loop (memory, neighbour loader, a link head) over the same
    stream and negatives: the same losses, memories, update times and trained weights."""
    ours, theirs, pyg_tgn = _pair(aggregator, monkeypatch)
    events = _stream(ties=ties)
    pyg_events = events.to_pyg()
    heads = [torch.nn.Linear(2 * MEMORY_DIM, 1) for _ in range(2)]
    heads[0].load_state_dict(heads[1].state_dict())
    # size 10: no node meets more than 10 events in one batch here, where PyG's pick is arbitrary
    loaders = [LastNeighborLoader(NUM_NODES, size=10), pyg_tgn.LastNeighborLoader(NUM_NODES, size=10)]
    optimizers = [torch.optim.Adam(list(m.parameters()) + list(h.parameters()), lr=0.01)
                  for m, h in zip((ours, theirs), heads)]
    from torch_geometric.loader import TemporalDataLoader as PyGLoader

    torch.manual_seed(1)
    our_batches = list(TemporalDataLoader(events, batch_size=25, neg_sampling_ratio=1.0))
    torch.manual_seed(1)
    their_batches = list(PyGLoader(pyg_events, batch_size=25, neg_sampling_ratio=1.0))
    assert len(our_batches) == len(their_batches) == 12
    for batch, pyg_batch in zip(our_batches, their_batches):
        for name in ("src", "dst", "t", "msg", "neg_dst", "n_id"):
            assert torch.equal(getattr(batch, name), getattr(pyg_batch, name)), name
        losses = []
        for memory, loader, head, optimizer in zip((ours, theirs), loaders, heads, optimizers):
            optimizer.zero_grad()
            n_id, edge_index, e_id = loader(batch.n_id)
            assoc = torch.empty(NUM_NODES, dtype=torch.long)
            assoc[n_id] = torch.arange(n_id.size(0))
            z, last_update = memory(n_id)
            z = z + z[edge_index[0]].sum() * 1e-3 if edge_index.numel() else z  # the neighbours take part
            pos = head(torch.cat([z[assoc[batch.src]], z[assoc[batch.dst]]], -1))
            neg = head(torch.cat([z[assoc[batch.src]], z[assoc[batch.neg_dst]]], -1))
            loss = (torch.nn.functional.binary_cross_entropy_with_logits(pos, torch.ones_like(pos))
                    + torch.nn.functional.binary_cross_entropy_with_logits(neg, torch.zeros_like(neg)))
            memory.update_state(batch.src, batch.dst, batch.t, batch.msg)
            loader.insert(batch.src, batch.dst)
            loss.backward()
            optimizer.step()
            memory.detach()
            losses.append(loss.detach())
        torch.testing.assert_close(losses[0], losses[1], rtol=1e-5, atol=1e-6)
        _assert_same_state(ours, theirs)
    for a, b in zip(ours.parameters(), theirs.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    # evaluation: entering it applies every stored event; then events update memories at once
    ours.eval()
    theirs.eval()
    _assert_same_state(ours, theirs)
    later = _stream(60, seed=5)
    later.t += 5000
    for start in range(0, 60, 20):
        chunk = later[start:start + 20]
        ours.update_state(chunk.src, chunk.dst, chunk.t, chunk.msg)
        theirs.update_state(chunk.src, chunk.dst, chunk.t, chunk.msg)
        n_id = torch.arange(NUM_NODES)
        for got, expected in zip(ours(n_id), theirs(n_id)):
            torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)


def test_last_aggregator_takes_the_latest_and_zeros_for_nodes_without_messages():
    msg = torch.arange(10.0).view(5, 2)
    index = torch.tensor([0, 0, 2, 2, 0])
    t = torch.tensor([3, 7, 1, 1, 7])
    out = LastAggregator()(msg, index, t, 4)
    assert torch.equal(out, torch.tensor([[8.0, 9.0], [0, 0], [6.0, 7.0], [0, 0]]))  # ties: the last
    assert torch.equal(LastAggregator()(msg[:0], index[:0], t[:0], 3), torch.zeros(3, 2))


def test_memory_moves_with_the_module_and_resets():
    memory = gnn.TGNMemory(10, 3, 4, 2, IdentityMessage(3, 4, 2), MeanAggregator())
    memory.update_state(torch.tensor([0, 1]), torch.tensor([2, 3]), torch.tensor([5, 6]), torch.randn(2, 3))
    assert memory.msg_s_store.node.tolist() == [0, 1]
    memory.double()
    assert memory.msg_s_store.msg.dtype == torch.float64
    memory.reset_state()
    assert memory.msg_s_store.node.numel() == 0 and not memory.memory.any()
    assert "TGNMemory(10, memory_dim=4, time_dim=2)" == repr(memory)


def test_bad_inputs_name_the_problem():
    memory = gnn.TGNMemory(10, 3, 4, 2, IdentityMessage(3, 4, 2), LastAggregator())
    with pytest.raises(ValueError, match=r"dst holds node indices outside \[0, 10\)"):
        memory.update_state(torch.tensor([0]), torch.tensor([12]), torch.tensor([1]), torch.randn(1, 3))
    with pytest.raises(ValueError, match="raw_msg must be"):
        memory.update_state(torch.tensor([0]), torch.tensor([1]), torch.tensor([1]), torch.randn(1, 4))
    with pytest.raises(ValueError, match="raw_msg contains NaN"):
        memory.update_state(torch.tensor([0]), torch.tensor([1]), torch.tensor([1]), torch.full((1, 3), float("nan")))
    with pytest.raises(TypeError, match="n_id must be an int64 vector"):
        memory(torch.tensor([0.0]))
    with pytest.raises(ValueError, match="node indices must be below num_nodes=10"):
        LastNeighborLoader(10, 2).insert(torch.tensor([0]), torch.tensor([10]))


def test_temporal_data_indexing_split_and_conversion():
    torch_geometric_data = pytest.importorskip("torch_geometric.data")
    events = _stream(100)
    events.y = torch.arange(100)
    theirs = torch_geometric_data.TemporalData(**events.to_dict())
    assert (events.num_events, events.num_nodes, events.size()) == (theirs.num_events, theirs.num_nodes, theirs.size())
    assert torch.equal(events.edge_index, theirs.edge_index) and len(events) == 100
    for index in (3, slice(10, 20), [1, 5, 7], torch.tensor([4, 2]), events.t > 1100):
        got, expected = events[index], theirs[index]
        for name in ("src", "dst", "t", "msg", "y"):
            assert torch.equal(got[name], expected[name])
    for ours, pyg in zip(events.train_val_test_split(0.2, 0.1), theirs.train_val_test_split(0.2, 0.1)):
        assert torch.equal(ours.t, pyg.t)
    assert isinstance(TemporalData.from_pyg(theirs), TemporalData)
    assert repr(events).startswith("TemporalData(src=[100]")
    with pytest.raises(AttributeError, match="no attribute 'neg_dst'"):
        events.neg_dst
    with pytest.raises(IndexError, match="int64 or bool tensors"):
        events[torch.tensor([1.0])]


def test_temporal_data_checks_and_safe_loading(tmp_path):
    events = _stream(20)
    bad = TemporalData(src=events.src, dst=events.dst[:-1], t=events.t, msg=events.msg)
    with pytest.raises(ValueError, match="dst has 19 entries, src has 20"):
        bad.validate()
    with pytest.raises(TypeError, match="src must have dtype torch.int64"):
        TemporalData(src=events.src.float(), dst=events.dst, t=events.t).validate()
    nan = events.msg.clone()
    nan[3, 1] = float("nan")
    with pytest.raises(ValueError, match="msg contains NaN"):
        TemporalDataLoader(TemporalData(src=events.src, dst=events.dst, t=events.t, msg=nan), batch_size=4)
    path = tmp_path / "events.pt"
    torch.save(events, path)
    loaded = torch.load(path)  # weights_only=True by default
    assert torch.equal(loaded.msg, events.msg) and isinstance(loaded, TemporalData)
    loader = TemporalDataLoader(events, batch_size=8, drop_last=True)
    assert [len(b) for b in loader] == [8, 8]


CUDA = pytest.param("cuda", marks=[pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(),
                                                                        reason="needs CUDA")])


def _run_memory(device):
    torch.manual_seed(0)
    memory = gnn.TGNMemory(NUM_NODES, MSG_DIM, MEMORY_DIM, TIME_DIM, IdentityMessage(MSG_DIM, MEMORY_DIM, TIME_DIM),
                           LastAggregator()).to(device)
    loader = LastNeighborLoader(NUM_NODES, size=3, device=device)
    # distinct time stamps: among equal ones "last" follows the device's sort order (PyG's call, unstable on CUDA)
    events = _stream(120).to(device)
    for batch in TemporalDataLoader(events, batch_size=30):
        n_id, edge_index, _ = loader(batch.n_id)
        z, _ = memory(n_id)
        z.square().sum().backward()
        memory.update_state(batch.src, batch.dst, batch.t, batch.msg)
        loader.insert(batch.src, batch.dst)
        memory.detach()
    memory.eval()
    return memory.memory.cpu(), memory.last_update.cpu(), [p.grad.cpu() for p in memory.gru.parameters()]


@pytest.mark.parametrize("device", ["cpu", CUDA])
def test_memory_on_device_equals_cpu(device):
    got, expected = _run_memory(device), _run_memory("cpu")
    torch.testing.assert_close(got[0], expected[0], rtol=1e-4, atol=1e-5)
    assert torch.equal(got[1], expected[1])
    for a, b in zip(got[2], expected[2]):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


def test_neighbor_loader_keeps_each_nodes_latest_interactions():
    """A batch bringing a node more than ``size`` interactions keeps its ``size`` latest (event
    ids), whichever side of the events the node was on; earlier batches' older ones drop out."""
    loader = LastNeighborLoader(10, size=3)
    loader.insert(torch.tensor([0, 1]), torch.tensor([5, 5]))               # events 0, 1
    loader.insert(torch.tensor([5, 2, 5, 3, 4]), torch.tensor([6, 5, 7, 5, 5]))  # events 2..6
    assert loader.e_id[5].tolist() == [6, 5, 4]
    assert loader.neighbors[5].tolist() == [4, 3, 7]
    n_id, edge_index, e_id = loader(torch.tensor([5]))
    assert n_id.tolist() == [3, 4, 5, 7] and sorted(e_id.tolist()) == [4, 5, 6]
    assert (n_id[edge_index[1]] == 5).all()
