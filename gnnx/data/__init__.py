"""Batching many graphs: disjoint unions, size buckets, a DataLoader."""
from gnnx.data.batch import Batch, DataLoader, collate, pad_to_buckets

__all__ = ["Batch", "DataLoader", "collate", "pad_to_buckets"]
