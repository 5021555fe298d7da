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

from typing import Dict, Iterator, List, Mapping, Optional, Tuple, Union

import torch
from torch import Tensor

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


class HeteroConv(torch.nn.Module):
    """One layer per edge type, outputs grouped per destination type (see the module docstring).

    Args:
        convs: ``{(src, relation, dst): layer}``; bipartite layers take ``(x_src, x_dst)``.
        aggr: how the outputs reaching one node type combine (``"sum"``, ``"mean"``,
            ``"max"``, ``"min"``, ``"mul"``, ``"cat"``, or ``None`` to stack them).
    """

    def __init__(self, convs: Dict[Tuple[str, str, str], torch.nn.Module], aggr: Optional[str] = "sum") -> None:
        super().__init__()
        self.convs = ModuleDict(convs)
        self.aggr = aggr

    def reset_parameters(self) -> None:
        for conv in self.convs.values():
            if hasattr(conv, "reset_parameters"):
                conv.reset_parameters()

    def forward(self, *args_dict, **kwargs_dict) -> Dict[str, Tensor]:
        """``forward(x_dict, edge_index_dict, *other_dicts, **<name>_dict)``: a dict keyed by
        edge type feeds that type's layer; one keyed by node type gives ``value[src]`` when
        source and destination agree, else the pair ``(value[src], value[dst])``."""
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
            out.setdefault(dst, []).append(conv(*args, **kwargs))
        return {node_type: group(outputs, self.aggr) for node_type, outputs in out.items()}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(num_relations={len(self.convs)})"
