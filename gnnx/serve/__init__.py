"""Serving gnnx packages with a real NVIDIA Triton Inference Server (see ``gnnx serve``)."""
from gnnx.serve.client import Client, ServeError
from gnnx.serve.repository import write_repository
from gnnx.serve.server import ServerError, TritonServer

__all__ = ["Client", "ServeError", "ServerError", "TritonServer", "write_repository"]
