"""Per-head attention aggregation on the CPU (MKL): one product per head (gnnx until session
28), against one product over a
head-expanded CSR (row ``i * H + h``, column ``j * H + h``: the heads as a block-diagonal matrix,
``x`` viewed ``[N * H, C]``, no per-head copies or stacking). Forward and backward, values checked
equal first. The prototype of session 28 (15-40 % faster per call in noisy 2-core runs), adopted
as ``gnnx.ops.spmm._head_expanded``, which ``_spmm_vendor`` uses.
Usage: python bench/heads_spmm_cpu.py N_SRC N_DST EDGES HEADS CHANNELS."""
import sys
import time

import torch

from gnnx.graph import build_csr
from gnnx.ops.spmm import _EagerSparseMatmul, _head_expanded


def main(num_src: int, num_dst: int, num_edges: int, heads: int, channels: int) -> None:
    torch.manual_seed(0)
    edge_index = torch.stack([torch.randint(num_src, (num_edges,)), torch.randint(num_dst, (num_edges,))])
    csr = build_csr(edge_index, num_dst, num_src)
    rowptr, col, row, order, rowptr_t, col_t, order_t = _head_expanded(csr, heads)
    x = torch.randn(num_src, heads, channels, requires_grad=True)
    w = torch.rand(num_edges, heads, requires_grad=True)

    def per_head():
        values, values_t = w.index_select(0, csr.perm), w.index_select(0, csr.perm_t)
        out = torch.stack([_EagerSparseMatmul.apply(csr.rowptr, csr.col, csr.row, values[:, h].contiguous(),
                                                    x[:, h].contiguous(), csr.rowptr_t, csr.col_t,
                                                    values_t[:, h].contiguous()) for h in range(heads)], 1)
        out.sum().backward()
        return out

    def one_product():
        values = w.index_select(0, csr.perm).reshape(-1).index_select(0, order)
        values_t = w.index_select(0, csr.perm_t).reshape(-1).index_select(0, order_t)
        out = _EagerSparseMatmul.apply(rowptr, col, row, values, x.view(num_src * heads, channels), rowptr_t, col_t,
                                       values_t).view(num_dst, heads, channels)
        out.sum().backward()
        return out

    results = []
    for fn in (per_head, one_product):
        out = fn()
        results.append((out.detach(), x.grad.clone(), w.grad.clone()))
        x.grad = w.grad = None
    print("equal:", [torch.allclose(a, b, atol=1e-4) for a, b in zip(*results)])
    for name, fn in (("per head", per_head), ("one product", one_product)) * 2:
        for _ in range(3):
            fn()
        started = time.perf_counter()
        for _ in range(20):
            fn()
            x.grad = w.grad = None
        print(f"{name}: {(time.perf_counter() - started) / 20 * 1e3:.2f} ms forward+backward")


if __name__ == "__main__":
    main(*(int(v) for v in sys.argv[1:6]))
