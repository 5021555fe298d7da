"""The transform interface (PyG's ``BaseTransform``) and ``ToDevice``.

A :class:`BaseTransform` subclass implements ``forward(graph) -> graph``; calling it runs
``forward`` on a shallow copy, so the input is left as it was. Written PyG's way (setting
``data.x = ...``, ``data.edge_index = ...`` or a new attribute on the copy) it works on a
:class:`~gnnx.Graph` too: new attributes are kept as the graph's attributes, and a changed
``edge_index`` gets its CSR rebuilt rather than a stale one.
"""
from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from typing import Any, List, Optional, Union

from gnnx.graph import EDGE_ATTRS, NODE_ATTRS, Graph, build_csr
from gnnx.hetero_graph import HeteroGraph

_GRAPH_FIELDS = set(NODE_ATTRS + EDGE_ATTRS) | {"edge_index", "num_nodes", "attrs", "csr", "_memo"}


def _settled(out: Any, original: Any) -> Any:
    """A :class:`Graph` a PyG-style ``forward`` edited in place, made consistent."""
    if not isinstance(out, Graph):
        return out
    extra = [name for name in vars(out) if name not in _GRAPH_FIELDS]
    for name in extra:  # ``graph.train_mask = ...`` on the copy: an attribute like the others
        out.attrs[name] = vars(out).pop(name)
    for name in [k for k, v in out.attrs.items() if v is None]:
        del out.attrs[name]
    if isinstance(original, Graph) and (out.edge_index is not original.edge_index
                                        or out.num_nodes != original.num_nodes):
        out.csr = build_csr(out.edge_index, out.num_nodes)
        out._memo = {}
    return out


def shallow_copy(data: Any) -> Any:
    """A copy sharing the tensors; a :class:`Graph`'s attribute and memo dicts are its own."""
    out = copy.copy(data)
    if isinstance(data, Graph):
        out.attrs = dict(data.attrs)
        out._memo = dict(data._memo)
    elif isinstance(data, HeteroGraph):
        out = data.copy()
    return out


class BaseTransform(ABC):
    """A transform: ``transform(graph)`` returns ``forward`` of a copy of ``graph``."""

    def __call__(self, data: Any) -> Any:
        return _settled(self.forward(shallow_copy(data)), data)

    @abstractmethod
    def forward(self, data: Any) -> Any:
        """The transformed graph (``data`` is a copy and may be changed in place)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class ToDevice(BaseTransform):
    """Move a graph's tensors to ``device`` (``attrs`` and ``non_blocking`` are accepted for
    PyG's signature; every tensor moves)."""

    def __init__(self, device: Union[int, str], attrs: Optional[List[str]] = None, non_blocking: bool = False) -> None:
        self.device, self.attrs, self.non_blocking = device, attrs or [], non_blocking

    def forward(self, data: Union[Graph, HeteroGraph]) -> Union[Graph, HeteroGraph]:
        return data.to(self.device)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.device})"
