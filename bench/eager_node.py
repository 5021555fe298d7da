"""gnnx's eager step (seed graph, bare edge_index, default arguments, an ordinary loop) with a
layer's fused op as one autograd node against the registered ops' path (switched in, same
process) and PyG eager, rounds alternating. Prints a table and writes JSON.

* EdgeCNN (issue #17, session 29): EdgeConv's layer as one node
  (gnnx.ops.edge_mlp.edge_conv_max) against the first layer split into per-node halves by seven
  autograd nodes, then the fused op through the dispatcher.
* GAT (session 30): the fused attention as one node (gnnx.ops.triton_attention.EagerAttention)
  against the registered op and its registered backward.

Usage: python bench/eager_node.py [cuda|cpu] [OUT_DIR] [ROUNDS] [EdgeCNN|GAT]."""
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

import gnnx.ops.edge_mlp as edge_mlp
from gnnx.benchmark.seed import build, loop_steps, seed_graph

SWITCHED = {"EdgeCNN": edge_mlp}  # the module whose _runs_eagerly picks the one-node path

MODES = {"gnnx eager, one node": ("gnnx_eager", True), "gnnx eager, registered ops": ("gnnx_eager", False),
         "PyG eager": ("pyg_eager", True)}


def main(device: str = "cuda", out_dir: str = ".", rounds: str = "5", model_name: str = "EdgeCNN") -> None:
    if model_name == "GAT":
        import gnnx.ops.triton_attention as triton_attention
        SWITCHED["GAT"] = triton_attention
    switched = SWITCHED[model_name]
    x, edge_index, y = seed_graph(device)
    runs_eagerly = switched._runs_eagerly
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    models = {name: build(model_name, mode, device) for name, (mode, _) in MODES.items()}
    optimizers = {name: torch.optim.Adam(model.parameters(), lr=1e-3) for name, model in models.items()}
    times = {name: {"train": [], "infer": []} for name in MODES}
    for _ in range(int(rounds)):
        for name, (_, one_node) in MODES.items():
            switched._runs_eagerly = runs_eagerly if one_node else (lambda *args: False)
            train, infer = loop_steps(models[name], optimizers[name], x, edge_index, y)
            for kind, step in (("train", train), ("infer", infer)):
                for _ in range(3):
                    step()
                sync()
                started = time.perf_counter()
                for _ in range(30):
                    step()
                sync()
                times[name][kind].append((time.perf_counter() - started) / 30 * 1e3)
    switched._runs_eagerly = runs_eagerly
    result = {"model": model_name, "device": torch.cuda.get_device_name() if device == "cuda" else platform.processor() or "cpu",
              "torch": torch.__version__, "rounds": int(rounds), "ms_per_step": times}
    try:
        import torch_geometric
        import triton
        result.update(pyg=torch_geometric.__version__, triton=triton.__version__)
    except ImportError:
        pass
    Path(out_dir, f"{model_name.lower()}_eager_node_{device}.json").write_text(json.dumps(result, indent=1))
    pyg = {kind: statistics.median(times["PyG eager"][kind]) for kind in ("train", "infer")}
    lines = [f"{model_name}, seed graph, eager, {result['device']}, torch {result['torch']}, PyG {result.get('pyg')}, "
             f"triton {result.get('triton')}; ms per step, median of {rounds} rounds of 30 (ratio: PyG eager / row)",
             "", "| path | train | vs PyG | infer | vs PyG |", "|---|---|---|---|---|"]
    for name in MODES:
        train, infer = (statistics.median(times[name][kind]) for kind in ("train", "infer"))
        lines.append(f"| {name} | {train:.2f} | {pyg['train'] / train:.2f}x | {infer:.2f} | {pyg['infer'] / infer:.2f}x |")
    text = "\n".join(lines)
    Path(out_dir, f"{model_name.lower()}_eager_node_{device}.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main(*sys.argv[1:])
