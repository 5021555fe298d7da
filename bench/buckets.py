"""Variable-size graphs on the GPU (issue 6): 30 random graphs of 8-12k nodes and 150-250k
edges, each a different size; 3-layer GraphSAGE and GIN of width 64, forward+backward per
graph. PyG eager and compiled (dynamic=True); gnnx eager and compiled (dynamic=True) on the
unpadded graphs; gnnx compiled on graphs padded to one size bucket (one compiled frame), and
the same replayed as one CUDA graph per bucket (inputs copied into static buffers); and
the user's path: bare tensors, gnnx eager and ``gnnx.compile(model, dynamic=True)``.
Reports ms/step and compiled frames. Writes $OUT/buckets.json."""
import json
import os
import statistics
import time

import torch

import gnnx
import gnnx.nn as gnn
from gnnx.cuda_graph import CapturedStep
from gnnx.data import Batch, pad_to_buckets

DEV, F, PASSES = "cuda", 64, 3
NODE_BUCKET, EDGE_BUCKET = 12_289, 250_000


def tensors_of(b):
    return [b.x, b.edge_index, *b.csr]


def main():
    import torch_geometric.nn.models as pyg_models

    gen = torch.Generator().manual_seed(0)
    raw = []
    for _ in range(30):
        n = int(torch.randint(8000, 12001, (1,), generator=gen))
        e = int(torch.randint(150_000, 250_001, (1,), generator=gen))
        raw.append(gnnx.Graph(torch.randint(n, (2, e), generator=gen), n, x=torch.randn(n, F, generator=gen)))
    padded = [pad_to_buckets(Batch.from_graphs([g]), [NODE_BUCKET], [EDGE_BUCKET]).to(DEV) for g in raw]
    plain = [g.to(DEV) for g in raw]
    results = {"device": torch.cuda.get_device_name(), "torch": torch.__version__, "graphs": len(raw),
               "node_bucket": NODE_BUCKET, "edge_bucket": EDGE_BUCKET, "models": {}}

    def per_step(fn, graphs):
        for g in graphs[:3]:
            fn(g)
        torch.cuda.synchronize()
        times = []
        for _ in range(PASSES):
            start = time.perf_counter()
            for g in graphs:
                fn(g)
            torch.cuda.synchronize()
            times.append((time.perf_counter() - start) / len(graphs))
        return 1000 * statistics.median(times)

    for name in ("GraphSAGE", "GIN"):
        torch.manual_seed(0)
        ours = getattr(gnn, name)(F, F, 3, F).to(DEV)
        theirs = getattr(pyg_models, name)(F, F, 3, F).to(DEV)
        theirs.load_state_dict(ours.state_dict())
        row = results["models"][name] = {}
        row["pyg_eager_ms"] = per_step(lambda g: theirs(g.x, g.edge_index).sum().backward(), plain)
        torch._dynamo.reset()
        frames_before = _frames()
        pyg_c = torch.compile(theirs, dynamic=True)
        row["pyg_compiled_dynamic_ms"] = per_step(lambda g: pyg_c(g.x, g.edge_index).sum().backward(), plain)
        row["pyg_compiled_frames"] = _frames() - frames_before
        # The user's path: bare tensors, eager and gnnx.compile (structure cache, buckets, CUDA graphs).
        row["gnnx_eager_bare_ms"] = per_step(lambda g: ours(g.x, g.edge_index).sum().backward(), plain)
        torch._dynamo.reset()
        frames_before = _frames()
        ours_g = gnnx.compile(ours, dynamic=True)
        row["gnnx_compile_bare_ms"] = per_step(lambda g: ours_g(g.x, g.edge_index).sum().backward(), plain)
        row["gnnx_compile_bare_frames"] = _frames() - frames_before
        row["gnnx_compile_bare_captured_shapes"] = len(ours_g._captured)
        row["gnnx_compile_bare_cuda_graph_fallback"] = ours_g.cuda_graph_fallback
        row["gnnx_compile_bare_speedup_vs_pyg_eager"] = row["pyg_eager_ms"] / row["gnnx_compile_bare_ms"]
        print(name, row, flush=True)
        # gnnx without buckets: eager, and compiled with dynamic shapes on the unpadded graphs.
        row["gnnx_eager_ms"] = per_step(lambda g: ours(g.x, g).sum().backward(), plain)
        torch._dynamo.reset()
        frames_before = _frames()
        ours_d = torch.compile(ours, fullgraph=True, dynamic=True)
        row["gnnx_compiled_dynamic_ms"] = per_step(lambda g: ours_d(g.x, g).sum().backward(), plain)
        row["gnnx_compiled_dynamic_frames"] = _frames() - frames_before
        frames_before = _frames()
        torch._dynamo.reset()
        ours_c = torch.compile(ours, fullgraph=True, dynamic=False)
        row["gnnx_compiled_bucket_ms"] = per_step(
            lambda g: (ours_c(g.x, g) * g.node_mask.unsqueeze(1)).sum().backward(), padded)
        row["gnnx_compiled_frames"] = _frames() - frames_before
        static = padded[0]
        slots = tensors_of(static)

        print(name, row, flush=True)

        def step():  # masking by multiplication: boolean indexing would sync and break capture
            (ours_c(static.x, static) * static.node_mask.unsqueeze(1)).sum().backward()

        try:
            captured = CapturedStep(step)
        except Exception as exc:  # noqa: BLE001
            row["gnnx_cudagraph_error"] = repr(exc)[:300]
            continue

        def replay(g):
            for dst, src in zip(slots, tensors_of(g)):
                dst.copy_(src)
            static.attrs["node_mask"].copy_(g.node_mask)
            captured()

        row["gnnx_cudagraph_bucket_ms"] = per_step(replay, padded)
        row["speedup_vs_pyg_eager"] = row["pyg_eager_ms"] / min(row["gnnx_compiled_bucket_ms"],
                                                                row["gnnx_cudagraph_bucket_ms"])
        print(name, row, flush=True)
        with open(os.path.join(os.environ.get("OUT", "/tmp"), "buckets.json"), "w") as f:
            json.dump(results, f, indent=2)
    with open(os.path.join(os.environ.get("OUT", "/tmp"), "buckets.json"), "w") as f:
        json.dump(results, f, indent=2)


def _frames():
    from torch._dynamo.utils import counters

    return int(counters["stats"]["unique_graphs"])


if __name__ == "__main__":
    main()
