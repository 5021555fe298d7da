"""AOTInductor packages: compiled ``.pt2`` files that C++ loads, with gnnx metadata inside.

CPU packages target a portable instruction set (AVX2) unless asked otherwise, since the
build machine's (e.g. AVX-512) is otherwise baked in, and must hold only ATen ops: a
Python-defined custom op cannot run from C++. CUDA packages carry the Triton kernels,
which Inductor compiles into the package.
"""
from __future__ import annotations

import contextlib
import ctypes
import json
import os
import sys
import zipfile
from typing import Any, Dict, Iterator, List, Optional, Sequence, Union

import torch
from torch import Tensor
from torch.export import ExportedProgram

from gnnx.export.program import CheckedModel, export, metadata_of

METADATA_KEY = "gnnx"


def foreign_ops(ep: ExportedProgram) -> List[str]:
    """Ops in ``ep`` that are neither ATen nor Python built-ins (C++ may not know them)."""
    targets = {str(n.target) for n in ep.graph.nodes if n.op == "call_function"}
    return sorted(t for t in targets if not (t.startswith("aten.") or t.startswith("<built-in")))


@contextlib.contextmanager
def _cpu_capability(value: Optional[str]) -> Iterator[None]:
    old = os.environ.get("ATEN_CPU_CAPABILITY")
    if value is not None:
        os.environ["ATEN_CPU_CAPABILITY"] = value
    try:
        yield
    finally:
        if value is not None:
            if old is None:
                os.environ.pop("ATEN_CPU_CAPABILITY", None)
            else:
                os.environ["ATEN_CPU_CAPABILITY"] = old


def compile_package(
    program: Union[ExportedProgram, torch.nn.Module],
    path: str,
    example_inputs: Optional[Sequence[Any]] = None,
    device: str = "cpu",
    portable_cpu: bool = True,
    cpp_only: bool = False,
    output_names: Sequence[str] = ("out",),
) -> str:
    """AOT-compile an exported program (or export ``program(*example_inputs)`` first) to ``path``.

    Args:
        program: an :class:`~torch.export.ExportedProgram` from :func:`gnnx.export.export`,
            or a module (then ``example_inputs`` are required; it is exported with dynamic sizes).
        path: the ``.pt2`` file to write.
        device: ``"cpu"`` or ``"cuda"``; a module is moved there before export.
        portable_cpu: compile CPU code for AVX2 rather than this machine's instruction set.
        cpp_only: write C++ sources and a CMakeLists instead of a compiled library (for
            building per platform, as CMSSW does).
        output_names: names recorded in the metadata for the outputs.
    Returns:
        the package path. The gnnx metadata (inputs, outputs, sizes, versions) is stored
        in the package's AOTInductor metadata under the key ``"gnnx"``.
    """
    if isinstance(program, torch.nn.Module):
        if example_inputs is None:
            raise ValueError("compile_package: a module needs example_inputs to be exported")
        module = program.to(device)
        inputs = [t.to(device) if isinstance(t, torch.Tensor) else t for t in example_inputs]
        program = export(module, inputs)
    if device == "cpu":
        foreign = foreign_ops(program)
        if foreign:
            raise ValueError(f"a CPU package must hold only ATen ops for C++ to run it; found {foreign}")
    metadata = metadata_of(program, output_names)
    metadata["device"] = device
    metadata["portable_cpu"] = bool(portable_cpu and device == "cpu")
    configs: Dict[str, Any] = {"aot_inductor.metadata": {METADATA_KEY: json.dumps(metadata), **flat_metadata(metadata)}}
    if cpp_only:
        configs["aot_inductor.package_cpp_only"] = True
    with _cpu_capability("avx2" if metadata["portable_cpu"] else None):
        return torch._inductor.aoti_compile_and_package(program, package_path=path, inductor_configs=configs)


def flat_metadata(metadata: Dict[str, Any]) -> Dict[str, str]:
    """The input description as flat string keys, which the C++ runner reads without a
    JSON parser: ``gnnx.num_inputs``, ``gnnx.input.I.{name,dtype,shape,counts,axis,index_counts}``,
    ``gnnx.min.<counts>``, ``gnnx.num_outputs``, ``gnnx.output.I.name``."""
    flat = {"gnnx.num_inputs": str(len(metadata["inputs"]))}
    for i, spec in enumerate(metadata["inputs"]):
        flat[f"gnnx.input.{i}.name"] = spec["name"]
        flat[f"gnnx.input.{i}.dtype"] = spec["dtype"]
        flat[f"gnnx.input.{i}.shape"] = ",".join(str(s) for s in spec["shape"])
        flat[f"gnnx.input.{i}.counts"] = spec["counts"] or ""
        flat[f"gnnx.input.{i}.axis"] = "" if spec["dynamic_axis"] is None else str(spec["dynamic_axis"])
        flat[f"gnnx.input.{i}.index_counts"] = ",".join(spec.get("index_counts") or [])
    for counts, least in metadata.get("minimum_sizes", {}).items():
        flat[f"gnnx.min.{counts}"] = str(least)
    flat["gnnx.num_outputs"] = str(len(metadata["outputs"]))
    for i, spec in enumerate(metadata["outputs"]):
        flat[f"gnnx.output.{i}.name"] = spec["name"]
    return flat


