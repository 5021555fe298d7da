"""PyG's ``torch_geometric.loader`` names for gnnx's loaders (:mod:`gnnx.data`), so
``from torch_geometric.loader import DataLoader`` ports by its import."""
from gnnx.data import (
    ClusterData,
    ClusterLoader,
    DataListLoader,
    DataLoader,
    DenseDataLoader,
    DynamicBatchSampler,
    GraphSAINTEdgeSampler,
    GraphSAINTNodeSampler,
    GraphSAINTRandomWalkSampler,
    GraphSAINTSampler,
    HeteroNeighborLoader,
    ImbalancedSampler,
    LinkNeighborLoader,
    NeighborLoader,
    RandomNodeLoader,
    ShaDowKHopSampler,
    TemporalDataLoader,
)

__all__ = ["ClusterData", "ClusterLoader", "DataListLoader", "DataLoader", "DenseDataLoader", "DynamicBatchSampler", "GraphSAINTEdgeSampler", "GraphSAINTNodeSampler",
           "GraphSAINTRandomWalkSampler", "GraphSAINTSampler", "HeteroNeighborLoader", "ImbalancedSampler",
           "LinkNeighborLoader", "NeighborLoader", "RandomNodeLoader", "ShaDowKHopSampler", "TemporalDataLoader"]
