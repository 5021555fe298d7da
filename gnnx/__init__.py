"""gnnx: compile-first graph neural networks for PyTorch."""
from gnnx.graph import CSR, Graph
from gnnx.hetero_graph import HeteroGraph

__version__ = "0.1.0"

from gnnx import data, datasets, export, nn, ops, transforms, utils  # noqa: E402  (after __version__: export reads it)
from gnnx._compile import CompiledModel, compile  # noqa: E402

__all__ = ["CSR", "CompiledModel", "Graph", "HeteroGraph", "compile", "__version__", "data", "datasets", "export", "nn", "ops", "transforms", "utils"]
