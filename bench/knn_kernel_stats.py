"""Per query block of the tiled kNN kernel (issue #17): tiles visited, tiles that brought
candidates, and insertion rounds, from a copy of gnnx.ops.triton_knn with counters added
(the library's source, patched as text, under other op names). Usage: imported by
bench/knn_kernel_compare.py (``stats(points, k, batch)``)."""
from __future__ import annotations

import importlib.util
import inspect
import sys

import torch

import gnnx.ops.triton_knn as library


def load_copy(source: str, name: str):
    """A module from ``source`` (a version of gnnx/ops/triton_knn.py) with its ops renamed
    ``name::*``, so it loads beside the library's. Triton reads kernels from their file."""
    path = f"/tmp/{name}.py"
    with open(path, "w") as f:
        f.write(source.replace("gnnx::", f"{name}::"))
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _patched():
    source = inspect.getsource(library)
    replacements = [
        ("EXCLUDE_OWN: tl.constexpr, HAS_MAX: tl.constexpr):",
         "EXCLUDE_OWN: tl.constexpr, HAS_MAX: tl.constexpr, stats=None):"),
        ("    reach = float(\"inf\")  # the block's", "    visited = 0\n    useful = 0\n    spent = 0\n    reach = float(\"inf\")  # the block's"),
        ("                if nearest_gap <= reach:\n", "                if nearest_gap <= reach:\n                    visited += 1\n"),
        ("                        for _ in range(rounds):\n", "                        useful += 1\n                        spent += rounds\n                        for _ in range(rounds):\n"),
        ("    omask = mmask[:, None] & (slots[None, :] < k)\n",
         "    tl.store(stats + pid * 3, visited)\n    tl.store(stats + pid * 3 + 1, useful)\n    tl.store(stats + pid * 3 + 2, spent)\n"
         "    omask = mmask[:, None] & (slots[None, :] < k)\n"),
    ]
    for old, new in replacements:
        assert old in source, old
        source = source.replace(old, new)
    return load_copy(source, "knn_stats_copy")


def stats(points: torch.Tensor, k: int, batch=None) -> dict:
    """Means over query blocks of (tiles visited, tiles with candidates, rounds), and tiles in all."""
    module = _patched()
    captured = {}
    kernel = module._knn_kernel

    class Recorder:
        def __getitem__(self, grid):
            def launch(*args, **kwargs):
                buffer = torch.zeros(int(grid[0]) * 3, dtype=torch.int32, device=points.device)
                captured["stats"] = buffer
                captured["BLOCK_N"] = kwargs["BLOCK_N"]
                return kernel[grid](*args, **kwargs, stats=buffer)
            return launch

    module.launcher = lambda kernel_, like: Recorder() if kernel_ is kernel else kernel_
    module.knn_config = lambda dims, k_: library.knn_config(dims, k_)  # the caller's, at call time
    module.nearest(points, points, k, batch, batch, False, True)
    s = captured["stats"].view(-1, 3).float()
    return {"tiles": -(-points.size(0) // captured["BLOCK_N"]), "visited": s[:, 0].mean().item(),
            "with candidates": s[:, 1].mean().item(), "rounds": s[:, 2].mean().item()}
