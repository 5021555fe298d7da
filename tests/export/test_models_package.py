"""The models and layers whose inputs are not the four-way cases' (molecules, signed edge sets,
graph-level attributes, layer histories, pseudo-coordinates, point clouds, labels, triples): AttentiveFP,
MetaLayer, SignedConv, SchNet, ViSNet, the GPSE encoder, DNAConv, SplineConv, XConv, NeuralFingerprint, PMLP, RECT_L, MemPooling,
MaskLabel, TransE, TemporalEncoding and Linear in one module, exported with dynamic atom, bond and molecule
counts and AOTInductor-packaged in one compile, equal to eager at other sizes (each one's PyG parity and compile tests live in tests/nn)."""
from types import SimpleNamespace

import pytest
import torch
from torch.export import Dim

from cases import assert_runners_equal_eager, export_and_package
from gnnx import nn
from gnnx.utils import scatter


class Models(torch.nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.attentive_fp = nn.AttentiveFP(9, 16, 2, edge_dim=3, num_layers=2, num_timesteps=1)
        self.signed = torch.nn.ModuleList([nn.SignedConv(9, 8, True), nn.SignedConv(8, 4, False)])
        self.edge_model = torch.nn.Linear(2 * 9 + 3 + 4, 3)
        self.node_model = torch.nn.Linear(9 + 3 + 4, 9)
        self.meta = nn.MetaLayer(self._edge, self._node, None)
        self.schnet = nn.SchNet(hidden_channels=16, num_filters=12, num_interactions=2, num_gaussians=10, cutoff=3.0)
        self.visnet = nn.ViSNet(hidden_channels=16, num_heads=4, num_layers=2, num_rbf=8, cutoff=3.0, lmax=2)
        self.gpse = nn.GPSE(dim_in=9, dim_inner=8, layers_mp=2)
        self.gpse.post_mp = nn.gpse.IdentityHead()  # the pretrained encoder's layout
        self.dna = nn.DNAConv(9, heads=3, groups=3)
        self.spline = nn.SplineConv(9, 4, dim=3, kernel_size=3, degree=2)
        self.xconv = nn.XConv(9, 4, 3, 2, hidden_channels=2)  # molecules as point clouds (2+ atoms each)
        self.fingerprint = nn.NeuralFingerprint(9, 8, 6, 2)
        self.pmlp = nn.PMLP(9, 8, 4, 2)
        self.rect = nn.RECT_L(9, 8)
        self.mem_pool = nn.MemPooling(9, 4, heads=2, num_clusters=3)
        self.mask_label = nn.MaskLabel(10, 9)  # atomic numbers as labels
        self.transe = nn.TransE(64, 10, 8)  # bonds as triples, their atoms' numbers as relations
        self.time = nn.TemporalEncoding(6)
        self.linear = nn.Linear(9, 4, weight_initializer="glorot")

    def _edge(self, src, dst, edge_attr, u, batch):
        return self.edge_model(torch.cat([src, dst, edge_attr, u[batch]], 1))

    def _node(self, x, edge_index, edge_attr, u, batch):
        summed = scatter(edge_attr, edge_index[1], dim=0, dim_size=x.size(0), reduce="mean")
        return self.node_model(torch.cat([x, summed, u[batch]], 1))

    def forward(self, x, edge_index, edge_attr, u, batch, z, pos):
        molecules = u.size(0)
        signed = self.signed[1](self.signed[0](x, edge_index, edge_index.flip(0)).relu(), edge_index,
                                edge_index.flip(0))
        x_meta, edge_meta, _ = self.meta(x, edge_index, edge_attr, u, batch)
        return (self.attentive_fp(x, edge_index, edge_attr, batch, batch_size=molecules), signed, x_meta, edge_meta,
                self.schnet(z, pos, batch, batch_size=molecules), self.visnet(z, pos, batch, batch_size=molecules)[0],
                self.gpse(SimpleNamespace(x=x, edge_index=edge_index))[0],
                self.dna(torch.stack([x, x.tanh()], 1), edge_index),
                self.spline(x, edge_index, edge_attr.sigmoid()), self.xconv(x, pos, batch),
                self.fingerprint(x, edge_index, batch, batch_size=molecules), self.pmlp(x, edge_index),
                self.rect(x, edge_index), self.mem_pool(x, batch, max_num_nodes=12, batch_size=molecules)[0],
                self.mask_label(x, z, z > 4), self.transe(edge_index[0], z[edge_index[0]], edge_index[1]),
                self.time(pos[:, 0]), self.linear(x))


def _molecules(sizes, seed=0):
    """Atoms with features, bonds within each molecule (both ways) with features, a vector per
    molecule, atomic numbers and positions."""
    gen = torch.Generator().manual_seed(seed)
    batch = torch.arange(len(sizes)).repeat_interleave(torch.tensor(sizes))
    first = torch.cumsum(torch.tensor([0] + sizes[:-1]), 0).tolist()
    bonds = torch.cat([torch.randint(n, (2, 2 * n), generator=gen) + f for n, f in zip(sizes, first)], 1)
    bonds = torch.cat([bonds, bonds.flip(0)], 1)
    atoms = sum(sizes)
    return (torch.randn(atoms, 9, generator=gen), bonds, torch.randn(bonds.size(1), 3, generator=gen),
            torch.randn(len(sizes), 4, generator=gen), batch, torch.randint(1, 10, (atoms,), generator=gen),
            torch.rand(atoms, 3, generator=gen) * 4)


@pytest.mark.slow
def test_exported_and_packaged_equal_eager(tmp_path):
    module = Models().eval()
    atoms, bonds, molecules = Dim("atoms", min=2), Dim("bonds", min=2), Dim("molecules", min=1)
    dynamic = ({0: atoms}, {1: bonds}, {0: bonds}, {0: molecules}, {0: atoms}, {0: atoms}, {0: atoms})
    program, runner = export_and_package(module, _molecules([5, 9, 3]), dynamic, str(tmp_path / "models.pt2"))
    for seed, sizes in enumerate([[6, 2, 8, 3, 4], [3]]):
        inputs = _molecules(sizes, seed=seed + 1)
        assert_runners_equal_eager(module, (program.module(), runner), inputs)
