r"""``gnnx.compile(model)``: one call that makes code written the PyG way fast.

The API of ``torch_geometric.compile``: the returned module is called exactly as the
model was, with plain tensors (``model(x, edge_index)``), in an ordinary training loop
(``loss.backward(); optimizer.step()`` outside) or in inference. Around
``torch.compile(model, fullgraph=True, dynamic=True)`` it adds, per call and outside
the compiled graph:

1. **Structure, once per graph.** Every bare ``edge_index`` argument is looked up in the
   structure cache (:mod:`gnnx.ops.dispatch`: keyed by the tensor's identity, version
   counter, device and node count) and replaced by its prepared :class:`~gnnx.Graph`,
   so the compiled model runs the CSR kernels (Triton on CUDA, MKL on CPU) without
   sorting anything. Per-structure results (GCN weights, GAT's CSR with self loops) are
   computed once per graph by the layers' ``prepare_structure`` hooks and stored with it.
2. **CUDA graphs** (CUDA only, ``cuda_graphs=True`` by default): forward and backward are
   captured once per input shape (:func:`torch.cuda.make_graphed_callables`) and
   replayed, so a step costs a few launches instead of one per kernel. The first size
   seen runs as it is; other sizes are padded to size buckets (each at most
   ``bucket_growth`` times the last; padded nodes are isolated, padded edges join padded
   nodes only) and outputs sliced back, so mini-batches of varying size replay a few
   graphs. Models whose results mix nodes (batch statistics, pooling over a ``batch``
   vector) are not padded, only captured per shape. Where capture cannot work the
   compiled model runs uncaptured, and a warning says why, once.
3. **Heterogeneous calls** (dicts per node type and relation, with or without the per-hop
   counts of a trimmed model) are captured and replayed as well, padded per type and hop
   to capacities that only grow (:mod:`gnnx._compile_hetero`).
"""
from __future__ import annotations

import inspect
import math
import warnings
from typing import Any, Callable, Dict, List, Optional, Tuple

import torch
from torch import Tensor

from gnnx import _replay as replay
from gnnx._compile_hetero import HeteroReplay, TooManyShapes, read_call
from gnnx.graph import CSR, Graph, build_csr
from gnnx.nn.sparse_input import read_sparse_inputs
from gnnx.ops import dispatch
from gnnx.utils.eval_pass import eval_pass

EDGE_INDEX_NAMES = ("edge_index",)
EDGE_TENSOR_NAMES = ("edge_weight", "edge_attr")
MAX_CAPTURED_SHAPES = 16
# Failed captures before CUDA graphs go off for the model: a later call captures again. On the
# H200 one capture among many of the same model failed now and then (invalidated, cause not
# found: sessions 20, 21 and 25), and going off at once made the rest of that run 3x slower.
CAPTURE_ATTEMPTS = 2
PAD_EDGES_PER_NODE = 16


def compile(model: Optional[torch.nn.Module] = None, *, cuda_graphs: bool = True, bucket_growth: float = 1.25,
            **compile_kwargs: Any):
    """Compile ``model`` for plain-tensor calls (module docstring); usable as a decorator.

    Args:
        model: a module whose ``forward`` takes ``edge_index`` (and ``x``) by those names.
        cuda_graphs: capture and replay CUDA graphs on CUDA inputs.
        bucket_growth: ratio between consecutive size buckets (padding waste at most
            ``bucket_growth - 1``).
        **compile_kwargs: passed to :func:`torch.compile` (default ``fullgraph=True,
            dynamic=True``).
    """
    if model is None:
        return lambda m: compile(m, cuda_graphs=cuda_graphs, bucket_growth=bucket_growth, **compile_kwargs)
    return CompiledModel(model, cuda_graphs=cuda_graphs, bucket_growth=bucket_growth, **compile_kwargs)


def bucket(size: int, growth: float, minimum: int = 16) -> int:
    """The smallest bucket ``>= size + 1`` (one spare row for padding) of the sequence
    ``minimum * growth**k``, rounded up to a multiple of 8."""
    size = max(size + 1, minimum)
    k = math.ceil(math.log(size / minimum, growth) - 1e-9)
    value = int(math.ceil(minimum * growth ** k))
    while value < size:
        value = int(math.ceil(value * growth))
    return (value + 7) // 8 * 8


