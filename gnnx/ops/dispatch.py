r"""The one dispatch point of gnnx: which kernel runs an op, and the structure cache that
feeds the fast kernels.

Every op has a plain-ATen reference (gather + ``index_add``/``scatter_reduce``) that is
always correct, compiles and exports to C++. Faster kernels need the graph's
destination-sorted CSR (and its transpose, for backward), which this module prepares
once per graph and picks per call:

=========================  =================================  ==============================
where the call runs        SpMM sum/mean (GCN, SAGE, GIN)      max/min, segments, attention
=========================  =================================  ==============================
eager, CPU                 MKL sparse CSR matmul               reference
eager, CUDA                cuSPARSE CSR matmul                 Triton (SpMM, fused attention)
``torch.compile``, CPU     MKL behind the opaque custom op     reference (Inductor fuses it)
                           ``gnnx::csr_spmm_cpu``
``torch.compile``, CUDA    Triton ``triton_op`` kernels, which Inductor calls directly
``torch.export``, CPU      reference (exported CPU programs hold only ``aten.*``)
``torch.export``, CUDA     Triton ``triton_op`` kernels (compiled into AOTInductor packages)
=========================  =================================  ==============================

The fast kernels apply when a CSR is at hand: a :class:`~gnnx.Graph` carries one, and a
bare ``edge_index`` gets one from

* the **structure cache** (eager calls): keyed by the tensor's identity and version
  counter, its device and the node counts, so it is built once per distinct
  ``edge_index`` and rebuilt after an in-place edit; entries die with their tensor and
  the cache holds at most :data:`STRUCTURE_CACHE_SIZE` of them. The cached value is a
  :class:`~gnnx.Graph`, so per-structure results (GCN weights, GAT's CSR with self loops,
  CSR values) are memoised with it (:meth:`gnnx.Graph.memo`).
* :func:`prepare` inside traced code: models call it once per forward, so a compiled model
  sorts the edges once per forward, not once per layer and direction.
* :func:`gnnx.compile`, which looks the structure up eagerly, outside the compiled graph,
  and hands the compiled model a prepared :class:`~gnnx.Graph`.
"""
from __future__ import annotations

import importlib
import weakref
from collections import OrderedDict
from typing import Optional, Union

import torch
from torch import Tensor
from torch.utils.weak import WeakTensorKeyDictionary

from gnnx.graph import CSR, Graph, IndexRangeError, build_csr, check_edge_index, storable, version_of

STRUCTURE_CACHE_SIZE = 32


# -- modes -------------------------------------------------------------------------------------
def is_tracing() -> bool:
    """True while Dynamo compiles or ``torch.export`` traces the caller."""
    return torch.compiler.is_compiling() or torch.compiler.is_exporting()


def under_function_transforms() -> bool:
    """True inside ``torch.func`` transforms (``grad``, ``vmap``, ``jacrev``, ``functional_call``
    under them, ...). The fast kernels are custom ops and autograd Functions without vmap or
    forward-mode rules, so calls there take the plain-ATen references, which the transforms
    differentiate and batch as PyG's layers."""
    return torch._C._are_functorch_transforms_active()


def plain_eager_call(device_type: str, *tensors: Optional[Tensor]) -> bool:
    """Whether a call may take an eager autograd node that launches kernels directly (EdgeConv's,
    the fused attention's): outside tracing (compile, export, jit), ``torch.func`` transforms and
    autocast on ``device_type``, with plain tensors only (a tensor subclass must see the ops)."""
    if is_tracing() or torch.jit.is_tracing() or under_function_transforms() \
            or torch.is_autocast_enabled(device_type):
        return False
    return all(type(t) in (Tensor, torch.nn.Parameter) for t in tensors if t is not None)


def can_check_on_host(t: Tensor) -> bool:
    """Whether a value check on ``t`` is free of a device sync and of tracing.

    Eager CPU tensors can be read without stalling a device, so eager CPU calls get
    full index-range checks; CUDA and traced calls keep to shape and dtype checks
    (their range checks live in :class:`gnnx.Graph` and :mod:`gnnx.export`).
    """
    return not is_tracing() and not torch.jit.is_tracing() and t.device.type == "cpu"


