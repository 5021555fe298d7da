"""``Sequential``: PyG's sequential GNN container, where each entry names the values it reads
and writes, so layers taking several inputs (``x, edge_index``) chain like ``nn.Sequential``::

    model = Sequential("x, edge_index", [
        (GCNConv(16, 64), "x, edge_index -> x"),
        ReLU(inplace=True),                       # no header: reads and writes the last outputs
        (GCNConv(64, 64), "x, edge_index -> x1"),
        (lambda x1, x: [x1, x], "x1, x -> xs"),   # any callable
        (JumpingKnowledge("cat"), "xs -> x"),
        Linear(128, 7),
    ])

PyG's arguments, child names (``module_0``, ... or a dict's keys, so state dicts load),
``repr`` and result (the last entry's output). As in PyG, ``forward`` takes the input names
as its parameters (what ``torch.fx``, hence ``to_hetero``, and ``gnnx.export`` read): each
signature gets a subclass whose ``forward(self, x, edge_index)`` hands its arguments to one
loop over the entries, which ``torch.compile`` unrolls (the headers are fixed when the
container is built).
"""
from __future__ import annotations

import keyword
from typing import Any, Callable, Dict, List, NamedTuple, Tuple, Union

import torch

Entry = Union[Callable, Tuple[Callable, str]]


class _Child(NamedTuple):
    name: str
    param_names: List[str]
    return_names: List[str]


def _names(text: str) -> List[str]:
    """``"x: Tensor, edge_index"`` -> ``["x", "edge_index"]`` (type hints are PyG's, for TorchScript)."""
    return [part.split(":")[0].strip() for part in text.split(",") if part.strip()]


class Sequential(torch.nn.Module):
    """A sequential GNN (module docstring).

    Args:
        input_args: the model's arguments, ``"x, edge_index"`` (optionally PyG's type hints and
            ``-> return type``).
        modules: entries ``module`` or ``(callable, "inputs -> outputs")`` in a list (children
            ``module_0``, ``module_1``, ...) or a dict (its keys name them). The first entry
            needs its header; an entry without one reads and writes the previous entry's outputs.
    """

    def __init__(self, input_args: str, modules: Union[List[Entry], Dict[str, Entry]]) -> None:
        super().__init__()
        header = input_args.split("->")
        if len(header) > 2:
            raise ValueError(f"Sequential: failed to parse the input arguments {input_args!r}")
        self.input_names = _names(header[0])
        bad = [n for n in self.input_names if not n.isidentifier() or keyword.iskeyword(n) or n == "self"]
        if bad or not self.input_names or len(set(self.input_names)) != len(self.input_names):
            raise ValueError(f"Sequential: input arguments must be distinct names, got {input_args!r}")
        if not isinstance(modules, dict):
            modules = {f"module_{i}": module for i, module in enumerate(modules)}
        if len(modules) == 0:
            raise ValueError("Sequential expects a non-empty list of modules")
        self._children: List[_Child] = []
        for i, (name, entry) in enumerate(modules.items()):
            module, desc = entry, None
            if isinstance(entry, (tuple, list)):
                if len(entry) not in (1, 2):
                    raise ValueError(f"Sequential: expected (module, 'inputs -> outputs'), got {entry!r}")
                module, desc = entry[0], (entry[1] if len(entry) == 2 else None)
            if i == 0 and desc is None:
                raise ValueError("Sequential: the first module needs its header ('x, edge_index -> x')")
            if not callable(module):
                raise ValueError(f"Sequential: expected a callable module, got {module!r}")
            if desc is not None:
                if not isinstance(desc, str) or len(desc.split("->")) != 2:
                    raise ValueError(f"Sequential: failed to parse the header {desc!r} of entry {i} "
                                     f"(expected 'inputs -> outputs')")
                inputs, outputs = desc.split("->")
                child = _Child(name, _names(inputs), _names(outputs))
            else:
                last = self._children[-1].return_names
                child = _Child(name, last, last)
            setattr(self, name, module)
            self._children.append(child)
        self.__class__ = _with_signature(tuple(self.input_names))

    def reset_parameters(self) -> None:
        for child in self._children:
            module = getattr(self, child.name)
            if hasattr(module, "reset_parameters"):
                module.reset_parameters()

    def __len__(self) -> int:
        return len(self._children)

    def __getitem__(self, idx: int) -> Callable:
        return getattr(self, self._children[idx].name)

    def _run(self, *args: Any) -> Any:
        """The entries in turn over the inputs (``args``, in the order of ``input_names``)."""
        values = dict(zip(self.input_names, args))
        outs = None
        for child in self._children:
            missing = [n for n in child.param_names if n not in values]
            if missing:
                raise ValueError(f"Sequential: {child.name} reads {missing}, which neither the inputs "
                                 f"{self.input_names} nor an earlier entry provide")
            outs = getattr(self, child.name)(*[values[n] for n in child.param_names])
            if len(child.return_names) == 1:
                values[child.return_names[0]] = outs
            else:  # indexed, not unpacked: torch.fx cannot iterate a traced value
                for i, name in enumerate(child.return_names):
                    values[name] = outs[i]
        return outs

    def __reduce_ex__(self, protocol):
        # the subclass of this signature is made at run time: pickle (and deepcopy) rebuild it
        return _rebuild, (tuple(self.input_names),), self.__dict__

    def __repr__(self) -> str:  # PyG's
        lines = [f"  ({i}) - {self[i]}: {', '.join(c.param_names)} -> {', '.join(c.return_names)}"
                 for i, c in enumerate(self._children)]
        return f"{type(self).__name__}(\n" + "\n".join(lines) + "\n)"


_SUBCLASSES: Dict[Tuple[str, ...], type] = {}


def _with_signature(names: Tuple[str, ...]) -> type:
    """The subclass of :class:`Sequential` whose ``forward`` takes ``names`` (made once per
    signature; the names are checked identifiers)."""
    subclass = _SUBCLASSES.get(names)
    if subclass is None:
        params = ", ".join(names)
        namespace: Dict[str, Any] = {}
        exec(f"def forward(self, {params}):\n    return self._run({params})\n", namespace)
        subclass = type("Sequential", (Sequential,), {"forward": namespace["forward"], "__module__": __name__})
        _SUBCLASSES[names] = subclass
    return subclass


def _rebuild(names: Tuple[str, ...]) -> Sequential:
    subclass = _with_signature(names)
    return subclass.__new__(subclass)
