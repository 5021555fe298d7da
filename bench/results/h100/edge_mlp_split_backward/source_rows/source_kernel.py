# The source-row kernel of the first experiment (2026-11-27, session 16): grad b without
# per-edge gradients. Launched after `_destination_kernel` (the split variant's, in commit
# history), with t2c = inverse(perm)[perm_t] and col_t = row[t2c] computed per call.
import triton
import triton.language as tl


@triton.jit
def _source_kernel(rowptr_t, col_t, t2c, a, b, w, grad, arg, grad_b, num_src, H, OUT, A_STRIDE, B_STRIDE,
                   H_PAD: tl.constexpr, O_PAD: tl.constexpr, CHUNK: tl.constexpr, PRECISION: tl.constexpr):
    """Persistent over source rows: ``grad b_j`` as the sum over ``j``'s edges ``e = (j -> i)``
    of ``[a_i + b_j > 0] (G_e W)``, with ``G_e[o] = g_io`` where ``e`` won channel ``o`` of row
    ``i`` (else 0): ``CHUNK`` edges of the transposed CSR at a time, one product and a sum over
    the block's rows (a fixed order; nothing per edge is stored)."""
    pid = tl.program_id(0)
    offs_h = tl.arange(0, H_PAD)
    offs_o = tl.arange(0, O_PAD)
    offs_c = tl.arange(0, CHUNK)
    hmask, omask = offs_h < H, offs_o < OUT
    w_oh = tl.load(w + offs_o[:, None] * H + offs_h[None, :], mask=omask[:, None] & hmask[None, :],
                   other=0.0).to(tl.float32)  # [OUT, H]
    for node in range(pid, num_src, tl.num_programs(0)):
        node = node + tl.zeros([], tl.int64)  # 64-bit offsets
        b_j = tl.load(b + node * B_STRIDE + offs_h, mask=hmask, other=0.0).to(tl.float32)
        acc = tl.zeros([H_PAD], tl.float32)
        end = tl.load(rowptr_t + node + 1)
        for first in range(tl.load(rowptr_t + node), end, CHUNK):
            pos = first + offs_c
            cmask = pos < end
            dst = tl.load(col_t + pos[:, None], mask=cmask[:, None], other=0)  # [CHUNK, 1]
            csr_pos = tl.load(t2c + pos[:, None], mask=cmask[:, None], other=-2)
            co = cmask[:, None] & omask[None, :]
            won = tl.load(arg + dst * OUT + offs_o[None, :], mask=co, other=-1) == csr_pos  # [CHUNK, OUT]
            g = tl.where(won, tl.load(grad + dst * OUT + offs_o[None, :], mask=co, other=0.0).to(tl.float32), 0.0)
            grad_pre = tl.dot(g, w_oh, input_precision=PRECISION)  # [CHUNK, H]
            pre = tl.load(a + dst * A_STRIDE + offs_h[None, :], mask=cmask[:, None] & hmask[None, :],
                          other=0.0).to(tl.float32) + b_j[None, :]
            acc += tl.sum(tl.where(pre > 0, grad_pre, 0.0), 0)
        tl.store(grad_b + node * H + offs_h, acc, mask=hmask)
