r"""Molecules as graphs and back (PyG's ``from_smiles``, ``to_smiles``, ``from_rdmol``,
``to_rdmol``; RDKit is an optional dependency, ``pip install rdkit``).

A molecule becomes a :class:`~gnnx.Graph` with one node per atom and both directions of each
bond, sorted by (source, destination); ``x`` holds nine and ``edge_attr`` three integer
category codes per atom and bond, each the position of RDKit's value in :data:`x_map` and
:data:`e_map` (PyG's vocabularies, so graphs encode as PyG's and an ``AtomEncoder``-style
embedding trained on PyG's carries over):

``x``: atomic number, chirality, total degree, formal charge, total hydrogens, radical
electrons, hybridisation, aromatic, in a ring; ``edge_attr``: bond type, stereo, conjugated.

Differences from PyG, on purpose: a SMILES string RDKit cannot parse, or one without atoms,
raises an error (PyG returns an empty graph, which hides the bad record), and a value outside
the vocabularies (RDKit's ``SP2D`` hybridisation, atropisomer stereo) is named in the error.
"""
from __future__ import annotations

from typing import Any, Dict, List

import torch

from gnnx._optional import require
from gnnx.graph import Graph

x_map: Dict[str, List[Any]] = {
    "atomic_num": list(range(0, 119)),
    "chirality": ["CHI_UNSPECIFIED", "CHI_TETRAHEDRAL_CW", "CHI_TETRAHEDRAL_CCW", "CHI_OTHER", "CHI_TETRAHEDRAL",
                  "CHI_ALLENE", "CHI_SQUAREPLANAR", "CHI_TRIGONALBIPYRAMIDAL", "CHI_OCTAHEDRAL"],
    "degree": list(range(0, 11)),
    "formal_charge": list(range(-5, 7)),
    "num_hs": list(range(0, 9)),
    "num_radical_electrons": list(range(0, 5)),
    "hybridization": ["UNSPECIFIED", "S", "SP", "SP2", "SP3", "SP3D", "SP3D2", "OTHER"],
    "is_aromatic": [False, True],
    "is_in_ring": [False, True],
}

e_map: Dict[str, List[Any]] = {
    "bond_type": ["UNSPECIFIED", "SINGLE", "DOUBLE", "TRIPLE", "QUADRUPLE", "QUINTUPLE", "HEXTUPLE", "ONEANDAHALF",
                  "TWOANDAHALF", "THREEANDAHALF", "FOURANDAHALF", "FIVEANDAHALF", "AROMATIC", "IONIC", "HYDROGEN",
                  "THREECENTER", "DATIVEONE", "DATIVE", "DATIVEL", "DATIVER", "OTHER", "ZERO"],
    "stereo": ["STEREONONE", "STEREOANY", "STEREOZ", "STEREOE", "STEREOCIS", "STEREOTRANS"],
    "is_conjugated": [False, True],
}


def _rdkit():
    return require("rdkit.Chem", "molecule conversion")


def _code(vocabulary: Dict[str, List[Any]], feature: str, value: Any, where: str) -> int:
    try:
        return vocabulary[feature].index(value)
    except ValueError:
        raise ValueError(f"{where}: {feature} {value!r} is not in gnnx.utils.smiles' vocabulary "
                         f"({vocabulary[feature][0]!r} .. {vocabulary[feature][-1]!r}, as PyG's)") from None


