"""Message-passing layers, one file per family."""
from gnnx.nn.conv.attention_propagation import AGNNConv, FAConv
from gnnx.nn.conv.composite import AntiSymmetricConv, PointGNNConv, PointNetConv
from gnnx.nn.conv.dna import DNAConv
from gnnx.nn.conv.dynamic import DynamicEdgeConv, GravNetConv
from gnnx.nn.conv.edge_conv import EdgeConv
from gnnx.nn.conv.edge_features import CGConv, NNConv, PDNConv, TransformerConv
from gnnx.nn.conv.gat import GATConv, GATv2Conv, SuperGATConv
from gnnx.nn.conv.gated import ClusterGCNConv, GatedGraphConv, LEConv, ResGatedGraphConv
from gnnx.nn.conv.gcn import GCNConv
from gnnx.nn.conv.geometric import FeaStConv, GMMConv, PointTransformerConv, PPFConv, XConv
from gnnx.nn.conv.gin import GINConv, GINEConv
from gnnx.nn.conv.gps import GPSConv
from gnnx.nn.conv.graph_conv import GraphConv
from gnnx.nn.conv.heterogeneous import HANConv, HGTConv
from gnnx.nn.conv.hypergraph import HypergraphConv
from gnnx.nn.conv.mesh import MeshCNNConv
from gnnx.nn.conv.multi_aggr import EGConv, GENConv, GeneralConv, MFConv, PNAConv
from gnnx.nn.conv.propagation import APPNP, GCN2Conv, LGConv, MixHopConv, SGConv, SimpleConv, SSGConv, TAGConv
from gnnx.nn.conv.relational import DirGNNConv, FastRGCNConv, FiLMConv, RGCNConv, SignedConv
from gnnx.nn.conv.relational_attention import HEATConv, RGATConv
from gnnx.nn.conv.sage import SAGEConv
from gnnx.nn.conv.spectral import ARMAConv, ChebConv
from gnnx.nn.conv.spline import SplineConv
from gnnx.nn.conv.wl import WLConv, WLConvContinuous

ECConv = NNConv  # PyG's second name for it (the edge-conditioned convolution)

__all__ = [
    "AGNNConv", "AntiSymmetricConv", "APPNP", "ARMAConv", "CGConv", "ChebConv", "ClusterGCNConv", "DirGNNConv",
    "DynamicEdgeConv", "ECConv", "EdgeConv", "EGConv", "FAConv", "FastRGCNConv", "FeaStConv", "FiLMConv", "GATConv", "GATv2Conv", "GatedGraphConv", "MeshCNNConv",
    "GCN2Conv", "GCNConv", "GeneralConv", "GENConv", "GINConv", "GINEConv", "GMMConv", "GPSConv", "GraphConv", "GravNetConv",
    "HANConv", "HEATConv", "HGTConv", "HypergraphConv",
    "LEConv", "MFConv", "MixHopConv", "NNConv", "PDNConv", "PNAConv", "PointGNNConv", "PointNetConv", "PointTransformerConv", "PPFConv", "ResGatedGraphConv", "SignedConv",
    "LGConv", "RGATConv", "RGCNConv", "SAGEConv", "SGConv", "SimpleConv", "SSGConv", "SuperGATConv", "TAGConv", "TransformerConv", "WLConv", "WLConvContinuous", "XConv", "DNAConv", "SplineConv",
]
