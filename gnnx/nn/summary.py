"""A table of a model's layers with their input and output shapes and parameter counts, from
one evaluation pass (PyG's ``torch_geometric.nn.summary``)."""
from __future__ import annotations

import re
from collections import defaultdict
from typing import Any, List, Optional, Sequence, Type, Union

import torch
from torch.nn import Module

from gnnx.graph import Graph
from gnnx.nn.message_passing import message_passing_classes
from gnnx.utils.eval_pass import eval_pass


def _shape(values: Any) -> str:
    values = values if isinstance(values, (tuple, list)) else (values,)
    # a Graph (what gnnx's models hand their layers) stands for its edge_index
    values = [v.edge_index if isinstance(v, Graph) else v for v in values]
    return ", ".join(str(list(v.size())) for v in values if hasattr(v, "size") and callable(v.size))


def summary(model: Module, *args: Any, max_depth: int = 3,
            leaf_module: Optional[Union[str, Type[Module], Sequence[Type[Module]]]] = "MessagePassing",
            **kwargs: Any) -> str:
    """The summary of ``model(*args, **kwargs)`` as a text table: one row per module down to
    ``max_depth`` (a ``leaf_module``, message-passing layers by default, is not opened),
    with the first call's input and output shapes and the parameter count (``-1`` while lazy
    parameters are uninitialised)."""
    if leaf_module == "MessagePassing":  # gnnx's or PyG's (a PyG model summarised here too)
        leaf_module = message_passing_classes()
    leaf = tuple(leaf_module) if isinstance(leaf_module, (list, tuple)) else leaf_module
    inputs, outputs = defaultdict(list), defaultdict(list)
    rows: List[dict] = []
    hooks = {}
    stack = [(type(model).__name__, model, 0)]
    while stack:
        name, module, depth = stack.pop()
        if name.startswith("(_"):  # private modules are left out, as PyG
            continue
        if any(isinstance(p, torch.nn.parameter.UninitializedParameter) for p in module.parameters()):
            count = "-1"
        else:
            total = sum(p.numel() for p in module.parameters())
            count = f"{total:,}" if total > 0 else "--"
        rows.append({"name": name, "id": id(module), "depth": depth, "#param": count})

        def hook(mod: Module, args_in: Any, out: Any, key: int = id(module)) -> None:
            inputs[key].append(_shape(args_in))
            outputs[key].append(_shape(out))

        if not isinstance(module, torch.jit.ScriptModule):
            hooks[id(module)] = (module, hook)  # one hook per module, however often it is listed
        if depth >= max_depth or (leaf is not None and isinstance(module, leaf)):
            continue
        stack += [(f"({child_name}){type(child).__name__}", child, depth + 1)
                  for child_name, child in reversed(module._modules.items()) if child is not None]
    eval_pass(model, args, kwargs, list(hooks.values()))
    table = [["Layer", "Input Shape", "Output Shape", "#Param"]]
    for index, row in enumerate(rows):
        depth, name = row["depth"], row["name"]
        if index > 0:
            name = ("├─" if depth == 1 else f"{'│    ' * (depth - 1)}└─") + name
        seen_in, seen_out = inputs[row["id"]], outputs[row["id"]]
        table.append([name, seen_in.pop(0) if seen_in else "--", seen_out.pop(0) if seen_out else "--", row["#param"]])
    return _psql(table)


_NUMBER = re.compile(r"^-?\d{1,3}(,\d{3})*$|^-?\d+$")


def _psql(table: List[List[str]]) -> str:
    """``table`` (header first) in the ``psql`` layout of the tabulate package (a column is at
    least its header plus tabulate's minimum padding of 2 wide)."""
    widths = [max(max((len(row[c]) for row in table[1:]), default=0), len(table[0][c]) + 2)
              for c in range(len(table[0]))]
    # tabulate right-aligns a column of numbers (thousands separators allowed), header included
    numeric = [bool(table[1:]) and all(_NUMBER.match(row[c]) for row in table[1:]) for c in range(len(widths))]
    table = [[v.rjust(w) if right else v for v, w, right in zip(row, widths, numeric)] for row in table]
    border = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    lines = [border, "| " + " | ".join(v.ljust(w) for v, w in zip(table[0], widths)) + " |",
             "|" + "+".join("-" * (w + 2) for w in widths) + "|"]
    lines += ["| " + " | ".join(v.ljust(w) for v, w in zip(row, widths)) + " |" for row in table[1:]]
    return "\n".join(lines + [border])