def from_rdmol(mol: Any) -> Graph:
    """The molecule ``mol`` (``rdkit.Chem.Mol``) as a :class:`~gnnx.Graph` of category codes
    (module docstring)."""
    Chem = _rdkit()
    if not isinstance(mol, Chem.Mol):
        raise TypeError(f"from_rdmol takes an rdkit.Chem.Mol, got {type(mol).__name__}")
    if mol.GetNumAtoms() == 0:
        raise ValueError("from_rdmol: the molecule has no atoms (a gnnx.Graph needs at least one node)")
    atoms = []
    for atom in mol.GetAtoms():
        where = f"atom {atom.GetIdx()} ({atom.GetSymbol()})"
        values = (atom.GetAtomicNum(), str(atom.GetChiralTag()), atom.GetTotalDegree(), atom.GetFormalCharge(),
                  atom.GetTotalNumHs(), atom.GetNumRadicalElectrons(), str(atom.GetHybridization()),
                  atom.GetIsAromatic(), atom.IsInRing())
        atoms.append([_code(x_map, feature, value, where) for feature, value in zip(x_map, values)])
    pairs, bonds = [], []
    for bond in mol.GetBonds():
        i, j = bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()
        where = f"bond {bond.GetIdx()} ({i}-{j})"
        values = (str(bond.GetBondType()), str(bond.GetStereo()), bond.GetIsConjugated())
        codes = [_code(e_map, feature, value, where) for feature, value in zip(e_map, values)]
        pairs += [[i, j], [j, i]]
        bonds += [codes, codes]
    x = torch.tensor(atoms, dtype=torch.long)
    edge_index = torch.tensor(pairs, dtype=torch.long).view(-1, 2).t()
    edge_attr = torch.tensor(bonds, dtype=torch.long).view(-1, len(e_map))
    order = (edge_index[0] * x.size(0) + edge_index[1]).argsort()
    return Graph(edge_index[:, order].contiguous(), x.size(0), x=x, edge_attr=edge_attr[order])


def from_smiles(smiles: str, with_hydrogen: bool = False, kekulize: bool = False) -> Graph:
    """The molecule of ``smiles`` as a :class:`~gnnx.Graph` (:func:`from_rdmol`), with
    ``graph.smiles``; ``with_hydrogen`` keeps explicit hydrogens as atoms, ``kekulize`` turns
    aromatic bonds into single and double ones."""
    Chem = _rdkit()
    from rdkit import RDLogger

    RDLogger.DisableLog("rdApp.*")
    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        raise ValueError(f"from_smiles: RDKit cannot parse {smiles!r}")
    if with_hydrogen:
        mol = Chem.AddHs(mol)
    if kekulize:
        Chem.Kekulize(mol)
    graph = from_rdmol(mol)
    graph.attrs["smiles"] = smiles
    return graph


def to_rdmol(graph: Any, kekulize: bool = False) -> Any:
    """The ``rdkit.Chem.Mol`` of a graph of category codes (a :class:`~gnnx.Graph` or PyG
    ``Data`` with ``x``, ``edge_index``, ``edge_attr``), sanitised, stereochemistry assigned."""
    Chem = _rdkit()
    for name in ("x", "edge_index", "edge_attr"):
        if getattr(graph, name, None) is None:
            raise ValueError(f"to_rdmol needs the graph's {name} (category codes, as from_smiles gives them)")
    x, edge_attr = graph.x.tolist(), graph.edge_attr.tolist()
    mol = Chem.RWMol()
    for codes in x:
        atom = Chem.Atom(int(codes[0]))
        atom.SetChiralTag(Chem.rdchem.ChiralType.names[x_map["chirality"][codes[1]]])
        atom.SetFormalCharge(x_map["formal_charge"][codes[3]])
        atom.SetNumExplicitHs(x_map["num_hs"][codes[4]])
        atom.SetNumRadicalElectrons(x_map["num_radical_electrons"][codes[5]])
        atom.SetHybridization(Chem.rdchem.HybridizationType.names[x_map["hybridization"][codes[6]]])
        atom.SetIsAromatic(bool(codes[7]))
        mol.AddAtom(atom)
    seen = set()
    for (src, dst), codes in zip(graph.edge_index.t().tolist(), edge_attr):
        if (min(src, dst), max(src, dst)) in seen:
            continue
        seen.add((min(src, dst), max(src, dst)))
        mol.AddBond(src, dst, Chem.rdchem.BondType.names[e_map["bond_type"][codes[0]]])
        bond = mol.GetBondBetweenAtoms(src, dst)
        stereo = Chem.rdchem.BondStereo.names[e_map["stereo"][codes[1]]]
        if stereo != Chem.rdchem.BondStereo.STEREONONE:
            bond.SetStereoAtoms(dst, src)
            bond.SetStereo(stereo)
        bond.SetIsConjugated(bool(codes[2]))
    mol = mol.GetMol()
    if kekulize:
        Chem.Kekulize(mol)
    Chem.SanitizeMol(mol)
    Chem.AssignStereochemistry(mol)
    return mol


def to_smiles(graph: Any, kekulize: bool = False) -> str:
    """The isomeric SMILES string of a graph of category codes (:func:`to_rdmol`)."""
    return _rdkit().MolToSmiles(to_rdmol(graph, kekulize=kekulize), isomericSmiles=True)
