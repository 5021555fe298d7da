"""HeteroLayerNorm, HeteroBatchNorm and HeteroJumpingKnowledge equal PyG's (values, gradients,
running statistics over several steps with a type missing from a batch, evaluation mode,
cumulative averages), with PyG's keys and reprs; the batch norm compiles without recompiles."""
import pytest
import torch
import torch_geometric

import gnnx.nn as nn
from cases import assert_same_outputs_and_gradients


def _typed(rows, types=3, seed=0, missing=None):
    gen = torch.Generator().manual_seed(seed)
    type_vec = torch.randint(types, (rows,), generator=gen)
    if missing is not None:
        type_vec[type_vec == missing] = (missing + 1) % types
    return torch.randn(rows, 8, generator=gen) * 3 + 1, type_vec


def _pair(name, *args, **kwargs):
    ours, theirs = getattr(nn, name)(*args, **kwargs), getattr(torch_geometric.nn, name)(*args, **kwargs)
    with torch.no_grad():
        for p in ours.parameters():
            p.uniform_(0.5, 1.5)
    theirs.load_state_dict(ours.state_dict())
    assert repr(ours) == repr(theirs) and list(ours.state_dict()) == list(theirs.state_dict())
    return ours, theirs


@pytest.mark.parametrize("affine", [True, False])
def test_layer_norm_equals_pygs_with_type_vec_and_type_ptr(affine):
    ours, theirs = _pair("HeteroLayerNorm", 8, 3, affine=affine)
    x, type_vec = _typed(30)
    assert_same_outputs_and_gradients(ours, theirs, x, type_vec)
    ptr = [0, 10, 12, 30]
    torch.testing.assert_close(ours(x, type_ptr=ptr), theirs(x, type_ptr=ptr))
    with pytest.raises(ValueError, match="type_vec' or 'type_ptr"):
        ours(x)


@pytest.mark.parametrize("momentum", [0.1, None])
def test_batch_norm_equals_pygs_over_steps_and_in_evaluation(momentum):
    ours, theirs = _pair("HeteroBatchNorm", 8, 3, momentum=momentum)
    for step in range(4):
        x, type_vec = _typed(40, seed=step, missing=1 if step == 2 else None)  # type 1 absent once
        assert_same_outputs_and_gradients(ours, theirs, x, type_vec)
        for name in ("running_mean", "running_var", "num_batches_tracked"):
            torch.testing.assert_close(getattr(ours, name), getattr(theirs, name))
    ours.eval(), theirs.eval()
    x, type_vec = _typed(25, seed=9)
    torch.testing.assert_close(ours(x, type_vec), theirs(x, type_vec))


def test_batch_norm_compiles_without_recompiling():
    model = nn.HeteroBatchNorm(8, 3)
    reference = nn.HeteroBatchNorm(8, 3)
    compiled = torch.compile(model, fullgraph=True, dynamic=True)
    for i, rows in enumerate([40, 55, 90]):
        x, type_vec = _typed(rows, seed=i)
        with torch._dynamo.config.patch(error_on_recompile=i == 2):
            torch.testing.assert_close(compiled(x, type_vec), reference(x, type_vec))
    torch.testing.assert_close(model.running_var, reference.running_var)


@pytest.mark.parametrize("mode, kwargs", [("cat", {}), ("max", {}), ("lstm", {"channels": 8, "num_layers": 3})])
def test_jumping_knowledge_equals_pygs(mode, kwargs):
    torch.manual_seed(0)
    ours = nn.HeteroJumpingKnowledge(["paper", "author"], mode, **kwargs)
    theirs = torch_geometric.nn.HeteroJumpingKnowledge(["paper", "author"], mode, **kwargs)
    theirs.load_state_dict(ours.state_dict())
    assert repr(ours) == repr(theirs)
    xs = {"paper": [torch.randn(5, 8) for _ in range(3)], "author": [torch.randn(4, 8) for _ in range(3)]}
    got, want = ours(xs), theirs(xs)
    for key in xs:
        torch.testing.assert_close(got[key], want[key])
