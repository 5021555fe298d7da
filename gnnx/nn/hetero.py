r"""Heterogeneous message passing: one layer per edge type, results grouped per destination type.

:class:`HeteroConv` (PyG's): for each edge type :math:`(s, r, d)` its layer runs on
``(x_dict[s], x_dict[d])`` and ``edge_index_dict[(s, r, d)]``; the outputs that reach node
type :math:`d` are combined with ``aggr``,

.. math::
    \mathbf{x}_v^{(d)\prime} = \bigoplus_{(s, r, d)} \mathrm{conv}_{(s, r, d)}\big(
    (\mathbf{X}^{(s)}, \mathbf{X}^{(d)}), \mathcal{E}_{(s, r, d)}\big)_v .

Per-edge-type arguments are passed as ``<name>_dict`` keywords (``edge_attr_dict``), as in
PyG. Layers live in a :class:`ModuleDict` under PyG's key spelling (``<src___rel___dst>``),
so a PyG ``HeteroConv``'s ``state_dict`` loads. Dict inputs compile with
``torch.compile(fullgraph=True, dynamic=True)``; the relations run one after another (one
layer call each), which a grouped kernel over all relations will replace.
"""
from __future__ import annotations

from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor
from torch.nn.modules.lazy import LazyModuleMixin

from gnnx.nn.linear import Linear, check_initializers, reset_bias, reset_weight
from gnnx.ops.dispatch import can_check_on_host
from gnnx.utils.edges import check_add_self_loops

Key = Union[str, Tuple[str, ...]]


class ModuleDict(torch.nn.ModuleDict):
    """``nn.ModuleDict`` with tuple keys and dots, spelled as PyG's (``("a", "to", "b")`` is
    stored as ``"<a___to___b>"``, ``.`` as ``#``), so state dict keys match PyG's."""

    _CLASS_ATTRS = tuple(dir(torch.nn.ModuleDict))

    def __init__(self, modules: Optional[Mapping[Key, torch.nn.Module]] = None) -> None:
        super().__init__({self.internal_key(k): m for k, m in (modules or {}).items()})

    @classmethod
    def internal_key(cls, key: Key) -> str:
        if isinstance(key, tuple):
            key = f"<{'___'.join(key)}>"
        if key in cls._CLASS_ATTRS:
            key = f"<{key}>"
        return key.replace(".", "#")

    @classmethod
    def external_key(cls, key: str) -> Key:
        key = key.replace("#", ".")
        if key[0] == "<" and key[-1] == ">" and key[1:-1] in cls._CLASS_ATTRS:
            return key[1:-1]
        if key[0] == "<" and key[-1] == ">" and "___" in key:
            return tuple(key[1:-1].split("___"))
        return key

    def __getitem__(self, key: Key) -> torch.nn.Module:
        return super().__getitem__(self.internal_key(key))

    def __setitem__(self, key: Key, module: torch.nn.Module) -> None:
        super().__setitem__(self.internal_key(key), module)

    def __contains__(self, key: Key) -> bool:
        return super().__contains__(self.internal_key(key))

    def keys(self) -> List[Key]:  # type: ignore[override]
        return [self.external_key(k) for k in super().keys()]

    def items(self) -> Iterator[Tuple[Key, torch.nn.Module]]:  # type: ignore[override]
        return ((self.external_key(k), m) for k, m in super().items())


def group(outputs: List[Tensor], aggr: Optional[str]) -> Optional[Tensor]:
    """Combine the outputs that reach one node type: ``sum``/``mean``/``max``/``min``/``mul``,
    ``"cat"`` (features concatenated) or ``None`` (stacked on a new dimension 1), as PyG."""
    if not outputs:
        return None
    if aggr is None:
        return torch.stack(outputs, dim=1)
    if len(outputs) == 1:
        return outputs[0]
    if aggr == "cat":
        return torch.cat(outputs, dim=-1)
    stacked = torch.stack(outputs, dim=0)
    if aggr in ("sum", "add"):
        return stacked.sum(dim=0)
    if aggr == "mean":
        return stacked.mean(dim=0)
    if aggr in ("max", "min"):
        return stacked.amax(dim=0) if aggr == "max" else stacked.amin(dim=0)
    if aggr == "mul":
        return stacked.prod(dim=0)
    raise ValueError(f"HeteroConv aggr must be sum/mean/max/min/mul/cat or None, got {aggr!r}")


