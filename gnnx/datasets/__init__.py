"""Readers for datasets on disk, safe against malicious files; the karate club (shipped in the
source); a generated heterogeneous benchmark graph and event stream."""
from gnnx.datasets.graph_classification import DatasetFormatError, GraphClassification
from gnnx.datasets.karate import KarateClub
from gnnx.datasets.planetoid import Planetoid
from gnnx.datasets.synthetic import hetero_benchmark_graph
from gnnx.datasets.temporal import temporal_benchmark_stream
from gnnx.datasets.tu import TUDataset

__all__ = ["DatasetFormatError", "GraphClassification", "KarateClub", "Planetoid", "TUDataset", "hetero_benchmark_graph", "temporal_benchmark_stream"]