_LIBSTDCXX_SHARED = False


def share_libstdcxx() -> None:
    """Open the process's libstdc++ again with ``RTLD_GLOBAL``, so that a package's compiled
    code binds its C++ runtime symbols to it (once per process; Linux only).

    Inductor links a package's wrapper library with the build machine's ``g++``. A compiler
    that links libstdc++ statically into shared libraries (the lent GPU image's
    ``/opt/gcc/bin/g++``: its wrappers hold ~5,000 ``std::`` symbols and need no
    ``libstdc++.so``) gives the wrapper a second copy of the C++ runtime. A Python process
    loads torch's libstdc++ privately (``RTLD_LOCAL``), so the wrapper binds some ``std::``
    symbols to its own copy and the rest to torch's, and the ``std::regex`` its model
    constructor compiles (``parse_device_str``) looks a locale facet up with one copy's ids in
    the other's table: a segfault inside ``aoti_load_package`` on that image
    (``bench/aoti_cuda_gdb_probe.sh``), ``std::bad_cast`` with a static libstdc++ here
    (``tests/export/test_package.py``). A C++ program has libstdc++ in its global scope, where
    the wrapper's symbols all bind, which is why ``cpp/gnnx_run`` ran the same packages.
    """
    global _LIBSTDCXX_SHARED
    if _LIBSTDCXX_SHARED or not sys.platform.startswith("linux"):
        return
    with open("/proc/self/maps") as maps:
        paths = {line.split()[-1] for line in maps if "/libstdc++.so" in line}
    for path in paths:
        try:
            ctypes.CDLL(path, mode=os.RTLD_GLOBAL | os.RTLD_NOW)
        except OSError:
            pass
    _LIBSTDCXX_SHARED = True


def aoti_load(path: str, device_index: int = -1) -> Any:
    """``torch._inductor.aoti_load_package`` after :func:`share_libstdcxx`."""
    share_libstdcxx()
    if device_index >= 0:
        return torch._inductor.aoti_load_package(path, device_index=device_index)
    return torch._inductor.aoti_load_package(path)


class PackagedModel(CheckedModel):
    """An AOTInductor package loaded in Python, with gnnx's input checks in front."""

    def __init__(self, path: str, device_index: int = -1) -> None:
        runner = aoti_load(path, device_index)
        super().__init__(runner, split_metadata(runner.get_metadata()))

    def _prepare(self, flat: List[Any]) -> List[Any]:
        # A package assumes the strides it was compiled for (contiguous): a transposed,
        # strided or expanded input would be read wrongly, without an error.
        return [t.contiguous() if isinstance(t, Tensor) else t for t in flat]


def split_metadata(raw: Dict[str, str]) -> Dict[str, Any]:
    """gnnx's metadata record from a package's flat AOTInductor metadata, the rest (platform,
    device, ...) under ``"aoti"``."""
    metadata = json.loads(raw[METADATA_KEY]) if METADATA_KEY in raw else {}
    metadata["aoti"] = {k: v for k, v in raw.items() if not k.startswith(METADATA_KEY)}
    return metadata


def package_metadata(path: str) -> Dict[str, Any]:
    """A package's metadata (as ``load_package(path).metadata``) read from the archive without
    loading its compiled code, so a loader that crashes cannot take the caller with it."""
    with zipfile.ZipFile(path) as archive:
        names = [n for n in archive.namelist() if "/aotinductor/model/" in n and n.endswith("wrapper_metadata.json")]
        if not names:
            raise ValueError(f"{path}: no AOTInductor model metadata inside (not a package from compile_package?)")
        return split_metadata(json.loads(archive.read(names[0])))


def python_loader_fails(path: str, timeout: float = 300.0) -> str:
    """``""`` if the package loads in a fresh Python process (:func:`aoti_load`), else what
    happened (e.g. ``"exit status -11"``: a segfault; such packages can still be served
    through :func:`gnnx.export.load_package_cpp`)."""
    import subprocess

    script = f"from gnnx.export.package import aoti_load\naoti_load({path!r})\n"
    package_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
    try:
        proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return f"no answer within {timeout:.0f} s"
    return "" if proc.returncode == 0 else f"exit status {proc.returncode}: {proc.stderr.strip()[-300:]}"


def load_package(path: str) -> PackagedModel:
    """Load a package written by :func:`compile_package` (no model source needed)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(path)
    return PackagedModel(path)
