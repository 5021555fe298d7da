"""Start a real Triton Inference Server on 127.0.0.1, without Docker.

The ``tritonserver`` binary comes from PyPI's ``nvidia-pytriton`` wheel (it carries the
server and the Python backend only). What it needs from the environment, found by
experiment (see the README): the backend stub must find *this* interpreter's
``libpython`` first on ``LD_LIBRARY_PATH``, takes its packages from the ``python`` first
on ``PATH``, and the wheel's Python backend needs ``numpy<2``.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.request
from typing import List, Optional


class ServerError(RuntimeError):
    """The server could not be started or did not become ready."""


def _pytriton_root() -> str:
    try:
        import pytriton
    except ImportError:
        raise ServerError("gnnx serve needs the 'nvidia-pytriton' package (pip install nvidia-pytriton)") from None
    return os.path.join(os.path.dirname(pytriton.__file__), "tritonserver")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _backend_directory(root: str, workdir: str) -> str:
    """A backends folder whose Python backend holds the stub for this Python version."""
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    stub = os.path.join(root, "python_backend_stubs", version, "triton_python_backend_stub")
    if not os.path.isfile(stub):
        raise ServerError(f"nvidia-pytriton has no Python backend stub for Python {version}")
    backends = os.path.join(workdir, "backends")
    shutil.copytree(os.path.join(root, "backends"), backends, dirs_exist_ok=True)
    shutil.copy2(stub, os.path.join(backends, "python", "triton_python_backend_stub"))
    return backends


class TritonServer:
    """A ``tritonserver`` process serving ``repository`` on 127.0.0.1 (HTTP and gRPC).

    Use as a context manager; :meth:`stop` ends the process.
    """

    def __init__(self, repository: str, http_port: Optional[int] = None, grpc_port: Optional[int] = None,
                 log: Optional[str] = None) -> None:
        import numpy

        if int(numpy.__version__.split(".")[0]) >= 2:
            raise ServerError("Triton's Python backend (nvidia-pytriton 0.7) reads tensors wrongly with numpy 2; "
                              "install numpy<2 in the serving environment")
        self.repository = repository
        self.http_port = http_port or free_port()
        self.grpc_port = grpc_port or free_port()
        self._workdir = tempfile.mkdtemp(prefix="gnnx-triton-")
        root = _pytriton_root()
        backends = _backend_directory(root, self._workdir)
        env = dict(os.environ)
        libdir = sysconfig.get_config_var("LIBDIR") or os.path.join(sys.base_prefix, "lib")
        libs = [libdir, os.path.join(os.path.dirname(root), "..", "nvidia_pytriton.libs")]
        env["LD_LIBRARY_PATH"] = ":".join(libs + [env.get("LD_LIBRARY_PATH", "")])
        env["PATH"] = os.path.dirname(sys.executable) + ":" + env.get("PATH", "")
        cmd: List[str] = [
            os.path.join(root, "bin", "tritonserver"),
            f"--model-repository={repository}",
            f"--backend-directory={backends}",
            "--http-address=127.0.0.1", f"--http-port={self.http_port}",
            "--grpc-address=127.0.0.1", f"--grpc-port={self.grpc_port}",
            "--allow-metrics=false", "--allow-sagemaker=false", "--allow-vertex-ai=false",
            "--exit-on-error=true", "--strict-model-config=true",
        ]
        self.log_path = log or os.path.join(self._workdir, "server.log")
        self._log = open(self.log_path, "w")
        self.process = subprocess.Popen(cmd, env=env, stdout=self._log, stderr=subprocess.STDOUT)

    @property
    def http_url(self) -> str:
        return f"127.0.0.1:{self.http_port}"

    @property
    def grpc_url(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    def wait_ready(self, timeout: float = 120.0) -> "TritonServer":
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise ServerError(f"tritonserver exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"http://{self.http_url}/v2/health/ready", timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                pass
            time.sleep(0.5)
        self.stop()
        raise ServerError(f"tritonserver not ready after {timeout:.0f} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        self._log.flush()
        with open(self.log_path) as f:
            return "".join(f.readlines()[-lines:])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()

    def __enter__(self) -> "TritonServer":
        return self.wait_ready()

    def __exit__(self, *exc) -> None:
        self.stop()
