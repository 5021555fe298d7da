"""Whole models (PyG's ``torch_geometric.nn.models`` layout): the stacked GNNs of
:mod:`~gnnx.nn.models.basic_gnn`, temporal graph networks (:mod:`~gnnx.nn.models.tgn`) and the
recurrent event network for temporal knowledge graphs (:mod:`~gnnx.nn.models.re_net`) and the
link-prediction transformer LPFormer (:mod:`~gnnx.nn.models.lpformer`)."""
from gnnx.nn.models.basic_gnn import GAT, GCN, GIN, PNA, BasicGNN, EdgeCNN, GraphSAGE, JumpingKnowledge
from gnnx.nn.models.lpformer import LPFormer
from gnnx.nn.models.re_net import RENet
from gnnx.nn.models.tgn import TGNMemory

__all__ = ["BasicGNN", "EdgeCNN", "GAT", "GCN", "GIN", "GraphSAGE", "JumpingKnowledge", "LPFormer", "PNA", "RENet", "TGNMemory"]
