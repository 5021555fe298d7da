"""PyG's ``torch_geometric.loader`` names for gnnx's loaders (:mod:`gnnx.data`), so
``from torch_geometric.loader import DataLoader`` ports by its import."""
from gnnx.data import DataLoader, NeighborLoader

__all__ = ["DataLoader", "NeighborLoader"]
