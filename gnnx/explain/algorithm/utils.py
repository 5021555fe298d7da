"""PyG's module path for the explain-mask helpers (``torch_geometric.explain.algorithm.utils``),
so code importing them from there ports by the import; they live in :mod:`.masks`."""
from gnnx.explain.algorithm.masks import clear_masks, set_hetero_masks, set_masks

__all__ = ["clear_masks", "set_hetero_masks", "set_masks"]
