"""CPU kNN and radius graphs at physics scale (issue 17's target: 200,000 random 3-D points in
4 clouds, k = 16, each <= 3 s on 2 cores, exact). Exactness: the k-th neighbour distances of
2,000 sampled points equal an all-pairs search over their cloud. Writes
bench/results/cpu/knn_cpu.{json,md}; ``--layout gaussian`` (density varying ~30x between the
centre and the median point) or ``sphere`` (points on a surface, as sampled meshes are) write
knn_cpu_<layout>.{json,md}."""
import argparse
import json
import os
import resource
import time

import torch

from gnnx.benchmark.harness import environment
from gnnx.ops import grid, knn_graph, neighbors, radius_graph

OUT = os.path.join(os.path.dirname(__file__), "results", "cpu")


def best_of(fn, repeats=3):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


LAYOUTS = {"uniform": lambda n: torch.rand(n, 3), "gaussian": lambda n: torch.randn(n, 3),
           "sphere": lambda n: torch.nn.functional.normalize(torch.randn(n, 3), dim=1)}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--layout", choices=sorted(LAYOUTS), default="uniform")
    layout = parser.parse_args().layout
    torch.manual_seed(0)
    n, clouds, k = 200_000, 4, 16
    pos = LAYOUTS[layout](n)
    batch = torch.arange(clouds).repeat_interleave(n // clouds)
    r = (3 * k / (4 * torch.pi * (n / clouds))) ** (1 / 3)  # about k neighbours on average (uniform)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    knn_s, edge_index = best_of(lambda: knn_graph(pos, k, batch))
    radius_s, (radius_edges, mask) = best_of(lambda: radius_graph(pos, r, batch, max_num_neighbors=32))
    peak_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024
    # exactness against all pairs of the same cloud, on sampled centres
    sample = torch.randperm(n)[:2000]
    ref_values, _ = neighbors._brute_rows(pos, pos[sample], k, batch, batch[sample], sample)
    # the k-th distances of the found edges, computed as both searches compute them (exact: equal)
    kth = grid.squared_distances(pos.t().contiguous(), pos, edge_index[0].view(n, k)).amax(1)
    knn_err = float((kth[sample] - ref_values[:, -1]).abs().max())
    found = mask.view(n, 32).sum(1)
    dist = (pos[sample][:, None] - pos[None]).square().sum(-1)
    dist = dist.masked_fill(batch[sample][:, None] != batch[None], float("inf"))
    dist[torch.arange(sample.numel()), sample] = float("inf")
    radius_ok = bool((found[sample] == (dist <= r * r).sum(1).clamp(max=32)).all())  # same counts as all pairs
    same_cloud = bool((batch[edge_index[0]] == batch[edge_index[1]]).all())
    result = {
        "layout": layout, "points": n, "clouds": clouds, "k": k, "radius": r, "threads": torch.get_num_threads(),
        "knn_graph_s": round(knn_s, 3), "radius_graph_s": round(radius_s, 3),
        "knn_kth_distance_max_abs_err": knn_err, "radius_counts_ok": radius_ok, "pairs_within_clouds": same_cloud,
        "extra_peak_rss_mib": round(peak_mib, 1), **environment("cpu"),
    }
    os.makedirs(OUT, exist_ok=True)
    name = "knn_cpu" if layout == "uniform" else f"knn_cpu_{layout}"
    with open(os.path.join(OUT, f"{name}.json"), "w") as f:
        json.dump(result, f, indent=1)
    with open(os.path.join(OUT, f"{name}.md"), "w") as f:
        f.write(f"# CPU kNN / radius graphs ({n:,} {layout} 3-D points, {clouds} clouds, k = {k}, "
                f"{result['threads']} threads, {result['device']}, torch {torch.__version__})\n\n| op | seconds (best of 3) |\n|---|---|\n"
                f"| knn_graph | {knn_s:.2f} |\n| radius_graph (r = {r:.4f}, max 32) | {radius_s:.2f} |\n\n"
                f"k-th distance vs all pairs (2,000 sampled points): max abs error {knn_err:.2e}; "
                f"extra peak memory {peak_mib:.0f} MiB.\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
