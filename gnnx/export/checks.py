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
    num_nodes = sizes.get("num_nodes")
    for spec, value in zip(specs, inputs):
        if spec["name"] == "edge_index" and value.numel() > 0 and num_nodes is not None:
            low, high = int(value.min()), int(value.max())
            if low < 0 or high >= num_nodes:
                bad = low if low < 0 else high
                raise InputError(f"edge_index: node index {bad} is outside [0, {num_nodes}) for {num_nodes} nodes")
