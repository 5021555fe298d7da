"""PyG's compile tutorial, GIN on a TU dataset with ``dynamic=True`` (``examples/compile/gin.py``
there), ported to gnnx by its imports: mini-batches of varying size, one compiled frame.
Usage: python examples/compile/gin.py [--root data/TUDataset] [--name MUTAG] [--epochs 100]
(the root holds the TU-format files NAME_A.txt, NAME_graph_indicator.txt, ...)."""
import argparse
import os.path as osp

import torch
import torch.nn.functional as F

import gnnx as torch_geometric
from gnnx.datasets import TUDataset
from gnnx.loader import DataLoader
from gnnx.nn import MLP, GINConv, global_add_pool

parser = argparse.ArgumentParser()
parser.add_argument("--root", default=osp.join("data", "TUDataset"))
parser.add_argument("--name", default="MUTAG")
parser.add_argument("--epochs", type=int, default=100)
args = parser.parse_args()

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
torch.manual_seed(0)
dataset = TUDataset(args.root, name=args.name).shuffle()
train_dataset = dataset[len(dataset) // 10:]
train_loader = DataLoader(train_dataset, batch_size=128, shuffle=True, drop_last=True)
test_dataset = dataset[:len(dataset) // 10]
test_loader = DataLoader(test_dataset, batch_size=128)


class GIN(torch.nn.Module):
    def __init__(self, in_channels, out_channels, hidden=32, layers=5):
        super().__init__()
        self.convs = torch.nn.ModuleList()
        for _ in range(layers):
            self.convs.append(GINConv(MLP([in_channels, hidden, hidden]), train_eps=False))
            in_channels = hidden
        self.mlp = MLP([hidden, hidden, out_channels], norm=None, dropout=0.5)

    def forward(self, x, edge_index, batch, batch_size):
        for conv in self.convs:
            x = conv(x, edge_index).relu()
        x = global_add_pool(x, batch, size=batch_size)
        return self.mlp(x)


model = GIN(dataset.num_features, dataset.num_classes).to(device)
model = torch_geometric.compile(model, dynamic=True)  # one compiled frame for every batch size
optimizer = torch.optim.Adam(model.parameters(), lr=0.01)


def train():
    model.train()
    total_loss = 0
    for data in train_loader:
        data = data.to(device)
        optimizer.zero_grad()
        out = model(data.x, data.edge_index, data.batch, data.num_graphs)
        loss = F.cross_entropy(out, data.y)
        loss.backward()
        optimizer.step()
        total_loss += float(loss) * data.num_graphs
    return total_loss / len(train_loader.dataset)


@torch.no_grad()
def test(loader):
    model.eval()
    total_correct = 0
    for data in loader:
        data = data.to(device)
        pred = model(data.x, data.edge_index, data.batch, data.num_graphs).argmax(dim=-1)
        total_correct += int((pred == data.y).sum())
    return total_correct / len(loader.dataset)


for epoch in range(1, args.epochs + 1):
    loss = train()
    train_acc, test_acc = test(train_loader), test(test_loader)
    print(f"Epoch: {epoch:03d}, Loss: {loss:.4f}, Train: {train_acc:.4f}, Test: {test_acc:.4f}")
