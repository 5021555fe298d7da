"""ToSLIC against PyG's: the same superpixels, mean colours, centroids, segment map and image."""
import pytest
import torch

import gnnx.transforms as T


def _image():
    """Four coloured quadrants with a little noise: SLIC finds several segments."""
    g = torch.Generator().manual_seed(0)
    img = torch.zeros(3, 32, 40)
    img[0, :16, :20], img[1, 16:, :20], img[2, :16, 20:], img[:, 16:, 20:] = 1.0, 1.0, 1.0, 0.5
    return (img + 0.05 * torch.rand(3, 32, 40, generator=g)).clamp(0, 1)


@pytest.mark.parametrize("kwargs", [{"n_segments": 16}, {"n_segments": 40, "compactness": 5.0}])
def test_equals_pyg(kwargs):
    pytest.importorskip("skimage")
    P = pytest.importorskip("torch_geometric.transforms")
    img = _image()
    ours, theirs = T.ToSLIC(add_seg=True, add_img=True, **kwargs)(img), P.ToSLIC(add_seg=True, add_img=True, **kwargs)(img)
    assert ours.num_nodes == theirs.num_nodes > 4 and ours.num_edges == 0
    torch.testing.assert_close(ours.x, theirs.x)
    torch.testing.assert_close(ours.pos, theirs.pos)
    assert torch.equal(ours.seg, theirs.seg) and torch.equal(ours.img, theirs.img)
    plain = T.ToSLIC(**kwargs)(img)
    assert "seg" not in plain.attrs and "img" not in plain.attrs
    graph = T.KNNGraph(k=3)(plain)
    assert graph.num_edges == 3 * plain.num_nodes


def test_bad_image_is_named():
    pytest.importorskip("skimage")
    with pytest.raises(ValueError, match="channels, height, width"):
        T.ToSLIC()(torch.rand(32, 40))
