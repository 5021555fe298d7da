"""A client for a served gnnx model: KServe v2 over HTTP or gRPC (``tritonclient``).

Several graphs travel in one request as their disjoint union: node features are
concatenated, each graph's edge indices are offset by the nodes before it, and (if the
model takes one) a ``batch`` vector says which graph each node belongs to. The answer
is split back per graph by node counts.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor

NUMPY_TO_TRITON = {np.dtype("float32"): "FP32", np.dtype("float64"): "FP64", np.dtype("int64"): "INT64",
                   np.dtype("int32"): "INT32"}


class ServeError(RuntimeError):
    """The server answered a request with an error: its message, and ``status`` (the HTTP
    status, e.g. ``"400"`` for bad input, or the gRPC code, e.g.
    ``"StatusCode.INVALID_ARGUMENT"``)."""

    def __init__(self, message: str, status: Optional[str] = None) -> None:
        super().__init__(message)
        self.status = status

    @property
    def is_client_error(self) -> bool:
        """The request was at fault (bad input), not the server."""
        return self.status in ("400", "StatusCode.INVALID_ARGUMENT")


class Client:
    """Send graphs to a model served by Triton.

    Args:
        url: ``host:port`` of the HTTP or gRPC endpoint (127.0.0.1 for ``gnnx serve``).
        model: model name in the repository.
        protocol: ``"http"`` or ``"grpc"``.
        timeout: seconds a request may take before it fails with :class:`ServeError`
            (``None``: the transport's default), so a dead server is an error, not a hang.
    """

    def __init__(self, url: str, model: str = "gnnx_model", protocol: str = "http",
                 timeout: Optional[float] = None) -> None:
        if protocol == "http":
            import tritonclient.http as tc
        elif protocol == "grpc":
            import tritonclient.grpc as tc
        else:
            raise ValueError(f"protocol must be 'http' or 'grpc', got {protocol!r}")
        self._tc, self.model, self.protocol, self.timeout = tc, model, protocol, timeout
        if protocol == "http" and timeout is not None:
            self._client = tc.InferenceServerClient(url, connection_timeout=timeout, network_timeout=timeout)
        else:
            self._client = tc.InferenceServerClient(url)
        meta = self._client.get_model_metadata(model)
        inputs = meta["inputs"] if isinstance(meta, dict) else meta.inputs
        outputs = meta["outputs"] if isinstance(meta, dict) else meta.outputs
        self.input_names = [i["name"] if isinstance(i, dict) else i.name for i in inputs]
        self.output_names = [o["name"] if isinstance(o, dict) else o.name for o in outputs]

    def infer(self, *inputs) -> Tensor:
        """Run one request with the model's inputs in order; returns its first output."""
        if len(inputs) != len(self.input_names):
            raise ValueError(f"the model takes {len(self.input_names)} inputs {self.input_names}, got {len(inputs)}")
        return self._request(dict(zip(self.input_names, inputs)))[self.output_names[0]]

    def infer_named(self, **inputs) -> Dict[str, Tensor]:
        """Run one request with inputs by name; returns every output by name.

        A heterogeneous model's inputs are named per type (``x__paper``,
        ``edge_index__author__writes__paper``); pass them so, or as dicts by argument
        (``x={"paper": ...}, edge_index={("author", "writes", "paper"): ...}``).
        """
        named: Dict[str, Any] = {}
        for name, value in inputs.items():
            if isinstance(value, dict):
                for key, item in value.items():
                    named[f"{name}__{'__'.join(key) if isinstance(key, tuple) else key}"] = item
            else:
                named[name] = value
        missing = [n for n in self.input_names if n not in named]
        unknown = [n for n in named if n not in self.input_names]
        if missing or unknown:
            raise ValueError(f"the model takes inputs {self.input_names}; missing {missing}, unknown {unknown}")
        return self._request(named)

    def _request(self, named: Dict[str, Any]) -> Dict[str, Tensor]:
        request = []
        for name in self.input_names:
            value = named[name]
            array = value.detach().cpu().numpy() if isinstance(value, Tensor) else np.asarray(value)
            if array.dtype not in NUMPY_TO_TRITON:
                raise TypeError(f"{name}: unsupported dtype {array.dtype}")
            item = self._tc.InferInput(name, list(array.shape), NUMPY_TO_TRITON[array.dtype])
            item.set_data_from_numpy(np.ascontiguousarray(array))
            request.append(item)
        try:
            extra = {"client_timeout": self.timeout} if self.protocol == "grpc" and self.timeout is not None else {}
            result = self._client.infer(self.model, request, **extra)
        except Exception as exc:  # tritonclient raises InferenceServerException
            status = exc.status() if callable(getattr(exc, "status", None)) else None
            raise ServeError(str(exc), None if status is None else str(status)) from exc
        return {name: torch.from_numpy(np.array(result.as_numpy(name))) for name in self.output_names}

    def infer_graphs(self, graphs: Sequence[Tuple[Tensor, Tensor]]) -> List[Tensor]:
        """Send ``[(x, edge_index), ...]`` as one disjoint-union request; one output per graph."""
        if not graphs:
            return []
        sizes = [int(x.size(0)) for x, _ in graphs]
        offsets = np.cumsum([0] + sizes[:-1])
        x = torch.cat([g[0] for g in graphs])
        edge_index = torch.cat([g[1] + int(off) for g, off in zip(graphs, offsets)], dim=1)
        named = {"x": x, "edge_index": edge_index,
                 "batch": torch.repeat_interleave(torch.arange(len(graphs)), torch.tensor(sizes))}
        missing = [n for n in self.input_names if n not in named]
        if missing:
            raise ValueError(f"infer_graphs packs x, edge_index and batch; the model also takes {missing}")
        out = self.infer(*[named[n] for n in self.input_names])
        return list(torch.split(out, sizes))

    def close(self) -> None:
        self._client.close()
