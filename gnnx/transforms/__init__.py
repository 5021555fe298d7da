"""One-time data preparation on a :class:`~gnnx.Graph` (and :class:`~gnnx.HeteroGraph` where
PyG's takes one), outside any model: PyG's transforms under PyG's names and arguments.

Each transform is a callable ``Graph -> Graph`` returning a new graph (``RandomLinkSplit``:
three); :class:`Compose` chains them. Modules: ``base`` (structure: loops, normalisation,
undirected, duplicates, order), ``features``, ``geometry``, ``splits``, ``encodings``,
``graph_ops``, ``diffusion``.
"""
from gnnx.transforms.base import (
    AddSelfLoops,
    Compose,
    GCNNorm,
    NormalizeFeatures,
    RemoveDuplicateEdges,
    SortByDestination,
    ToCSR,
    ToUndirected,
)
from gnnx.transforms.diffusion import GDC
from gnnx.transforms.encodings import AddLaplacianEigenvectorPE, AddRandomWalkPE
from gnnx.transforms.features import Center, Constant, NormalizeScale, OneHotDegree
from gnnx.transforms.geometry import Cartesian, Distance, FaceToEdge, KNNGraph, LocalCartesian, RadiusGraph
from gnnx.transforms.graph_ops import LargestConnectedComponents, ToSparseTensor, VirtualNode
from gnnx.transforms.splits import RandomLinkSplit, RandomNodeSplit

__all__ = [
    "AddLaplacianEigenvectorPE", "AddRandomWalkPE", "AddSelfLoops", "Cartesian", "Center", "Compose", "Constant",
    "Distance", "FaceToEdge", "GCNNorm", "GDC", "KNNGraph", "LargestConnectedComponents", "LocalCartesian",
    "NormalizeFeatures", "NormalizeScale", "OneHotDegree", "RadiusGraph", "RandomLinkSplit", "RandomNodeSplit",
    "RemoveDuplicateEdges", "SortByDestination", "ToCSR", "ToSparseTensor", "ToUndirected", "VirtualNode",
]
