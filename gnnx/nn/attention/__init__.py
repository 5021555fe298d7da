"""Global attention modules, at PyG's path (``torch_geometric.nn.attention``)."""
from gnnx.nn.attention.performer import PerformerAttention

__all__ = ["PerformerAttention"]
