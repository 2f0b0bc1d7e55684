"""Co-occurrence counting: C = X^T X over the window x token incidence matrix X.

Gustavson's row-by-row sparse product with a dense accumulator ("SPA"). For row token a,
walk the windows holding a and add each token b > a of those windows into acc[b]; sets are
sorted, so those are exactly the entries after a's position. Batches are counted, summed and
spilled as upper triangles (half the memory and merge work); `symmetrize` mirrors them into
the full, sorted rows the index stores.

Performance notes (3.9 M Qwen tokens, L=128, one core): numpy's sort of uint64 pair keys
runs ~30 M keys/s, 5-10x slower than this; a touched-list + per-row sort spent 70 % of its
time sorting; a two-level bitmap of touched columns gives sorted columns with no sort
(3x faster). Counting only b > a halves the SPA work; the mirror is one scatter pass.
"""

import numpy as np
from numba import njit

from cooc.kernels.bitmap import drain, drain_from, mark
from cooc.kernels.intrinsics import prefetch

_JIT = dict(cache=True, nogil=True)

MODE_WINDOWS = 0  # number of windows holding both tokens
MODE_OCCURRENCES = 1  # sum over windows of mult(a) * mult(b)

_ONE = np.uint64(1)
PREFETCH_AHEAD = 8  # (token, window) visits; 4-32 all gain, 8 is best here


@njit(**_JIT)
def upper_rows(inv_ptr, inv_pos, entry_end, set_tok, set_mult, row_start, row_stop,
               vocab_size, mode, include_self, row_ptr, cols, counts):
    """Upper-triangle co-occurrence rows [row_start, row_stop) of one batch: cols > row, and
    col == row (the diagonal) with include_self.

    Fills row_ptr (int64[n+1], from 0), cols and counts (uint32, room for the rows' work,
    an upper bound on their entries, see `windows.upper_row_work`); columns increase within
    a row. Returns the number of entries. The diagonal counts windows where the token occurs
    at least twice (windows mode) or m*(m-1) ordered pairs of its m occurrences.

    Columns of row a are >= a, so draining scans the bitmap from a's word on; that beat a
    two-level (summary) bitmap by 40 %: its extra OR per step cost more than it saved.
    """
    acc = np.zeros(vocab_size, dtype=np.uint32)
    bits = np.zeros((vocab_size + 63) >> 6, dtype=np.uint64)
    n_inv = inv_pos.shape[0]
    row_ptr[0] = 0
    k = 0
    for a in range(row_start, row_stop):
        lo = inv_ptr[a]
        hi = inv_ptr[a + 1]
        if lo != hi:
            for i in range(lo, hi):
                # windows are visited in a random order: fetch the one PREFETCH_AHEAD
                # visits from now while counting this one (2.3x on 3.9 M tokens)
                if i + PREFETCH_AHEAD < n_inv:
                    q = inv_pos[i + PREFETCH_AHEAD]
                    prefetch(set_tok, q)
                    prefetch(set_tok, q + 16)
                    prefetch(entry_end, q)
                    prefetch(set_mult, q)
                if i + 2 * PREFETCH_AHEAD < n_inv:
                    prefetch(entry_end, inv_pos[i + 2 * PREFETCH_AHEAD])
                p = inv_pos[i]
                ma = set_mult[p]
                if include_self and ma > 1:
                    acc[a] += 1 if mode == MODE_WINDOWS else ma * (ma - 1)
                    bits[a >> 6] |= _ONE << np.uint64(a & 63)
                for j in range(p + 1, entry_end[p]):
                    b = set_tok[j]
                    if mode == MODE_WINDOWS:
                        acc[b] += 1
                    else:
                        acc[b] += ma * set_mult[j]
                    bits[b >> 6] |= _ONE << np.uint64(b & 63)
            k = drain_from(acc, bits, a >> 6, cols, counts, k)
        row_ptr[a - row_start + 1] = k
    return k


@njit(**_JIT)
def symmetric_row_ptr(up_ptr, up_cols):
    """Row boundaries of the full symmetric matrix built from a whole upper triangle
    (cols >= row, the diagonal at most once): each row gains the mirror (b, a) of every
    entry (a, b) with b > a.
    """
    n = up_ptr.shape[0] - 1
    deg = np.zeros(n + 1, dtype=np.int64)
    for r in range(n):
        deg[r + 1] = up_ptr[r + 1] - up_ptr[r]
    for r in range(n):
        for i in range(up_ptr[r], up_ptr[r + 1]):
            b = up_cols[i]
            if b > r:
                deg[b + 1] += 1
    for r in range(n):
        deg[r + 1] += deg[r]
    return deg


@njit(**_JIT)
def symmetrize(up_ptr, up_cols, up_counts, row_ptr, cols, counts):
    """Full symmetric rows from upper-triangle rows (see `symmetric_row_ptr`).

    Row r = [mirrored entries (a, r), a < r, in a order] + [its upper row, diagonal first].
    The upper rows are scanned in increasing a, so every row comes out sorted, no sort.
    """
    n = row_ptr.shape[0] - 1
    fill = row_ptr[:-1].copy()
    for a in range(n):
        for i in range(up_ptr[a], up_ptr[a + 1]):
            b = up_cols[i]
            if b > a:
                cols[fill[b]] = a
                counts[fill[b]] = up_counts[i]
                fill[b] += 1
    for r in range(n):
        k = fill[r]
        s = up_ptr[r]
        e = up_ptr[r + 1]
        cols[k : k + e - s] = up_cols[s:e]
        counts[k : k + e - s] = up_counts[s:e]


@njit(**_JIT)
def merge_rows(ptrs, bases, cols_all, counts_all, vocab_size, row_ptr, cols, counts):
    """Sum k CSR slices over the same n rows.

    ptrs: int64[k, n+1]; part p's row r is cols_all[bases[p] + ptrs[p, r] : bases[p] + ptrs[p, r+1]].
    Fills row_ptr (int64[n+1]) and cols/counts (room for all inputs); returns the number of
    entries. Counts saturate at 2**32-1 rather than wrap.
    """
    nparts = ptrs.shape[0]
    nrows = ptrs.shape[1] - 1
    acc = np.zeros(vocab_size, dtype=np.uint64)
    nwords = (vocab_size + 63) >> 6
    bits = np.zeros(nwords, dtype=np.uint64)
    summary = np.zeros((nwords + 63) >> 6, dtype=np.uint64)
    row_ptr[0] = 0
    k = 0
    for r in range(nrows):
        for p in range(nparts):
            base = bases[p]
            for i in range(base + ptrs[p, r], base + ptrs[p, r + 1]):
                b = cols_all[i]
                acc[b] += counts_all[i]
                mark(bits, summary, b)
        k = drain(acc, bits, summary, cols, counts, k)
        row_ptr[r + 1] = k
    return k
