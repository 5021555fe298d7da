"""Sparse adjacency inputs, read as ``edge_index`` the way PyG reads them.

PyG layers take, wherever they take ``edge_index``:

* a ``torch.sparse`` matrix (COO, CSR or CSC) holding the *transposed* adjacency
  ``adj_t[dst, src]`` (what ``T.ToSparseTensor`` builds);
* a ``torch_sparse.SparseTensor``, also transposed;
* PyG's ``EdgeIndex``: an ``edge_index`` tensor that knows its ``sparse_size()``
  ``(num_src, num_dst)``.

gnnx reads them once, before the layer's forward runs (:class:`ReadsSparseInputs`, the base
of :class:`~gnnx.nn.MessagePassing` and of the models, looks at each call's arguments with a
few type tests; a forward pre-hook would put every layer call on nn.Module's slow hook path), as an
``edge_index`` tensor plus its sizes, so the layer runs its ordinary path. As in PyG's ``propagate``, the matrix values
become the layer's ``edge_weight`` (one value per edge; or ``edge_type``) or ``edge_attr`` (a
hybrid matrix's dense dimensions), the first of them its forward takes, unless the caller
passed one; a binary matrix passes none. A layer that takes none of them ignores the values,
as PyG's message path does, except gnnx's fused layers (GIN, SAGE, ...), which refuse a
``torch.sparse`` matrix whose values are not all 1 (their PyG counterparts multiply those into
the sum; gnnx would not, so it says so). Every sparse adjacency argument is read (SignedConv's
two), and the sparse values of a dict argument (``edge_index_dict``). A ``torch.sparse``
argument in the first (feature) position stays the features. The sizes decide the number of
destination nodes of a bipartite call such as ``conv((x_src, None), adj_t)``. The matrix itself is kept
for the call too (``_adjacency_input``): a ported layer that defines PyG's
``message_and_aggregate`` gets it there, as in PyG (:meth:`gnnx.nn.MessagePassing.propagate`).

Reading a sparse matrix syncs with the host (coalescing); these are eager inputs. Under
``torch.compile`` pass ``edge_index`` (PyG's ``SparseTensor`` does not compile either).
"""
from __future__ import annotations

import functools
import inspect
from typing import Any, Dict, Optional, Tuple

import torch
from torch import Tensor

from gnnx.graph import Graph

Size = Tuple[Optional[int], Optional[int]]


def is_edge_index_subclass(value: Any) -> bool:
    """PyG's ``EdgeIndex`` (detected by duck type, so PyG need not be importable)."""
    return isinstance(value, Tensor) and type(value) is not Tensor and hasattr(value, "sparse_size") \
        and hasattr(value, "as_tensor")


def is_sparse_adjacency(value: Any) -> bool:
    """Whether ``value`` is one of the adjacency formats this module reads."""
    if isinstance(value, Tensor):
        return value.layout != torch.strided or is_edge_index_subclass(value)
    return type(value).__name__ == "SparseTensor" and hasattr(value, "coo") and hasattr(value, "sparse_sizes")


def to_edge_index(adj: Any) -> Tuple[Tensor, Optional[Tensor], Size]:
    """``(edge_index [2, E], values or None, (num_src, num_dst))`` of a sparse adjacency.

    A transposed matrix ``adj_t`` of shape ``[num_dst, num_src]`` gives edges
    ``col -> row``; an ``EdgeIndex`` gives its own rows and its ``sparse_size()``.
    """
    if is_edge_index_subclass(adj):
        num_src, num_dst = adj.sparse_size()
        return adj.as_tensor(), None, (num_src, num_dst)
    if isinstance(adj, Tensor):
        if adj.sparse_dim() != 2:  # (dense dimensions after the two sparse ones: edge features)
            raise ValueError(f"a sparse adjacency must be a 2-D matrix [num_dst, num_src], got shape {list(adj.shape)}")
        if adj.layout != torch.sparse_coo:
            adj = adj.to_sparse_coo()
        adj = adj.coalesce()
        row, col = adj.indices()
        # a tensor of its own: Dynamo fails on the values view of a sparse tensor (an
        # IndexError in its automatic-dynamic strides, torch 2.13) under gnnx.compile
        values: Optional[Tensor] = adj.values().clone()
        num_dst, num_src = adj.shape[:2]
    else:  # torch_sparse.SparseTensor
        row, col, values = adj.coo()
        num_dst, num_src = adj.sparse_sizes()
    edge_index = torch.stack([col, row]).to(torch.long)
    return edge_index, values, (int(num_src), int(num_dst))


