"""GAE / VGAE / InnerProductDecoder against PyG's (same weights, same pairs), the ranking
metrics against their definitions, and LinkNeighborLoader's batches."""
import pytest
import torch

import gnnx
import gnnx.nn as gnn
from gnnx.data import LinkNeighborLoader
from gnnx.nn.autoencoder import average_precision_score, roc_auc_score

pyg_nn = pytest.importorskip("torch_geometric.nn")


class Encoder(torch.nn.Module):
    def __init__(self, nn, variational=False):
        super().__init__()
        self.conv = nn.GCNConv(6, 8)
        self.logstd = nn.GCNConv(6, 8) if variational else None

    def forward(self, x, edge_index):
        mu = self.conv(x, edge_index)
        return (mu, self.logstd(x, edge_index)) if self.logstd is not None else mu


def _graph(seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(20, 6, generator=gen), torch.randint(20, (2, 60), generator=gen)


@pytest.mark.porting
@pytest.mark.parametrize("variational", [False, True])
def test_losses_and_scores_equal_pyg(variational):
    x, edge_index = _graph()
    cls = "VGAE" if variational else "GAE"
    torch.manual_seed(0)
    ours, theirs = getattr(gnn, cls)(Encoder(gnn, variational)), getattr(pyg_nn, cls)(Encoder(pyg_nn, variational))
    ours.load_state_dict(theirs.state_dict())
    ours.eval(), theirs.eval()
    z, z_ref = ours.encode(x, edge_index), theirs.encode(x, edge_index)
    torch.testing.assert_close(z, z_ref)
    neg = torch.randint(20, (2, 30), generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(ours.recon_loss(z, edge_index, neg), theirs.recon_loss(z_ref, edge_index, neg))
    torch.testing.assert_close(ours.decoder.forward_all(z), theirs.decoder.forward_all(z_ref))
    if variational:
        torch.testing.assert_close(ours.kl_loss(), theirs.kl_loss())
    auc, ap = ours.test(z, edge_index, neg)
    assert 0.0 <= auc <= 1.0 and 0.0 <= ap <= 1.0


def test_metrics_match_their_definitions():
    y = torch.tensor([1, 0, 1, 1, 0, 0, 1, 0])
    score = torch.tensor([0.9, 0.8, 0.8, 0.6, 0.4, 0.4, 0.3, 0.1])
    # AUC: the share of (positive, negative) pairs ordered right, ties half
    pairs = [(p, n) for p in score[y == 1] for n in score[y == 0]]
    expected = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in pairs) / len(pairs)
    assert roc_auc_score(y, score) == pytest.approx(expected)
    # AP: precision at each distinct threshold, weighted by the recall it adds
    thresholds = sorted(set(score.tolist()), reverse=True)
    ap, previous = 0.0, 0.0
    for t in thresholds:
        chosen = score >= t
        recall = float((chosen & (y == 1)).sum()) / float((y == 1).sum())
        precision = float((chosen & (y == 1)).sum()) / float(chosen.sum())
        ap += (recall - previous) * precision
        previous = recall
    assert average_precision_score(y, score) == pytest.approx(ap)


@pytest.mark.parametrize("static", [False, True])
def test_link_neighbor_loader_batches(static):
    x, edge_index = _graph(2)
    graph = gnnx.Graph(edge_index, 20, x=x)
    links = torch.randint(20, (2, 10), generator=torch.Generator().manual_seed(3))
    loader = LinkNeighborLoader(graph, [3, 2], edge_label_index=links, batch_size=4, neg_sampling_ratio=1.0,
                                static=static, shuffle=True)
    seen = []
    sizes = set()
    for batch in loader:
        b = batch.input_id.numel()
        assert batch.edge_label_index.shape == (2, 2 * b) and batch.edge_label.tolist() == [1.0] * b + [0.0] * b
        # the positives' local endpoints are the links' global endpoints
        assert torch.equal(batch.n_id[batch.edge_label_index[:, :b]], links[:, batch.input_id])
        seen += batch.input_id.tolist()
        if b == 4:
            sizes.add((batch.num_nodes, batch.edge_index.size(1)))
    assert sorted(seen) == list(range(10))
    if static:
        assert len(sizes) == 1  # one shape for every full batch


def _discriminator():
    return torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 1))


@pytest.mark.porting
@pytest.mark.parametrize("variational", [False, True])
def test_adversarial_autoencoders_equal_pyg(variational):
    """ARGA / ARGVA: PyG's keys (ARGVA's shared VGAE included), losses and gradients with PyG's
    weights; the same seed draws the same Gaussian samples in the discriminator loss."""
    x, edge_index = _graph()
    cls = "ARGVA" if variational else "ARGA"
    torch.manual_seed(0)
    theirs = getattr(pyg_nn, cls)(Encoder(pyg_nn, variational), _discriminator())
    ours = getattr(gnn, cls)(Encoder(gnn, variational), _discriminator())
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict(theirs.state_dict())
    results = []
    for model in (theirs, ours):
        torch.manual_seed(1)
        z = model.encode(x, edge_index)
        losses = [model.reg_loss(z), model.discriminator_loss(z), model.recon_loss(z, edge_index, edge_index.flip(0))]
        if variational:
            losses.append(model.kl_loss())
        sum(losses).backward()
        results.append((losses, [p.grad.clone() for p in model.parameters()]))
    for a, b in zip(results[1][0], results[0][0]):
        torch.testing.assert_close(a, b)
    for a, b in zip(results[1][1], results[0][1]):
        torch.testing.assert_close(a, b)
    if variational:
        assert ours.__mu__ is ours.VGAE.__mu__
