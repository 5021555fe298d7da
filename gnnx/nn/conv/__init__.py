"""Message-passing layers, one file per family."""
from gnnx.nn.conv.dynamic import DynamicEdgeConv, GravNetConv
from gnnx.nn.conv.edge_conv import EdgeConv
from gnnx.nn.conv.gat import GATConv, GATv2Conv
from gnnx.nn.conv.gcn import GCNConv
from gnnx.nn.conv.gin import GINConv, GINEConv
from gnnx.nn.conv.composite import AntiSymmetricConv, PointNetConv
from gnnx.nn.conv.edge_features import CGConv, NNConv, TransformerConv
from gnnx.nn.conv.gated import ClusterGCNConv, GatedGraphConv, LEConv, ResGatedGraphConv
from gnnx.nn.conv.graph_conv import GraphConv
from gnnx.nn.conv.propagation import APPNP, SGConv, SimpleConv, TAGConv
from gnnx.nn.conv.sage import SAGEConv

__all__ = ["DynamicEdgeConv", "GravNetConv", "AntiSymmetricConv", "PointNetConv", "CGConv", "NNConv", "TransformerConv", "ClusterGCNConv", "GatedGraphConv", "LEConv", "ResGatedGraphConv", "APPNP", "SGConv", "SimpleConv", "TAGConv", "EdgeConv", "GATConv", "GATv2Conv", "GCNConv", "GINConv", "GINEConv", "GraphConv", "SAGEConv"]
