r"""``to_hetero``: a homogeneous model made heterogeneous, as PyG's (R-GCN's scheme).

The model is traced with :mod:`torch.fx` (every submodule a leaf but ``Sequential``, whose
members are traced one by one, as in PyG). Each traced value is *node-level*, *edge-level*
or *graph-level*: an input named like ``edge_*`` / ``adj*`` is edge-level, any other input
node-level (``input_map`` overrides); a message-passing layer gives node-level values, a
global readout (an :class:`~gnnx.nn.aggr.Aggregation` module) a graph-level one, and any
other call the highest level of its arguments. The rewritten graph computes each node-level
value once per node type and each edge-level value once per edge type; a message-passing
layer :math:`f^{(\ell)}` becomes one copy :math:`f^{(\ell, r)}` per relation,

.. math::
    \mathbf{h}^{(\ell)}_v = \bigoplus_{r = (s, \cdot, d)}
    f^{(\ell, r)}\big((\mathbf{H}^{(\ell-1)}_s, \mathbf{H}^{(\ell-1)}_d), \mathcal{E}_r\big)_v ,

grouped per destination type with ``aggr``; other modules get one copy per node (or edge)
type. Copies live in ``torch.nn.ModuleDict``\ s keyed by PyG's names (``"paper"``,
``"author__writes__paper"``), so ``conv1.author__writes__paper.lin_l.weight`` is the same
state-dict key as in a PyG ``to_hetero`` model; each copy is re-initialised.

The result is a :class:`torch.fx.GraphModule` of straight-line code over dict inputs
(``model(x_dict, edge_index_dict)``), so it compiles with ``fullgraph=True, dynamic=True``
and exports with every per-type size dynamic.
"""
from __future__ import annotations

import copy
import inspect
import warnings
from collections import deque
from typing import Any, Dict, List, Optional, Tuple, Union

import torch
import torch.fx
from torch import Tensor

from gnnx.nn.aggr import Aggregation
from gnnx.nn.message_passing import MessagePassing
from gnnx.utils.edges import check_add_self_loops

NodeType = str
EdgeType = Tuple[str, str, str]
Metadata = Tuple[List[NodeType], List[EdgeType]]
Key = Union[NodeType, EdgeType]
LEVELS = ("node", "edge", "graph")


def key2str(key: Key) -> str:
    """PyG's module key of a node or edge type: ``author__writes__paper``."""
    key = "__".join(key) if isinstance(key, tuple) else key
    return key.replace(" ", "_").replace("-", "_").replace(":", "_")


def warn_unused_types(node_types: List[NodeType], edge_types: List[EdgeType]) -> None:
    """PyG's warnings: node types that no relation updates (none ends there), and type names
    that are not identifiers."""
    unused = sorted(set(node_types) - {dst for _, _, dst in edge_types})
    if unused:
        warnings.warn(f"There exist node types ({unused}) whose representations do not get updated during "
                      f"message passing as they do not occur as destination type in any edge type. This may "
                      f"lead to unexpected behavior.", stacklevel=3)
    for name in list(node_types) + [relation for _, relation, _ in edge_types]:
        if not name.isidentifier():
            warnings.warn(f"The type '{name}' contains invalid characters which may lead to unexpected behavior. "
                          f"To avoid any issues, ensure that your types only contain letters, numbers and "
                          f"underscores.", stacklevel=3)


def warn_baked_training_flags(graph: torch.fx.Graph) -> None:
    """PyG's warning: a function called with ``training=`` (``F.dropout(x, training=...)``) has
    its flag traced as a constant."""
    for node in graph.nodes:
        if node.op == "call_function" and "training" in node.kwargs:
            warnings.warn(f"Found function '{node.name}' with keyword argument 'training'. During FX tracing, "
                          f"this will likely be baked in as a constant value. Consider replacing this function "
                          f"by a module to properly encapsulate its training flag.", stacklevel=3)


def get_or_none(mapping: Optional[Dict[Any, Any]], key: Any) -> Any:
    """``mapping[key]``, or ``None`` for a missing type or a missing dict (as PyG)."""
    return None if mapping is None else mapping.get(key)


