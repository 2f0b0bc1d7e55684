"""GloVe (Pennington, Socher & Manning 2014) AdaGrad steps, as Stanford GloVe's glove.c.

For an entry (i, j, x) with x > 0: diff = w_i . c_j + b_i + b~_j - log x, weight
f = min(1, (x / x_max)^alpha), cost 0.5 f diff^2. AdaGrad with squared-gradient sums G
(starting at 1, the caller's): a vector component moves by g / sqrt(G), g = eta *
clip(f diff * other, -clip, clip) (glove.c's grad_clip_value, 100), then G += g^2; a bias
moves by f diff / sqrt(G), then G += (f diff)^2. As in glove.c since its gradient clipping
(commit 5b4e03c, 2020) the bias step has no eta (before it, f diff was scaled by eta for
both). An entry whose diff is not finite is skipped (glove.c checks every update instead:
see the end of this note).

Layout: W and C are float32 [V, dim + 1], the bias in the last column (glove.c keeps word
and context rows in one array the same way); GW, GC their squared-gradient sums, same shape.
Several threads may call `train_chunk` at once on different chunks with the same arrays
(Hogwild: unsynchronised float32 updates, as glove.c's pthreads do); the kernel releases
the GIL.

Performance notes (one thread, 34,500 words, 11.5 M entries, dim 100; whole runs in
BENCHMARKS.md, issue 13): the kernel is bound by memory latency: each entry reads and
writes four random rows (W_i, C_j and their sums, 1.6 KB), from matrices (4 x 14 MB) larger
than the caches. 8.3 -> 4.1 s an iteration from: visiting a chunk's entries in their stored
order (shuffled once, as glove.c reads its shuffled file every iteration) instead of
through a fresh permutation (indirect loads, 6.3 s); prefetching the four rows of the entry
four ahead (`intrinsics.prefetch`, every 64-byte line; 2, 4 and 6 ahead are alike); one
pass for the vectors' updates instead of glove.c's three (compute, check, apply). The vector
size as a compile-time constant, rows padded to 64 bytes, W and its sums interleaved in one
row, and huge pages made no difference (within 3 %).

glove.c's per-component finiteness check of the updates is implied here: with diff finite
(checked), each component's gradient is clipped to [-clip, clip] and divided by
sqrt(G) with G >= 1, so every update is finite. diff and its check are compiled without
fastmath's nnan/ninf (`entry_diff`), which would fold the check to True, even one made on
the float's bits; the update loop keeps them: without them the clipping's min/max are not
vectorized (6.6 s an iteration instead of 4.5).
"""

import numpy as np
from numba import njit

from cooc.kernels.intrinsics import prefetch

_JIT = dict(nogil=True, fastmath=True, cache=True)
# fastmath's nnan/ninf let LLVM fold a finiteness test to True (even one on the bits):
# the diff and its test are compiled without them, the update loop with them
_CHECKED = dict(nogil=True, fastmath={"nsz", "arcp", "contract", "afn", "reassoc"}, cache=True)
PREFETCH_AHEAD = 4  # entries
_LINE = 16  # float32 in a 64-byte cache line


@njit(**_CHECKED)
def entry_diff(w, c, x, x_max, alpha, dim):
    """(diff, f diff, both finite) of an entry with word row w and context row c."""
    diff = np.float32(0.0)
    for b in range(dim):
        diff += w[b] * c[b]
    diff += w[dim] + c[dim] - np.float32(np.log(x))
    if x > x_max:
        fdiff = diff
    else:
        fdiff = np.float32((x / x_max) ** alpha) * diff
    return diff, fdiff, np.isfinite(diff) and np.isfinite(fdiff)


@njit(**_JIT)
def train_chunk(rows, cols, xs, W, C, GW, GC, x_max, alpha, eta, clip):
    """One AdaGrad step for each entry k of (rows, cols, xs), in order; returns the sum of
    0.5 f diff^2 over them (each taken before its step)."""
    dim = W.shape[1] - 1
    x_max = np.float32(x_max)
    alpha = np.float32(alpha)
    eta = np.float32(eta)
    clip = np.float32(clip)
    n = len(xs)
    cost = 0.0
    for k in range(n):
        if k + PREFETCH_AHEAD < n:
            pi = rows[k + PREFETCH_AHEAD]
            pj = cols[k + PREFETCH_AHEAD]
            for q in range(0, dim + 1, _LINE):
                prefetch(W[pi], q)
                prefetch(C[pj], q)
                prefetch(GW[pi], q)
                prefetch(GC[pj], q)
        i = rows[k]
        j = cols[k]
        x = xs[k]
        w = W[i]
        c = C[j]
        gw = GW[i]
        gc = GC[j]
        diff, fdiff, finite = entry_diff(w, c, x, x_max, alpha, dim)
        if not finite:
            continue
        cost += 0.5 * fdiff * diff
        for b in range(dim):
            wb = w[b]
            cb = c[b]
            t1 = min(max(fdiff * cb, -clip), clip) * eta
            t2 = min(max(fdiff * wb, -clip), clip) * eta
            w[b] = wb - t1 / np.sqrt(gw[b])
            c[b] = cb - t2 / np.sqrt(gc[b])
            gw[b] += t1 * t1
            gc[b] += t2 * t2
        w[dim] -= fdiff / np.sqrt(gw[dim])
        c[dim] -= fdiff / np.sqrt(gc[dim])
        fdiff *= fdiff
        gw[dim] += fdiff
        gc[dim] += fdiff
    return cost