def _call_relation(edge_type: Tuple[str, str, str], conv: torch.nn.Module, args: list, kwargs: dict) -> Tensor:
    """``conv(*args, **kwargs)``; an error raised in an eager call gets a note naming the
    relation (a wrong feature width otherwise reads as a bare matrix-product error)."""
    if torch.compiler.is_compiling():
        return conv(*args, **kwargs)
    try:
        return conv(*args, **kwargs)
    except Exception as error:
        if hasattr(error, "add_note"):  # Python >= 3.11
            error.add_note(f"in HeteroConv's layer for the relation {edge_type}")
        raise


class HeteroConv(torch.nn.Module):
    """One layer per edge type, outputs grouped per destination type (see the module docstring).

    Args:
        convs: ``{(src, relation, dst): layer}``; bipartite layers take ``(x_src, x_dst)``.
        aggr: how the outputs reaching one node type combine (``"sum"``, ``"mean"``,
            ``"max"``, ``"min"``, ``"mul"``, ``"cat"``, or ``None`` to stack them).
    """

    def __init__(self, convs: Dict[Tuple[str, str, str], torch.nn.Module], aggr: Optional[str] = "sum") -> None:
        super().__init__()
        for edge_type, conv in convs.items():
            check_add_self_loops(conv, [edge_type])
        self.convs = ModuleDict(convs)
        self.aggr = aggr

    def reset_parameters(self) -> None:
        for conv in self.convs.values():
            if hasattr(conv, "reset_parameters"):
                conv.reset_parameters()

    def forward(self, *args_dict, **kwargs_dict) -> Dict[str, Tensor]:
        """``forward(x_dict, edge_index_dict, *other_dicts, **<name>_dict)``: a dict keyed by
        edge type feeds that type's layer; one keyed by node type gives ``value[src]`` when
        source and destination agree, else the pair ``(value[src], value[dst])``.
        Bipartite ``GATConv`` relations summed per type can run grouped (:mod:`gnnx.nn.hetero_gat`:
        on CUDA, where it is faster; not on the CPU, where it is slower)."""
        if len(args_dict) == 2 and not kwargs_dict:
            from gnnx.nn.hetero_gat import grouped_gat

            grouped = grouped_gat(self.convs, self.aggr, *args_dict)
            if grouped is not None:
                return grouped
        out: Dict[str, List[Tensor]] = {}
        for edge_type, conv in self.convs.items():
            src, _, dst = edge_type
            has_edge_input = False
            args = []
            for values in args_dict:
                if edge_type in values:
                    has_edge_input = True
                    args.append(values[edge_type])
                elif src == dst and src in values:
                    args.append(values[src])
                elif src in values or dst in values:
                    args.append((values.get(src), values.get(dst)))
            kwargs = {}
            for name, values in kwargs_dict.items():
                if not name.endswith("_dict"):
                    raise ValueError(f"HeteroConv keyword arguments end with '_dict' (got {name!r})")
                name = name[:-5]
                if edge_type in values:
                    has_edge_input = True
                    kwargs[name] = values[edge_type]
                elif src == dst and src in values:
                    kwargs[name] = values[src]
                elif src in values or dst in values:
                    kwargs[name] = (values.get(src), values.get(dst))
            if not has_edge_input:
                continue  # this edge type is absent from the inputs
            if args_dict and isinstance(args_dict[0], dict) and edge_type not in args_dict[0] \
                    and src not in args_dict[0]:
                raise ValueError(f"HeteroConv: edge type {edge_type} has edges, but the node inputs (x_dict) "
                                 f"have no {src!r}, its source node type (node types given: {list(args_dict[0])})")
            out.setdefault(dst, []).append(_call_relation(edge_type, conv, args, kwargs))
        return {node_type: group(outputs, self.aggr) for node_type, outputs in out.items()}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(num_relations={len(self.convs)})"


