"""Serving benchmark (issue 4): 1,000-node graphs through a real Triton server on 127.0.0.1
(HTTP and gRPC, 1 and 8 concurrent clients) against a direct in-process call of the same
AOTInductor package. Latency p50/p99 and throughput. Writes bench/results/cpu/serve.{json,md}."""
import concurrent.futures
import json
import os
import statistics
import sys
import tempfile
import time

import torch

import gnnx.export
from gnnx.nn import GraphSAGE
from gnnx.serve import Client, TritonServer, write_repository

NODES, EDGES, F, REQUESTS = 1000, 8000, 64, 400


def percentiles(latencies):
    ordered = sorted(latencies)
    pick = lambda q: 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return {"p50_ms": pick(0.50), "p99_ms": pick(0.99), "mean_ms": 1000 * statistics.mean(ordered)}


def run_clients(make_call, clients, per_client):
    def worker(_):
        call = make_call()
        lat = []
        for _ in range(per_client):
            start = time.perf_counter()
            call()
            lat.append(time.perf_counter() - start)
        return lat

    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        lat = [t for part in pool.map(worker, range(clients)) for t in part]
    wall = time.perf_counter() - start
    return {**percentiles(lat), "throughput_rps": len(lat) / wall, "requests": len(lat), "clients": clients}


def main(out_dir):
    torch.manual_seed(0)
    model = GraphSAGE(F, 64, 3, 16).eval()
    x, edge_index = torch.randn(NODES, F), torch.randint(NODES, (2, EDGES))
    tmp = tempfile.mkdtemp()
    package = gnnx.export.compile_package(model, os.path.join(tmp, "sage.pt2"), (x, edge_index))
    direct = gnnx.export.load_package(package)
    results = {"torch": torch.__version__, "graph": {"nodes": NODES, "edges": EDGES, "features": F},
               "model": "GraphSAGE(64, 64, 3 layers, 16)", "threads_per_model_instance": 1, "rows": {}}
    torch.set_num_threads(1)
    with torch.no_grad():
        results["rows"]["in-process package, 1 thread"] = run_clients(lambda: (lambda: direct(x, edge_index)), 1, REQUESTS)
    write_repository(package, os.path.join(tmp, "repo"))
    with TritonServer(os.path.join(tmp, "repo", "python")) as server:
        for protocol, url in (("http", server.http_url), ("grpc", server.grpc_url)):
            for clients in (1, 8):
                make = lambda: (lambda c: (lambda: c.infer(x, edge_index)))(Client(url, protocol=protocol))  # noqa: E731
                make()()  # warm-up
                results["rows"][f"Triton {protocol}, {clients} client(s)"] = run_clients(make, clients, REQUESTS // clients)
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "serve.json"), "w") as f:
        json.dump(results, f, indent=2)
    lines = [f"Serving 1,000-node / 8,000-edge graphs, {results['model']}, torch {results['torch']}, the 2-core CPU "
             "machine, Triton 2.51 (nvidia-pytriton 0.7.0) Python backend, one model instance, one torch thread\n",
             "| path | p50 ms | p99 ms | throughput req/s |", "|---|---|---|---|"]
    for name, r in results["rows"].items():
        lines.append(f"| {name} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['throughput_rps']:.0f} |")
    open(os.path.join(out_dir, "serve.md"), "w").write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "bench/results/cpu")