def require_types(mapping: Optional[Dict[Any, Any]], name: str, keys: Tuple[Key, ...]) -> Optional[Dict[Any, Any]]:
    """``mapping`` itself, or an error naming the types it lacks (a missing type would reach a
    layer as ``None`` and fail there without naming it)."""
    missing = [key for key in keys if mapping is None or key not in mapping]
    if missing:
        given = None if mapping is None else list(mapping)
        raise ValueError(f"to_hetero model: the input '{name}' has no {missing}, which the metadata's edge types "
                         f"use (given: {given})")
    return mapping


_PAIRWISE = {"sum": torch.add, "add": torch.add, "mean": torch.add, "max": torch.maximum, "min": torch.minimum,
             "mul": torch.mul}


def group_relations(aggr: str, *outputs: Tensor) -> Tensor:
    """The outputs of every relation reaching one node type, combined with ``aggr`` two at a
    time in PyG's order (a queue: the first two, then the next two, ...; ``mean`` divides the
    sum), so values round as PyG's do and keep their dtype under ``torch.autocast`` (a sum
    over a stack runs in fp32 there)."""
    queue = deque(outputs)
    while len(queue) >= 2:
        queue.append(_PAIRWISE[aggr](queue.popleft(), queue.popleft()))
    return queue[0] / len(outputs) if aggr == "mean" else queue[0]


class _Tracer(torch.fx.Tracer):
    """Every module is a leaf except ``Sequential`` (traced member by member), as in PyG."""

    def is_leaf_module(self, module: torch.nn.Module, qualified_name: str) -> bool:
        return not isinstance(module, torch.nn.Sequential)


def _submodule(module: torch.nn.Module, target: str) -> torch.nn.Module:
    for name in target.split("."):
        module = getattr(module, name)
    return module


def to_hetero(module: torch.nn.Module, metadata: Metadata, aggr: str = "sum",
              input_map: Optional[Dict[str, str]] = None, debug: bool = False) -> torch.fx.GraphModule:
    """Make ``module`` heterogeneous over ``metadata = (node_types, edge_types)``.

    Args:
        module: a homogeneous model, e.g. ``forward(x, edge_index)`` over gnnx layers.
        metadata: node types and ``(src, relation, dst)`` edge types
            (:meth:`gnnx.HeteroGraph.metadata`).
        aggr: how the relations reaching one node type combine: ``"sum"``, ``"mean"``,
            ``"max"``, ``"min"`` or ``"mul"``.
        input_map: ``{argument name: "node" | "edge"}`` where the name does not tell.
        debug: print the traced and the rewritten graph.
    Returns:
        a :class:`torch.fx.GraphModule` taking a dict per argument (``x_dict``,
        ``edge_index_dict``, ...) and returning a dict per node-level output.
    """
    if aggr not in ("sum", "mean", "max", "min", "mul"):
        raise ValueError(f"to_hetero: aggr must be sum, mean, max, min or mul, got {aggr!r}")
    node_types, edge_types = list(metadata[0]), [tuple(e) for e in metadata[1]]
    if not node_types or not edge_types:
        raise ValueError("to_hetero: metadata needs at least one node type and one edge type")
    warn_unused_types(node_types, edge_types)
    traced = torch.fx.GraphModule(module, _Tracer().trace(module))
    warn_baked_training_flags(traced.graph)
    if debug:
        traced.graph.print_tabular()
    rewriter = _Rewriter(module, traced.graph, node_types, edge_types, aggr, input_map or {})
    graph = rewriter.rewrite()
    root = torch.nn.Module()
    for name, parameter in module.named_parameters(recurse=False):
        root.register_parameter(name, parameter)
    for name, buffer in module.named_buffers(recurse=False):
        root.register_buffer(name, buffer)
    for name, child in module.named_children():
        root.add_module(name, rewriter.copy_per_type(child, name))
    hetero = torch.fx.GraphModule(root, graph)
    # fx rebuilds the path to each called copy from plain Modules; put the ModuleDicts back
    # (the same copies), so ``model.conv["paper__cites__paper"]`` works as in PyG, and keep
    # unused children too, as PyG does
    for name, child in root.named_children():
        hetero.add_module(name, child)
    graph.lint()
    hetero.recompile()
    if debug:
        hetero.graph.print_tabular()
    return hetero


