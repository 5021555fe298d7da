"""The linear probe of PyG's embedding models (``DeepGraphInfomax.test``, ``Node2Vec.test``):
the accuracy of a logistic regression fit on embeddings."""
from __future__ import annotations

import torch
from torch import Tensor


def linear_probe(train_z: Tensor, train_y: Tensor, test_z: Tensor, test_y: Tensor, solver: str = "lbfgs",
                 *args, **kwargs) -> float:
    """Test accuracy of scikit-learn's ``LogisticRegression(*args, solver=solver, **kwargs)``
    fit on ``(train_z, train_y)``, as PyG's; without scikit-learn, of the same L2-regularised
    multinomial objective (``C * sum(cross entropy) + |W|^2 / 2``, the intercept unpenalised;
    ``C`` and ``max_iter`` taken, scikit-learn's defaults) minimised by ``torch.optim.LBFGS``."""
    try:
        from sklearn.linear_model import LogisticRegression
    except ImportError:
        return _torch_probe(train_z, train_y, test_z, test_y, C=kwargs.get("C", 1.0),
                            max_iter=kwargs.get("max_iter", 100))
    classifier = LogisticRegression(*args, solver=solver, **kwargs).fit(
        train_z.detach().cpu().numpy(), train_y.detach().cpu().numpy())
    return classifier.score(test_z.detach().cpu().numpy(), test_y.detach().cpu().numpy())


def _torch_probe(train_z: Tensor, train_y: Tensor, test_z: Tensor, test_y: Tensor, C: float, max_iter: int) -> float:
    z, y = train_z.detach().double().cpu(), train_y.detach().long().cpu()
    classes = max(int(y.max()), int(test_y.max())) + 1
    weight = torch.zeros(z.size(1), classes, dtype=torch.float64, requires_grad=True)
    bias = torch.zeros(classes, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([weight, bias], max_iter=max_iter, line_search_fn="strong_wolfe")

    def objective() -> Tensor:
        optimizer.zero_grad()
        loss = C * torch.nn.functional.cross_entropy(z @ weight + bias, y, reduction="sum") + 0.5 * weight.square().sum()
        loss.backward()
        return loss

    optimizer.step(objective)
    predicted = (test_z.detach().double().cpu() @ weight + bias).argmax(1)
    return float((predicted == test_y.detach().cpu()).double().mean())
