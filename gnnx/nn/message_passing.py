r"""The message-passing base class, in PyG's shape but resolved before any forward runs.

A layer computes

.. math::
    \mathbf{x}_i' = \gamma\Big(\mathbf{x}_i,\ \bigoplus_{j \in \mathcal{N}(i)}
    \phi(\mathbf{x}_i, \mathbf{x}_j, \mathbf{e}_{j,i})\Big)

with :meth:`message` (:math:`\phi`), :meth:`aggregate` (:math:`\bigoplus`) and
:meth:`update` (:math:`\gamma`). As in PyG, an argument of :meth:`message` named
``<name>_j`` receives ``<name>`` gathered at the source of each edge and ``<name>_i`` at
the destination; ``index`` is the destination of each edge and ``dim_size`` the
number of destination nodes. If a layer defines :meth:`fused_message_and_aggregate`,
:meth:`propagate` calls it instead of the two steps, so "(weighted) copy of ``x_j``
then reduce" runs as one SpMM without an ``[E, F]`` message tensor. (PyG's
``message_and_aggregate`` keeps PyG's contract: a ported layer's is called, with the sparse
matrix, for sparse adjacency inputs only.)

Argument names are read once per class (``__init_subclass__``), so a forward does no
introspection and traces to a clean graph.
"""
from __future__ import annotations

import functools
import inspect
import math
import sys
from collections import OrderedDict
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor
from torch.utils.hooks import RemovableHandle

from gnnx import ops
from gnnx.graph import CSR, Graph, IndexRangeError, check_edge_index
from gnnx.nn.aggr import aggregation_module
from gnnx.nn.sparse_input import ReadsSparseInputs
from gnnx.ops import dispatch
from gnnx.ops.dispatch import can_check_on_host
from gnnx.utils.edges import check_flow

Adj = Union[Tensor, Graph]
_SPECIAL = ("index", "dim_size", "size_i", "size_j", "edge_index", "edge_index_i", "edge_index_j", "adj",
            "edge_mask", "ptr", "adj_t", "size")
_HOOK_KINDS = ("propagate_forward_pre", "propagate_forward", "message_forward_pre", "message_forward",
               "aggregate_forward_pre", "aggregate_forward", "message_and_aggregate_forward_pre",
               "message_and_aggregate_forward", "edge_update_forward_pre", "edge_update_forward")


_PYG_FUSED_AGGRS = ("add", "sum", "mean", "min", "max")  # PyG's FUSE_AGGRS
_BASE_ARGUMENTS = ("aggr", "aggr_kwargs", "flow", "node_dim", "decomposed_layers")


def _accepting_base_arguments(init: Callable) -> Callable:
    """``init`` that also takes the base class's arguments it does not name itself (PyG's
    layers pass ``**kwargs`` to ``MessagePassing``: ``GCNConv(..., aggr="mean", node_dim=0,
    decomposed_layers=2)``), applied once the layer is built."""
    parameters = inspect.signature(init).parameters
    if any(p.kind == p.VAR_KEYWORD for p in parameters.values()):
        return init
    own = set(parameters)

    @functools.wraps(init)
    def wrapped(self, *args: Any, **kwargs: Any) -> None:
        extra = {k: kwargs.pop(k) for k in _BASE_ARGUMENTS if k in kwargs and k not in own}
        init(self, *args, **kwargs)
        if "aggr" in extra or "aggr_kwargs" in extra:
            self._set_aggregation(extra.get("aggr", self.aggr), extra.get("aggr_kwargs"))
        if "flow" in extra:
            self._set_flow(extra["flow"])
        if "node_dim" in extra:
            self.node_dim = extra["node_dim"]
        if "decomposed_layers" in extra:
            self.decomposed_layers = extra["decomposed_layers"]

    return wrapped


def _lifted(names: Sequence[str]) -> Tuple[str, ...]:
    """Node tensors a method reads per edge (``x`` from ``x_i``/``x_j``), ``x`` always."""
    lifted = [n[:-2] for n in names if n.endswith(("_i", "_j")) and n not in _SPECIAL]
    return tuple(dict.fromkeys(lifted + ["x"]))


def _params(fn) -> Tuple[str, ...]:
    """Names a method takes, besides ``self`` and variadics."""
    return tuple(
        name
        for name, p in inspect.signature(fn).parameters.items()
        if name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    )


