"""Dataset constructors take gnnx's argument order, ``Dataset(name, root)``, and PyG's,
``Dataset(root, name=...)`` / ``Dataset(root, name)``, so PyG scripts port by their imports."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional, Tuple


def _is_folder(value: Any) -> bool:
    return isinstance(value, (str, os.PathLike)) and Path(value).is_dir()


def name_and_root(first: Any, second: Any, name: Optional[str], known: Tuple[str, ...] = ()) -> Tuple[str, Any]:
    """``(name, root)`` from ``Dataset(first, second, name=name)``.

    PyG's order when ``name`` is a keyword, or when ``first`` is an existing folder (or
    ``second`` is a known dataset name) and ``second`` is not a folder; gnnx's otherwise.
    """
    if name is not None:
        return name, first if first is not None else second
    if second is None:
        return first, None
    second_is_name = isinstance(second, str) and second.lower() in known
    if (_is_folder(first) or second_is_name) and not _is_folder(second):
        return second, first
    return first, second
