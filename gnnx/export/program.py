"""torch.export with graph-shaped dynamic dimensions, and save/load with metadata."""
from __future__ import annotations

import contextlib
import inspect
import json
import os
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import torch
from torch import Tensor
from torch.export import Dim, ExportedProgram
from torch.utils._pytree import TreeSpec, tree_flatten_with_path, tree_unflatten

import gnnx
from gnnx.export.checks import check_inputs

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


INPUT_NAMES_META = "gnnx_input_names"  # the names export() gave the inputs, kept on the program


def _input_names(model: torch.nn.Module, inputs: Sequence[Any]) -> List[str]:
    """The forward's parameter names for ``inputs``; inputs that fall in a ``*args`` (PyG's
    ``HeteroConv.forward(*args_dict)``) are named by what they hold (:func:`_name_of_value`),
    so their sizes get dynamic dimensions too."""
    params = [p for p in inspect.signature(model.forward).parameters.values()
              if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    names = [p.name for p in params[:len(inputs)]]
    for position in range(len(names), len(inputs)):
        names.append(_name_of_value(inputs[position], names) or f"input{position}")
    return names


def _by_signature(model: torch.nn.Module, per_input: List[Any]) -> Tuple[Any, ...]:
    """Per-input dynamic shapes laid out as torch.export binds them: the inputs that fall in
    the forward's ``*args`` as one tuple."""
    params = list(inspect.signature(model.forward).parameters.values())
    named = sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params)
    if any(p.kind is p.VAR_POSITIONAL for p in params) and len(per_input) > named:
        return tuple(per_input[:named]) + (tuple(per_input[named:]),)
    return tuple(per_input)


def _name_of_value(value: Any, taken: Sequence[str]) -> Optional[str]:
    """A graph input's name from its value, by PyG's conventions: features per node type
    (a dict keyed by type names) ``x_dict``; per edge type (keyed by triples) integer ``[2, E]``
    tensors ``edge_index_dict``, 1-D ones ``edge_weight_dict``, others ``edge_attr_dict``;
    plain tensors ``edge_index`` (integer ``[2, E]``) or ``x`` (the first floating one). ``None``
    where none fits or the name is taken."""
    if isinstance(value, dict) and value and all(isinstance(t, Tensor) for t in value.values()):
        keys = list(value)
        if all(isinstance(k, str) for k in keys):
            name = "x_dict"
        elif all(isinstance(k, tuple) and len(k) == 3 for k in keys):
            first = next(iter(value.values()))
            name = ("edge_index_dict" if not first.is_floating_point() and first.dim() == 2 and first.size(0) == 2
                    else "edge_weight_dict" if first.dim() == 1 else "edge_attr_dict")
        else:
            return None
    elif isinstance(value, Tensor):
        name = ("edge_index" if not value.is_floating_point() and value.dim() == 2 and value.size(0) == 2
                else "x" if value.is_floating_point() else None)
    else:
        return None
    return name if name is not None and name not in taken else None


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
        example_inputs: example tensors, or dicts of them per node or edge type for a
            heterogeneous model (``None`` entries are passed through as ``None``); counts
            below 2 are padded for the trace, which would fix them to constants.
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
    names = list(input_names) if input_names is not None else _input_names(model, example_inputs)
    if dynamic:
        example_inputs = _widened(names, example_inputs)
    dynamic_shapes = None
    if dynamic:
        least = {"num_nodes": min_nodes, "num_edges": min_edges}
        dims: Dict[str, Any] = {}

        def dim(counts: str) -> Any:  # one Dim per count, shared by every input that has it
            if counts not in dims:
                dims[counts] = Dim(_identifier(counts), min=least[counts.split("__")[0]])
            return dims[counts]

        dynamic_shapes = []
        for name, value in zip(names, example_inputs):
            base = _base_name(name)
            if value is None or base not in DIM_OF_INPUT:
                dynamic_shapes.append(None)
            elif isinstance(value, dict):  # heterogeneous: a size per node or edge type
                axis, _ = DIM_OF_INPUT[base]
                dynamic_shapes.append({key: {axis: dim(counts_of(base, key))} for key in value})
            else:
                axis, counts = DIM_OF_INPUT[base]
                dynamic_shapes.append({axis: dim(counts)})
        dynamic_shapes = _by_signature(model, dynamic_shapes)
    with evaluating(model):
        program = torch.export.export(model, example_inputs, dynamic_shapes=dynamic_shapes)
    program.graph_module.meta[INPUT_NAMES_META] = names
    return program


