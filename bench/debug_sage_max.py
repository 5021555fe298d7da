"""Debug: SAGEConv(max, project, normalize) compiled vs eager on CUDA (device run)."""
import sys

import torch

sys.path.insert(0, "tests")
from cases import LAYERS, random_graph  # noqa: E402

case = next(c for c in LAYERS if c.id == "sage-max-project-norm")
for project, normalize in ((True, True), (False, False), (True, False), (False, True)):
    torch._dynamo.reset()
    torch.manual_seed(1)
    m = type(case.gnnx())(8, 16, aggr="max", project=project, normalize=normalize).cuda().train()
    c = torch.compile(m, fullgraph=True, dynamic=True)
    for i, size in enumerate([(20, 64), (33, 101), (47, 150)]):
        x, ei, _, _ = [t.cuda() for t in random_graph(*size, seed=i)]
        x1 = x.clone().requires_grad_()
        o1 = m(x1, ei)
        o1.square().mean().backward()
        x2 = x.clone().requires_grad_()
        o2 = c(x2, ei)
        o2.square().mean().backward()
        print(project, normalize, size, "out", float((o1 - o2).abs().max()), "grad", float((x1.grad - x2.grad).abs().max()),
              "grad_norm", float(x1.grad.norm()), flush=True)