def check_index_range(index: Tensor, count: int, name: str, scope: str, unit: str = "") -> None:
    """In eager CPU calls (:func:`can_check_on_host`), an error if ``index`` leaves
    ``[0, count)``: "``name`` holds [``unit``] <value>, outside the ``scope``" (``scope`` a
    format string of ``count``, filled only when raising: formatting a traced size would
    specialise it). Where PyG trusts a given count, an index beyond it fails deep inside
    torch or silently corrupts keys and masks."""
    if can_check_on_host(index) and index.numel():
        low, high = (int(v) for v in torch.aminmax(index))
        if low < 0 or high >= count:
            holds = f"{unit} {low if low < 0 else high}" if unit else str(low if low < 0 else high)
            raise IndexRangeError(f"{name} holds {holds}, outside the {scope.format(count=count)} "
                                  f"(index out of bounds: indices must lie in [0, {count}))")


# -- kernel modules ------------------------------------------------------------------------------
def _load_cuda_module(name: str):
    if not torch.cuda.is_available():
        return None
    try:
        return importlib.import_module(f"gnnx.ops.{name}")
    except ImportError:
        return None


_CUDA_KERNELS = _load_cuda_module("triton_kernels")
_CUDA_ATTENTION = _load_cuda_module("triton_attention") if _CUDA_KERNELS is not None else None
_CUDA_KNN = _load_cuda_module("triton_knn") if _CUDA_KERNELS is not None else None
_CUDA_EDGE_MLP = _load_cuda_module("triton_edge_mlp") if _CUDA_KERNELS is not None else None
_CUDA_MATMUL = _load_cuda_module("triton_matmul") if _CUDA_KERNELS is not None else None


def cuda_kernels():
    """The Triton SpMM/SDDMM module, or ``None`` where Triton or CUDA is missing."""
    return _CUDA_KERNELS


def cuda_attention_kernels():
    """The Triton fused-attention module, or ``None`` where Triton or CUDA is missing."""
    return _CUDA_ATTENTION


def cuda_knn_kernels():
    """The Triton k-nearest-neighbour module, or ``None`` where Triton or CUDA is missing."""
    return _CUDA_KNN


# Set to False to run EdgeConv's message MLP unfused on CUDA too (measurements).
FUSED_EDGE_MLP = True


def cuda_edge_mlp_kernels():
    """The Triton fused EdgeConv module, or ``None`` where Triton or CUDA is missing (or
    :data:`FUSED_EDGE_MLP` is off)."""
    return _CUDA_EDGE_MLP if FUSED_EDGE_MLP else None


# gnnx.ops.project's backward on CUDA: the Triton products that skip zero row blocks in
# compiled code (None), always (True) or never (False: ATen's products; measurements). Eager
# steps keep ATen's: there a Triton launch costs more host time than a cuBLAS call, and the
# R-GAT step, bound by the host when eager, took 64.5 ms against 62.7 (22.3 against 26.2 compiled).
SKIP_ZERO_GRAD_ROWS: Optional[bool] = None


def cuda_matmul_kernels():
    """The Triton products that skip zero row blocks (:mod:`gnnx.ops.matmul`) where
    :data:`SKIP_ZERO_GRAD_ROWS` picks them for this call, else ``None`` (also where Triton or
    CUDA is missing)."""
    wanted = is_tracing() if SKIP_ZERO_GRAD_ROWS is None else SKIP_ZERO_GRAD_ROWS
    return _CUDA_MATMUL if wanted else None


# -- the choice ----------------------------------------------------------------------------------
TRITON_DTYPES = (torch.float32, torch.float16, torch.bfloat16)


def triton_takes(*tensors: Optional[Tensor]) -> bool:
    """Whether the Triton aggregation kernels serve these (``None`` ignored): they accumulate in
    fp32, so float64 takes the reference ops and keeps fp64 accuracy (``gradcheck`` on CUDA)."""
    return all(t is None or t.dtype in TRITON_DTYPES for t in tensors)


CACHE_CHUNK_BYTES = 1 << 20  # eager CPU loops over edges gather about this much at a time