@functools.lru_cache(maxsize=256)
def _argument_names(function: Callable) -> Tuple[str, ...]:
    """A function's parameter names, read once per function (explain mode calls per layer call)."""
    return tuple(inspect.signature(function).parameters)


class MessagePassing(ReadsSparseInputs):
    """Base class for message-passing layers.

    Args:
        aggr: ``"sum"``/``"add"``, ``"mean"``, ``"max"``, ``"min"``, or a list of them
            (results concatenated along the last dimension); or an aggregation module of
            :mod:`gnnx.nn.aggr` (or its name, ``"softmax"``/``"powermean"``, with
            ``aggr_kwargs``), kept as ``self.aggr_module`` as in PyG.
        decomposed_layers: split node features into this many chunks along the last
            dimension and propagate each in turn (PyG's memory saver for linear messages).

    Calls also take PyG's sparse adjacency formats (``torch.sparse``, ``EdgeIndex``,
    ``SparseTensor``) in place of ``edge_index``: :mod:`gnnx.nn.sparse_input`.
        flow: ``"source_to_target"`` (messages ``edge_index[0] -> edge_index[1]``) or
            ``"target_to_source"``.
        node_dim: the dimension of node tensors that indexes nodes.
    """

    _message_args: Tuple[str, ...] = ()
    _update_args: Tuple[str, ...] = ()
    _fused_args: Tuple[str, ...] = ()
    _has_fused: bool = False
    _default_aggregate: bool = True
    _node_args: Tuple[str, ...] = ("x",)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._message_args = _params(cls.message)
        cls._update_args = _params(cls.update)[1:]  # first argument: the aggregated output
        cls._default_aggregate = cls.aggregate is MessagePassing.aggregate
        cls._aggregate_args = _params(cls.aggregate)[1:]
        cls._edge_update_args = _params(cls.edge_update)
        cls._has_fused = cls.fused_message_and_aggregate is not MessagePassing.fused_message_and_aggregate
        cls._fused_args = _params(cls.fused_message_and_aggregate)[1:] if cls._has_fused else ()
        cls._has_pyg_fused = cls.message_and_aggregate is not MessagePassing.message_and_aggregate
        cls._pyg_fused_args = _params(cls.message_and_aggregate)[1:] if cls._has_pyg_fused else ()
        cls._node_args = _lifted(cls._message_args)
        cls._edge_node_args = _lifted(cls._edge_update_args)
        if "__init__" in cls.__dict__:
            cls.__init__ = _accepting_base_arguments(cls.__dict__["__init__"])

    def __init__(
        self,
        aggr: Optional[Union[str, Sequence[str], torch.nn.Module]] = "sum",
        flow: str = "source_to_target",
        node_dim: int = -2,
        aggr_kwargs: Optional[Dict[str, Any]] = None,
        decomposed_layers: int = 1,
    ) -> None:
        super().__init__()
        self._set_aggregation(aggr, aggr_kwargs)
        self._set_flow(flow)
        self.node_dim = node_dim
        self.fuse = True  # use fused_message_and_aggregate where the layer has one
        self.decomposed_layers = decomposed_layers
        for kind in _HOOK_KINDS:  # PyG's propagate/message/aggregate/edge_update hooks
            setattr(self, f"_{kind}_hooks", OrderedDict())
        # Explainer state, as PyG's (gnnx.explain-style tools and PyG's Explainer set these).
        self._explain: Optional[bool] = None
        self._edge_mask: Optional[Tensor] = None
        self._loop_mask: Optional[Tensor] = None
        self._apply_sigmoid: bool = True

    def reset_parameters(self) -> None:
        """PyG's: reset the aggregation module (each layer resets its own parameters, and a
        custom layer's ``reset_parameters`` may call this as in PyG)."""
        if self.aggr_module is not None and hasattr(self.aggr_module, "reset_parameters"):
            self.aggr_module.reset_parameters()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        # gnnx's layers all take 2-D features; a user's layer only where PyG would fail too
        # (node_dim -2; one with node_dim 0 may pass [N] values)
        if args and not torch.compiler.is_compiling() and (
                self.node_dim == -2 or type(self).__module__.startswith("gnnx.")):
            _check_node_features(type(self).__name__, args[0])
        # int32 edge_index (PyG's layers take it; an int32 [2, E] argument is one): widened
        # once per tensor, see dispatch.as_int64
        if any(_is_int32_edge_index(a) for a in args):
            args = tuple(dispatch.as_int64(a) if _is_int32_edge_index(a) else a for a in args)
        if _is_int32_edge_index(kwargs.get("edge_index")):
            kwargs["edge_index"] = dispatch.as_int64(kwargs["edge_index"])
        return super().__call__(*args, **kwargs)

    def _set_aggregation(self, aggr: Any, aggr_kwargs: Optional[Dict[str, Any]]) -> None:
        self.aggr_module = aggregation_module(aggr, **(aggr_kwargs or {}))
        if self.aggr_module is not None:
            self.aggrs: List[str] = []
        elif isinstance(aggr, str):
            self.aggrs = [ops.resolve_reduce(aggr)]
        elif aggr is None:
            self.aggrs = []
        else:
            self.aggrs = [ops.resolve_reduce(a) for a in aggr]
        # A module lives under aggr_module only (registering it twice would duplicate its state).
        self.aggr = type(aggr).__name__ if isinstance(aggr, torch.nn.Module) else aggr

    def _set_flow(self, flow: str) -> None:
        check_flow(flow)
        self.flow = flow

    def aggr_out_channels(self, in_channels: int) -> int:
        """Feature size after aggregating ``in_channels``-wide messages (a list of
        reductions concatenates; a ``MultiAggregation`` says its own)."""
        if self.aggr_module is not None:
            get = getattr(self.aggr_module, "get_out_channels", None)
            return get(in_channels) if get is not None else in_channels
        return in_channels * max(1, len(self.aggrs))

    # -- the three steps ---------------------------------------------------------------
    def message(self, x_j: Tensor) -> Tensor:
        """Message of each edge ``j -> i``; by default the source features."""
        return x_j

    def aggregate(self, inputs: Tensor, index: Tensor, ptr: Optional[Tensor] = None,
                  dim_size: Optional[Union[int, torch.SymInt]] = None,
                  csr: Optional[CSR] = None, edge_mask: Optional[Tensor] = None) -> Tensor:
        """Reduce messages at their destination with ``self.aggr``; PyG's arguments
        (``ptr`` is ``None`` for ``edge_index`` inputs, as in PyG). gnnx's: ``csr``, the
        edges' prepared structure, for the deterministic CUDA segment kernel; ``edge_mask``,
        the edges that take part, the others ignored as if removed."""
        dim_size = ops.infer_size(index, dim_size)
        dim = self.node_dim % inputs.dim()
        if self.aggr_module is not None:
            out = self.aggr_module(inputs.movedim(dim, 0), index, dim_size=dim_size, dim=0, mask=edge_mask)
            return out.movedim(0, dim)
        if edge_mask is not None:
            outs = [ops.scatter(inputs, index, dim_size, reduce, dim=dim, mask=edge_mask) for reduce in self.aggrs]
        elif dim == 0:
            outs = [ops.segment(inputs, index, dim_size, reduce, csr=csr) for reduce in self.aggrs]
        else:
            outs = [ops.scatter(inputs, index, dim_size, reduce, dim=dim) for reduce in self.aggrs]
        return outs[0] if len(outs) == 1 else torch.cat(outs, dim=-1)

    def fused_message_and_aggregate(self, adj: "Adjacency") -> Tensor:  # pragma: no cover - marker
        """gnnx's fused message + aggregate (one SpMM, no ``[E, F]`` messages), used for every
        input when a layer defines it; see :class:`Adjacency`."""
        raise NotImplementedError

    def message_and_aggregate(self, adj_t: Any) -> Tensor:  # pragma: no cover - PyG's hook
        """PyG's hook, kept with PyG's contract: called, in place of :meth:`message` and
        :meth:`aggregate`, when the layer was called with a sparse adjacency
        (``torch.sparse``/``SparseTensor``) that its forward hands on to :meth:`propagate`,
        ``fuse`` is on, explain mode off and the aggregation one PyG fuses (sum, mean, min,
        max); it gets that matrix and the ``propagate`` arguments it names. Never for an
        ``edge_index`` tensor, as in PyG. gnnx's own layers fuse through
        :meth:`fused_message_and_aggregate`."""
        raise NotImplementedError

    def spmm(self, adj: "Adjacency", x: Tensor, edge_weight: Optional[Tensor] = None) -> Tensor:
        """Fused "(weighted) copy of ``x_j``, reduce with ``self.aggr``" for ``fused_message_and_aggregate``.

        A static graph (``x`` of shape ``[B, N, F]``, nodes on ``node_dim``, one ``edge_index``
        for all ``B``) runs as one SpMM over ``[N, B * F]``."""
        node_dim = self.node_dim % x.dim()
        if node_dim != 0:
            moved = x.movedim(node_dim, 0)
            out = self._spmm_rows(adj, moved.reshape(moved.size(0), math.prod(moved.shape[1:])), edge_weight)
            return out.view(out.size(0), *moved.shape[1:-1], -1).movedim(0, node_dim).contiguous()
        return self._spmm_rows(adj, x, edge_weight)

    def _spmm_rows(self, adj: "Adjacency", x: Tensor, edge_weight: Optional[Tensor]) -> Tensor:
        outs = [adj.spmm(x, edge_weight, reduce) for reduce in self.aggrs]
        return outs[0] if len(outs) == 1 else torch.cat(outs, dim=-1)

    def update(self, inputs: Tensor) -> Tensor:
        """Final per-node transform of the aggregated messages; identity by default."""
        return inputs

    # -- propagation -------------------------------------------------------------------
    def propagate(self, edge_index: Adj, size: Optional[Tuple[int, int]] = None, **kwargs: Any) -> Tensor:
        """Run message, aggregate and update over ``edge_index`` (a tensor or a :class:`Graph`).

        Args:
            edge_index: ``Tensor [2, E]`` or :class:`~gnnx.Graph` (a layer's forward also
                takes PyG's sparse formats: :mod:`gnnx.nn.sparse_input`).
            size: ``(num_src_nodes, num_dst_nodes)``; inferred from node tensors if omitted.
            edge_mask: optional bool ``[E]``: the edges that take part; the others are
                ignored by the aggregation as if removed, with no data-dependent shape
                (how layers drop existing self loops before adding fresh ones).
            **kwargs: tensors and values named by the layer's ``message``/``update``
                arguments; a node tensor may be a ``(source, destination)`` pair.
        """
        edge_index, size, kwargs = _run_pre_hooks(self, self._propagate_forward_pre_hooks, (edge_index, size, kwargs))
        adj = Adjacency.of(edge_index, self.flow)
        _check_edge_rows(adj.edge_index, {k: kwargs.get(k) for k in ("edge_weight", "edge_attr")})
        num_src, num_dst = self._sizes(adj, size, kwargs, self._node_args)
        adj.num_src, adj.num_dst = num_src, num_dst
        if adj.csr is None and adj.graph is None and self.flow == "source_to_target":
            adj.csr = dispatch.cached_csr(adj.edge_index, num_dst, num_src)
        matrix = self._sparse_matrix_for(edge_index)
        if matrix is not None:
            out = self._pyg_message_and_aggregate(matrix, adj, kwargs)
        elif self._uses_fused(kwargs):
            fused_kwargs = {k: kwargs[k] for k in self._fused_args if k in kwargs}
            out = self.fused_message_and_aggregate(adj, **fused_kwargs)
            out = self.update(out, **{k: kwargs[k] for k in self._update_args if k in kwargs})
        else:
            out = self._message_aggregate_update(adj, kwargs)
        return _run_post_hooks(self, self._propagate_forward_hooks, (edge_index, size, kwargs), out)

    def _sparse_matrix_for(self, edge_index: Adj) -> Any:
        """The sparse matrix this call read, if a ported ``message_and_aggregate`` takes it:
        ``edge_index`` is the one read from it, and PyG would fuse (see
        :meth:`message_and_aggregate`)."""
        given = self._adjacency_input
        if given is None or given[0] is not edge_index or not (self._has_pyg_fused and self.fuse) or self._explain:
            return None
        return given[1] if self.aggr in _PYG_FUSED_AGGRS else None

    def _pyg_message_and_aggregate(self, matrix: Any, adj: "Adjacency", kwargs: Dict[str, Any]) -> Tensor:
        """PyG's fused step: the layer's ``message_and_aggregate`` over the sparse matrix, its
        hooks, then :meth:`update`."""
        fused_kwargs = self._collect(self._pyg_fused_args, adj, kwargs)
        matrix, fused_kwargs = _run_pre_hooks(self, self._message_and_aggregate_forward_pre_hooks,
                                              (matrix, fused_kwargs))
        out = _run_post_hooks(self, self._message_and_aggregate_forward_hooks, (matrix, fused_kwargs),
                              self.message_and_aggregate(matrix, **fused_kwargs))
        return self.update(out, **self._collect(self._update_args, adj, kwargs))

    def _uses_fused(self, kwargs: Dict[str, Any]) -> bool:
        """The one-SpMM path, unless something must see the messages (an edge mask, an
        aggregation module, explain mode, message/aggregate hooks, decomposition)."""
        return (self._has_fused and self.fuse and kwargs.get("edge_mask") is None and self.aggr_module is None
                and self.decomposed_layers == 1 and not self._messages_observed())

    def _messages_observed(self) -> bool:
        """Whether explain mode or a message/aggregate hook must see the per-edge messages."""
        return bool(self._explain or self._message_forward_pre_hooks or self._message_forward_hooks
                    or self._aggregate_forward_pre_hooks or self._aggregate_forward_hooks)

    def _message_aggregate_update(self, adj: "Adjacency", kwargs: Dict[str, Any]) -> Tensor:
        chunks = 1 if self._explain else self.decomposed_layers
        if chunks > 1:  # PyG's decomposition: node features in chunks along the last dimension
            split = {name: _chunks(kwargs[name], chunks) for name in self._node_args
                     if f"{name}_j" in self._message_args and kwargs.get(name) is not None}
        outs = []
        for chunk in range(chunks):
            if chunks > 1:
                kwargs = {**kwargs, **{name: parts[chunk] for name, parts in split.items()}}
            msg_kwargs, = _run_pre_hooks(self, self._message_forward_pre_hooks,
                                         (self._collect(self._message_args, adj, kwargs),))
            out = _run_post_hooks(self, self._message_forward_hooks, (msg_kwargs,), self.message(**msg_kwargs))
            if self._explain:
                out = self._explained(out, adj, kwargs)
            edge_mask = kwargs.get("edge_mask")
            if self._default_aggregate:
                aggr_kwargs = {"index": adj.dst, "ptr": None, "dim_size": adj.num_dst,
                               "csr": adj.csr if edge_mask is None else None, "edge_mask": edge_mask}
            else:
                aggr_kwargs = self._collect(self._aggregate_args, adj, kwargs)
            aggr_kwargs, = _run_pre_hooks(self, self._aggregate_forward_pre_hooks, (aggr_kwargs,))
            out = _run_post_hooks(self, self._aggregate_forward_hooks, (aggr_kwargs,), self.aggregate(out, **aggr_kwargs))
            outs.append(self.update(out, **self._collect(self._update_args, adj, kwargs)))
        return outs[0] if chunks == 1 else torch.cat(outs, dim=-1)

    # -- edge-level updates (PyG's edge_updater / edge_update) -------------------------
    def edge_updater(self, edge_index: Adj, size: Optional[Tuple[int, int]] = None, **kwargs: Any) -> Tensor:
        """Compute per-edge values with :meth:`edge_update`, whose arguments are collected as
        :meth:`message`'s are (``alpha_j``/``alpha_i`` from ``alpha=...``, ``index``,
        ``dim_size``, ...), as in PyG; e.g. attention scores before a softmax."""
        edge_index, size, kwargs = _run_pre_hooks(self, self._edge_update_forward_pre_hooks, (edge_index, size, kwargs))
        adj = Adjacency.of(edge_index, self.flow)
        adj.num_src, adj.num_dst = self._sizes(adj, size, kwargs, self._edge_node_args)
        out = self.edge_update(**self._collect(self._edge_update_args, adj, kwargs))
        return _run_post_hooks(self, self._edge_update_forward_hooks, (edge_index, size, kwargs), out)

    def edge_update(self) -> Tensor:  # pragma: no cover - defined by layers that use edge_updater
        """Per-edge values for :meth:`edge_updater`; define it with the arguments you need."""
        raise NotImplementedError

    # -- PyG's names for a cached layer's normalised graph (``cached=True``) -------------------
    # Ported code reads or resets them (``conv._cached_edge_index = None`` before another graph);
    # gnnx reads a sparse adjacency as edges, so one cache, ``_cache``, serves both names.
    @property
    def _cached_edge_index(self) -> Any:
        return getattr(self, "_cache", None)

    @_cached_edge_index.setter
    def _cached_edge_index(self, value: Any) -> None:
        self._cache = value

    _cached_adj_t = _cached_edge_index

    # -- explain mode (PyG's Explainer interface) -------------------------------------------
    @property
    def explain(self) -> Optional[bool]:
        """Whether messages are multiplied by ``self._edge_mask`` (PyG's explain mode; the
        fused path and decomposition are off while it is set)."""
        return self._explain

    @explain.setter
    def explain(self, explain: Optional[bool]) -> None:
        self._explain = explain

    def _explained(self, messages: Tensor, adj: "Adjacency", kwargs: Dict[str, Any]) -> Tensor:
        """:meth:`explain_message` of the messages, its other arguments collected by name as
        :meth:`message`'s are (PyG's: an explainer may install its own, e.g. GraphMask's with
        ``x_i``, ``x_j``)."""
        explain = self.explain_message
        function = getattr(explain, "__func__", None)  # a method: its names start with self
        names = _argument_names(function)[2:] if function is not None else _argument_names(explain)[1:]
        return explain(messages, **self._collect(names, adj, kwargs))

    def explain_message(self, inputs: Tensor, dim_size) -> Tensor:
        """Messages times the explained edge mask (sigmoid applied if ``_apply_sigmoid``); the
        self loops a layer appends after the given edges get mask 1, as in PyG."""
        edge_mask = self._edge_mask
        if edge_mask is None:
            raise ValueError("explain mode needs an edge mask: could not find a pre-defined 'edge_mask' "
                             "(set module._edge_mask, one value per edge)")
        if self._apply_sigmoid:
            edge_mask = edge_mask.sigmoid()
        num_messages = inputs.size(self.node_dim % inputs.dim())
        if num_messages != edge_mask.size(0):
            if self._loop_mask is not None and num_messages == int(self._loop_mask.sum()) + dim_size:
                edge_mask = edge_mask[self._loop_mask]  # PyG's layout: old loops removed
            if num_messages < edge_mask.size(0):
                raise ValueError(f"explain mode: {type(self).__name__} passed {num_messages} messages but the edge "
                                 f"mask has {edge_mask.size(0)} entries; a layer over other edges (a readout) needs "
                                 "explain = False")
            edge_mask = torch.cat([edge_mask, edge_mask.new_ones(num_messages - edge_mask.size(0))])
        shape = [1] * inputs.dim()
        shape[self.node_dim % inputs.dim()] = -1
        return inputs * edge_mask.view(shape)

    # -- hooks (PyG's names and signatures) ---------------------------------------------------
    def _register(self, kind: str, hook: Callable) -> RemovableHandle:
        hooks = getattr(self, f"_{kind}_hooks")
        handle = RemovableHandle(hooks)
        hooks[handle.id] = hook
        return handle

    def register_propagate_forward_pre_hook(self, hook: Callable) -> RemovableHandle:
        """``hook(module, (edge_index, size, kwargs))`` before :meth:`propagate`; may return new inputs."""
        return self._register("propagate_forward_pre", hook)

    def register_propagate_forward_hook(self, hook: Callable) -> RemovableHandle:
        """``hook(module, (edge_index, size, kwargs), out)`` after :meth:`propagate`; may return a new output."""
        return self._register("propagate_forward", hook)

    def register_message_forward_pre_hook(self, hook: Callable) -> RemovableHandle:
        """``hook(module, (message_kwargs,))`` before :meth:`message` (turns the fused path off)."""
        return self._register("message_forward_pre", hook)

    def register_message_forward_hook(self, hook: Callable) -> RemovableHandle:
        """``hook(module, (message_kwargs,), out)`` after :meth:`message` (turns the fused path off)."""
        return self._register("message_forward", hook)

    def register_aggregate_forward_pre_hook(self, hook: Callable) -> RemovableHandle:
        """``hook(module, (aggregate_kwargs,))`` before :meth:`aggregate` (turns the fused path off)."""
        return self._register("aggregate_forward_pre", hook)

    def register_aggregate_forward_hook(self, hook: Callable) -> RemovableHandle:
        """``hook(module, (aggregate_kwargs,), out)`` after :meth:`aggregate` (turns the fused path off)."""
        return self._register("aggregate_forward", hook)

    def register_message_and_aggregate_forward_pre_hook(self, hook: Callable) -> RemovableHandle:
        """PyG's hook on ``message_and_aggregate``, which PyG and gnnx call only for sparse
        adjacency inputs; kept so code that registers it runs (it is not called)."""
        return self._register("message_and_aggregate_forward_pre", hook)

    def register_message_and_aggregate_forward_hook(self, hook: Callable) -> RemovableHandle:
        """See :meth:`register_message_and_aggregate_forward_pre_hook`."""
        return self._register("message_and_aggregate_forward", hook)

    def register_edge_update_forward_pre_hook(self, hook: Callable) -> RemovableHandle:
        """``hook(module, (edge_index, size, kwargs))`` before :meth:`edge_update`; may return new inputs."""
        return self._register("edge_update_forward_pre", hook)

    def register_edge_update_forward_hook(self, hook: Callable) -> RemovableHandle:
        """``hook(module, (edge_index, size, kwargs), out)`` after :meth:`edge_update`; may return a new output."""
        return self._register("edge_update_forward", hook)

    def _sizes(self, adj: "Adjacency", size, kwargs, node_args: Sequence[str]) -> Tuple[Any, Any]:
        num_src = num_dst = None
        if size is None:
            size = self._adjacency_size  # the sizes of a sparse adjacency input
        if size is not None:
            num_src, num_dst = size
        for name in node_args:
            value = kwargs.get(name)
            pair = value if isinstance(value, (tuple, list)) else (value, value)
            if num_src is None and isinstance(pair[0], Tensor):
                num_src = pair[0].size(self.node_dim % pair[0].dim())
            if num_dst is None and isinstance(pair[1], Tensor):
                num_dst = pair[1].size(self.node_dim % pair[1].dim())
        if num_src is None and adj.graph is not None:
            num_src = adj.graph.num_nodes
        if num_src is None:
            raise ValueError("propagate: cannot infer the number of nodes; pass size=(N_src, N_dst)")
        if num_dst is None:
            num_dst = num_src
        if adj.graph is None and can_check_on_host(adj.edge_index):  # a Graph was checked when built
            _check_range(adj.src, num_src, "source")
            _check_range(adj.dst, num_dst, "destination")
        return num_src, num_dst

    def _collect(self, names: Sequence[str], adj: "Adjacency", kwargs: Dict[str, Any]) -> Dict[str, Any]:
        out: Dict[str, Any] = {}
        for name in names:
            if name in ("index", "edge_index_i"):
                out[name] = adj.dst
            elif name == "edge_index_j":
                out[name] = adj.src
            elif name == "dim_size" or name == "size_i":
                out[name] = adj.num_dst
            elif name == "size_j":
                out[name] = adj.num_src
            elif name == "edge_index":
                out[name] = adj.edge_index
            elif name in ("ptr", "adj_t"):
                out[name] = kwargs.get(name)  # PyG passes these only for sparse inputs
            elif name == "size" and name not in kwargs:
                out[name] = (adj.num_src, adj.num_dst)
            elif name.endswith(("_i", "_j")) and name[:-2] in kwargs:
                value = kwargs[name[:-2]]
                is_src = name.endswith("_j")
                if isinstance(value, (tuple, list)):
                    value = value[0] if is_src else value[1]
                if isinstance(value, Tensor):
                    value = ops.gather(value, adj.src if is_src else adj.dst, self.node_dim % value.dim())
                out[name] = value
            elif name in kwargs:
                out[name] = kwargs[name]
        return out

    def __repr__(self) -> str:
        channels = [getattr(self, "in_channels", None), getattr(self, "out_channels", None)]
        inner = ", ".join(str(c) for c in channels if c is not None)
        return f"{type(self).__name__}({inner})"


