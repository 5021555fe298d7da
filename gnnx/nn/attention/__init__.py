"""Global attention modules, at PyG's path (``torch_geometric.nn.attention``)."""
from gnnx.nn.attention.performer import PerformerAttention
from gnnx.nn.attention.polynormer import PolynormerAttention
from gnnx.nn.attention.qformer import QFormer
from gnnx.nn.attention.sgformer import SGFormerAttention

__all__ = ["PerformerAttention", "PolynormerAttention", "QFormer", "SGFormerAttention"]
