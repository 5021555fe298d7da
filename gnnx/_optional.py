"""Optional dependencies, imported where a feature needs them."""
from __future__ import annotations

import importlib
from types import ModuleType
from typing import Optional


def require(module: str, feature: str, package: Optional[str] = None, note: str = "") -> ModuleType:
    """``module`` imported, or an ImportError saying that ``feature`` needs it and how to
    install it (``pip install package``, the module's top-level name by default)."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        package = package or module.split(".")[0]
        raise ImportError(f"{feature} needs {package}: pip install {package}{note}") from error
