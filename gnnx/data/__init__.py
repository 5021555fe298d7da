"""Mini-batches: many small graphs (disjoint unions, size buckets) and sampled neighbourhoods."""
from gnnx.data.batch import Batch, DataLoader, collate, pad_to_buckets
from gnnx.data.sampling import NeighborLoader, sample_exact, sample_static

__all__ = ["Batch", "DataLoader", "NeighborLoader", "collate", "pad_to_buckets", "sample_exact", "sample_static"]
