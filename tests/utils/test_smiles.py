"""from_smiles / to_smiles / from_rdmol / to_rdmol against PyG's: the same codes, edges and
order, the same SMILES back (from gnnx graphs and PyG Data alike); molecules batch; bad input
is named."""
import pytest
import torch

import gnnx.utils as U
from gnnx.data import DataLoader

pytest.importorskip("rdkit")
PU = pytest.importorskip("torch_geometric.utils")

MOLECULES = ["CC(=O)Oc1ccccc1C(=O)O", "C[C@H](N)C(=O)O", "F/C=C/F", "[NH4+].[Cl-]", "C", "F[S](F)(F)(F)(F)F",
             "[CH2]C", "C#N", "N1C=CC=C1", "O=[N+]([O-])c1ccc(cc1)S(=O)(=O)N"]


@pytest.mark.parametrize("with_hydrogen, kekulize", [(False, False), (True, False), (False, True)])
def test_equals_pyg(with_hydrogen, kekulize):
    for smiles in MOLECULES:
        ours = U.from_smiles(smiles, with_hydrogen=with_hydrogen, kekulize=kekulize)
        theirs = PU.from_smiles(smiles, with_hydrogen=with_hydrogen, kekulize=kekulize)
        for name in ("x", "edge_index", "edge_attr"):
            assert torch.equal(getattr(ours, name), getattr(theirs, name)), (smiles, name)
        assert ours.smiles == smiles and ours.num_nodes == theirs.num_nodes
        assert U.to_smiles(ours, kekulize=kekulize) == PU.to_smiles(theirs, kekulize=kekulize), smiles
        assert U.to_smiles(theirs) == PU.to_smiles(theirs)  # PyG's Data converts too


def test_round_trip_keeps_every_code():
    for smiles in MOLECULES:
        graph = U.from_smiles(smiles)
        again = U.from_rdmol(U.to_rdmol(graph))
        assert torch.equal(again.x, graph.x) and torch.equal(again.edge_attr, graph.edge_attr), smiles


def test_molecules_batch_with_their_codes():
    graphs = [U.from_smiles(s) for s in MOLECULES[:4]]
    batch = next(iter(DataLoader(graphs, batch_size=4)))
    assert batch.edge_attr.dtype == torch.long and batch.x.size(0) == sum(g.num_nodes for g in graphs)
    assert batch.smiles == MOLECULES[:4]


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="cannot parse 'C1CC'"):
        U.from_smiles("C1CC")
    with pytest.raises(ValueError, match="no atoms"):
        U.from_smiles("")
    with pytest.raises(TypeError, match="rdkit.Chem.Mol"):
        U.from_rdmol("CCO")
    graph = U.from_smiles("CCO")
    with pytest.raises(ValueError, match="edge_attr"):
        U.to_rdmol(graph.replace(edge_attr=None))
    from rdkit import Chem

    mol = Chem.MolFromSmiles("CC")
    mol.GetAtomWithIdx(0).SetHybridization(Chem.rdchem.HybridizationType.SP2D)
    with pytest.raises(ValueError, match="atom 0 \\(C\\): hybridization 'SP2D'"):
        U.from_rdmol(mol)