def message_passing_classes() -> Tuple[type, ...]:
    """gnnx's :class:`MessagePassing` and, where PyG is imported already, PyG's: the utilities
    that look for message-passing layers (``get_num_hops``, ``get_embeddings``, ``summary``)
    find them in a PyG model too. Nothing is imported here."""
    pyg = sys.modules.get("torch_geometric.nn.conv.message_passing")
    return (MessagePassing,) if pyg is None else (MessagePassing, pyg.MessagePassing)


def _run_pre_hooks(module: "MessagePassing", hooks: Dict[int, Callable], inputs: tuple) -> tuple:
    """PyG's pre-hooks: each may return new inputs (a tuple, or the single input itself)."""
    for hook in hooks.values():
        res = hook(module, inputs)
        if res is not None:
            inputs = res if isinstance(res, tuple) else (res,)
    return inputs


def _run_post_hooks(module: "MessagePassing", hooks: Dict[int, Callable], inputs: tuple, out: Any) -> Any:
    """PyG's forward hooks: each may return a new output."""
    for hook in hooks.values():
        res = hook(module, inputs, out)
        if res is not None:
            out = res
    return out


def _chunks(value: Any, chunks: int) -> List[Any]:
    """A node tensor (or a ``(source, destination)`` pair of them) in ``chunks`` along features."""
    if isinstance(value, Tensor):
        return list(value.chunk(chunks, -1))
    parts = [_chunks(v, chunks) if isinstance(v, Tensor) else [v] * chunks for v in value]
    return [type(value)(p[i] for p in parts) for i in range(chunks)]