class _Rewriter:
    """Builds the heterogeneous graph: each traced value becomes a single value (graph
    level) or a ``{type: value}`` map (node or edge level)."""

    def __init__(self, module: torch.nn.Module, traced: torch.fx.Graph, node_types: List[NodeType],
                 edge_types: List[EdgeType], aggr: str, input_map: Dict[str, str]) -> None:
        self.module, self.traced, self.aggr, self.input_map = module, traced, aggr, input_map
        self.types = {"node": node_types, "edge": edge_types}
        self.graph = torch.fx.Graph()
        self.level: Dict[torch.fx.Node, str] = {}
        self.value: Dict[torch.fx.Node, Any] = {}      # graph level: a node; else {type: node}
        self.per_type_targets: Dict[str, str] = {}     # module target -> "node" | "edge"
        self.checked: set = set()                      # levels whose first required input is checked

    # --- levels -----------------------------------------------------------------------
    def _level_of_arguments(self, node: torch.fx.Node) -> str:
        levels = {self.level[n] for n in node.all_input_nodes}
        return "edge" if "edge" in levels else "node" if "node" in levels else "graph"

    def _classify(self, node: torch.fx.Node) -> str:
        if node.op == "placeholder":
            level = self.input_map.get(node.name)
            if level is None:
                level = "edge" if ("edge" in node.name or "adj" in node.name) else "node"
            return level
        if node.op == "call_module":
            target = _submodule(self.module, node.target)
            if isinstance(target, MessagePassing):
                return "node"
            if isinstance(target, Aggregation):
                return "graph"
        if node.op == "get_attr":
            return "graph"
        return self._level_of_arguments(node)

    # --- arguments for one type ------------------------------------------------------
    def _argument(self, value: Any, key: Key, node: torch.fx.Node) -> Any:
        if isinstance(value, torch.fx.Node):
            mapped = self.value[value]
            if self.level[value] == "graph":
                return mapped
            if key in mapped:
                return mapped[key]
            if isinstance(key, tuple):       # a node-level value read by an edge-level call
                src, _, dst = key
                if src == dst and src in mapped:
                    return mapped[src]
                if src in mapped and dst in mapped:
                    return (mapped[src], mapped[dst])
            raise ValueError(f"to_hetero: '{node.name}' needs '{value.name}' for type {key!r}, which no "
                             f"relation computes (node types must receive messages to be updated)")
        if isinstance(value, (list, tuple)):
            return type(value)(self._argument(v, key, node) for v in value)
        if isinstance(value, dict):
            return {k: self._argument(v, key, node) for k, v in value.items()}
        return value

    def _arguments_for(self, node: torch.fx.Node, key: Key) -> Tuple[tuple, dict]:
        """``node``'s arguments as the copy for ``key`` reads them."""
        args = tuple(self._argument(a, key, node) for a in node.args)
        kwargs = {k: self._argument(v, key, node) for k, v in node.kwargs.items()}
        return args, kwargs

    def _per_type(self, node: torch.fx.Node, keys: List[Key]) -> Dict[Key, torch.fx.Node]:
        """A method or function call repeated per type."""
        return {key: self.graph.create_node(node.op, node.target, *self._arguments_for(node, key),
                                            name=f"{node.name}__{key2str(key)}") for key in keys}

    def _module_target(self, node: torch.fx.Node, level: str, key: Key) -> str:
        self.per_type_targets[node.target] = level
        return f"{node.target}.{key2str(key)}"

    # --- the rewrite -------------------------------------------------------------------
    def rewrite(self) -> torch.fx.Graph:
        for node in self.traced.nodes:
            if node.op == "output":
                self.graph.output(self._output(node.args[0]))
                continue
            level = self.level[node] = self._classify(node)
            if node.op == "placeholder":
                self._placeholder(node, level)
            elif node.op == "call_module" and isinstance(_submodule(self.module, node.target), MessagePassing):
                self._message_passing(node)
            elif node.op == "call_module" and isinstance(_submodule(self.module, node.target), Aggregation):
                self._readout(node)
            elif level == "graph":
                self.value[node] = self.graph.node_copy(node, lambda n: self.value[n])
            elif node.op == "call_module":
                self.value[node] = {key: self._call_module_for(node, level, key) for key in self.types[level]}
            else:
                self.value[node] = self._per_type(node, self.types[level])
        return self.graph

    def _placeholder(self, node: torch.fx.Node, level: str) -> None:
        if level not in ("node", "edge"):
            raise ValueError(f"to_hetero: input_map['{node.name}'] must be 'node' or 'edge', got {level!r}")
        default = node.args[0] if node.args else inspect.Signature.empty
        mapping = self.graph.placeholder(node.target, default_value=default)  # the same argument names
        if not node.args and level not in self.checked:  # the first required input per level: x, edge_index
            self.checked.add(level)
            keys = self.types["edge"] if level == "edge" else [
                t for t in self.types["node"] if any(t in (e[0], e[-1]) for e in self.types["edge"])]
            mapping = self.graph.call_function(require_types, (mapping, node.target, tuple(keys)))
        self.value[node] = {key: self.graph.call_function(get_or_none, (mapping, key)) for key in self.types[level]}

    def _call_module_for(self, node: torch.fx.Node, level: str, key: Key) -> torch.fx.Node:
        return self.graph.call_module(self._module_target(node, level, key), *self._arguments_for(node, key))

    def _message_passing(self, node: torch.fx.Node) -> None:
        layer = _submodule(self.module, node.target)
        check_add_self_loops(layer, self.types["edge"], name=node.target)
        per_destination: Dict[NodeType, List[torch.fx.Node]] = {}
        for edge_type in self.types["edge"]:
            out = self._call_module_for(node, "edge", edge_type)
            per_destination.setdefault(edge_type[-1], []).append(out)
        self.value[node] = {dst: outs[0] if len(outs) == 1 else
                            self.graph.call_function(group_relations, (self.aggr, *outs))
                            for dst, outs in per_destination.items()}

    def _readout(self, node: torch.fx.Node) -> None:
        outs = [self._call_module_for(node, "node", key) for key in self.types["node"]]
        self.value[node] = outs[0] if len(outs) == 1 else self.graph.call_function(group_relations, (self.aggr, *outs))

    def _output(self, value: Any) -> Any:
        if isinstance(value, torch.fx.Node):
            return self.value[value]
        if isinstance(value, (list, tuple)):
            return type(value)(self._output(v) for v in value)
        if isinstance(value, dict):
            return {k: self._output(v) for k, v in value.items()}
        return value

    # --- modules -----------------------------------------------------------------------
    def copy_per_type(self, module: torch.nn.Module, target: str) -> torch.nn.Module:
        """``module`` itself, or a ``ModuleDict`` of re-initialised copies per node or edge type
        when the graph calls it per type (``Sequential`` becomes a ``ModuleList``, as PyG)."""
        if isinstance(module, (torch.nn.ModuleList, torch.nn.Sequential)):
            return torch.nn.ModuleList(self.copy_per_type(m, f"{target}.{i}") for i, m in enumerate(module))
        if isinstance(module, torch.nn.ModuleDict):
            return torch.nn.ModuleDict({k: self.copy_per_type(m, f"{target}.{k}") for k, m in module.items()})
        level = self.per_type_targets.get(target)
        if level is None:
            return module
        keys = self.types[level]
        copies = torch.nn.ModuleDict()
        for key in keys:
            copies[key2str(key)] = copy.deepcopy(module)
            if len(keys) > 1 and hasattr(module, "reset_parameters"):
                copies[key2str(key)].reset_parameters()
        if len(keys) > 1 and not hasattr(module, "reset_parameters") and any(True for _ in module.parameters()):
            warnings.warn(f"'{target}' will be duplicated, but its parameters cannot be reset. To suppress this "
                          f"warning, add a 'reset_parameters()' method to '{target}'", stacklevel=3)
        return copies

