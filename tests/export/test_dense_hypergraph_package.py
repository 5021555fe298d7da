"""The layers that are not cases of the four-way suite (they take a dense adjacency, hyperedge
incidences or, QFormer, a batch of sequences, not an edge list): exported with dynamic sizes and AOTInductor-packaged
in one module (one compile), equal to eager at other sizes."""
import pytest
import torch
from torch.export import Dim

from cases import assert_runners_equal_eager, export_and_package
from gnnx import nn


class DenseAndHyper(torch.nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.dense = torch.nn.ModuleList([nn.DenseGCNConv(6, 5), nn.DenseSAGEConv(6, 5), nn.DenseGraphConv(6, 5, aggr="max"),
                                          nn.DenseGATConv(6, 5, heads=2),
                                          nn.DenseGINConv(torch.nn.Linear(6, 5), train_eps=True)])
        self.assign = nn.DenseGCNConv(6, 3)
        self.hyper = torch.nn.ModuleList([nn.HypergraphConv(6, 5),
                                          nn.HypergraphConv(6, 5, use_attention=True, heads=2)])
        self.qformer = nn.attention.QFormer(6, 8, 4, num_heads=2, num_layers=2)  # the nodes as a sequence

    def forward(self, x, adj, mask, hx, hyperedge_index, hyperedge_weight, hyperedge_attr):
        outs = [layer(x, adj, mask) for layer in self.dense]
        s = self.assign(x, adj, mask)
        outs += list(nn.dense_diff_pool(x, adj, s, mask)) + list(nn.dense_mincut_pool(x, adj, s, mask))
        outs += [layer(hx, hyperedge_index, hyperedge_weight, hyperedge_attr, num_edges=hyperedge_attr.size(0))
                 for layer in self.hyper]
        return (*outs, self.qformer(x))


def _inputs(batch_size, num_nodes, hyper_nodes, hyperedges, incidences, seed=0):
    gen = torch.Generator().manual_seed(seed)
    adj = (torch.rand(batch_size, num_nodes, num_nodes, generator=gen) < 0.4).float()
    adj = adj + adj.transpose(1, 2)  # MinCut's graphs are undirected
    mask = torch.arange(num_nodes).expand(batch_size, -1) < num_nodes - 1
    index = torch.stack([torch.randint(0, hyper_nodes, (incidences,), generator=gen),
                         torch.randint(0, hyperedges, (incidences,), generator=gen)])
    return (torch.randn(batch_size, num_nodes, 6, generator=gen), adj, mask, torch.randn(hyper_nodes, 6, generator=gen),
            index, torch.rand(hyperedges, generator=gen) + 0.5, torch.randn(hyperedges, 6, generator=gen))


@pytest.mark.slow
def test_exported_and_packaged_equal_eager(tmp_path):
    module = DenseAndHyper().eval()
    batch, nodes = Dim("batch", min=1), Dim("nodes", min=2)
    hyper_nodes, hyperedges, incidences = Dim("hyper_nodes", min=2), Dim("hyperedges", min=2), Dim("incidences", min=2)
    dynamic = ({0: batch, 1: nodes}, {0: batch, 1: nodes, 2: nodes}, {0: batch, 1: nodes}, {0: hyper_nodes},
               {1: incidences}, {0: hyperedges}, {0: hyperedges})
    program, runner = export_and_package(module, _inputs(2, 5, 10, 4, 20), dynamic, str(tmp_path / "dense_hyper.pt2"))
    for seed, sizes in enumerate([(3, 9, 17, 6, 41), (1, 4, 8, 3, 12)]):
        inputs = _inputs(*sizes, seed=seed + 1)
        assert_runners_equal_eager(module, (program.module(), runner), inputs)