def _widened(names: Sequence[str], inputs: Tuple[Any, ...]) -> Tuple[Any, ...]:
    """The example inputs with every count below 2 padded to 2 with zeros (node index 0):
    torch.export fixes sizes 0 and 1 to constants, and a sampled batch often has a relation
    without edges. Only the trace sees the padding; the program accepts any size."""
    entries = []  # (position, key or None, base name, tensor)
    for position, (name, value) in enumerate(zip(names, inputs)):
        base = _base_name(name)
        if base not in DIM_OF_INPUT:
            continue
        items = value.items() if isinstance(value, dict) else [(None, value)]
        entries += [(position, key, base, t) for key, t in items if isinstance(t, Tensor)]

    def counts(base: str, key: Any) -> str:
        return DIM_OF_INPUT[base][1] if key is None else counts_of(base, key)

    small = {counts(b, k) for _, k, b, t in entries if t.size(DIM_OF_INPUT[b][0]) < 2}
    if not small:
        return inputs
    out = [dict(v) if isinstance(v, dict) else v for v in inputs]
    for position, key, base, tensor in entries:
        axis = DIM_OF_INPUT[base][0]
        if counts(base, key) in small and tensor.size(axis) < 2:
            shape = list(tensor.shape)
            shape[axis] = 2 - tensor.size(axis)
            padded = torch.cat([tensor, tensor.new_zeros(shape)], dim=axis)
            if key is None:
                out[position] = padded
            else:
                out[position][key] = padded
    return tuple(out)


def _base_name(name: str) -> str:
    """``x_dict`` reads as ``x``: PyG's spelling of a heterogeneous argument."""
    return name[:-5] if name.endswith("_dict") else name


def _identifier(text: str) -> str:
    return "".join(c if c.isalnum() or c == "_" else "_" for c in text)


def type_name(key: Any) -> str:
    """A node or edge type as it appears in input names: ``paper``, ``author__writes__paper``."""
    return "__".join(key) if isinstance(key, (tuple, list)) else str(key)


def counts_of(base: str, key: Any) -> str:
    """What sizes an input of a heterogeneous argument: ``num_nodes__paper`` for a node type
    key, ``num_edges__author__writes__paper`` for an edge type key."""
    return f"{'num_edges' if isinstance(key, (tuple, list)) else 'num_nodes'}__{type_name(key)}"


def _index_counts(base: str, key: Any) -> Optional[List[str]]:
    """The node counts that bound the two rows of an ``edge_index`` input."""
    if base != "edge_index":
        return None
    if key is None:
        return ["num_nodes", "num_nodes"]
    return [f"num_nodes__{key[0]}", f"num_nodes__{key[-1]}"] if isinstance(key, (tuple, list)) else None


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
    for placeholder, (arg, base, key) in zip(user_inputs, _flat_inputs(ep)):
        fake = placeholders[placeholder].meta.get("val")
        if not isinstance(fake, torch.Tensor):
            continue
        name = base if key is None else f"{base}__{type_name(key)}"
        axis, counts = DIM_OF_INPUT.get(base, (None, None))
        if key is not None and counts is not None:
            counts = counts_of(base, key)
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
        inputs.append({"name": name, "arg": arg, "key": list(key) if isinstance(key, tuple) else key,
                       "dtype": str(fake.dtype).replace("torch.", ""), "shape": shape,
                       "dynamic_axis": axis, "counts": counts, "index_counts": _index_counts(base, key)})
    outputs = []
    output_node = next(n for n in ep.graph.nodes if n.op == "output")
    values = output_node.args[0] if isinstance(output_node.args[0], (list, tuple)) else [output_node.args[0]]
    names = _output_names(ep, list(output_names), len(values))
    spec = ep.call_spec.out_spec
    keys = list(spec.context) if _is_dict_spec(spec) else [None] * len(names)
    for name, key, node in zip(names, keys, values):
        val = node.meta.get("val") if hasattr(node, "meta") else None
        if isinstance(val, torch.Tensor):
            outputs.append({"name": name, "dtype": str(val.dtype).replace("torch.", ""),
                            "shape": [int(s) if isinstance(s, int) else -1 for s in val.shape], "key": key})
    return {"gnnx_version": gnnx.__version__, "torch_version": torch.__version__,
            "inputs": inputs, "outputs": outputs, "minimum_sizes": minimum}


