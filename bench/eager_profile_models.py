"""Why a model's eager step (the user's path: bare edge_index, default arguments) is slower than
PyG's on the GPU: per model, gnnx's and PyG's eager inference and training step, the host syncs
of one gnnx step (``torch.cuda.set_sync_debug_mode``), and torch.profiler tables of 10 inference
calls (ops by count and by GPU time; ``PROFILE=train``: of the backward alone).
Usage: [PROFILE=train] python bench/eager_profile_models.py MODEL..."""
import os
import sys
import warnings

import torch
import torch.nn.functional as F
from eager_backward_threads import ms_per_call  # (bench/, the script's directory)
from torch.profiler import ProfilerActivity, profile

from gnnx.benchmark.seed import build, loop_steps, seed_graph

PROFILE = os.environ.get("PROFILE", "infer")  # or "train": the backward alone


def main(models) -> None:
    x, edge_index, y = seed_graph("cuda")
    print(torch.__version__, torch.cuda.get_device_name())
    for name in models:
        for mode in ("gnnx_eager", "pyg_eager"):
            model = build(name, mode, "cuda")
            train, infer = loop_steps(model, torch.optim.Adam(model.parameters(), lr=1e-3), x, edge_index, y)

            model.train()
            train_ms = ms_per_call(train, 30)
            model.eval()
            infer_ms = ms_per_call(infer, 30)
            print(f"== {name} {mode}: infer {infer_ms:.3f} ms, train {train_ms:.3f} ms", flush=True)
            for kind, step in (("infer (eval)", infer), ("train", train)):
                model.train(kind == "train")
                torch.cuda.set_sync_debug_mode("warn")
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    step()
                torch.cuda.set_sync_debug_mode(0)
                syncs = [str(w.message).splitlines()[0][:100] for w in caught if "synchroniz" in str(w.message)]
                print(f"   host syncs in one {kind} step: {len(syncs)}", *syncs[:5], sep="\n     ")
            model.eval()
            steps = {"infer": infer}
            if "train" in PROFILE:
                model.train()
                loss = F.cross_entropy(model(x, edge_index), y)
                steps = {"backward": lambda: loss.backward(retain_graph=True)}
            for kind, step in steps.items():
                with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
                    for _ in range(10):
                        step()
                    torch.cuda.synchronize()
                print(f"-- {kind}, 10 calls")
                print(prof.key_averages().table(sort_by="count", row_limit=22, max_name_column_width=60))
                print(prof.key_averages().table(sort_by="self_device_time_total", row_limit=10,
                                                max_name_column_width=60))


if __name__ == "__main__":
    main(sys.argv[1:] or ["GIN"])
