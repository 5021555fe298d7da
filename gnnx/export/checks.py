"""Input checks for deployed programs, driven by the metadata saved with them.

Exported programs and AOTInductor packages do not check their inputs (a wrong feature
size can run silently); these checks run first and name the problem.
"""
from __future__ import annotations

from typing import Any, Dict, Sequence

import torch
from torch import Tensor


class InputError(ValueError):
    """An input does not fit the program it is given to."""


def check_inputs(metadata: Dict[str, Any], inputs: Sequence[Tensor]) -> None:
    specs = metadata.get("inputs", [])
    if len(inputs) != len(specs):
        names = ", ".join(s["name"] for s in specs)
        raise InputError(f"expected {len(specs)} inputs ({names}), got {len(inputs)}")
    sizes: Dict[str, int] = {}
    for spec, value in zip(specs, inputs):
        name = spec["name"]
        if not isinstance(value, Tensor):
            raise InputError(f"{name}: expected a tensor, got {type(value).__name__}")
        dtype = getattr(torch, spec["dtype"])
        if value.dtype != dtype:
            raise InputError(f"{name}: expected dtype {spec['dtype']}, got {str(value.dtype).replace('torch.', '')}")
        shape = spec["shape"]
        if value.dim() != len(shape):
            raise InputError(f"{name}: expected {len(shape)} dimensions {shape}, got shape {list(value.shape)}")
        for axis, (want, got) in enumerate(zip(shape, value.shape)):
            if want != -1 and want != got:
                raise InputError(f"{name}: dimension {axis} must be {want}, got shape {list(value.shape)}")
        counts = spec.get("counts")
        if counts is not None:
            got = value.size(spec["dynamic_axis"])
            if sizes.setdefault(counts, got) != got:
                raise InputError(f"{name}: {counts} is {got} here but {sizes[counts]} in an earlier input")
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise InputError(f"{name}: contains NaN or infinite values")
    for counts, least in metadata.get("minimum_sizes", {}).items():
        if counts in sizes and sizes[counts] < least:
            raise InputError(f"this program needs {counts} >= {least}, got {sizes[counts]}")
    for spec, value in zip(specs, inputs):
        bounds = spec.get("index_counts")
        if bounds is None and spec["name"] == "edge_index":  # metadata written before index_counts
            bounds = ["num_nodes", "num_nodes"]
        if not bounds or value.numel() == 0 or any(b not in sizes for b in bounds):
            continue
        if bounds[0] == bounds[1]:
            _check_range(spec["name"], "node index", value, sizes[bounds[0]], "")
        else:  # a relation between two node types: each row against its own type
            for row, (role, counts) in enumerate(zip(("source", "destination"), bounds)):
                node_type = counts.split("__", 1)[1] if "__" in counts else ""
                _check_range(spec["name"], f"{role} index", value[row], sizes[counts], f" '{node_type}'")


def _check_range(name: str, what: str, index: Tensor, count: int, node_type: str) -> None:
    low, high = int(index.min()), int(index.max())
    if low < 0 or high >= count:
        bad = low if low < 0 else high
        raise InputError(f"{name}: {what} {bad} is outside [0, {count}) for {count}{node_type} nodes")
