"""gnnx: compile-first graph neural networks for PyTorch."""
from gnnx.graph import CSR, Graph

__version__ = "0.1.0"

from gnnx import data, datasets, export, nn, ops, transforms  # noqa: E402  (after __version__: export reads it)
from gnnx._compile import CompiledModel, compile  # noqa: E402

__all__ = ["CSR", "CompiledModel", "Graph", "compile", "__version__", "data", "datasets", "export", "nn", "ops", "transforms"]
