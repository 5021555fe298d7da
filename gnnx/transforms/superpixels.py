"""Images as graphs of superpixels (PyG's ``ToSLIC``; scikit-image's SLIC, ``pip install scikit-image``)."""
from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from gnnx._optional import require
from gnnx.graph import Graph
from gnnx.ops.scatter import scatter


class ToSLIC:
    """An image ``[C, H, W]`` as a :class:`~gnnx.Graph` of its SLIC superpixels: one node per
    segment with ``x`` the segment's mean colour ``[S, C]`` and ``pos`` its centroid ``(x, y)``
    in pixels, and no edges (add them, e.g. with :class:`~gnnx.transforms.KNNGraph`).

    Args:
        add_seg: keep the segment of each pixel as ``seg [1, H, W]``.
        add_img: keep the image as ``img [1, C, H, W]``.
        **kwargs: SLIC's arguments (``n_segments``, ``compactness``, ...).
    """

    def __init__(self, add_seg: bool = False, add_img: bool = False, **kwargs: Any) -> None:
        self.add_seg, self.add_img, self.kwargs = add_seg, add_img, kwargs

    def __call__(self, img: Tensor) -> Graph:
        return self.forward(img)

    def forward(self, img: Tensor) -> Graph:
        slic = require("skimage.segmentation", "ToSLIC", "scikit-image").slic
        if not isinstance(img, Tensor) or img.dim() != 3:
            raise ValueError(f"ToSLIC takes an image [channels, height, width], got "
                             f"{list(img.shape) if isinstance(img, Tensor) else type(img).__name__}")
        channels, height, width = img.shape
        pixels = img.permute(1, 2, 0)
        seg = torch.from_numpy(slic(pixels.to(torch.double).numpy(), start_label=0, **self.kwargs)).view(-1).long()
        segments = int(seg.max()) + 1
        x = scatter(pixels.reshape(height * width, channels), seg, segments, reduce="mean")
        ys, xs = torch.meshgrid(torch.arange(height, dtype=torch.float), torch.arange(width, dtype=torch.float),
                                indexing="ij")
        pos = scatter(torch.stack([xs.reshape(-1), ys.reshape(-1)], dim=-1), seg, segments, reduce="mean")
        extra = {}
        if self.add_seg:
            extra["seg"] = seg.view(1, height, width)
        if self.add_img:
            extra["img"] = img.reshape(1, channels, height, width)
        return Graph(torch.empty((2, 0), dtype=torch.long), segments, x=x, pos=pos, **extra)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
