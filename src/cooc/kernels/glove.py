"""GloVe (Pennington, Socher & Manning 2014) AdaGrad steps, as Stanford GloVe's glove.c.

For an entry (i, j, x) with x > 0: diff = w_i . c_j + b_i + b~_j - log x, weight
f = min(1, (x / x_max)^alpha), cost 0.5 f diff^2. AdaGrad with squared-gradient sums G
(starting at 1, the caller's): a vector component moves by g / sqrt(G), g = eta *
clip(f diff * other, -clip, clip) (glove.c's grad_clip_value, 100), then G += g^2; a bias
moves by f diff / sqrt(G), then G += (f diff)^2. As in glove.c since its gradient clipping
(commit 5b4e03c, 2020) the bias step has no eta (before it, f diff was scaled by eta for
both). A step whose vector updates are not all finite leaves the vectors (glove.c's check),
a non-finite bias step the bias, and a non-finite diff the whole entry.

Layout: W and C are float32 [V, dim + 1], the bias in the last column (glove.c keeps word
and context rows in one array the same way); GW, GC their squared-gradient sums, same shape.
Several threads may call `train_entries` at once on different chunks with the same arrays
(Hogwild: unsynchronised float32 updates, as glove.c's pthreads do); the kernel releases
the GIL.
"""

import numpy as np
from numba import njit

_JIT = dict(nogil=True, fastmath=True, cache=True)


@njit(**_JIT)
def train_entries(rows, cols, xs, order, W, C, GW, GC, x_max, alpha, eta, clip):
    """One AdaGrad step for each entry order[k] of (rows, cols, xs), in that order; returns
    the sum of 0.5 f diff^2 over them (each taken before its step)."""
    dim = W.shape[1] - 1
    up1 = np.empty(dim, np.float32)
    up2 = np.empty(dim, np.float32)
    x_max = np.float32(x_max)
    alpha = np.float32(alpha)
    eta = np.float32(eta)
    clip = np.float32(clip)
    cost = 0.0
    for k in range(len(order)):
        e = order[k]
        i = rows[e]
        j = cols[e]
        x = xs[e]
        diff = np.float32(0.0)
        for b in range(dim):
            diff += W[i, b] * C[j, b]
        diff += W[i, dim] + C[j, dim] - np.float32(np.log(x))
        if x > x_max:
            fdiff = diff
        else:
            fdiff = np.float32((x / x_max) ** alpha) * diff
        if not (np.isfinite(diff) and np.isfinite(fdiff)):
            continue
        cost += 0.5 * fdiff * diff
        ok = True
        for b in range(dim):
            t1 = min(max(fdiff * C[j, b], -clip), clip) * eta
            t2 = min(max(fdiff * W[i, b], -clip), clip) * eta
            up1[b] = t1 / np.sqrt(GW[i, b])
            up2[b] = t2 / np.sqrt(GC[j, b])
            GW[i, b] += t1 * t1
            GC[j, b] += t2 * t2
        for b in range(dim):
            if not (np.isfinite(up1[b]) and np.isfinite(up2[b])):
                ok = False
        if ok:
            for b in range(dim):
                W[i, b] -= up1[b]
                C[j, b] -= up2[b]
        u = fdiff / np.sqrt(GW[i, dim])
        if np.isfinite(u):
            W[i, dim] -= u
        u = fdiff / np.sqrt(GC[j, dim])
        if np.isfinite(u):
            C[j, dim] -= u
        fdiff *= fdiff
        GW[i, dim] += fdiff
        GC[j, dim] += fdiff
    return cost
