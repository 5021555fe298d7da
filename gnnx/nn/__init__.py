"""Neural-network building blocks: the message-passing base, layers, models, readouts."""
from gnnx.nn.conv import DynamicEdgeConv, GravNetConv
from gnnx.nn.conv import AntiSymmetricConv, CGConv, NNConv, PointNetConv, TransformerConv
from gnnx.nn.conv import APPNP, ClusterGCNConv, GatedGraphConv, LEConv, ResGatedGraphConv, SGConv, SimpleConv, TAGConv
from gnnx.nn.conv import EdgeConv, GATConv, GATv2Conv, GCNConv, GINConv, GINEConv, GraphConv, SAGEConv
from gnnx.nn.message_passing import Adjacency, MessagePassing
from gnnx.nn.mlp import MLP
from gnnx.nn.models import GAT, GCN, GIN, BasicGNN, EdgeCNN, GraphSAGE, JumpingKnowledge
from gnnx.nn.norm import BatchNorm
from gnnx.nn.pool import global_add_pool, global_max_pool, global_mean_pool

__all__ = [
    "DynamicEdgeConv", "GravNetConv", "AntiSymmetricConv", "CGConv", "NNConv", "PointNetConv", "TransformerConv",
    "APPNP", "ClusterGCNConv", "GatedGraphConv", "LEConv", "ResGatedGraphConv", "SGConv", "SimpleConv", "TAGConv",
    "Adjacency", "BasicGNN", "BatchNorm", "EdgeCNN", "EdgeConv", "GAT", "GATConv", "GATv2Conv", "GCN",
    "GCNConv", "GIN", "GINConv", "GINEConv", "GraphConv", "GraphSAGE", "JumpingKnowledge", "MLP",
    "MessagePassing", "SAGEConv", "global_add_pool", "global_max_pool", "global_mean_pool",
]
