"""gnnx: compile-first graph neural networks for PyTorch."""
from gnnx.graph import CSR, Graph

__version__ = "0.1.0"
__all__ = ["CSR", "Graph", "__version__"]
