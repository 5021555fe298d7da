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
``message_and_aggregate`` keeps PyG's contract: only for sparse adjacency inputs.)

Argument names are read once per class (``__init_subclass__``), so a forward does no
introspection and traces to a clean graph.
"""
from __future__ import annotations

import inspect
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor

from gnnx import ops
from gnnx.graph import CSR, Graph, check_edge_index
from gnnx.nn.aggr import aggregation_module
from gnnx.nn.sparse_input import read_sparse_inputs
from gnnx.ops import dispatch
from gnnx.ops.dispatch import can_check_on_host

Adj = Union[Tensor, Graph]
_SPECIAL = ("index", "dim_size", "size_i", "size_j", "edge_index", "edge_index_i", "edge_index_j", "adj",
            "edge_mask")


def _params(fn) -> Tuple[str, ...]:
    """Names a method takes, besides ``self`` and variadics."""
    return tuple(
        name
        for name, p in inspect.signature(fn).parameters.items()
        if name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    )


class MessagePassing(torch.nn.Module):
    """Base class for message-passing layers.

    Args:
        aggr: ``"sum"``/``"add"``, ``"mean"``, ``"max"``, ``"min"``, or a list of them
            (results concatenated along the last dimension); or an aggregation module of
            :mod:`gnnx.nn.aggr` (or its name, ``"softmax"``/``"powermean"``, with
            ``aggr_kwargs``), kept as ``self.aggr_module`` as in PyG.
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
        cls._has_fused = cls.fused_message_and_aggregate is not MessagePassing.fused_message_and_aggregate
        cls._fused_args = _params(cls.fused_message_and_aggregate)[1:] if cls._has_fused else ()
        lifted = [n[:-2] for n in cls._message_args if n.endswith(("_i", "_j")) and n not in _SPECIAL]
        cls._node_args = tuple(dict.fromkeys(lifted + ["x"]))

    def __init__(
        self,
        aggr: Optional[Union[str, Sequence[str], torch.nn.Module]] = "sum",
        flow: str = "source_to_target",
        node_dim: int = -2,
        aggr_kwargs: Optional[Dict[str, Any]] = None,
    ) -> None:
        super().__init__()
        if flow not in ("source_to_target", "target_to_source"):
            raise ValueError(f"flow must be 'source_to_target' or 'target_to_source', got {flow!r}")
        self.aggr_module = aggregation_module(aggr, **(aggr_kwargs or {}))
        if self.aggr_module is not None:
            self.aggrs: List[str] = []
        elif isinstance(aggr, str):
            self.aggrs: List[str] = [ops.resolve_reduce(aggr)]
        elif aggr is None:
            self.aggrs = []
        else:
            self.aggrs = [ops.resolve_reduce(a) for a in aggr]
        # A module lives under aggr_module only (registering it twice would duplicate its state).
        self.aggr = type(aggr).__name__ if isinstance(aggr, torch.nn.Module) else aggr
        self.flow = flow
        self.node_dim = node_dim
        self.fuse = True  # use fused_message_and_aggregate where the layer has one
        # torch.sparse / SparseTensor / EdgeIndex inputs read as edge_index (gnnx/nn/sparse_input.py)
        self._adjacency_size: Optional[Tuple[Optional[int], Optional[int]]] = None
        self.register_forward_pre_hook(read_sparse_inputs, with_kwargs=True)

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

    def aggregate(self, inputs: Tensor, index: Tensor, dim_size: Union[int, torch.SymInt],
                  csr: Optional[CSR] = None, edge_mask: Optional[Tensor] = None) -> Tensor:
        """Reduce messages at their destination with ``self.aggr`` (``csr``: the edges'
        prepared structure, for the deterministic CUDA segment kernel; ``edge_mask``: the
        edges that take part, the others ignored as if removed)."""
        dim = self.node_dim % inputs.dim()
        if self.aggr_module is not None:
            out = self.aggr_module(inputs.movedim(dim, 0), index, dim_size=dim_size, mask=edge_mask)
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
        """PyG's hook, kept with PyG's contract: PyG calls it only for a sparse adjacency
        (``torch.sparse``/``SparseTensor``), never for an ``edge_index`` tensor, so a ported
        layer's ``message_and_aggregate`` is not called for ``edge_index`` inputs here
        either (``message`` and ``aggregate`` run). gnnx's own layers fuse through
        :meth:`fused_message_and_aggregate`."""
        raise NotImplementedError

    def spmm(self, adj: "Adjacency", x: Tensor, edge_weight: Optional[Tensor] = None) -> Tensor:
        """Fused "(weighted) copy of ``x_j``, reduce with ``self.aggr``" for ``fused_message_and_aggregate``.

        A static graph (``x`` of shape ``[B, N, F]``, nodes on ``node_dim``, one ``edge_index``
        for all ``B``) runs as one SpMM over ``[N, B * F]``."""
        node_dim = self.node_dim % x.dim()
        if node_dim != 0:
            moved = x.movedim(node_dim, 0)
            out = self.spmm(adj, moved.reshape(moved.size(0), -1), edge_weight)
            return out.view(out.size(0), *moved.shape[1:-1], -1).movedim(0, node_dim)
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
        adj = Adjacency.of(edge_index, self.flow)
        _check_edge_rows(adj.edge_index, {k: kwargs.get(k) for k in ("edge_weight", "edge_attr")})
        num_src, num_dst = self._sizes(adj, size, kwargs)
        adj.num_src, adj.num_dst = num_src, num_dst
        if adj.csr is None and adj.graph is None and self.flow == "source_to_target":
            adj.csr = dispatch.cached_csr(adj.edge_index, num_dst, num_src)
        edge_mask = kwargs.get("edge_mask")
        if self._has_fused and self.fuse and edge_mask is None and self.aggr_module is None:
            out = self.fused_message_and_aggregate(adj, **{k: kwargs[k] for k in self._fused_args if k in kwargs})
        else:
            messages = self.message(**self._collect(self._message_args, adj, kwargs))
            if self._default_aggregate:
                out = self.aggregate(messages, adj.dst, num_dst, csr=adj.csr if edge_mask is None else None,
                                     edge_mask=edge_mask)
            else:
                out = self.aggregate(messages, adj.dst, num_dst)
        return self.update(out, **{k: kwargs[k] for k in self._update_args if k in kwargs})

    def _sizes(self, adj: "Adjacency", size, kwargs) -> Tuple[Any, Any]:
        num_src = num_dst = None
        if size is None:
            size = self._adjacency_size  # the sizes of a sparse adjacency input
        if size is not None:
            num_src, num_dst = size
        for name in self._node_args:
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
        raise ValueError(f"edge_index contains negative {role} node index {low}")
    if high >= num_nodes:
        raise ValueError(
            f"edge_index contains {role} node index {high} but there are only {num_nodes} "
            f"{role} nodes (indices must lie in [0, {num_nodes}))"
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
