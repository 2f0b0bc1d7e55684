"""Sparse-row kernels for summing and mirroring count matrices in exact-size memory.

Every operation runs in two passes: row lengths first, then the fill into arrays allocated
(by the caller, with numpy) to exactly that size. Bound-sized buffers trimmed by a copy held
three copies of a merge at its peak and broke the build's memory budget.

Rows hold strictly increasing uint32 columns and uint32 counts >= 1; sums saturate at
2**32-1 rather than wrap.
"""

import numpy as np
from numba import njit

_JIT = dict(cache=True, nogil=True)
_MAX = np.uint64(0xFFFFFFFF)


@njit(**_JIT)
def merge2_lengths(pa, ca, pb, cb, row_lo, row_hi, out_len):
    """out_len[r - row_lo] = |cols(a, r) | cols(b, r)| for rows [row_lo, row_hi)."""
    for r in range(row_lo, row_hi):
        i, ie = pa[r], pa[r + 1]
        j, je = pb[r], pb[r + 1]
        n = 0
        while i < ie and j < je:
            x = ca[i]
            y = cb[j]
            if x <= y:
                i += 1
            if y <= x:
                j += 1
            n += 1
        out_len[r - row_lo] = n + (ie - i) + (je - j)


@njit(**_JIT)
def merge2_fill(pa, ca, na, pb, cb, nb, row_lo, row_hi, out_ptr, cols, counts):
    """Fill rows [row_lo, row_hi) of a + b; out_ptr holds absolute row starts."""
    for r in range(row_lo, row_hi):
        i, ie = pa[r], pa[r + 1]
        j, je = pb[r], pb[r + 1]
        k = out_ptr[r]
        while i < ie and j < je:
            x = ca[i]
            y = cb[j]
            if x < y:
                cols[k] = x
                counts[k] = na[i]
                i += 1
            elif y < x:
                cols[k] = y
                counts[k] = nb[j]
                j += 1
            else:
                cols[k] = x
                counts[k] = min(np.uint64(na[i]) + np.uint64(nb[j]), _MAX)
                i += 1
                j += 1
            k += 1
        while i < ie:
            cols[k] = ca[i]
            counts[k] = na[i]
            i += 1
            k += 1
        while j < je:
            cols[k] = cb[j]
            counts[k] = nb[j]
            j += 1
            k += 1


@njit(**_JIT)
def lower_lengths(up_ptr, up_cols, num_rows):
    """Row lengths of the strict lower triangle mirrored from an upper one (cols >= row):
    entry (a, b) with b > a becomes (b, a)."""
    deg = np.zeros(num_rows, dtype=np.int64)
    for a in range(up_ptr.shape[0] - 1):
        for i in range(up_ptr[a], up_ptr[a + 1]):
            b = up_cols[i]
            if b > a:
                deg[b] += 1
    return deg


@njit(**_JIT)
def lower_fill(up_ptr, up_cols, up_counts, lo_ptr, cols, counts):
    """Fill the mirrored strict lower triangle. Upper rows are scanned in increasing a, so
    each lower row comes out sorted with no sort."""
    fill = lo_ptr[:-1].copy()
    for a in range(up_ptr.shape[0] - 1):
        for i in range(up_ptr[a], up_ptr[a + 1]):
            b = up_cols[i]
            if b > a:
                cols[fill[b]] = a
                counts[fill[b]] = up_counts[i]
                fill[b] += 1


@njit(**_JIT)
def join_fill(lp, lc, ln, up, uc, un, row_lo, row_hi, out_ptr, cols, counts):
    """Rows [row_lo, row_hi) of lower ++ upper (lower cols < r <= upper cols, so each joined
    row is sorted); out_ptr is relative to row_lo's start."""
    k = 0
    out_ptr[0] = 0
    for r in range(row_lo, row_hi):
        for i in range(lp[r], lp[r + 1]):
            cols[k] = lc[i]
            counts[k] = ln[i]
            k += 1
        for i in range(up[r], up[r + 1]):
            cols[k] = uc[i]
            counts[k] = un[i]
            k += 1
        out_ptr[r - row_lo + 1] = k
