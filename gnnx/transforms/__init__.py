"""One-time data preparation on a :class:`~gnnx.Graph` (and :class:`~gnnx.HeteroGraph` where
PyG's takes one), outside any model: PyG's transforms under PyG's names and arguments.

Each transform is a callable ``Graph -> Graph`` returning a new graph (``RandomLinkSplit``:
three); :class:`Compose` chains them; :class:`BaseTransform` is PyG's base class for writing
one. Modules: ``transform`` (the base class, ``ToDevice``), ``base`` (structure: loops,
normalisation, undirected, duplicates, order), ``structure`` (loops, isolated nodes, two
hops, dense adjacency), ``features`` and ``node_features``, ``geometry`` and
``point_clouds`` (edge geometry, augmentation, sampling), ``splits``, ``encodings``,
``graph_ops``, ``diffusion``.
"""
from gnnx.transforms.base import (
    AddSelfLoops,
    Compose,
    ComposeFilters,
    GCNNorm,
    NormalizeFeatures,
    RemoveDuplicatedEdges,
    RemoveDuplicateEdges,
    SortByDestination,
    ToCSR,
    ToUndirected,
)
from gnnx.transforms.diffusion import GDC
from gnnx.transforms.encodings import AddGPSE, AddLaplacianEigenvectorPE, AddRandomWalkPE
from gnnx.transforms.features import Center, Constant, NormalizeScale, OneHotDegree
from gnnx.transforms.geometry import (
    Cartesian,
    Delaunay,
    Distance,
    FaceToEdge,
    KNNGraph,
    LocalCartesian,
    RadiusGraph,
)
from gnnx.transforms.graph_ops import LargestConnectedComponents, ToSparseTensor, VirtualNode
from gnnx.transforms.hetero import AddMetaPaths, AddRandomMetaPaths
from gnnx.transforms.node_features import (
    SIGN,
    FeaturePropagation,
    IndexToMask,
    LocalDegreeProfile,
    MaskToIndex,
    RemoveTrainingClasses,
    SVDFeatureReduction,
    TargetIndegree,
)
from gnnx.transforms.pad import (
    AttrNamePadding,
    EdgeTypePadding,
    NodeTypePadding,
    Pad,
    Padding,
    UniformPadding,
)
from gnnx.transforms.point_clouds import (
    FixedPoints,
    GenerateMeshNormals,
    GridSampling,
    LinearTransformation,
    NormalizeRotation,
    PointPairFeatures,
    Polar,
    RandomFlip,
    RandomJitter,
    RandomRotate,
    RandomScale,
    RandomShear,
    SamplePoints,
    Spherical,
)
from gnnx.transforms.property_split import NodePropertySplit
from gnnx.transforms.rooted_subgraph import RootedEgoNets, RootedRWSubgraph, RootedSubgraph, RootedSubgraphData
from gnnx.transforms.spectral import LaplacianLambdaMax
from gnnx.transforms.splits import RandomLinkSplit, RandomNodeSplit
from gnnx.transforms.structure import (
    AddRemainingSelfLoops,
    HalfHop,
    LineGraph,
    RemoveIsolatedNodes,
    RemoveSelfLoops,
    ToDense,
    TwoHop,
)
from gnnx.transforms.superpixels import ToSLIC
from gnnx.transforms.transform import BaseTransform, ToDevice

__all__ = [
    "AddGPSE", "ToSLIC",
    "AddLaplacianEigenvectorPE", "AddMetaPaths", "AddRandomMetaPaths", "AddRandomWalkPE", "AddRemainingSelfLoops", "AddSelfLoops", "BaseTransform",
    "Cartesian", "Center", "Compose", "Delaunay", "ComposeFilters", "LaplacianLambdaMax", "Constant", "Distance", "FaceToEdge", "FeaturePropagation", "FixedPoints",
    "GCNNorm", "GDC", "GenerateMeshNormals", "GridSampling", "HalfHop", "IndexToMask", "KNNGraph", "LargestConnectedComponents",
    "LineGraph", "LinearTransformation", "LocalCartesian", "LocalDegreeProfile", "MaskToIndex", "NormalizeFeatures",
    "NodePropertySplit", "NormalizeRotation", "NormalizeScale", "OneHotDegree", "Pad", "Padding", "UniformPadding", "AttrNamePadding",
    "NodeTypePadding", "EdgeTypePadding", "PointPairFeatures", "Polar", "RadiusGraph",
    "RandomFlip", "RandomJitter", "RandomLinkSplit", "RandomNodeSplit", "RandomRotate", "RandomScale", "RandomShear",
    "RemoveDuplicateEdges", "RemoveDuplicatedEdges", "RemoveIsolatedNodes", "RemoveSelfLoops",
    "RemoveTrainingClasses", "RootedEgoNets", "RootedRWSubgraph", "RootedSubgraph", "RootedSubgraphData", "SIGN", "SVDFeatureReduction", "SamplePoints", "SortByDestination", "Spherical",
    "TargetIndegree", "ToCSR", "ToDense", "ToDevice", "ToSparseTensor", "ToUndirected", "TwoHop", "VirtualNode",
]

from gnnx.transforms.pyg_data import takes_pyg_data  # noqa: E402

for _name in __all__:  # PyG's Data and HeteroData pass through every transform (gnnx.transforms.pyg_data)
    _cls = globals()[_name]
    if isinstance(_cls, type) and "__call__" in vars(_cls):
        takes_pyg_data(_cls)
