"""torch.export with graph-shaped dynamic dimensions, and save/load with metadata."""
from __future__ import annotations

import inspect
import json
import os
from typing import Any, Dict, Optional, Sequence, Tuple

import torch
from torch import Tensor
from torch.export import Dim, ExportedProgram

import gnnx

# Which dimension of a named input counts nodes, edges or graphs.
DIM_OF_INPUT: Dict[str, Tuple[int, str]] = {
    "x": (0, "num_nodes"),
    "pos": (0, "num_nodes"),
    "batch": (0, "num_nodes"),
    "edge_index": (1, "num_edges"),
    "edge_weight": (0, "num_edges"),
    "edge_attr": (0, "num_edges"),
}
METADATA_FILE = "gnnx_metadata.json"


def _input_names(model: torch.nn.Module, count: int) -> Sequence[str]:
    params = [p for p in inspect.signature(model.forward).parameters.values()
              if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return [p.name for p in params[:count]]


def export(
    model: torch.nn.Module,
    example_inputs: Sequence[Optional[Tensor]],
    dynamic: bool = True,
    input_names: Optional[Sequence[str]] = None,
    min_nodes: int = 2,
    min_edges: int = 1,
) -> ExportedProgram:
    """Export ``model`` called as ``model(*example_inputs)``.

    Args:
        model: a module whose forward takes plain tensors.
        example_inputs: example tensors; use at least 2 nodes and 2 edges so no size is
            specialised to a constant (``None`` entries are passed through as ``None``).
        dynamic: give node, edge and graph counts dynamic dimensions (see :data:`DIM_OF_INPUT`).
        input_names: names of the inputs, by default the forward's parameter names.
        min_nodes, min_edges: smallest sizes the program must accept.
    Returns:
        a :class:`torch.export.ExportedProgram`.
    """
    example_inputs = tuple(example_inputs)
    names = list(input_names) if input_names is not None else _input_names(model, len(example_inputs))
    dynamic_shapes = None
    if dynamic:
        dims = {"num_nodes": Dim("num_nodes", min=min_nodes), "num_edges": Dim("num_edges", min=min_edges)}
        dynamic_shapes = []
        for name, value in zip(names, example_inputs):
            if value is None or name not in DIM_OF_INPUT:
                dynamic_shapes.append(None)
            else:
                axis, dim = DIM_OF_INPUT[name]
                dynamic_shapes.append({axis: dims[dim]})
        dynamic_shapes = tuple(dynamic_shapes)
    was_training = model.training
    model.eval()
    try:
        return torch.export.export(model, example_inputs, dynamic_shapes=dynamic_shapes)
    finally:
        model.train(was_training)


def metadata_of(ep: ExportedProgram, example_inputs: Sequence[Optional[Tensor]],
                input_names: Sequence[str], output_names: Sequence[str] = ("out",)) -> Dict[str, Any]:
    """What a deployment needs to know about a program: names, dtypes, fixed sizes, versions."""
    inputs = []
    placeholders = [n for n in ep.graph.nodes if n.op == "placeholder"][-len(ep.graph_signature.user_inputs):]
    minimum: Dict[str, int] = {}
    for name, value, node in zip(input_names, example_inputs, placeholders):
        if value is None:
            continue
        axis, counts = DIM_OF_INPUT.get(name, (None, None))
        fake = node.meta.get("val")
        if axis is not None and fake is not None and not isinstance(fake.shape[axis], int):
            bounds = ep.range_constraints.get(fake.shape[axis].node.expr)
            if bounds is not None:
                minimum[counts] = int(bounds.lower)
        else:
            axis = counts = None  # exported with a static size
        shape = [(-1 if i == axis else int(s)) for i, s in enumerate(value.shape)]
        inputs.append({"name": name, "dtype": str(value.dtype).replace("torch.", ""), "shape": shape,
                       "dynamic_axis": axis, "counts": counts})
    outputs = []
    for name, spec in zip(output_names, ep.graph_signature.user_outputs):
        node = next(n for n in ep.graph.nodes if n.name == spec)
        val = node.meta.get("val")
        shape = [int(s) if isinstance(s, int) else -1 for s in val.shape] if val is not None else None
        outputs.append({"name": name, "dtype": str(val.dtype).replace("torch.", "") if val is not None else None,
                        "shape": shape})
    return {"gnnx_version": gnnx.__version__, "torch_version": torch.__version__,
            "inputs": inputs, "outputs": outputs, "minimum_sizes": minimum}


def save(ep: ExportedProgram, path: str, example_inputs: Sequence[Optional[Tensor]],
         input_names: Optional[Sequence[str]] = None, output_names: Sequence[str] = ("out",),
         extra: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """Write ``ep`` to ``path`` (a ``.pt2`` archive) with its metadata; returns the metadata."""
    names = list(input_names) if input_names is not None else [
        s.arg.name for s in ep.graph_signature.input_specs if s.kind.name == "USER_INPUT"
    ]
    metadata = metadata_of(ep, example_inputs, names, output_names)
    metadata.update(extra or {})
    torch.export.save(ep, path, extra_files={METADATA_FILE: json.dumps(metadata)})
    return metadata


class ExportedModel:
    """A saved program loaded back: call it like the model, read its :attr:`metadata`.

    Inputs are checked against the metadata before running (rank, dtype, fixed sizes,
    index range of ``edge_index``), so a wrong input fails with a clear message.
    """

    def __init__(self, ep: ExportedProgram, metadata: Dict[str, Any]) -> None:
        self.program = ep
        self.metadata = metadata
        self._module = ep.module()

    def check(self, *inputs: Tensor) -> None:
        from gnnx.export.checks import check_inputs

        check_inputs(self.metadata, inputs)

    def __call__(self, *inputs: Tensor) -> Any:
        self.check(*inputs)
        return self._module(*inputs)


def load(path: str) -> ExportedModel:
    """Load a program written by :func:`save` (no model source needed)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(path)
    extra = {METADATA_FILE: ""}
    ep = torch.export.load(path, extra_files=extra)
    metadata = json.loads(extra[METADATA_FILE]) if extra[METADATA_FILE] else {}
    return ExportedModel(ep, metadata)
