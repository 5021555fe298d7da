r"""The tree decomposition of a molecule from `"Junction Tree Variational Autoencoder for
Molecular Graph Generation" <https://arxiv.org/abs/1802.04364>`_ (PyG's
``tree_decomposition``; needs RDKit and SciPy).

Cliques are the molecule's smallest rings and the bonds outside rings. Rings sharing more than
two atoms merge into one bridged clique. An atom in more than two bond cliques (or in two with
a third clique), or in more than two large rings, becomes a clique of its own joined to all of
them. Cliques sharing atoms are joined with the number of shared atoms as weight. The junction
tree is the maximum spanning tree of that clique graph (SciPy's minimum spanning tree of
``100 - weight``, so ties fall as in PyG), made undirected.

Vocabulary ids of the cliques (``return_vocab``): 0 ring, 1 bond, 2 bridged rings, 3 single atom.
"""
from __future__ import annotations

from typing import Any, Dict, List, Tuple, Union

import torch
from torch import Tensor

from gnnx._optional import require

RING, BOND, BRIDGED, SINGLE = 0, 1, 2, 3


def tree_decomposition(mol: Any, return_vocab: bool = False
                       ) -> Union[Tuple[Tensor, Tensor, int], Tuple[Tensor, Tensor, int, Tensor]]:
    """``(tree edge_index, atom2clique [2, memberships], number of cliques[, vocabulary ids])``
    of the molecule ``mol`` (``rdkit.Chem.Mol``); ``atom2clique`` pairs each atom (row 0) with
    each clique it belongs to (row 1)."""
    Chem = require("rdkit.Chem", "tree_decomposition")
    if not isinstance(mol, Chem.Mol):
        raise TypeError(f"tree_decomposition takes an rdkit.Chem.Mol, got {type(mol).__name__}")
    num_atoms = mol.GetNumAtoms()
    cliques = [list(ring) for ring in Chem.GetSymmSSSR(mol)]
    kinds = [RING] * len(cliques)
    for bond in mol.GetBonds():
        if not bond.IsInRing():
            cliques.append([bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()])
            kinds.append(BOND)
    cliques, kinds = _merge_bridged_rings(cliques, kinds, num_atoms)
    memberships = _memberships(cliques, num_atoms)
    weights: Dict[Tuple[int, int], int] = {}
    for atom in range(num_atoms):
        shared = memberships[atom]
        if len(shared) <= 1:
            continue
        bonds = [c for c in shared if len(cliques[c]) == 2]
        large_rings = [c for c in shared if len(cliques[c]) > 4]
        joins_bonds = len(bonds) > 2 or (len(bonds) == 2 and len(shared) > 2)
        if joins_bonds or len(large_rings) > 2:
            cliques.append([atom])  # the atom as a clique joining those around it
            kinds.append(SINGLE)
            for c in shared:
                weights[(c, len(cliques) - 1)] = 1 if joins_bonds else 99
            continue
        for i, first in enumerate(shared):
            for second in shared[i + 1:]:
                overlap = len(set(cliques[first]) & set(cliques[second]))
                weights[(first, second)] = min(overlap, weights.get((first, second), 99))
    memberships = _memberships(cliques, num_atoms)
    edge_index = _maximum_spanning_tree(weights, len(cliques))
    atom2clique = torch.tensor([[atom, c] for atom in range(num_atoms) for c in memberships[atom]],
                               dtype=torch.long).view(-1, 2).t()
    if return_vocab:
        return edge_index, atom2clique, len(cliques), torch.tensor(kinds, dtype=torch.long)
    return edge_index, atom2clique, len(cliques)


def _memberships(cliques: List[List[int]], num_atoms: int) -> List[List[int]]:
    """The cliques of each atom, in clique order."""
    out: List[List[int]] = [[] for _ in range(num_atoms)]
    for c, members in enumerate(cliques):
        for atom in members:
            out[atom].append(c)
    return out


def _merge_bridged_rings(cliques: List[List[int]], kinds: List[int], num_atoms: int):
    """Rings sharing more than two atoms merged into the first of them (in clique order)."""
    memberships = _memberships(cliques, num_atoms)
    for first in range(len(cliques)):
        for atom in cliques[first]:
            for second in memberships[atom]:
                if first >= second or len(cliques[first]) <= 2 or len(cliques[second]) <= 2:
                    continue
                if len(set(cliques[first]) & set(cliques[second])) > 2:
                    cliques[first] = list(set(cliques[first]) | set(cliques[second]))
                    kinds[first] = BRIDGED
                    cliques[second], kinds[second] = [], -1
    kept = [c for c, members in enumerate(cliques) if members]
    return [cliques[c] for c in kept], [kinds[c] for c in kept]


def _maximum_spanning_tree(weights: Dict[Tuple[int, int], int], num_cliques: int) -> Tensor:
    if not weights:
        return torch.empty((2, 0), dtype=torch.long)
    minimum_spanning_tree = require("scipy.sparse.csgraph", "tree_decomposition").minimum_spanning_tree
    from gnnx.utils.edges import to_undirected
    from gnnx.utils.sparse import from_scipy_sparse_matrix, to_scipy_sparse_matrix

    pairs = torch.tensor(list(weights.keys()), dtype=torch.long).t()
    inverted = 100 - torch.tensor(list(weights.values()))
    edge_index, _ = from_scipy_sparse_matrix(minimum_spanning_tree(to_scipy_sparse_matrix(pairs, inverted, num_cliques)))
    return to_undirected(edge_index, num_nodes=num_cliques)
