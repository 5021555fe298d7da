"""TGN training epoch, gnnx vs PyG side by side in one process (the user's loop).

PyG's examples/tgn.py (``examples/tgn.py`` here, the same code over either library: TGN memory
with identity messages and last aggregation, a TransformerConv embedding over the 10 latest
interactions, a link predictor, Adam) on a generated stream with the shape of JODIE's
Wikipedia set (``temporal_benchmark_stream``: 8,227 users, 1,000 items, 172 message features),
batches of 200 events with one negative each. Each library trains ``--epochs`` epochs on the
first 70 % of the stream; the last epoch is timed (the first warms the allocator). The two
libraries alternate in order over ``--repeats`` rounds; the table gives each one's median.
Writes ``tgn.json`` and ``tgn.md`` to ``--out``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples"))
from tgn import build, train_epoch  # noqa: E402

from gnnx.datasets import temporal_benchmark_stream  # noqa: E402


def epoch_seconds(lib: str, events, epochs: int) -> float:
    if lib == "torch_geometric":
        from torch_geometric.loader import TemporalDataLoader

        data = events.to_pyg()
    else:
        from gnnx.data import TemporalDataLoader

        data = events
    train, _, _ = data.train_val_test_split(val_ratio=0.15, test_ratio=0.15)
    torch.manual_seed(0)
    parts = build(lib, data.num_nodes, data.msg.size(-1))
    optimizer = torch.optim.Adam({p for module in parts[:3] for p in module.parameters()}, lr=0.0001)
    seconds = 0.0
    for _ in range(epochs):
        loader = TemporalDataLoader(train, batch_size=200, neg_sampling_ratio=1.0)
        started = time.perf_counter()
        train_epoch(parts, optimizer, data, loader)
        seconds = time.perf_counter() - started
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=40_000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default="bench/results/cpu")
    args = parser.parse_args()
    import torch_geometric

    events = temporal_benchmark_stream(num_events=args.events)
    times = {"torch_geometric": [], "gnnx": []}
    for round_ in range(args.repeats):
        for lib in (["torch_geometric", "gnnx"] if round_ % 2 == 0 else ["gnnx", "torch_geometric"]):
            times[lib].append(epoch_seconds(lib, events, args.epochs))
            print(lib, f"{times[lib][-1]:.2f} s", flush=True)
    pyg, ours = statistics.median(times["torch_geometric"]), statistics.median(times["gnnx"])
    machine = f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "tgn.json"), "w") as f:
        json.dump({"machine": machine, "torch": torch.__version__, "pyg": torch_geometric.__version__,
                   "events": args.events, "train_events": int(0.7 * args.events), "epoch_seconds": times}, f, indent=1)
    lines = [f"# TGN training epoch (PyG's examples/tgn.py loop), CPU ({machine}), torch {torch.__version__}, "
             f"PyG {torch_geometric.__version__}", "",
             f"`python bench/tgn.py --events {args.events}`: the generated JODIE-Wikipedia-shaped stream, "
             f"{args.events:,} events (the first 70 % trained), batches of 200; one process, the libraries "
             f"alternating; median of {args.repeats} timed epochs each.", "",
             "| library | s/epoch (median) | runs | vs PyG |", "|---|---:|---|---:|",
             f"| PyG | {pyg:.2f} | {', '.join(f'{t:.2f}' for t in times['torch_geometric'])} | 1.00x |",
             f"| gnnx | {ours:.2f} | {', '.join(f'{t:.2f}' for t in times['gnnx'])} | {pyg / ours:.2f}x |"]
    with open(os.path.join(args.out, "tgn.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