def edge_chunk(row_bytes: int) -> int:
    """Edges per chunk of an eager CPU loop whose gathered rows take ``row_bytes`` each: ~1 MiB
    stays in cache, where the whole ``[E, F]`` buffers' first-touch page faults dominated (GAT's
    weight gradient 66 -> 5.8 ms on the seed graph)."""
    return max(64, CACHE_CHUNK_BYTES // max(1, row_bytes))


def uses_csr(device: torch.device) -> bool:
    """Whether a CSR speeds up this device in the current mode (worth preparing one).

    CUDA always (the Triton kernels walk it); CPU except under ``torch.export``, whose
    programs keep to the reference so that C++ can run them.
    """
    if under_function_transforms():
        return False
    if device.type == "cuda":
        return cuda_kernels() is not None
    return device.type == "cpu" and not torch.compiler.is_exporting() and not torch.jit.is_tracing()


def spmm_kernel(x: Tensor, csr: Optional[CSR], edge_weight: Optional[Tensor], reduce: str) -> str:
    """``"cusparse"``, ``"triton"``, ``"mkl"`` or ``"reference"`` for :func:`gnnx.ops.spmm`.

    The vendor libraries (MKL, cuSPARSE) take sum/mean of float features over a prepared CSR.
    On CUDA they serve eager calls with 2-D features and constant per-edge weights only (and
    not under ``torch.use_deterministic_algorithms(True)``: the Triton kernels are
    deterministic): cuSPARSE is as fast as the Triton kernel on the GPU (22 vs 21 us on the
    seed graph, bench/results/h100/tune_spmm.json) at a native op's host cost, while traced
    code keeps the ``triton_op`` that Inductor and AOTInductor compile in. On the CPU MKL also
    takes ``[N, heads, F]`` features and weights that need a gradient, ``[E, heads]`` ones
    (sums only) as one product over the heads side by side: graph attention's weighted sum, whose gather and scatter
    set GAT's CPU forward before (seed graph, 2 cores: 141 -> 23 ms,
    bench/results/cpu/session25_cpu_gat_edgeconv.md).
    """
    if under_function_transforms():
        return "reference"
    float_sum = csr is not None and reduce in ("sum", "mean") and x.dtype in (torch.float32, torch.float64)
    if x.is_cuda and cuda_kernels() is not None:
        # cuSPARSE's default SpMM algorithm may sum in a different order from run to run; with
        # torch.use_deterministic_algorithms(True) the Triton kernel (no atomics) serves instead.
        deterministic = torch.are_deterministic_algorithms_enabled()
        constant = edge_weight is None or (edge_weight.dim() == 1 and not edge_weight.requires_grad)
        if float_sum and x.dim() == 2 and constant and not is_tracing() and not deterministic:
            return "cusparse"
        return "triton" if triton_takes(x, edge_weight) else "reference"
    if float_sum and x.device.type == "cpu" and uses_csr(x.device) and _mkl_takes(x, edge_weight, reduce):
        return "mkl"
    return "reference"


def _mkl_takes(x: Tensor, edge_weight: Optional[Tensor], reduce: str) -> bool:
    """Features ``[N, F]`` or ``[N, heads, F]``; weights none, ``[E]``, or (sums of
    ``[N, heads, F]``) ``[E, heads]``."""
    if edge_weight is None or edge_weight.dim() == 1:
        return x.dim() in (2, 3)
    return x.dim() == 3 and edge_weight.dim() == 2 and edge_weight.size(1) == x.size(1) and reduce == "sum"


def segment_kernel(messages: Tensor, csr: Optional[CSR]) -> str:
    """``"triton"`` (a CSR SpMM over edge ids: deterministic, no atomics) or ``"reference"``."""
    fast = (messages.is_cuda and csr is not None and cuda_kernels() is not None and triton_takes(messages)
            and not under_function_transforms())
    return "triton" if fast else "reference"


# Set to False to run graph attention through the reference ops on CUDA too (measurements).
FUSED_ATTENTION = True


def attention_kernel(x: Tensor) -> str:
    """``"triton"`` (one fused kernel) or ``"reference"`` (scores, softmax, SpMM) for
    features ``x [N, heads, channels]``.

    The fused kernel runs one program per destination row and head over ``channels``
    columns: it wins with one head or wide heads (the seed table's GAT, 1 x 64), and loses
    with several narrow heads, where each head's program re-reads the row's edges (R-GAT,
    4 x 32, on an H200: eager step 84 ms fused vs 64 ms reference; gnnx.compile 56 vs 41 ms,
    bench/results/h200/rgat.md), so those take the reference ops."""
    if not (FUSED_ATTENTION and x.is_cuda and cuda_attention_kernels() is not None and triton_takes(x)) \
            or under_function_transforms():
        return "reference"
    if x.dim() == 3 and x.size(1) > 1 and x.size(2) < 64:
        return "reference"
    return "triton"


# -- int32 edge indices --------------------------------------------------------------------------
_WIDENED: "WeakTensorKeyDictionary" = WeakTensorKeyDictionary()


def as_int64(index: Tensor) -> Tensor:
    """An int32 index as int64 (other dtypes as they are), as PyG's layers take int32
    ``edge_index``. Eager calls widen a tensor once per version and keep the copy as long as
    the tensor lives, so every layer and call sees the same int64 tensor and the structure
    cache hits; traced calls widen in the graph."""
    if not isinstance(index, Tensor) or index.dtype != torch.int32:
        return index
    if is_tracing() or torch.jit.is_tracing():
        return index.long()
    version = version_of(index)
    if version is None:
        return index.long()
    cached = _WIDENED.get(index)
    if cached is not None and cached[0] == version:
        return cached[1]
    with storable():
        wide = index.long()
    _WIDENED[index] = (version, wide)
    return wide


# -- the structure cache -------------------------------------------------------------------------
class StructureCache:
    """Prepared structure per distinct bare ``edge_index`` (module docstring).

    A hit needs the same tensor object (checked through a weak reference, so a freed
    tensor's reused ``id`` cannot hit), the same version counter (an in-place edit makes a
    new entry), device and node counts. Entries hold the CSR and the memo of derived
    results, never the ``edge_index`` itself, so an entry dies with its tensor; at most
    ``maxsize`` live ones are kept, least recently used going first.
    """

    def __init__(self, maxsize: int = STRUCTURE_CACHE_SIZE) -> None:
        self.maxsize = maxsize
        self._entries: "OrderedDict[tuple, list]" = OrderedDict()
        self.hits = self.misses = 0

    def get(self, edge_index: Tensor, num_dst: int, num_src: Optional[int] = None,
            eager_build: bool = True) -> Optional[Graph]:
        """The prepared graph of ``edge_index`` (``num_dst`` destination rows, ``num_src``
        source nodes, default ``num_dst``), built on a miss. With ``eager_build=False`` the
        first sighting only registers the tensor and returns ``None`` (build on the second):
        tensors a layer derives per call (a flipped or looped edge list) die before they
        are seen again, so they never pay for a sort."""
        num_dst = int(num_dst)
        num_src = num_dst if num_src is None else int(num_src)
        version = version_of(edge_index)
        if version is None:  # an inference tensor: prepared per call, never cached
            if not eager_build:
                return None
            return Graph(edge_index, num_dst, validate=False, csr=self._checked_csr(edge_index, num_dst, num_src))
        key = (id(edge_index), version, edge_index.device, num_dst, num_src)
        entry = self._entries.get(key)
        if entry is not None and entry[0]() is edge_index:
            self._entries.move_to_end(key)
            if entry[1] is not None:
                self.hits += 1
                return self._graph(edge_index, num_dst, num_src, entry)
            eager_build = True  # the second sighting
        if not eager_build:
            entry = [None, None, None]
        else:
            self.misses += 1
            with storable():
                entry = [None, self._checked_csr(edge_index, num_dst, num_src), {}]
        entries = self._entries

        def forget(ref, key=key):
            current = entries.get(key)
            if current is not None and current[0] is ref:
                del entries[key]

        entry[0] = weakref.ref(edge_index, forget)
        entries[key] = entry
        entries.move_to_end(key)
        while len(entries) > self.maxsize:
            entries.popitem(last=False)
        return None if entry[1] is None else self._graph(edge_index, num_dst, num_src, entry)

    @staticmethod
    def _checked_csr(edge_index: Tensor, num_dst: int, num_src: int) -> CSR:
        if edge_index.device.type == "cpu":  # name a bad index before sorting by it
            check_edge_index(edge_index, max(num_dst, num_src))
        return build_csr(edge_index, num_dst, num_src)

    @staticmethod
    def _graph(edge_index: Tensor, num_dst: int, num_src: int, entry: list) -> Graph:
        graph = Graph(edge_index, num_dst, validate=False, csr=entry[1])
        graph._memo = entry[2]  # shared by every Graph made from this entry
        return graph

    def clear(self) -> None:
        self._entries.clear()
        self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)


