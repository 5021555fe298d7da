"""PyG's ``torch_geometric.loader`` names for gnnx's loaders (:mod:`gnnx.data`), so
``from torch_geometric.loader import DataLoader`` ports by its import."""
from gnnx.data import (
    CachedLoader,
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
    HGTLoader,
    ImbalancedSampler,
    LinkNeighborLoader,
    NeighborLoader,
    NeighborSampler,
    PrefetchLoader,
    RandomNodeLoader,
    ShaDowKHopSampler,
    TemporalDataLoader,
    ZipLoader,
)

__all__ = ["HGTLoader", "NeighborSampler", "CachedLoader", "PrefetchLoader", "ClusterData", "ClusterLoader", "DataListLoader", "DataLoader", "DenseDataLoader", "DynamicBatchSampler", "GraphSAINTEdgeSampler", "GraphSAINTNodeSampler",
           "GraphSAINTRandomWalkSampler", "GraphSAINTSampler", "HeteroNeighborLoader", "ImbalancedSampler",
           "LinkNeighborLoader", "NeighborLoader", "RandomNodeLoader", "ShaDowKHopSampler", "TemporalDataLoader", "ZipLoader"]