class ReadsSparseInputs(torch.nn.Module):
    """A module whose calls accept PyG's sparse adjacency formats in place of ``edge_index``."""

    _adjacency_size: Optional[Size] = None
    _adjacency_input: Optional[Tuple[Tensor, Any]] = None  # (the edge_index handed on, the matrix read)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        # Inside a compiled frame the sizes are left alone: gnnx.compile converts (and sets
        # them) before its compiled model runs.
        if not (_plain(args) and _plain(kwargs.values())):
            if not torch.compiler.is_compiling():
                converted = read_sparse_inputs(self, args, kwargs)
                if converted is not None:
                    args, kwargs = converted
        elif self._adjacency_size is not None and not torch.compiler.is_compiling():
            self._adjacency_size = self._adjacency_input = None  # a plain call after a sparse one
        return super().__call__(*args, **kwargs)

    def _attention_weights(self, edge_index: Tensor, alpha: Tensor, num_dst: int, num_src: int):
        """``return_attention_weights``'s second item as PyG gives it: ``(edge_index, alpha)``,
        or, after a sparse adjacency input, the weights as a sparse ``[num_dst, num_src, ...]``
        matrix (COO) with its values."""
        if self._adjacency_size is None:
            return edge_index, alpha
        weights = torch.sparse_coo_tensor(edge_index.flip(0), alpha, (num_dst, num_src) + alpha.shape[1:]).coalesce()
        return weights, weights.values()


_PLAIN_TYPES = (type(None), tuple, list, int, float, bool, str, Graph)  # (models hand their layers a Graph)


def _plain(values) -> bool:
    """The common case, decided with type tests only: no argument can be a sparse adjacency
    (dense tensors, ``None``, numbers, tuples of node tensors)."""
    for value in values:
        if type(value) is Tensor:
            if value.layout is not torch.strided:
                return False
        elif type(value) not in _PLAIN_TYPES:
            return False
    return True


def read_sparse_inputs(module: torch.nn.Module, args: Tuple[Any, ...], kwargs: Dict[str, Any],
                       keep_matrix: bool = True):
    """Replace each sparse adjacency argument by its ``edge_index`` (also inside a dict, as an
    ``edge_index_dict``'s values); for the adjacency (the argument passed as ``edge_index``, or
    else the first sparse one after the features) pass its values where the forward takes them
    and keep its sizes in ``module._adjacency_size`` for :meth:`~gnnx.nn.MessagePassing.propagate`
    (and, with ``keep_matrix``, the matrix in ``module._adjacency_input`` for a ported
    ``message_and_aggregate``). ``None`` when no argument is sparse (then those of an earlier call
    are forgotten). Called outside compiled code."""
    names = _parameter_names(type(module).forward)
    found = _adjacency_arguments(names, args, kwargs)
    args, kwargs = list(args), dict(kwargs)
    in_dicts = _read_dict_values(args, kwargs)
    if not found:
        if getattr(module, "_adjacency_size", None) is not None:
            module._adjacency_size = module._adjacency_input = None
        return (tuple(args), kwargs) if in_dicts else None
    converted = []
    for position, name in found:
        adj = args[position] if position is not None else kwargs[name]
        edge_index, values, size = to_edge_index(adj)
        if position is not None:
            args[position] = edge_index
        else:
            kwargs[name] = edge_index
        converted.append((adj, edge_index, values, size))
    adj, edge_index, values, size = converted[0]
    binary = values is None or (isinstance(adj, Tensor) and bool((values == 1).all()))
    if not binary and not _pass_values(names, args, kwargs, values) and isinstance(adj, Tensor) \
            and type(module).__module__.startswith("gnnx.") and getattr(module, "_has_fused", False):
        # Only gnnx's fused layers refuse them: their PyG counterparts' message_and_aggregate
        # multiplies them in. Other layers' message paths ignore them, as PyG's do (and a ported
        # layer's message_and_aggregate gets the matrix itself).
        raise ValueError(
            f"{type(module).__name__} takes no edge weights, but the sparse adjacency has values other than 1 "
            "(PyG's torch.sparse path multiplies them into the sum); pass a binary adjacency, or edge_index")
    module._adjacency_size = size
    keep_matrix = keep_matrix and (not is_edge_index_subclass(adj) or (
        getattr(module, "SUPPORTS_FUSED_EDGE_INDEX", False) and getattr(adj, "is_sorted_by_col", False)))
    module._adjacency_input = (edge_index, adj) if keep_matrix else None
    return tuple(args), kwargs