structure_cache = StructureCache()


def as_graph(edge_index: Union[Tensor, Graph], num_dst, num_src=None) -> Optional[Graph]:
    """A :class:`~gnnx.Graph` as it is; for a bare ``edge_index`` in an eager call whose
    device benefits from a CSR, its cached graph (built when the tensor is seen a second
    time, see :meth:`StructureCache.get`); else ``None``."""
    if isinstance(edge_index, Graph):
        return edge_index
    if is_tracing() or torch.jit.is_tracing() or not uses_csr(edge_index.device):
        return None
    if isinstance(num_dst, torch.SymInt) or isinstance(num_src, torch.SymInt):
        return None
    return structure_cache.get(edge_index, num_dst, num_src, eager_build=False)


def cached_csr(edge_index: Tensor, num_dst, num_src=None) -> Optional[CSR]:
    """The CSR of :func:`as_graph`, or ``None``."""
    graph = as_graph(edge_index, num_dst, num_src)
    return None if graph is None else graph.csr


def prepare(edge_index: Union[Tensor, Graph], num_nodes, device: Optional[torch.device] = None
            ) -> Union[Tensor, Graph]:
    """``edge_index`` as a prepared :class:`~gnnx.Graph` where a CSR pays off, else unchanged.

    Models call this once at the top of their forward (``num_nodes``: ``x.size(0)``): an
    eager call gets the cached graph, a traced one builds the CSR in-graph once (no host
    sync), and layers then share it. A :class:`~gnnx.Graph` is returned as it is; an int32
    ``edge_index`` is widened (:func:`as_int64`).
    """
    edge_index = as_int64(edge_index)
    if not isinstance(edge_index, Tensor) or edge_index.dim() != 2 or edge_index.size(0) != 2 \
            or edge_index.dtype != torch.long:
        return edge_index  # a Graph, or bad input that the layer's own checks will name
    device = edge_index.device if device is None else device
    if not uses_csr(device) or torch.jit.is_tracing():
        return edge_index
    if is_tracing():
        return Graph(edge_index, num_nodes, validate=False, csr=build_csr(edge_index, num_nodes))
    return structure_cache.get(edge_index, num_nodes)


