"""RENet against PyG's: the same initial draws, histories from the pre-transform, outputs and
gradients on batches of events, and the ranking metrics; errors name a missing history or an
index out of range. gnnx's batches come from ``RENet.collate``, PyG's from its DataLoader with
``follow_batch``."""
import pytest
import torch

import gnnx.nn as gnn
from gnnx.nn.models.re_net import EventBatch

NODES, RELS, HIDDEN, SEQ = 12, 3, 8, 3


def _events(count: int = 60, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    times = torch.sort(torch.randint(0, 8, (count,), generator=gen)).values  # time order, with ties and jumps
    return [(int(torch.randint(NODES, (), generator=gen)), int(torch.randint(RELS, (), generator=gen)),
             int(torch.randint(NODES, (), generator=gen)), int(t)) for t in times]


def _recorded(transform, events, make):
    return [transform(make(sub=torch.tensor(s), rel=torch.tensor(r), obj=torch.tensor(o), t=torch.tensor(t)))
            for s, r, o, t in events]


def test_pre_transform_records_pygs_histories():
    PyG = pytest.importorskip("torch_geometric.nn").RENet
    from torch_geometric.data import Data

    events = _events()
    ours = _recorded(gnn.RENet.pre_transform(SEQ), events, Data)
    theirs = _recorded(PyG.pre_transform(SEQ), events, Data)
    assert sum(e.h_sub.numel() for e in ours) > 0
    for a, b in zip(ours, theirs):
        for name in ("h_sub", "h_sub_t", "h_obj", "h_obj_t"):
            assert torch.equal(getattr(a, name), getattr(b, name)), name
    assert repr(gnn.RENet.pre_transform(SEQ)) == repr(PyG.pre_transform(SEQ))


@pytest.mark.parametrize("dropout", [0.0, 0.5])
def test_equals_pyg_outputs_gradients_and_metrics(dropout):
    PyG = pytest.importorskip("torch_geometric.nn").RENet
    from torch_geometric.data import Data
    from torch_geometric.loader import DataLoader

    torch.manual_seed(0)
    ours = gnn.RENet(NODES, RELS, HIDDEN, SEQ, dropout=dropout)
    torch.manual_seed(0)
    theirs = PyG(NODES, RELS, HIDDEN, SEQ, dropout=dropout)
    assert ours.state_dict().keys() == theirs.state_dict().keys()
    assert repr(ours) == repr(theirs)
    for key, value in theirs.state_dict().items():
        assert torch.equal(ours.state_dict()[key], value), key  # the same draws for the same seed
    recorded = _recorded(gnn.RENet.pre_transform(SEQ), _events(), Data)
    ours_batch = gnn.RENet.collate(recorded[20:44])
    theirs_batch = next(iter(DataLoader(recorded[20:44], batch_size=24, follow_batch=["h_sub", "h_obj"])))
    for model in (ours, theirs):
        model.train()
    torch.manual_seed(1)
    got = ours(ours_batch)
    torch.manual_seed(1)
    expected = theirs(theirs_batch)
    for a, b in zip(got, expected):
        torch.testing.assert_close(a, b)
    (got[0].sum() + got[1][:, 0].sum()).backward()
    (expected[0].sum() + expected[1][:, 0].sum()).backward()
    for (name, p), q in zip(ours.named_parameters(), theirs.parameters()):
        torch.testing.assert_close(p.grad, q.grad, msg=name)
    if dropout == 0:  # PyG's batches work too
        torch.testing.assert_close(ours(theirs_batch)[0], got[0])
    ours.eval(), theirs.eval()
    logits = ours(ours_batch)[0]
    torch.testing.assert_close(gnn.RENet.test(logits, ours_batch.obj), theirs.test(logits, ours_batch.obj))


def test_more_gru_layers_read_the_last_layers_state():
    """PyG's forward fails past one layer; gnnx reads the last layer's state."""
    from types import SimpleNamespace

    torch.manual_seed(0)
    model = gnn.RENet(NODES, RELS, HIDDEN, SEQ, num_layers=2)
    recorded = _recorded(gnn.RENet.pre_transform(SEQ), _events(), SimpleNamespace)
    log_obj, log_sub = model(gnn.RENet.collate(recorded[:10]))
    assert log_obj.shape == log_sub.shape == (10, NODES)
    torch.testing.assert_close(log_obj.exp().sum(1), torch.ones(10))


def test_bad_inputs_are_named():
    from types import SimpleNamespace

    model = gnn.RENet(NODES, RELS, HIDDEN, SEQ)
    recorded = _recorded(gnn.RENet.pre_transform(SEQ), _events(), SimpleNamespace)
    batch = gnn.RENet.collate(recorded[:10])
    with pytest.raises(ValueError, match="h_sub_batch"):
        model(SimpleNamespace(**{k: v for k, v in vars(batch).items() if k != "h_sub_batch"}))
    with pytest.raises(ValueError, match="'sub' holds 99"):
        model(EventBatch(**{**vars(batch), "sub": batch.sub.clone().fill_(99)}))
    with pytest.raises(ValueError, match="'rel'"):
        model(EventBatch(**{**vars(batch), "rel": batch.rel + RELS}))
    with pytest.raises(ValueError, match="pre_transform"):
        gnn.RENet.collate([SimpleNamespace(sub=1, rel=0, obj=2, t=0)])
    with pytest.raises(ValueError, match="y holds"):
        gnn.RENet.test(torch.randn(4, NODES), torch.tensor([0, 1, 2, NODES]))


def test_compiles_without_recompiling_over_batch_and_history_sizes():
    from types import SimpleNamespace

    torch.manual_seed(0)
    model = gnn.RENet(NODES, RELS, HIDDEN, SEQ).eval()
    recorded = _recorded(gnn.RENet.pre_transform(SEQ), _events(), SimpleNamespace)
    torch._dynamo.reset()
    compiled = torch.compile(model, fullgraph=True, dynamic=True)
    with torch.no_grad(), torch._dynamo.config.patch(error_on_recompile=True):
        for lo, hi in ((10, 25), (25, 56)):
            batch = gnn.RENet.collate(recorded[lo:hi])
            for a, b in zip(compiled(batch), model(batch)):
                torch.testing.assert_close(a, b)


class _FromTensors(torch.nn.Module):
    """RENet called on the tensors of an :class:`EventBatch` (an exported program's inputs)."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, sub, rel, obj, t, h_sub, h_sub_t, h_sub_batch, h_obj, h_obj_t, h_obj_batch):
        return self.model(EventBatch(sub, rel, obj, t, h_sub, h_sub_t, h_sub_batch, h_obj, h_obj_t, h_obj_batch))


@pytest.mark.slow
def test_exported_and_packaged_with_dynamic_batch_and_history_sizes(tmp_path):
    from types import SimpleNamespace

    from torch.export import Dim

    from cases import assert_runners_equal_eager, export_and_package

    torch.manual_seed(0)
    module = _FromTensors(gnn.RENet(NODES, RELS, HIDDEN, SEQ).eval())
    recorded = _recorded(gnn.RENet.pre_transform(SEQ), _events(), SimpleNamespace)

    def tensors(lo, hi):
        batch = gnn.RENet.collate(recorded[lo:hi])
        return tuple(getattr(batch, name) for name in EventBatch.__dataclass_fields__)

    events, h_sub, h_obj = Dim("events", min=2), Dim("h_sub", min=2), Dim("h_obj", min=2)
    dynamic = ({0: events},) * 4 + ({0: h_sub},) * 3 + ({0: h_obj},) * 3
    example = tensors(10, 25)
    program, runner = export_and_package(module, example, dynamic, str(tmp_path / "re_net.pt2"))
    for lo, hi in ((25, 56), (30, 40)):
        inputs = tensors(lo, hi)
        assert inputs[0].numel() != example[0].numel() and inputs[4].numel() != example[4].numel()
        assert_runners_equal_eager(module, (program.module(), runner), inputs)