_ADJACENCY_NAMES = ("edge_index", "adj_t", "adj")


@functools.lru_cache(maxsize=None)
def _parameter_names(forward) -> Tuple[str, ...]:
    return tuple(n for n in inspect.signature(forward).parameters if n != "self")


def _adjacency_arguments(names: Tuple[str, ...], args, kwargs) -> list:
    """``(position, name)`` of each sparse adjacency argument, the adjacency first: the one
    passed as ``edge_index`` (``adj_t``, ``adj``) by name or position, else the first sparse one
    after the first parameter, which holds node features (a ``torch.sparse`` feature matrix stays
    the features, as in PyG); then the others (SignedConv's positive and negative edges)."""
    found = [(i, None) for i, value in enumerate(args) if i > 0 and is_sparse_adjacency(value)]
    found += [(None, key) for key, value in kwargs.items()
              if key != (names[0] if names else None) and is_sparse_adjacency(value)]
    for name in _ADJACENCY_NAMES:
        slot = (None, name) if name in kwargs else (names.index(name), None) if name in names else None
        if slot in found:
            found.remove(slot)
            return [slot] + found
    return found


def _read_dict_values(args: list, kwargs: Dict[str, Any]) -> bool:
    """Sparse adjacencies as the values of a dict argument (heterogeneous ``edge_index_dict``)
    become ``edge_index`` tensors, in place; their values are not read (PyG's heterogeneous
    layers take none). Whether there were any."""
    changed = False
    for holder, keys in ((args, range(len(args))), (kwargs, list(kwargs))):
        for key in keys:
            value = holder[key]
            if isinstance(value, dict) and any(is_sparse_adjacency(v) for v in value.values()):
                holder[key] = {k: to_edge_index(v)[0] if is_sparse_adjacency(v) else v for k, v in value.items()}
                changed = True
    return changed


def _pass_values(names: Tuple[str, ...], args: list, kwargs: Dict[str, Any], values: Tensor) -> bool:
    """Hand ``values`` to the forward's first edge-tensor argument, as PyG's ``propagate`` does:
    one value per edge is an ``edge_weight`` (or ``edge_type``), more an ``edge_attr`` (a hybrid
    matrix's dense dimensions). False if the forward takes none of them."""
    for name in (("edge_weight", "edge_type") if values.dim() == 1 else ("edge_attr", "edge_weight")):
        if name not in names:
            continue
        position = names.index(name)
        if kwargs.get(name) is not None or (position < len(args) and args[position] is not None):
            return True  # the caller's own edge tensor wins
        if position < len(args):
            args[position] = values
        else:
            kwargs[name] = values
        return True  # the caller's own edge tensor wins
        if position < len(args):
            args[position] = values
        else:
            kwargs[name] = values
        return True
    return False