# Modules whose result mixes nodes (statistics over all rows): padding would change them.
_NODE_MIXING = ("BatchNorm", "GraphNorm", "InstanceNorm", "PairNorm", "LayerNorm", "DiffGroupNorm",
                "GraphSizeNorm", "Pooling", "Aggregation", "Set2Set")


def _mixes_nodes(model: torch.nn.Module) -> Optional[str]:
    for module in model.modules():
        name = type(module).__name__
        if any(token in name for token in _NODE_MIXING):
            return name
    return None


class CompiledModel(torch.nn.Module):
    """What :func:`compile` returns: the model, compiled, called as the model is.

    ``state_dict``/``load_state_dict`` are the model's own (no key prefix);
    ``self._orig_mod`` is the model. ``cuda_graph_fallback`` holds the reason CUDA
    graphs are not used, if any, and ``cuda_graph_error`` the exception (with its traceback)
    where a capture failed.
    """

    def __init__(self, model: Callable, cuda_graphs: bool = True, bucket_growth: float = 1.25,
                 **compile_kwargs: Any) -> None:
        super().__init__()
        self._orig_mod = model
        kwargs = {"fullgraph": True, "dynamic": True}
        kwargs.update(compile_kwargs)
        self._compiled = torch.compile(model, **kwargs)
        self._signature = inspect.signature(model.forward if isinstance(model, torch.nn.Module) else model)
        self.cuda_graphs = cuda_graphs
        self.bucket_growth = bucket_growth
        self.cuda_graph_fallback: Optional[str] = None
        self.cuda_graph_error: Optional[BaseException] = None
        self.capture_failures = 0
        # Padding to buckets is exact only for models whose rows do not mix (no batch statistics,
        # no pooling): decided once from the module types, not per call.
        self._pads = isinstance(model, torch.nn.Module) and _mixes_nodes(model) is None
        self._unpadded: Optional[Tuple[int, int]] = None  # (nodes, edges) of the size run as it is
        self._captured: Dict[tuple, Callable] = {}
        self._hetero = HeteroReplay(self._compiled, model, self._signature, bucket_growth) if self._pads else None
        self._lazy = isinstance(model, torch.nn.Module) and any(
            isinstance(p, torch.nn.parameter.UninitializedParameter) for p in model.parameters())

    # -- the model's own interface ------------------------------------------------------------
    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:  # the model's own attributes (compiled.conv1, ...), as torch.compile's
            model = self.__dict__.get("_modules", {}).get("_orig_mod", self.__dict__.get("_orig_mod"))
            if model is None:
                raise
            return getattr(model, name)

    def state_dict(self, *args, **kwargs):
        return self._orig_mod.state_dict(*args, **kwargs)

    def load_state_dict(self, *args, **kwargs):
        return self._orig_mod.load_state_dict(*args, **kwargs)

    def __repr__(self) -> str:
        return f"gnnx.compile({self._orig_mod!r})"

    # -- the call ---------------------------------------------------------------------------
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        if isinstance(self._orig_mod, torch.nn.Module):
            # PyG's sparse adjacency formats become edge_index (+ edge_weight) outside the graph
            converted = read_sparse_inputs(self._orig_mod, args, kwargs, keep_matrix=False)
            if converted is not None:
                args, kwargs = converted
        if self._lazy:
            self._materialize(args, kwargs)
        bound = self._signature.bind(*args, **kwargs)
        arguments = bound.arguments
        if self._hetero is not None and self.cuda_graphs and self.cuda_graph_fallback is None:
            out = self._replay_hetero(arguments)
            if out is not None:
                return out
        x = arguments.get("x")
        if isinstance(x, dict) and self._pads:  # heterogeneous: x_dict, edge_index_dict, ...
            return self._run_hetero(bound)
        if isinstance(x, Tensor):
            num_dst = num_src = x.size(0)
        elif isinstance(x, (tuple, list)) and len(x) == 2 and all(isinstance(t, Tensor) for t in x):
            num_src, num_dst = x[0].size(0), x[1].size(0)
        else:
            return self._compiled(*bound.args, **bound.kwargs)
        graph = None
        for name in EDGE_INDEX_NAMES:
            value = arguments.get(name)
            if isinstance(value, Tensor):
                value = arguments[name] = dispatch.as_int64(value)  # PyG's layers take int32
            if isinstance(value, Tensor) and dispatch.uses_csr(value.device):
                graph = self._structure(value, num_dst, num_src, x)
                arguments[name] = graph
        if graph is not None and graph.edge_index.is_cuda and self.cuda_graphs and self.cuda_graph_fallback is None:
            return self._replay(arguments, graph, num_dst)
        if graph is not None and self._pads and num_src == num_dst and min(num_dst, graph.num_edges) < 2:
            return self._run_tiny(arguments, graph, num_dst)
        return self._compiled(*bound.args, **bound.kwargs)

    def _run_tiny(self, arguments: Dict[str, Any], graph: Graph, num_nodes: int) -> Any:
        """A graph of one node or fewer than two edges, padded to two of each (padded edges
        join a padded node; rows do not mix in this model): Dynamo specialises sizes 0 and 1,
        so running them as they are would compile the model again for each."""
        cols = max(2, graph.num_edges)
        rows = max(2, num_nodes) + (1 if cols > graph.num_edges else 0)
        padded = self._padded_inputs(arguments, graph, num_nodes, sizes=(rows, cols))
        if padded is None:
            return self._compiled(**arguments)
        inputs, structure, rows = padded
        self._prepare_layers(structure, inputs["x"])
        name = next(n for n in EDGE_INDEX_NAMES if isinstance(arguments.get(n), Graph))
        inputs[name] = structure
        # Called the way the other calls are (positional as bound), so the frame is reused.
        bound = self._signature.bind_partial(**inputs)
        return _slice_rows(self._compiled(*bound.args, **bound.kwargs), rows, num_nodes)

    def _run_hetero(self, bound: inspect.BoundArguments) -> Any:
        """Dict inputs as they are, unless a node type has fewer than two nodes or a relation
        fewer than two edges (common in sampled mini-batches): Dynamo specialises sizes 0 and
        1, so then every node type gets two padded rows and every small relation padded edges
        between them (padded rows are dropped from the outputs; rows do not mix in this model).
        Per-hop counts (``num_sampled_nodes_dict``, ``num_sampled_edges_dict``, for
        ``trim_to_layer``) count the padding in the last hop, so trimming drops it with it."""
        arguments = bound.arguments
        counts = {t: v.size(0) for t, v in arguments["x"].items() if isinstance(v, Tensor)}
        missing = {key: max(0, 2 - v.size(1)) for name, value in arguments.items()
                   if name in EDGE_INDEX_NAMES and isinstance(value, dict)
                   for key, v in value.items() if isinstance(v, Tensor)}
        if min(counts.values(), default=2) >= 2 and not any(missing.values()):
            return self._compiled(*bound.args, **bound.kwargs)
        padded = dict(arguments)
        for name, value in arguments.items():
            if isinstance(value, dict) and _hop_counts(value):
                padded[name] = _counts_with_padding(value, counts, missing)
            elif isinstance(value, dict):
                padded[name] = {key: _pad_typed(name, key, item, counts, missing) for key, item in value.items()}
        bound = self._signature.bind_partial(**padded)
        out = self._compiled(*bound.args, **bound.kwargs)
        if isinstance(out, dict):
            return {t: o[:counts[t]] if isinstance(o, Tensor) and t in counts and o.dim() > 0
                    and o.size(0) == counts[t] + 2 else o for t, o in out.items()}
        return out

    def _materialize(self, args: tuple, kwargs: Dict[str, Any]) -> None:
        """Lazy parameters (``in_channels=-1``) take their shapes from one eager call, as in
        eager PyG: under ``dynamic=True`` the feature width would be symbolic. Eval mode and
        no grad, so batch statistics and autograd see nothing of it."""
        eval_pass(self._orig_mod, args, kwargs)
        self._lazy = False

    def _structure(self, edge_index: Tensor, num_dst: int, num_src: int, x: Any) -> Graph:
        graph = dispatch.structure_cache.get(edge_index, num_dst, num_src)
        self._prepare_layers(graph, x)
        return graph

    def _prepare_layers(self, graph: Graph, x: Any) -> None:
        """Run the layers' per-structure precomputations once per graph (eagerly, stored
        in the graph's memo), so the compiled code only reads them."""
        if graph._memo.get(("prepared", id(self))):
            return
        sample = x if isinstance(x, Tensor) else x[1]
        modules = self._orig_mod.modules() if isinstance(self._orig_mod, torch.nn.Module) else ()
        with torch.no_grad():
            for module in modules:
                hook = getattr(module, "prepare_structure", None)
                if hook is not None:
                    hook(graph, sample)
        graph._memo[("prepared", id(self))] = True

    # -- CUDA graphs ----------------------------------------------------------------------------
    def _replay(self, arguments: Dict[str, Any], graph: Graph, num_nodes: int) -> Any:
        padded = self._padded_inputs(arguments, graph, num_nodes)
        if padded is None:
            return self._compiled(**arguments)
        inputs, structure, rows = padded
        self._prepare_layers(structure, inputs["x"])
        leaves: List[Tensor] = []
        layout = _flatten(structure, leaves)
        tensors = [t for t in inputs.values() if isinstance(t, Tensor)] + leaves
        key = (tuple((n, tuple(t.shape), t.dtype, t.requires_grad) if isinstance(t, Tensor) else (n, t)
                     for n, t in inputs.items()),
               repr(layout), tuple(t.shape for t in leaves), getattr(self._orig_mod, "training", False),
               torch.is_grad_enabled(), replay.modes())
        runner = self._captured.get(key)
        if runner is None:
            if len(self._captured) >= MAX_CAPTURED_SHAPES:
                self._fall_back(f"more than {MAX_CAPTURED_SHAPES} input shapes")
                return self._compiled(**arguments)
            flat = _FlatCall(self._compiled, self._orig_mod, inputs, layout)
            try:
                with replay.uncached_autocast():
                    runner = replay.capture(flat, tensors)
            except Exception as error:  # capture is an optimisation: run uncaptured, say why
                self._capture_failed(error)
                return self._compiled(**arguments)
            self._captured[key] = runner
        elif runner.busy():  # its last replay awaits its backward: this call runs uncaptured
            return self._compiled(**arguments)
        return _slice_rows(runner(*tensors), rows, num_nodes)

    def _replay_hetero(self, arguments: Dict[str, Any]) -> Any:
        """A heterogeneous CUDA call replayed from a CUDA graph (:mod:`gnnx._compile_hetero`),
        or ``None`` where it runs uncaptured."""
        call = read_call(arguments)
        if call is None or call.device.type != "cuda":
            return None
        try:
            return self._hetero.run(arguments, call, MAX_CAPTURED_SHAPES)
        except TooManyShapes as error:
            self._fall_back(str(error))
        except Exception as error:  # capture is an optimisation: run uncaptured, say why
            self._capture_failed(error, "heterogeneous ")
        return None

    def _capture_failed(self, error: BaseException, kind: str = "") -> None:
        """Count a failed capture: this call runs uncaptured, and CUDA graphs go off for the
        model at the ``CAPTURE_ATTEMPTS``-th failure (before it, a later call captures again)."""
        self.capture_failures += 1
        self.cuda_graph_error = error
        first_line = next(iter(str(error).splitlines()), "")  # CUDA errors run to several lines
        reason = f"{kind}capture failed: {type(error).__name__}: {first_line}"
        if self.capture_failures >= CAPTURE_ATTEMPTS:
            self._fall_back(reason, error, stacklevel=5)
        else:
            warnings.warn(f"gnnx.compile: {reason} ({self.capture_failures} of {CAPTURE_ATTEMPTS} failures before "
                          f"CUDA graphs go off for {type(self._orig_mod).__name__}); this call runs without them",
                          stacklevel=5)

    def _fall_back(self, reason: str, error: Optional[BaseException] = None, stacklevel: int = 4) -> None:
        self.cuda_graph_fallback, self.cuda_graph_error = reason, error
        warnings.warn(f"gnnx.compile: CUDA graphs off for {type(self._orig_mod).__name__} ({reason}); "
                      f"running the compiled model without them", stacklevel=stacklevel)

    def _runs_unpadded(self, rows: int, cols: int) -> bool:
        """Whether a graph of this size runs without padding: the first size the model sees
        does (a full-graph loop repeats it, and padding would only add work: +18 % edges on
        the seed graph); every other size goes to a bucket, so varying sizes share a few."""
        if self._unpadded is None:
            self._unpadded = (rows, cols)
        return self._unpadded == (rows, cols)

    def _padded_inputs(self, arguments: Dict[str, Any], graph: Graph, num_nodes: int,
                       sizes: Optional[Tuple[int, int]] = None):
        """``(inputs, structure, rows)`` with node and edge inputs padded to size buckets (or
        to ``sizes``, ``(rows, edges)``), or ``None`` where the call is not captured."""
        tensors = {n: v for n, v in arguments.items() if isinstance(v, Tensor)}
        if set(tensors) - {"x", *EDGE_TENSOR_NAMES}:
            return None  # node inputs beyond x (e.g. a batch vector): not captured
        if any(isinstance(v, (tuple, list)) for v in arguments.values()):
            return None  # bipartite inputs
        rows, cols = num_nodes, graph.num_edges
        if sizes is not None:
            rows, cols = sizes
        elif self._pads and not self._runs_unpadded(rows, cols):
            cols = bucket(cols, self.bucket_growth)
            # Enough padded nodes that none holds more than PAD_EDGES_PER_NODE padded edges:
            # a kernel walks a row's edges serially, so one padded hub would be the long pole.
            spare = -(-(cols - graph.num_edges) // PAD_EDGES_PER_NODE)
            rows = bucket(rows + spare, self.bucket_growth)
        structure = graph
        if (rows, cols) != (num_nodes, graph.num_edges):
            structure = graph.memo(("padded", rows, cols), lambda: _padded_graph(graph, rows, cols))
        inputs: Dict[str, Any] = {}
        for name, value in arguments.items():
            if isinstance(value, Graph):
                continue
            if name == "x":
                value = _pad_rows(value, rows)
            elif name in EDGE_TENSOR_NAMES and isinstance(value, Tensor):
                value = _pad_rows(value, cols)
            inputs[name] = value
        return inputs, structure, rows


def _pad_rows(t: Tensor, rows: int) -> Tensor:
    if t.size(0) == rows:
        return t
    return torch.cat([t, t.new_zeros((rows - t.size(0),) + tuple(t.shape[1:]))])


def _pad_typed(name: str, key: Any, value: Any, counts: Dict[str, int], missing: Dict[Any, int]) -> Any:
    """One entry of a heterogeneous input, padded for :meth:`Compiled._run_hetero`: a node
    type's rows get two zero rows; a relation's ``edge_index`` gets ``missing[key]`` edges
    from the padded source row to the padded destination row, its other edge inputs as
    many zero rows."""
    if not isinstance(value, Tensor):
        return value
    if isinstance(key, str):
        return torch.cat([value, value.new_zeros(2, *value.shape[1:])]) if key in counts else value
    extra = missing.get(key, 0)
    if not extra:
        return value
    if name in EDGE_INDEX_NAMES:
        src, _, dst = key
        pad = torch.tensor([[counts[src]], [counts[dst]]], dtype=value.dtype, device=value.device)
        return torch.cat([value, pad.expand(2, extra)], 1)
    return torch.cat([value, value.new_zeros(extra, *value.shape[1:])])


def _hop_counts(value: Dict[Any, Any]) -> bool:
    """Whether ``value`` holds per-hop counts per node or edge type (lists of ints)."""
    return bool(value) and all(isinstance(v, (list, tuple)) and all(isinstance(c, int) for c in v)
                               for v in value.values())


def _counts_with_padding(value: Dict[Any, Any], counts: Dict[str, int], missing: Dict[Any, int]) -> Dict[Any, Any]:
    """Per-hop counts with :func:`_pad_typed`'s padding added to each type's last hop: two
    rows per node type, ``missing[key]`` edges per relation (a copy; the caller's stay)."""
    def extra(key: Any) -> int:
        return (2 if key in counts else 0) if isinstance(key, str) else missing.get(key, 0)

    return {key: type(hops)([*hops[:-1], hops[-1] + extra(key)]) if hops else hops for key, hops in value.items()}


def _slice_rows(out: Any, rows: int, num_nodes: int) -> Any:
    if isinstance(out, Tensor):
        return out[:num_nodes] if rows != num_nodes and out.dim() > 0 and out.size(0) == rows else out
    if isinstance(out, tuple):
        return tuple(_slice_rows(o, rows, num_nodes) for o in out)
    return out


def _padded_graph(graph: Graph, rows: int, cols: int) -> Graph:
    """``graph`` with ``rows - N`` padded nodes and ``cols - E`` padded edges, self loops
    spread round-robin over the padded nodes: real nodes see exactly their own
    neighbourhoods, and no padded node becomes a hub."""
    device = graph.edge_index.device
    spare = rows - graph.num_nodes
    pad = graph.num_nodes + torch.arange(cols - graph.num_edges, device=device) % spare
    edge_index = torch.cat([graph.edge_index, pad.expand(2, -1)], 1)
    return Graph(edge_index, rows, validate=False, csr=build_csr(edge_index, rows))


# -- a prepared graph as a flat list of tensors (what capture takes) and back ----------------------
def _flatten(value: Any, leaves: List[Tensor]) -> Any:
    """A layout of ``value`` with its tensors appended to ``leaves`` (Graphs, with their
    memo, CSRs, tuples and lists are walked; other values are kept in the layout)."""
    if isinstance(value, Tensor):
        leaves.append(value)
        return ("T",)
    if isinstance(value, Graph):  # leaves in the order _unflatten reads them: edges, CSR, memo
        edge_layout, csr_layout = _flatten(value.edge_index, leaves), _flatten(value.csr, leaves)
        memo = tuple((k, _flatten(v, leaves)) for k, v in value._memo.items() if not _is_mark(k))
        return ("G", value.num_nodes, edge_layout, csr_layout, memo)
    if isinstance(value, CSR):
        return ("C", tuple(_flatten(v, leaves) for v in value))
    if isinstance(value, (tuple, list)):
        return ("L", type(value) is list, tuple(_flatten(v, leaves) for v in value))
    return ("V", value)


def _unflatten(layout: Any, leaves) -> Any:
    kind = layout[0]
    if kind == "T":
        return next(leaves)
    if kind == "G":
        _, num_nodes, edge_layout, csr_layout, memo = layout
        edge_index = _unflatten(edge_layout, leaves)
        graph = Graph(edge_index, num_nodes, validate=False, csr=_unflatten(csr_layout, leaves))
        graph._memo = {k: _unflatten(v, leaves) for k, v in memo}
        return graph
    if kind == "C":
        return CSR(*(_unflatten(v, leaves) for v in layout[1]))
    if kind == "L":
        items = [_unflatten(v, leaves) for v in layout[2]]
        return items if layout[1] else tuple(items)
    return layout[1]


def _is_mark(key: Any) -> bool:
    return isinstance(key, tuple) and len(key) > 0 and key[0] in ("prepared", "padded")


class _FlatCall(torch.nn.Module):
    """The compiled model as a function of tensors only, for capture: the tensors of
    ``inputs`` (in order), then the leaves of the structure's layout."""

    def __init__(self, compiled: Callable, model: torch.nn.Module, inputs: Dict[str, Any], layout: Any) -> None:
        super().__init__()
        self.model = model  # registered, so that capture sees its parameters
        self._call = compiled
        self._template = inputs
        self._layout = layout

    def forward(self, *tensors: Tensor) -> Any:
        values = iter(tensors)
        arguments = {n: next(values) if isinstance(v, Tensor) else v for n, v in self._template.items()}
        arguments["edge_index"] = _unflatten(self._layout, values)
        return self._call(**arguments)
