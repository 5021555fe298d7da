"""Neural-network building blocks: the message-passing base, layers, models, norms, readouts."""
from gnnx.nn import aggr
from gnnx.nn.aggr import *  # noqa: F401,F403  (every readout, as torch_geometric.nn exports them)
from gnnx.nn.aggr import __all__ as _aggregations
from gnnx.nn.asap import ASAPooling
from gnnx.nn.attention import PerformerAttention
from gnnx.nn.attentive_fp import AttentiveFP
from gnnx.nn.attract_repel import ARLinkPredictor
from gnnx.nn.autoencoder import ARGA, ARGVA, GAE, VGAE, InnerProductDecoder
from gnnx.nn.cluster_pool import ClusterPooling
from gnnx.nn.conv import *  # noqa: F401,F403  (every layer; the list is gnnx.nn.conv.__all__)
from gnnx.nn.conv import __all__ as _convs
from gnnx.nn.deepgcn import DeepGCNLayer
from gnnx.nn.dense import (
                           DenseGATConv,
                           DenseGCNConv,
                           DenseGINConv,
                           DenseGraphConv,
                           DenseSAGEConv,
                           DMoNPooling,
                           dense_diff_pool,
                           dense_mincut_pool,
)
from gnnx.nn.dimenet import DimeNet, DimeNetPlusPlus
from gnnx.nn.edge_pool import EdgePooling
from gnnx.nn.encoding import PositionalEncoding, TemporalEncoding
from gnnx.nn.fixed_size import to_fixed_size
from gnnx.nn.glob import GlobalAttention, global_sort_pool
from gnnx.nn.gnnff import GNNFF
from gnnx.nn.gpse import GPSE, GPSENodeEncoder
from gnnx.nn.graph_unet import GraphUNet
from gnnx.nn.hetero import HeteroConv, HeteroDictLinear, HeteroLinear
from gnnx.nn.hetero_norm import HeteroBatchNorm, HeteroJumpingKnowledge, HeteroLayerNorm
from gnnx.nn.infomax import DeepGraphInfomax
from gnnx.nn.kge import ComplEx, DistMult, KGEModel, RotatE, TransE
from gnnx.nn.knn_index import ApproxL2KNNIndex, ApproxMIPSKNNIndex, KNNIndex, L2KNNIndex, MIPSKNNIndex
from gnnx.nn.label_propagation import CorrectAndSmooth, LabelPropagation
from gnnx.nn.lightgcn import LightGCN
from gnnx.nn.linear import Linear
from gnnx.nn.linkx import LINKX, SparseLinear
from gnnx.nn.mask_label import MaskLabel
from gnnx.nn.mem_pool import MemPooling
from gnnx.nn.message_passing import Adjacency, MessagePassing
from gnnx.nn.meta import MetaLayer
from gnnx.nn.metapath2vec import MetaPath2Vec
from gnnx.nn.mlp import MLP
from gnnx.nn.models import (
                           GAT,
                           GCN,
                           GIN,
                           PNA,
                           BasicGNN,
                           EdgeCNN,
                           GraphSAGE,
                           JumpingKnowledge,
                           LPFormer,
                           RENet,
                           TGNMemory,
)
from gnnx.nn.neural_fingerprint import NeuralFingerprint
from gnnx.nn.node2vec import Node2Vec
from gnnx.nn.norm import (
                           BatchNorm,
                           DiffGroupNorm,
                           GraphNorm,
                           GraphSizeNorm,
                           InstanceNorm,
                           LayerNorm,
                           MeanSubtractionNorm,
                           MessageNorm,
                           PairNorm,
)
from gnnx.nn.pan import PANConv, PANPooling
from gnnx.nn.pmlp import PMLP
from gnnx.nn.point_sets import (
                           approx_knn,
                           approx_knn_graph,
                           fps,
                           knn,
                           knn_graph,
                           knn_interpolate,
                           nearest,
                           radius,
                           radius_graph,
                           voxel_grid,
)
from gnnx.nn.polynormer import Polynormer
from gnnx.nn.pool import (
                           SAGPooling,
                           StaticPooled,
                           TopKPooling,
                           avg_pool,
                           avg_pool_neighbor_x,
                           avg_pool_x,
                           consecutive_cluster,
                           global_add_pool,
                           global_max_pool,
                           global_mean_pool,
                           graclus,
                           max_pool,
                           max_pool_neighbor_x,
                           max_pool_x,
)
from gnnx.nn.rect import RECT_L
from gnnx.nn.reshape import Reshape
from gnnx.nn.rev_gnn import GroupAddRev, InvertibleModule
from gnnx.nn.schnet import SchNet
from gnnx.nn.sequential import Sequential
from gnnx.nn.sgformer import SGFormer
from gnnx.nn.signed_gcn import SignedGCN
from gnnx.nn.summary import summary
from gnnx.nn.to_hetero import to_hetero
from gnnx.nn.to_hetero_with_bases import to_hetero_with_bases
from gnnx.nn.visnet import ViSNet

