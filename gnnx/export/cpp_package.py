"""AOTInductor packages run by the C++ loader in a child process (``gnnx_run --serve``).

A second route to a package, for programs that must keep its compiled code out of the Python
process (torch's Python loader crashed on the lent GPU image until gnnx's loader made the
process's libstdc++ global first: :func:`gnnx.export.package.share_libstdcxx`; a crash in a
child process cannot take the caller down). :class:`CppPackagedModel` keeps one
``gnnx_run --serve`` process per package and talks to it over pipes: inputs and outputs
travel as ``.npy`` files in a private folder (``/dev/shm`` where it exists), one request at
a time. It has the interface of :class:`~gnnx.export.PackagedModel` (input checks, ``run_flat``,
``metadata``), so the Triton Python backend serves either the same way.

``gnnx_run`` is built from ``cpp/`` with CMake against the installed torch (README, "C++").
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
from typing import Any, Dict, List

import numpy as np
import torch
from torch import Tensor

from gnnx.export.checks import InputError, check_inputs
from gnnx.export.package import split_metadata
from gnnx.export.program import CheckedModel, type_key


def built_runner(runner: str) -> str:
    """``runner``'s absolute path, after checking that it was built."""
    if not os.path.isfile(runner):
        raise FileNotFoundError(f"gnnx_run not found at {runner} (build cpp/ with CMake)")
    return os.path.abspath(runner)


class CppPackagedModel(CheckedModel):
    """A package run by ``runner --serve path``; call it like the model, or :meth:`run_flat`.

    Outputs come back on the CPU. Bad input is an :class:`~gnnx.export.InputError` (from the
    Python checks, or the C++ ones); a crashed runner is a ``RuntimeError`` naming its exit
    status and last words, never a hang. :meth:`close` (or garbage collection) stops it.
    """

    def __init__(self, path: str, runner: str) -> None:
        if not os.path.isfile(path):
            raise FileNotFoundError(path)
        runner = built_runner(runner)
        self._folder = tempfile.mkdtemp(prefix="gnnx_cpp_", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
        self._stderr = open(os.path.join(self._folder, "stderr.txt"), "w+")
        self._process = subprocess.Popen([runner, "--serve", path], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=self._stderr, text=True, bufsize=1)
        self._lock = threading.Lock()
        self._requests = 0
        raw: Dict[str, str] = {}
        while True:
            line = self._read_line()
            if line == "ready":
                break
            _, key, value = line.split("\t", 2)
            raw[key] = value
        super().__init__(None, split_metadata(raw))  # runs go through _run_checked -> _request

    def _read_line(self) -> str:
        line = self._process.stdout.readline()
        if not line:  # the runner died
            status = self._process.wait()
            self._stderr.seek(0)
            raise RuntimeError(f"gnnx_run stopped (exit status {status}): {self._stderr.read()[-1000:].strip()}")
        return line.rstrip("\n")

    def _run_checked(self, flat: List[Any]) -> Any:
        if "inputs" in self.metadata:  # a package compiled without gnnx's metadata runs unchecked
            check_inputs(self.metadata, flat)
        outputs = self._request(flat)
        specs = self.metadata.get("outputs", [])
        if any(spec.get("key") is not None for spec in specs):
            return {type_key(spec["key"]): out for spec, out in zip(specs, outputs)}
        return outputs[0] if len(outputs) == 1 else tuple(outputs)

    def _request(self, flat: List[Tensor]) -> List[Tensor]:
        with self._lock:
            self._requests += 1
            prefix = os.path.join(self._folder, f"r{self._requests}_")
            files = []
            for i, tensor in enumerate(flat):
                files.append(f"{prefix}in{i}.npy")
                np.save(files[-1], tensor.detach().cpu().contiguous().numpy())
            self._process.stdin.write("\t".join(["run", f"{prefix}out"] + files) + "\n")
            self._process.stdin.flush()
            fields = self._read_line().split("\t")
            for file in files:
                os.remove(file)
            if fields[0] == "error":
                kind, message = (fields[1], fields[2]) if len(fields) > 2 else ("error", fields[-1])
                raise (InputError if kind == "bad input" else RuntimeError)(message)
            outputs = []
            for file in fields[1:]:
                outputs.append(torch.from_numpy(np.load(file)))
                os.remove(file)
            return outputs

    def close(self) -> None:
        """Stop the runner and remove its folder."""
        process = getattr(self, "_process", None)
        if process is not None and process.poll() is None:
            try:
                process.stdin.write("quit\n")
                process.stdin.flush()
                process.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                process.kill()
        if getattr(self, "_stderr", None) is not None:
            self._stderr.close()
        shutil.rmtree(getattr(self, "_folder", ""), ignore_errors=True)

    def __del__(self) -> None:
        self.close()


def load_package_cpp(path: str, runner: str) -> CppPackagedModel:
    """:func:`~gnnx.export.load_package` through the C++ loader (``runner``: a built ``gnnx_run``)."""
    return CppPackagedModel(path, runner)
