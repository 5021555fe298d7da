"""PyG's compile tutorial, GCN on Cora (``examples/compile/gcn.py`` there), ported to gnnx by
its imports: normalisation done once by the transform, ``normalize=False`` layers, and
``torch.compile``. Usage: python examples/compile/gcn.py [--epochs 200]"""
import argparse
import os.path as osp
import time

import torch
import torch.nn.functional as F

import gnnx.transforms as T
from gnnx.datasets import Planetoid
from gnnx.nn import GCNConv

parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int, default=200)
args = parser.parse_args()

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
path = osp.join(osp.dirname(osp.realpath(__file__)), "..", "..", "data", "Planetoid")
dataset = Planetoid(path, name="Cora", transform=T.Compose([T.NormalizeFeatures(), T.GCNNorm()]))
data = dataset[0].to(device)


class GCN(torch.nn.Module):
    def __init__(self, in_channels, hidden_channels, out_channels):
        super().__init__()
        # The transform normalised the edges once: the layers only propagate.
        self.conv1 = GCNConv(in_channels, hidden_channels, normalize=False)
        self.conv2 = GCNConv(hidden_channels, out_channels, normalize=False)

    def forward(self, x, edge_index, edge_weight):
        x = F.dropout(x, p=0.5, training=self.training)
        x = self.conv1(x, edge_index, edge_weight).relu()
        x = F.dropout(x, p=0.5, training=self.training)
        return self.conv2(x, edge_index, edge_weight)


model = GCN(dataset.num_features, 16, dataset.num_classes).to(device)
model = torch.compile(model, dynamic=False)
optimizer = torch.optim.Adam([  # weight decay on the first layer only, as in the GCN paper
    dict(params=model.conv1.parameters(), weight_decay=5e-4),
    dict(params=model.conv2.parameters(), weight_decay=0),
], lr=0.01)


def train():
    model.train()
    optimizer.zero_grad()
    out = model(data.x, data.edge_index, data.edge_weight)
    loss = F.cross_entropy(out[data.train_mask], data.y[data.train_mask])
    loss.backward()
    optimizer.step()
    return float(loss.detach())


@torch.no_grad()
def test():
    model.eval()
    pred = model(data.x, data.edge_index, data.edge_weight).argmax(dim=-1)
    return [int((pred[mask] == data.y[mask]).sum()) / int(mask.sum())
            for mask in (data.train_mask, data.val_mask, data.test_mask)]


times = []
for epoch in range(1, args.epochs + 1):
    start = time.perf_counter()
    loss = train()
    if device.type == "cuda":
        torch.cuda.synchronize()
    if epoch >= min(10, args.epochs):  # the first epochs compile
        times.append(time.perf_counter() - start)
    train_acc, val_acc, test_acc = test()
    print(f"Epoch: {epoch:03d}, Loss: {loss:.4f}, Train: {train_acc:.4f}, Val: {val_acc:.4f}, Test: {test_acc:.4f}")
print(f"Median time per epoch: {torch.tensor(times).median():.4f}s")
