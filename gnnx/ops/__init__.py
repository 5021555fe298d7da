"""Sparse kernels of gnnx: gather/scatter, segment softmax, SpMM.

Each op is a plain-ATen reference (runs on any device, compiles, exports to C++) behind
one public function that may dispatch to a faster kernel (see :mod:`gnnx.ops.dispatch`).
"""
from gnnx.ops.attention import attention
from gnnx.ops.edge_mlp import edge_mlp_max
from gnnx.ops.fps import fps
from gnnx.ops.grouped_projection import RowGroups, grouped_project, row_groups
from gnnx.ops.matmul import project
from gnnx.ops.neighbors import knn, knn_graph, radius, radius_graph
from gnnx.ops.scatter import REDUCTIONS, gather, infer_size, resolve_reduce, scatter, segment_softmax
from gnnx.ops.spmm import segment, spmm, spmm_reference

__all__ = [
    "REDUCTIONS",
    "RowGroups",
    "attention",
    "edge_mlp_max",
    "fps",
    "gather",
    "grouped_project",
    "infer_size",
    "knn",
    "knn_graph",
    "project",
    "radius",
    "radius_graph",
    "resolve_reduce",
    "row_groups",
    "scatter",
    "segment",
    "segment_softmax",
    "spmm",
    "spmm_reference",
]
