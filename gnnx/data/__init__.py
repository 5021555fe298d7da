"""Mini-batches: many small graphs (disjoint unions, size buckets) and sampled neighbourhoods."""
from gnnx.data.batch import Batch, DataLoader, DenseBatch, DenseDataLoader, collate, pad_to_buckets
from gnnx.data.cluster import ClusterData, ClusterLoader
from gnnx.data.dataset import Dataset, InMemoryDataset
from gnnx.data.hetero_batch import HeteroBatch
from gnnx.data.hetero_sampling import HeteroNeighborLoader, pad_hetero, sample_hetero
from gnnx.data.hgt_loader import HGTLoader, hgt_sample
from gnnx.data.link_loader import LinkNeighborLoader
from gnnx.data.neighbor_sampler import EdgeIndex, NeighborSampler
from gnnx.data.random_walk import random_walk
from gnnx.data.sampling import NeighborLoader, sample_exact, sample_static
from gnnx.data.shadow import ShaDowKHopSampler
from gnnx.data.subgraph_loaders import (
    DataListLoader,
    DynamicBatchSampler,
    GraphSAINTEdgeSampler,
    GraphSAINTNodeSampler,
    GraphSAINTRandomWalkSampler,
    GraphSAINTSampler,
    ImbalancedSampler,
    RandomNodeLoader,
)
from gnnx.data.temporal import TemporalData, TemporalDataLoader
from gnnx.data.wrappers import CachedLoader, PrefetchLoader
from gnnx.data.zip_loader import ZipLoader

__all__ = ["Batch", "HeteroBatch", "HGTLoader", "hgt_sample", "EdgeIndex", "NeighborSampler", "CachedLoader", "PrefetchLoader", "ClusterData", "ClusterLoader", "DataListLoader", "DataLoader", "Dataset", "DenseBatch", "DenseDataLoader", "InMemoryDataset", "DynamicBatchSampler", "GraphSAINTEdgeSampler",
           "GraphSAINTNodeSampler", "GraphSAINTRandomWalkSampler", "GraphSAINTSampler", "ImbalancedSampler",
           "RandomNodeLoader", "ShaDowKHopSampler", "TemporalData", "TemporalDataLoader", "ZipLoader", "HeteroNeighborLoader", "LinkNeighborLoader", "NeighborLoader", "collate", "pad_to_buckets", "pad_hetero",
           "random_walk", "sample_exact", "sample_hetero", "sample_static"]