__all__ = list(_convs) + list(_aggregations) + [
    "ARGA", "ARGVA", "Adjacency", "AttentiveFP", "BasicGNN", "BatchNorm", "CorrectAndSmooth", "DeepGCNLayer", "DeepGraphInfomax", "DiffGroupNorm", "DenseGATConv", "DenseGCNConv", "DenseGINConv", "DenseGraphConv",
    "DenseSAGEConv", "DMoNPooling", "EdgeCNN", "EdgePooling", "GAT", "GAE", "GCN", "GIN", "GlobalAttention", "GraphNorm", "GraphSAGE", "GraphUNet", "GraphSizeNorm",
    "HeteroBatchNorm", "HeteroConv", "HeteroDictLinear", "HeteroJumpingKnowledge", "HeteroLayerNorm", "HeteroLinear", "InnerProductDecoder", "KGEModel", "TransE", "DistMult", "ComplEx", "RotatE", "InstanceNorm", "JumpingKnowledge", "KNNIndex", "L2KNNIndex", "MIPSKNNIndex", "ApproxL2KNNIndex", "ApproxMIPSKNNIndex", "LabelPropagation",
    "LayerNorm", "LightGCN", "LPFormer", "Linear", "LINKX", "MLP", "MaskLabel", "SparseLinear", "MeanSubtractionNorm", "MemPooling", "MessageNorm", "MessagePassing", "MetaLayer", "MetaPath2Vec", "NeuralFingerprint", "Node2Vec", "PMLP", "PNA", "PairNorm", "PerformerAttention", "PositionalEncoding", "RECT_L", "RENet", "SAGPooling", "Reshape", "SchNet", "ViSNet", "GPSE", "GPSENodeEncoder", "SGFormer", "Polynormer", "GNNFF", "ClusterPooling", "ARLinkPredictor", "Sequential", "SignedGCN", "StaticPooled", "TemporalEncoding", "TGNMemory", "summary", "GroupAddRev", "InvertibleModule", "ASAPooling", "DimeNet", "DimeNetPlusPlus", "PANConv", "PANPooling", "TopKPooling",
    "VGAE", "aggr", "dense_diff_pool", "dense_mincut_pool", "global_add_pool", "global_max_pool", "global_mean_pool", "global_sort_pool", "to_hetero", "to_hetero_with_bases", "to_fixed_size",
    "approx_knn", "approx_knn_graph", "avg_pool", "avg_pool_neighbor_x", "avg_pool_x", "consecutive_cluster", "fps", "graclus", "knn", "max_pool", "max_pool_neighbor_x", "max_pool_x", "knn_graph", "knn_interpolate", "nearest", "radius", "radius_graph", "voxel_grid",
]

# PyG names its Captum helpers in torch_geometric.nn; they live with the explainers
# (imported last: gnnx.explain imports gnnx.nn's layers).
from gnnx.explain.algorithm.captum import captum_output_to_dicts, to_captum_input, to_captum_model  # noqa: E402

__all__ += ["captum_output_to_dicts", "to_captum_input", "to_captum_model"]