def _flat_inputs(ep: ExportedProgram) -> List[Tuple[int, str, Any]]:
    """``(argument position, argument name, type key or None)`` of each flat input, in the
    program's order: a dict argument (``x_dict``) gives one input per key."""
    spec = ep.call_spec.in_spec
    leaves = tree_flatten_with_path(tree_unflatten(list(range(spec.num_leaves)), spec))[0]
    params = ep.graph_module.meta.get(INPUT_NAMES_META)
    if params is None:
        try:
            params = list(inspect.signature(ep.module().forward).parameters)
        except (TypeError, ValueError):
            params = []
    flat = []
    for path, _ in leaves:
        keys = [getattr(k, "idx", getattr(k, "key", None)) for k in path]
        if keys and keys[0] == 1:  # a keyword argument: (1, name[, key])
            arg, base = -1, str(keys[1])
            key = keys[2] if len(keys) > 2 else None
        else:
            arg = keys[1]
            base = _base_name(params[arg]) if arg < len(params) else f"input{arg}"
            key = keys[2] if len(keys) > 2 else None
        flat.append((arg, base, key))
    return flat


def _is_dict_spec(spec: Optional[TreeSpec]) -> bool:
    """Whether a program's output is a dict (per node type)."""
    return spec is not None and spec.type in (dict, getattr(torch.fx.immutable_collections, "immutable_dict", dict))


def _output_names(ep: ExportedProgram, given: List[str], count: int) -> List[str]:
    """``out`` (or the names given) for tensor outputs, ``out__paper`` for a dict output."""
    spec = ep.call_spec.out_spec
    if _is_dict_spec(spec):
        base = given[0] if given else "out"
        return [f"{base}__{type_name(key)}" for key in spec.context]
    return given + [f"out{i}" for i in range(len(given), count)]


