"""``make demo``: a two-layer GCN on Cora with the GCN paper's settings, eager and compiled.

Kipf & Welling (2017): row-normalised features, hidden 16, dropout 0.5, Adam with lr 0.01,
weight decay 5e-4 on the first layer, 200 epochs; the paper reports 81.5% test accuracy.
Each of 10 seeds trains once eagerly and once under ``torch.compile(fullgraph=True,
dynamic=True)``; the test accuracy is read at the epoch of best validation accuracy.
The trained model is then exported, loaded back in a separate process that has no
access to the model's class, and its predictions are compared with the original's.
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Dict, List

import torch
import torch.nn.functional as F

import gnnx
import gnnx.export
from gnnx import transforms as T
from gnnx.datasets import Planetoid
from gnnx.nn import GCNConv
from gnnx.progress import Progress


class CoraGCN(torch.nn.Module):
    """The GCN paper's model: dropout, GCNConv, ReLU, dropout, GCNConv."""

    def __init__(self, in_channels: int, hidden: int, out_channels: int, dropout: float = 0.5) -> None:
        super().__init__()
        self.conv1 = GCNConv(in_channels, hidden, normalize=False)
        self.conv2 = GCNConv(hidden, out_channels, normalize=False)
        self.dropout = dropout

    def forward(self, x, edge_index, edge_weight):
        x = F.dropout(x, self.dropout, self.training)
        x = self.conv1(x, edge_index, edge_weight).relu()
        x = F.dropout(x, self.dropout, self.training)
        return self.conv2(x, edge_index, edge_weight)


def run(seeds: int = 10, epochs: int = 200, out_dir: str = ".") -> Dict[str, object]:
    torch.set_num_threads(max(1, min(os.cpu_count() or 1, 4)))
    dataset = Planetoid("Cora", transform=T.Compose([T.NormalizeFeatures(), T.GCNNorm()]))
    graph = dataset[0]
    model = CoraGCN(dataset.num_features, 16, dataset.num_classes)
    compiled = torch.compile(model, fullgraph=True, dynamic=True)
    results: Dict[str, List[Dict[str, float]]] = {"eager": [], "compiled": []}
    for mode, forward in (("eager", model), ("compiled", compiled)):
        bar = Progress(range(seeds * epochs), desc=f"{mode:>8}")
        steps = iter(bar)
        for seed in range(seeds):
            torch.manual_seed(seed)
            model.conv1.reset_parameters()
            model.conv2.reset_parameters()
            result = _train(model, forward, graph, epochs, steps)
            results[mode].append(result)
            bar.set(seed=seed, acc=f"{result['test']:.3f}")
        for _ in steps:
            pass

    # Export the last trained model and check predictions from a process without its class.
    model.eval()
    inputs = (graph.x, graph.edge_index, graph.edge_weight)
    program = gnnx.export.export(model, inputs)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "cora_gcn.pt2")
        gnnx.export.save(program, path)
        torch.save({"x": graph.x, "edge_index": graph.edge_index, "edge_weight": graph.edge_weight},
                   os.path.join(tmp, "inputs.pt"))
        loaded_out = _predict_in_fresh_process(path, os.path.join(tmp, "inputs.pt"))
    with torch.no_grad():
        original = model(*inputs)
    export_equal = bool(torch.equal(loaded_out.argmax(-1), original.argmax(-1)))
    export_max_diff = float((loaded_out - original).abs().max())

    summary = _summarise(results, export_equal, export_max_diff)
    with open(os.path.join(out_dir, "demo_results.json"), "w") as f:
        json.dump(summary, f, indent=2)
    return summary


