"""Reading Python-2 pickles of numpy/scipy data without letting them run code.

A pickle names the callables it wants to run; :class:`RestrictedUnpickler` answers only
for the handful a data file legitimately needs (numpy array reconstruction, dicts and
lists) and raises :class:`UnsafePickleError` for anything else. Sparse matrices load into
:class:`SparseRows` (their CSR arrays), so scipy is not needed either.
"""
from __future__ import annotations

import builtins
import collections
import io
import pickle
from typing import Any, BinaryIO, Dict, Tuple

import numpy as np


class UnsafePickleError(pickle.UnpicklingError):
    """The pickle asked for a callable outside the allowed set."""


class SparseRows:
    """The state of a pickled ``scipy.sparse.csr_matrix``: ``data``, ``indices``, ``indptr``, shape."""

    def __setstate__(self, state: Dict[str, Any]) -> None:
        self.data = np.asarray(state["data"])
        self.indices = np.asarray(state["indices"])
        self.indptr = np.asarray(state["indptr"])
        shape = state.get("_shape", state.get("shape"))
        self.shape: Tuple[int, int] = tuple(int(s) for s in shape)  # type: ignore[assignment]

    def toarray(self) -> np.ndarray:
        out = np.zeros(self.shape, dtype=self.data.dtype)
        rows = np.repeat(np.arange(self.shape[0]), np.diff(self.indptr))
        out[rows, self.indices] = self.data
        return out


_RECONSTRUCT = np.ndarray((0,)).__reduce__()[0]  # numpy's own array reconstructor

ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("scipy.sparse.csr", "csr_matrix"): SparseRows,
    ("scipy.sparse._csr", "csr_matrix"): SparseRows,
    ("collections", "defaultdict"): collections.defaultdict,
    ("__builtin__", "list"): builtins.list,
    ("builtins", "list"): builtins.list,
    ("copy_reg", "_reconstructor"): None,  # resolved below: object.__new__ for allowed classes only
}


def _reconstructor(cls, base, state):
    if cls is not SparseRows or base is not object:
        raise UnsafePickleError(f"refusing to reconstruct {cls!r}")
    return object.__new__(cls)


ALLOWED[("copy_reg", "_reconstructor")] = _reconstructor


def _latin1_bytes(text, encoding="latin1"):
    """How Python 3 writes ``bytes`` (an array's buffer) at protocol 2: ``_codecs.encode(str,
    'latin1')``. Only that exact call is answered."""
    if not isinstance(text, str) or encoding != "latin1":
        raise UnsafePickleError(f"refusing _codecs.encode with {type(text).__name__}, {encoding!r}")
    return text.encode("latin1")


ALLOWED[("_codecs", "encode")] = _latin1_bytes


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only the names in :data:`ALLOWED`."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return ALLOWED[(module, name)]
        except KeyError:
            raise UnsafePickleError(
                f"the file asks to load {module}.{name}, which a data file has no reason to; refused"
            ) from None


def load(file: BinaryIO) -> Any:
    """Unpickle ``file`` (Python 2 pickles too) with :class:`RestrictedUnpickler`."""
    return RestrictedUnpickler(file, encoding="latin1").load()


def loads(data: bytes) -> Any:
    return load(io.BytesIO(data))