class HeteroLinear(LazyModuleMixin, torch.nn.Module):
    r"""A linear layer per type, :math:`\mathbf{x}'_i = \mathbf{x}_i \mathbf{W}_{\tau(i)} + \mathbf{b}_{\tau(i)}`
    (PyG's ``weight [num_types, in, out]``, ``bias [num_types, out]``; ``in_channels=-1`` reads
    the width from the first input or a loaded ``state_dict``; ``weight_initializer``,
    ``bias_initializer`` and ``bias`` keywords as :class:`~gnnx.nn.Linear`'s).

    One GEMM against every type's weights, then each row keeps its type's block: no sort, no
    host sync, a static shape (the work is ``num_types`` times one linear layer's, fine for the
    few node types of a graph; PyG sorts rows and calls a segment matmul)."""

    cls_to_become = None

    def __init__(self, in_channels: int, out_channels: int, num_types: int, is_sorted: bool = False,
                 **kwargs: Any) -> None:
        super().__init__()
        check_initializers("HeteroLinear", kwargs.get("weight_initializer"), kwargs.get("bias_initializer"))
        self.in_channels, self.out_channels, self.num_types = in_channels, out_channels, num_types
        self.is_sorted, self.kwargs = is_sorted, kwargs
        if in_channels > 0:
            self.weight = torch.nn.Parameter(torch.empty(num_types, in_channels, out_channels))
            self._initialize_hook.remove()  # nothing to infer: a plain module from here on
            self._load_hook.remove()
            del self._initialize_hook, self._load_hook
        else:
            self.weight = torch.nn.parameter.UninitializedParameter()
        self.bias = torch.nn.Parameter(torch.empty(num_types, out_channels)) if kwargs.get("bias", True) else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyG's initialisation (none while the width is unknown: the first input's call makes it)."""
        if self.in_channels > 0 and not self.has_uninitialized_params():
            reset_weight(self.weight, self.in_channels, self.kwargs.get("weight_initializer"))
        reset_bias(self.bias, self.in_channels, self.kwargs.get("bias_initializer"))

    def initialize_parameters(self, x: Tensor, *args: Any) -> None:
        """The width from the first input (the lazy hook calls this once)."""
        if self.has_uninitialized_params():
            self.in_channels = x.size(-1)
            with torch.no_grad():
                self.weight.materialize((self.num_types, self.in_channels, self.out_channels))
            self.reset_parameters()

    def _lazy_load_hook(self, state_dict, prefix, *args) -> None:
        super()._lazy_load_hook(state_dict, prefix, *args)
        if not self.has_uninitialized_params():  # materialised to the loaded weight's shape
            self.in_channels = self.weight.size(1)

    def forward(self, x: Tensor, type_vec: Tensor) -> Tensor:
        T, C = self.num_types, self.out_channels
        if type_vec.dtype not in (torch.int32, torch.int64) or type_vec.dim() != 1 or type_vec.size(0) != x.size(0):
            raise ValueError(f"HeteroLinear: type_vec must be an integer tensor with one type per row of x "
                             f"({x.size(0)}), got {type_vec.dtype} of shape {list(type_vec.shape)}")
        if can_check_on_host(type_vec) and type_vec.numel() and not 0 <= int(type_vec.min()) <= int(type_vec.max()) < T:
            raise ValueError(f"HeteroLinear: type_vec holds types outside [0, {T}) (num_types={T})")
        every = (x @ self.weight.permute(1, 0, 2).reshape(self.in_channels, T * C)).view(-1, T, C)
        out = every.gather(1, type_vec.view(-1, 1, 1).expand(-1, 1, C)).squeeze(1)
        return out if self.bias is None else out + self.bias.index_select(0, type_vec)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.in_channels}, {self.out_channels}, num_types={self.num_types}, "
                f"bias={self.kwargs.get('bias', True)})")


class HeteroDictLinear(torch.nn.Module):
    """A linear layer per key of ``x_dict`` (``lins.<type>``, PyG's names): ``in_channels`` an
    int with ``types``, or ``{type: width}``; ``-1`` widths are read on the first call."""

    def __init__(self, in_channels: Union[int, Dict[str, int]], out_channels: int,
                 types: Optional[Sequence[str]] = None, **kwargs: Any) -> None:
        super().__init__()
        if isinstance(in_channels, dict):
            if types is not None and set(types) != set(in_channels):
                raise ValueError("types do not match the keys of in_channels")
            self.types = list(in_channels)
        else:
            if types is None:
                raise ValueError("HeteroDictLinear needs types when in_channels is an int")
            self.types = list(types)
            in_channels = {key: in_channels for key in self.types}
        self.in_channels, self.out_channels, self.kwargs = in_channels, out_channels, kwargs
        self.lins = torch.nn.ModuleDict({key: Linear(width, out_channels, **kwargs) for key, width in in_channels.items()})
        self.reset_parameters()  # a second draw after each Linear's own, as PyG (same seed, same weights)

    def reset_parameters(self) -> None:
        for lin in self.lins.values():
            lin.reset_parameters()

    def forward(self, x_dict: Dict[str, Tensor]) -> Dict[str, Tensor]:
        return {key: lin(x_dict[key]) for key, lin in self.lins.items() if key in x_dict}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.in_channels}, {self.out_channels}, bias={self.kwargs.get('bias', True)})"
