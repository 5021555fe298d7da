"""GNNExplainer on Cora: seconds per explanation (100 epochs, node-level, feature and edge
masks), gnnx against PyG in one process, same weights and seed; the masks are compared too.

Usage: python bench/explain.py [--out bench/results/cpu] [--repeats 5]
"""
import argparse
import json
import os
import platform
import time

import torch
import torch.nn.functional as F
import torch_geometric
import torch_geometric.explain as PE
import torch_geometric.nn as P

import gnnx.nn as G
from gnnx.datasets import Planetoid
from gnnx.explain import Explainer, GNNExplainer


def model_for(lib, data):
    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1, self.conv2 = lib.GCNConv(data.num_features, 16), lib.GCNConv(16, 7)

        def forward(self, x, edge_index):
            return self.conv2(F.relu(self.conv1(x, edge_index)), edge_index)
    return Net()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="bench/results/cpu")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    data = Planetoid("Cora")[0]
    ours, theirs = model_for(G, data), model_for(P, data)
    ours.load_state_dict(theirs.state_dict())
    config = dict(explanation_type="model", node_mask_type="attributes", edge_mask_type="object",
                  model_config=dict(mode="multiclass_classification", task_level="node", return_type="raw"))
    rows, masks = {}, {}
    for name, model, explainer_cls, algorithm in (("pyg", theirs, PE.Explainer, PE.GNNExplainer),
                                                  ("gnnx", ours, Explainer, GNNExplainer)):
        times = []
        for repeat in range(args.repeats + 1):  # the first is a warm-up
            torch.manual_seed(repeat)
            explainer = explainer_cls(model, algorithm(epochs=100), **config)
            start = time.perf_counter()
            explanation = explainer(data.x, data.edge_index, index=10)
            times.append(time.perf_counter() - start)
            masks[name] = explanation
        rows[name] = sorted(times[1:])[len(times[1:]) // 2]
    difference = max((masks["pyg"].edge_mask - masks["gnnx"].edge_mask).abs().max().item(),
                     (masks["pyg"].node_mask - masks["gnnx"].node_mask).abs().max().item())
    result = {"device": platform.processor() or platform.machine(), "threads": torch.get_num_threads(),
              "torch": torch.__version__, "pyg": torch_geometric.__version__, "graph": "Cora",
              "seconds_per_explanation": rows, "speedup": rows["pyg"] / rows["gnnx"],
              "max_mask_difference": difference}
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "explain.json"), "w") as f:
        json.dump(result, f, indent=1)
    table = (f"# GNNExplainer on Cora, {result['device']} ({result['threads']} threads), torch {torch.__version__}, "
             f"PyG {torch_geometric.__version__}\n\nOne explanation of node 10: 100 epochs, feature and edge masks, "
             f"2-layer GCN, same weights and seed, median of {args.repeats}.\n\n"
             f"| library | s / explanation |\n|---|---:|\n| PyG | {rows['pyg']:.3f} |\n| gnnx | {rows['gnnx']:.3f} |\n\n"
             f"gnnx / PyG: {result['speedup']:.2f}x; largest mask difference {difference:.1e}.\n")
    with open(os.path.join(args.out, "explain.md"), "w") as f:
        f.write(table)
    print(table)


if __name__ == "__main__":
    main()
