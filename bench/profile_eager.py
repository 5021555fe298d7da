"""Where an eager step spends host time: cProfile of the seed graph, the PyG way (bare
edge_index, default arguments), gnnx eager vs PyG eager, inference and training.
Usage: python bench/profile_eager.py [MODEL] [cuda|cpu] [MODES, e.g. gnnx_eager,pyg_eager];
prints each mode's ms per training step and its top functions."""
import cProfile
import io
import pstats
import sys
import time

import torch
import torch.nn.functional as F

from gnnx.benchmark.seed import build, seed_graph


def main(name="GCN", device="cuda", modes="gnnx_eager", steps=30):
    x, edge_index, y = seed_graph(device)
    for mode in modes.split(","):
        model = build(name, mode, device)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

        def train():
            optimizer.zero_grad()
            F.cross_entropy(model(x, edge_index), y).backward()
            optimizer.step()

        for kind, step in (("train", train),):
            for _ in range(5):
                step()
            torch.cuda.synchronize() if device == "cuda" else None
            started = time.perf_counter()
            for _ in range(steps):
                step()
            torch.cuda.synchronize() if device == "cuda" else None
            print(f"===== {name} {mode} {kind}: {(time.perf_counter() - started) / steps * 1e3:.2f} ms per step")
            profile = cProfile.Profile()
            profile.enable()
            for _ in range(steps):
                step()
            torch.cuda.synchronize() if device == "cuda" else None
            profile.disable()
            text = io.StringIO()
            pstats.Stats(profile, stream=text).sort_stats("tottime").print_stats(30)
            print(f"===== {name} {mode} {kind}: {steps} steps =====")
            print("\n".join(text.getvalue().splitlines()[:50]))
            if device == "cuda":
                from torch.profiler import ProfilerActivity
                from torch.profiler import profile as torch_profile

                with torch_profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
                    for _ in range(10):
                        step()
                    torch.cuda.synchronize()
                print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=25, max_name_column_width=60))


if __name__ == "__main__":
    main(*(sys.argv[1:] or []))
