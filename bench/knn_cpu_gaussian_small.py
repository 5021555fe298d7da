"""kNN on Gaussian clouds, the size a point-cloud model meets (8,192 points in 4 clouds, k = 20)
and issue 17's 200,000 (k = 16): seconds for one eager ``knn_graph`` call, best of 3, with a
time limit per size. ``python bench/knn_cpu_gaussian_small.py [LIMIT_S]``; run it in a checkout
of an older commit (with this file copied in) to compare."""
import json
import signal
import subprocess
import sys
import time

import torch

from gnnx.benchmark.harness import environment
from gnnx.ops import knn_graph


def seconds(n: int, k: int) -> float:
    torch.manual_seed(0)
    pos, batch = torch.randn(n, 3), torch.arange(4).repeat_interleave(n // 4)
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        knn_graph(pos, k, batch)
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    limit = int(sys.argv[1]) if len(sys.argv) > 1 else 120
    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    result = {"commit": rev, "limit_s": limit, **environment("cpu")}
    for n, k in [(8192, 20), (200_000, 16)]:
        signal.alarm(limit)
        try:
            result[f"gaussian_{n}_k{k}_s"] = round(seconds(n, k), 3)
        except TimeoutError:
            result[f"gaussian_{n}_k{k}_s"] = f"did not finish in {limit} s"
        signal.alarm(0)
    print(json.dumps(result))


def _timeout(*_):
    raise TimeoutError


signal.signal(signal.SIGALRM, _timeout)

if __name__ == "__main__":
    main()