def _check_node_features(layer: str, x: Any) -> None:
    """One float feature per node given as ``[N]`` instead of ``[N, 1]``: named here, where the
    layers would fail on a dimension index or a matrix product (integer ``[N]`` stays: node ids,
    as ``RGCNConv`` takes them)."""
    for part in x if isinstance(x, tuple) else (x,):
        if isinstance(part, Tensor) and part.dim() < 2 and part.is_floating_point():
            raise ValueError(f"{layer}: node features must be 2-D [num_nodes, num_features], got shape "
                             f"{list(part.shape)} (one feature per node: x.view(-1, 1))")


def _is_int32_edge_index(value: Any) -> bool:
    return isinstance(value, Tensor) and value.dtype == torch.int32 and value.dim() == 2 and value.size(0) == 2


def check_adjacency(edge_index: Adj, num_src, num_dst=None, **edge_tensors: Optional[Tensor]) -> None:
    """The input checks of :meth:`MessagePassing.propagate`, for layers that transform the
    edges before propagating (self loops, normalisation): type, int64 dtype, shape
    ``[2, E]``, index range where it can be read without a sync, and that each named edge
    tensor (``edge_weight=...``) has one row per edge. Errors name the input."""
    tensor = edge_tensor(edge_index)
    if not isinstance(edge_index, Graph):
        check_edge_index(tensor)
        if can_check_on_host(tensor):
            _check_range(tensor[0], num_src, "source")
            _check_range(tensor[1], num_src if num_dst is None else num_dst, "destination")
    _check_edge_rows(tensor, edge_tensors)