# -- per-structure values of the CSR kernels -----------------------------------------------------
def _weight_token(edge_weight: Optional[Tensor]):
    return None if edge_weight is None else (id(edge_weight), version_of(edge_weight))


# rowptr of a structure -> {(key, weight token): (weak ref to the weights, values)}
_CSR_VALUES = WeakTensorKeyDictionary()


def csr_values(csr: CSR, edge_weight: Optional[Tensor], key, compute):
    """``compute()`` (values in CSR order derived from ``edge_weight``), memoised for eager
    calls per structure (``csr.rowptr``) and weights (identity and version; weights that
    need a gradient are never cached)."""
    cacheable = not is_tracing() and (edge_weight is None or not (edge_weight.requires_grad
                                                                  or edge_weight.is_inference()))
    if not cacheable:
        return compute()
    slot = _CSR_VALUES.get(csr.rowptr)
    if slot is None:
        slot = _CSR_VALUES[csr.rowptr] = {}
    full_key = (key, _weight_token(edge_weight))
    hit = slot.get(full_key)
    if hit is not None and (edge_weight is None or hit[0]() is edge_weight):
        return hit[1]
    with storable():
        value = compute()
    if len(slot) > 16:  # weights change every call (e.g. dropout on them): do not grow
        slot.clear()
    slot[full_key] = (weakref.ref(edge_weight) if edge_weight is not None else None, value)
    return value