def save(ep: ExportedProgram, path: str, output_names: Sequence[str] = ("out",),
         extra: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """Write ``ep`` to ``path`` (a ``.pt2`` archive) with its metadata; returns the metadata."""
    metadata = metadata_of(ep, output_names)
    metadata.update(extra or {})
    torch.export.save(ep, path, extra_files={METADATA_FILE: json.dumps(metadata)})
    return metadata


def type_key(key: Any) -> Any:
    """A node or edge type key as the model's dicts hold it: JSON (metadata) and
    ``torch.export``'s serialisation turn edge-type tuples into lists."""
    return tuple(key) if isinstance(key, list) else key


class CheckedModel:
    """A deployed program (exported or AOTInductor-compiled) behind input checks.

    Call it like the model (dicts per node or edge type for a heterogeneous one); inputs are
    checked against :attr:`metadata` first (rank, dtype, fixed sizes, sizes that must agree,
    index range of each ``edge_index``, NaN, minimum sizes), since neither kind of program
    checks them itself. :meth:`run_flat` takes and returns the flat, named tensors that the
    C++ runner and the server see (``x__paper``, ``edge_index__author__writes__paper``).
    """

    def __init__(self, run, metadata: Dict[str, Any]) -> None:
        self._run = run
        self.metadata = metadata

    def flatten(self, inputs: Sequence[Any]) -> List[Any]:
        """The call's inputs in the program's flat order (dict entries by type key)."""
        from gnnx.export.checks import InputError

        specs = self.metadata.get("inputs", [])
        if not any(spec.get("key") is not None for spec in specs):
            return list(inputs)
        flat = []
        for spec in specs:
            arg, key = spec["arg"], spec["key"]
            key = type_key(key)
            value = inputs[arg] if 0 <= arg < len(inputs) else None
            if key is not None:
                if not isinstance(value, dict):
                    raise InputError(f"{spec['name']}: argument {arg} must be a dict keyed by type, "
                                     f"got {type(value).__name__}")
                if key not in value:
                    raise InputError(f"{spec['name']}: no entry for type {key!r}")
                value = value[key]
            flat.append(value)
        known = {(spec["arg"], type_key(spec["key"])) for spec in specs}
        for arg, value in enumerate(inputs):
            if isinstance(value, dict):
                unknown = [key for key in value if (arg, key) not in known]
                if unknown:
                    raise InputError(f"argument {arg}: types {unknown} are not inputs of this program")
        return flat

    def structure(self, flat: Sequence[Any]) -> Tuple[Any, ...]:
        """Flat inputs back into the program's arguments (dicts in the exported key order)."""
        specs = self.metadata.get("inputs", [])
        if not any(spec.get("key") is not None for spec in specs):
            return tuple(flat)
        args: Dict[int, Any] = {}
        for spec, value in zip(specs, flat):
            key = spec["key"]
            if key is None:
                args[spec["arg"]] = value
            else:
                args.setdefault(spec["arg"], {})[type_key(key)] = value
        return tuple(args[i] for i in sorted(args))

    def check(self, *inputs: Any) -> None:
        check_inputs(self.metadata, self.flatten(inputs))

    def __call__(self, *inputs: Any) -> Any:
        return self._run_checked(self.flatten(inputs))

    def run_flat(self, *flat: Tensor) -> List[Tensor]:
        """Checked run on flat named inputs (in metadata order); flat outputs (metadata order)."""
        out = self._run_checked(list(flat))
        return list(out.values()) if isinstance(out, dict) else list(out) if isinstance(out, (list, tuple)) else [out]

    def _run_checked(self, flat: List[Any]) -> Any:
        check_inputs(self.metadata, flat)
        return self._run(*self.structure(self._prepare(flat)))

    def _prepare(self, flat: List[Any]) -> List[Any]:
        return flat


class ExportedModel(CheckedModel):
    """A saved exported program loaded back (:func:`load`)."""

    def __init__(self, ep: ExportedProgram, metadata: Dict[str, Any]) -> None:
        super().__init__(ep.module(), metadata)
        self.program = ep


def _tuple_keys(spec: TreeSpec) -> TreeSpec:
    """``spec`` with edge-type dict keys as tuples again: a saved program's spec holds them
    as lists (torch.export's serialisation), which no dict of edge types can match."""
    if spec.is_leaf():
        return spec
    context = spec.context
    if spec.type is dict and isinstance(context, list):
        context = [type_key(k) for k in context]
    children = spec.children() if callable(getattr(spec, "children", None)) else spec.children_specs
    return TreeSpec(spec.type, context, [_tuple_keys(child) for child in children])


def load(path: str) -> ExportedModel:
    """Load a program written by :func:`save` (no model source needed)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(path)
    extra = {METADATA_FILE: ""}
    ep = torch.export.load(path, extra_files=extra)
    for entry in ep.module_call_graph[:1]:
        if entry.signature is not None:
            entry.signature.in_spec = _tuple_keys(entry.signature.in_spec)
            entry.signature.out_spec = _tuple_keys(entry.signature.out_spec)
    metadata = json.loads(extra[METADATA_FILE]) if extra[METADATA_FILE] else {}
    return ExportedModel(ep, metadata)
