"""from_smiles / to_smiles / from_rdmol / to_rdmol and tree_decomposition against PyG's: the same codes, edges and
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


JUNCTION_TREES = ["CC(=O)Oc1ccccc1C(=O)O", "C1CC2CCC1C2", "C12C3C4C1C5C2C3C45", "CC(C)(C)C", "c1ccc2ccccc2c1", "C",
                  "CC", "C1CCCCC1CC(C)(C)CC1CCCCC1", "O=C(O)CC(O)(CC(=O)O)C(=O)O", "C1CC2CC3CC1CC(C2)C3",
                  "CN1C=NC2=C1C(=O)N(C(=O)N2C)C", "C1=CC=C2C(=C1)C=CC3=CC=CC=C32", "C1C2CC3CC1CC(C2)(C3)N"]


def test_tree_decomposition_equals_pyg():
    """Rings, bonds, bridged rings (adamantane, cubane) and atoms joining several bonds."""
    from rdkit import Chem

    for smiles in JUNCTION_TREES:
        mol = Chem.MolFromSmiles(smiles)
        ours, theirs = U.tree_decomposition(mol, return_vocab=True), PU.tree_decomposition(mol, return_vocab=True)
        assert ours[2] == theirs[2], smiles
        for a, b in zip(ours[:2] + ours[3:], theirs[:2] + theirs[3:]):
            assert torch.equal(a, b.long()), smiles
        assert len(U.tree_decomposition(mol)) == 3
    with pytest.raises(TypeError, match="rdkit.Chem.Mol"):
        U.tree_decomposition("CCO")