def _train(model, forward, graph, epochs, steps):
    optimizer = torch.optim.Adam([
        {"params": model.conv1.parameters(), "weight_decay": 5e-4},
        {"params": model.conv2.parameters(), "weight_decay": 0.0},
    ], lr=0.01)
    x, y, w = graph.x, graph.y, graph.edge_weight
    best_val, test_at_best, epoch_times = -1.0, 0.0, []
    for _ in range(epochs):
        start = time.perf_counter()
        model.train()
        optimizer.zero_grad()
        out = forward(x, graph, w)
        F.cross_entropy(out[graph.train_mask], y[graph.train_mask]).backward()
        optimizer.step()
        epoch_times.append(time.perf_counter() - start)
        model.eval()
        with torch.no_grad():
            pred = forward(x, graph, w).argmax(-1)
        val = (pred[graph.val_mask] == y[graph.val_mask]).float().mean().item()
        if val > best_val:
            best_val = val
            test_at_best = (pred[graph.test_mask] == y[graph.test_mask]).float().mean().item()
        next(steps, None)
    return {"test": test_at_best, "first_epoch_s": epoch_times[0], "epoch_s": statistics.median(epoch_times[1:])}


_LOADER = """
import sys, torch
program = torch.export.load(sys.argv[1])
inputs = torch.load(sys.argv[2])
out = program.module()(inputs["x"], inputs["edge_index"], inputs["edge_weight"])
torch.save(out.detach(), sys.argv[3])
"""


def _predict_in_fresh_process(program_path: str, inputs_path: str) -> torch.Tensor:
    out_path = inputs_path + ".out"
    subprocess.run([sys.executable, "-c", _LOADER, program_path, inputs_path, out_path], check=True,
                   cwd=os.path.dirname(program_path))
    return torch.load(out_path)


def _summarise(results, export_equal: bool, export_max_diff: float) -> Dict[str, object]:
    summary: Dict[str, object] = {"torch": torch.__version__, "gnnx": gnnx.__version__,
                                  "threads": torch.get_num_threads(), "seeds": len(results["eager"])}
    for mode, runs in results.items():
        accs = [r["test"] for r in runs]
        summary[mode] = {
            "test_acc_mean": statistics.mean(accs), "test_acc_std": statistics.pstdev(accs),
            "epoch_ms": 1000 * statistics.median(r["epoch_s"] for r in runs),
            "first_epoch_s": runs[0]["first_epoch_s"],
        }
    compiled = summary["compiled"]
    compiled["compile_s"] = compiled["first_epoch_s"] - compiled["epoch_ms"] / 1000  # type: ignore[index]
    summary["export"] = {"predictions_identical": export_equal, "max_abs_diff": export_max_diff}
    return summary


def print_table(summary: Dict[str, object]) -> None:
    rows = [("mode", f"test acc ({summary['seeds']} seeds)", "ms / epoch", "compile s")]
    for mode in ("eager", "compiled"):
        r = summary[mode]  # type: ignore[index]
        rows.append((mode, f"{100 * r['test_acc_mean']:.1f} +- {100 * r['test_acc_std']:.1f} %",
                     f"{r['epoch_ms']:.2f}", f"{r.get('compile_s', 0.0):.1f}" if mode == "compiled" else "-"))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    line = "+".join("-" * (w + 2) for w in widths)
    print(f"\nGCN on Cora (Kipf & Welling 2017 report 81.5%), torch {summary['torch']}")
    print(line)
    for i, row in enumerate(rows):
        print(" | ".join(cell.ljust(w) for cell, w in zip(row, widths)))
        if i == 0:
            print(line)
    print(line)
    export = summary["export"]  # type: ignore[index]
    verdict = "identical" if export["predictions_identical"] else "DIFFERENT"
    print(f"exported program, loaded in a fresh process without the model class: predictions {verdict} "
          f"(max |diff| {export['max_abs_diff']:.2e})")


def main(argv=None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="gnnx demo", description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--out-dir", default=".")
    args = parser.parse_args(argv)
    summary = run(args.seeds, args.epochs, args.out_dir)
    print_table(summary)
    return 0 if summary["export"]["predictions_identical"] else 1  # type: ignore[index]


if __name__ == "__main__":
    sys.exit(main())
