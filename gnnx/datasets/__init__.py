"""Readers for datasets on disk, safe against malicious files."""
from gnnx.datasets.graph_classification import DatasetFormatError, GraphClassification
from gnnx.datasets.planetoid import Planetoid
from gnnx.datasets.tu import TUDataset

__all__ = ["DatasetFormatError", "GraphClassification", "Planetoid", "TUDataset"]