def _check_edge_rows(tensor: Tensor, edge_tensors: Dict[str, Any]) -> None:
    for name, value in edge_tensors.items():
        if isinstance(value, Tensor) and (value.dim() == 0 or value.size(0) != tensor.size(1)):
            raise ValueError(f"{name} must have one row per edge ({tensor.size(1)}), got shape {list(value.shape)}")


def _check_range(index: Tensor, num_nodes, role: str) -> None:
    if index.numel() == 0:
        return
    low, high = int(index.min()), int(index.max())
    if low < 0:
        raise IndexRangeError(f"edge_index contains negative {role} node index {low}; valid indices lie in the "
                              f"interval [0, {num_nodes})")
    if high >= num_nodes:
        raise IndexRangeError(
            f"edge_index contains {role} node index {high} but there are only {num_nodes} "
            f"{role} nodes (valid indices lie in the interval [0, {num_nodes}))"
        )


def edge_tensor(edge_index: Adj) -> Tensor:
    """The ``[2, E]`` tensor of a bare ``edge_index`` or of a :class:`Graph`."""
    return edge_index.edge_index if isinstance(edge_index, Graph) else edge_index


class Adjacency:
    """What :meth:`MessagePassing.propagate` hands to ``fused_message_and_aggregate``.

    ``src``/``dst`` follow the layer's ``flow``; ``csr`` is the prepared structure when
    the caller passed a :class:`Graph` (and the flow is the default), else ``None``.
    """

    def __init__(self, edge_index: Tensor, src: Tensor, dst: Tensor, csr, graph: Optional[Graph]) -> None:
        self.edge_index, self.src, self.dst, self.csr, self.graph = edge_index, src, dst, csr, graph
        self.num_src = self.num_dst = None

    @staticmethod
    def of(edge_index: Adj, flow: str) -> "Adjacency":
        graph = edge_index if isinstance(edge_index, Graph) else None
        tensor = graph.edge_index if graph is not None else edge_index
        check_edge_index(tensor)
        if flow == "target_to_source":
            return Adjacency(tensor.flip(0), tensor[1], tensor[0], None, graph)
        return Adjacency(tensor, tensor[0], tensor[1], graph.csr if graph is not None else None, graph)

    def spmm(self, x: Tensor, edge_weight: Optional[Tensor] = None, reduce: str = "sum") -> Tensor:
        """``ops.spmm`` over these edges (with the fast path when a CSR is at hand)."""
        return ops.spmm(x, self.edge_index, self.num_dst, edge_weight, reduce, csr=self.csr)
