"""torch.export with graph-shaped dynamic dimensions, and save/load with metadata."""
from __future__ import annotations

import contextlib
import inspect
import json
import os
from typing import Any, Dict, Iterator, Optional, Sequence, Tuple

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
    min_nodes: Optional[int] = None,
    min_edges: Optional[int] = None,
) -> ExportedProgram:
    """Export ``model`` called as ``model(*example_inputs)``.

    Args:
        model: a module whose forward takes plain tensors.
        example_inputs: example tensors; use at least 2 nodes and 2 edges so no size is
            specialised to a constant (``None`` entries are passed through as ``None``).
        dynamic: give node, edge and graph counts dynamic dimensions (see :data:`DIM_OF_INPUT`).
        input_names: names of the inputs, by default the forward's parameter names.
        min_nodes, min_edges: smallest sizes the program must accept; by default the
            smallest the model's trace allows among 0 nodes (an empty event), 1 node and
            0 edges (a one-atom molecule, an event with one hit), and 2 nodes and 1 edge
            (the exporter says which constraint a trace needs). The sizes a program
            accepts are recorded in its metadata and checked when it is loaded.
    Returns:
        a :class:`torch.export.ExportedProgram`.
    """
    if dynamic and min_nodes is None and min_edges is None:
        for least_nodes, least_edges in ((0, 0), (1, 0)):
            try:
                return export(model, example_inputs, dynamic, input_names, least_nodes, least_edges)
            except Exception:  # noqa: BLE001 - a constraint the trace needs: the next smallest sizes
                continue
        return export(model, example_inputs, dynamic, input_names, 2, 1)
    min_nodes = 2 if min_nodes is None else min_nodes
    min_edges = 1 if min_edges is None else min_edges
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
    with evaluating(model):
        return torch.export.export(model, example_inputs, dynamic_shapes=dynamic_shapes)


@contextlib.contextmanager
def evaluating(model: torch.nn.Module) -> Iterator[None]:
    """Eval mode for the duration, then every submodule's own mode back."""
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for module, training in modes:
            module.training = training


def metadata_of(ep: ExportedProgram, output_names: Sequence[str] = ("out",)) -> Dict[str, Any]:
    """What a deployment needs to know about a program: input and output names, dtypes,
    fixed sizes (-1 for dynamic ones), the smallest sizes it accepts, versions."""
    user_inputs = list(ep.graph_signature.user_inputs)
    placeholders = {n.name: n for n in ep.graph.nodes if n.op == "placeholder"}
    inputs, minimum = [], {}
    for name in user_inputs:
        fake = placeholders[name].meta.get("val")
        if not isinstance(fake, torch.Tensor):
            continue
        axis, counts = DIM_OF_INPUT.get(name, (None, None))
        shape = []
        for i, size in enumerate(fake.shape):
            if isinstance(size, int):
                shape.append(int(size))
                continue
            shape.append(-1)
            bounds = ep.range_constraints.get(size.node.expr)
            if i == axis and bounds is not None:
                minimum[counts] = int(bounds.lower)
        if axis is None or shape[axis] != -1:
            axis = counts = None  # not a graph-sized input, or exported with a static size
        inputs.append({"name": name, "dtype": str(fake.dtype).replace("torch.", ""), "shape": shape,
                       "dynamic_axis": axis, "counts": counts})
    outputs = []
    output_node = next(n for n in ep.graph.nodes if n.op == "output")
    values = output_node.args[0] if isinstance(output_node.args[0], (list, tuple)) else [output_node.args[0]]
    names = list(output_names) + [f"out{i}" for i in range(len(output_names), len(values))]
    for name, node in zip(names, values):
        val = node.meta.get("val") if hasattr(node, "meta") else None
        if isinstance(val, torch.Tensor):
            outputs.append({"name": name, "dtype": str(val.dtype).replace("torch.", ""),
                            "shape": [int(s) if isinstance(s, int) else -1 for s in val.shape]})
    return {"gnnx_version": gnnx.__version__, "torch_version": torch.__version__,
            "inputs": inputs, "outputs": outputs, "minimum_sizes": minimum}


def save(ep: ExportedProgram, path: str, output_names: Sequence[str] = ("out",),
         extra: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """Write ``ep`` to ``path`` (a ``.pt2`` archive) with its metadata; returns the metadata."""
    metadata = metadata_of(ep, output_names)
    metadata.update(extra or {})
    torch.export.save(ep, path, extra_files={METADATA_FILE: json.dumps(metadata)})
    return metadata


class CheckedModel:
    """A deployed program (exported or AOTInductor-compiled) behind input checks.

    Call it like the model; inputs are checked against :attr:`metadata` first (rank,
    dtype, fixed sizes, sizes that must agree, index range of ``edge_index``, NaN,
    minimum sizes), since neither kind of program checks them itself.
    """

    def __init__(self, run, metadata: Dict[str, Any]) -> None:
        self._run = run
        self.metadata = metadata

    def check(self, *inputs: Tensor) -> None:
        from gnnx.export.checks import check_inputs

        check_inputs(self.metadata, inputs)

    def __call__(self, *inputs: Tensor) -> Any:
        self.check(*inputs)
        return self._run(*inputs)


class ExportedModel(CheckedModel):
    """A saved exported program loaded back (:func:`load`)."""

    def __init__(self, ep: ExportedProgram, metadata: Dict[str, Any]) -> None:
        super().__init__(ep.module(), metadata)
        self.program = ep


def load(path: str) -> ExportedModel:
    """Load a program written by :func:`save` (no model source needed)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(path)
    extra = {METADATA_FILE: ""}
    ep = torch.export.load(path, extra_files=extra)
    metadata = json.loads(extra[METADATA_FILE]) if extra[METADATA_FILE] else {}
    return ExportedModel(ep, metadata)
