"""Co-occurrence counting: C = X^T X over the window x token incidence matrix X.

Gustavson's row-by-row sparse product with a dense accumulator ("SPA"). For row token a,
walk the windows holding a and add each token b > a of those windows into acc[b]; sets are
sorted, so those are exactly the entries after a's position. The upper triangle is then
mirrored into full, sorted, symmetric rows by `symmetrize`.

Performance notes (3.9 M Qwen tokens, L=128, one core): numpy's sort of uint64 pair keys
runs ~30 M keys/s, 5-10x slower than this; a touched-list + per-row sort spent 70 % of its
time sorting; a two-level bitmap of touched columns gives sorted columns with no sort
(3x faster). Counting only b > a halves the SPA work; the mirror is one scatter pass.
"""

import numpy as np
from numba import njit
from numba.cpython.unsafe.numbers import trailing_zeros

_JIT = dict(cache=True, nogil=True)

MODE_WINDOWS = 0  # number of windows holding both tokens
MODE_OCCURRENCES = 1  # sum over windows of mult(a) * mult(b)

_ONE = np.uint64(1)


@njit(**_JIT)
def _grow(arr, need):
    cap = arr.shape[0]
    while cap < need:
        cap *= 2
    out = np.empty(cap, dtype=arr.dtype)
    out[: arr.shape[0]] = arr
    return out


@njit(**_JIT)
def _drain(acc, bits, summary, cols, counts, k):
    """Append acc's nonzeros at cols/counts[k:] in column order; clear acc and bitmaps."""
    for si in range(summary.shape[0]):
        y = summary[si]
        if y == 0:
            continue
        summary[si] = 0
        while y:
            wi = (si << 6) + trailing_zeros(y)
            y &= y - _ONE
            x = bits[wi]
            bits[wi] = 0
            while x:
                b = (wi << 6) + trailing_zeros(x)
                x &= x - _ONE
                cols[k] = b
                counts[k] = acc[b]
                acc[b] = 0
                k += 1
    return k


@njit(**_JIT)
def upper_rows(inv_ptr, inv_pos, entry_end, set_tok, set_mult, row_start, row_stop,
               vocab_size, mode, cap_hint):
    """Upper-triangle co-occurrence rows [row_start, row_stop) of one batch (cols > row).

    Returns (row_ptr int64[n+1] from 0, cols uint32[], counts uint32[]), columns increasing.
    """
    nrows = row_stop - row_start
    acc = np.zeros(vocab_size, dtype=np.uint32)
    nwords = (vocab_size + 63) >> 6
    bits = np.zeros(nwords, dtype=np.uint64)
    summary = np.zeros((nwords + 63) >> 6, dtype=np.uint64)
    row_ptr = np.zeros(nrows + 1, dtype=np.int64)
    cap = max(cap_hint, 1024)
    cols = np.empty(cap, dtype=np.uint32)
    counts = np.empty(cap, dtype=np.uint32)
    k = 0
    for a in range(row_start, row_stop):
        lo = inv_ptr[a]
        hi = inv_ptr[a + 1]
        if lo == hi:
            row_ptr[a - row_start + 1] = k
            continue
        for i in range(lo, hi):
            p = inv_pos[i]
            ma = set_mult[p]
            for j in range(p + 1, entry_end[p]):
                b = set_tok[j]
                if mode == MODE_WINDOWS:
                    acc[b] += 1
                else:
                    acc[b] += ma * set_mult[j]
                bits[b >> 6] |= _ONE << np.uint64(b & 63)
                summary[b >> 12] |= _ONE << np.uint64((b >> 6) & 63)
        # a row has at most vocab_size - a - 1 entries
        if k + (vocab_size - a) > cols.shape[0]:
            cols = _grow(cols, k + vocab_size - a)
            counts = _grow(counts, k + vocab_size - a)
        k = _drain(acc, bits, summary, cols, counts, k)
        row_ptr[a - row_start + 1] = k
    return row_ptr, cols[:k].copy(), counts[:k].copy()


@njit(**_JIT)
def self_counts(set_tok, set_mult, vocab_size, mode):
    """Diagonal: windows where a token occurs at least twice (or sum of m*(m-1))."""
    diag = np.zeros(vocab_size, dtype=np.uint32)
    for i in range(set_tok.shape[0]):
        m = set_mult[i]
        if m > 1:
            diag[set_tok[i]] += 1 if mode == MODE_WINDOWS else m * (m - 1)
    return diag


@njit(**_JIT)
def symmetrize(up_ptr, up_cols, up_counts, diag, vocab_size):
    """Full symmetric rows from the upper triangle (plus an optional diagonal).

    Row r = [lower part (a, r) for a < r, in a order] + [diag] + [upper part]; since the
    upper rows are scanned in increasing a, every row comes out sorted.
    """
    deg = np.zeros(vocab_size + 1, dtype=np.int64)
    for r in range(vocab_size):
        deg[r + 1] = up_ptr[r + 1] - up_ptr[r] + (1 if diag[r] != 0 else 0)
    for i in range(up_cols.shape[0]):
        deg[up_cols[i] + 1] += 1
    for r in range(vocab_size):
        deg[r + 1] += deg[r]
    n = deg[vocab_size]
    cols = np.empty(n, dtype=np.uint32)
    counts = np.empty(n, dtype=np.uint32)
    fill = deg[:-1].copy()
    for a in range(vocab_size):
        for i in range(up_ptr[a], up_ptr[a + 1]):
            b = up_cols[i]
            cols[fill[b]] = a
            counts[fill[b]] = up_counts[i]
            fill[b] += 1
    for r in range(vocab_size):
        k = fill[r]
        if diag[r] != 0:
            cols[k] = r
            counts[k] = diag[r]
            k += 1
        for i in range(up_ptr[r], up_ptr[r + 1]):
            cols[k] = up_cols[i]
            counts[k] = up_counts[i]
            k += 1
    return deg, cols, counts


@njit(**_JIT)
def merge_rows(ptrs, bases, cols_all, counts_all, vocab_size, cap_hint):
    """Sum k CSR slices over the same n rows.

    ptrs: int64[k, n+1]; part p's row r is cols_all[bases[p] + ptrs[p, r] : bases[p] + ptrs[p, r+1]].
    Counts saturate at 2**32-1 rather than wrap. Returns (row_ptr, cols, counts).
    """
    nparts = ptrs.shape[0]
    nrows = ptrs.shape[1] - 1
    acc = np.zeros(vocab_size, dtype=np.uint64)
    nwords = (vocab_size + 63) >> 6
    bits = np.zeros(nwords, dtype=np.uint64)
    summary = np.zeros((nwords + 63) >> 6, dtype=np.uint64)
    row_ptr = np.zeros(nrows + 1, dtype=np.int64)
    cap = max(cap_hint, 1024)
    cols = np.empty(cap, dtype=np.uint32)
    counts64 = np.empty(cap, dtype=np.uint64)
    k = 0
    for r in range(nrows):
        need = 0
        for p in range(nparts):
            base = bases[p]
            s = base + ptrs[p, r]
            e = base + ptrs[p, r + 1]
            need += e - s
            for i in range(s, e):
                b = cols_all[i]
                acc[b] += counts_all[i]
                bits[b >> 6] |= _ONE << np.uint64(b & 63)
                summary[b >> 12] |= _ONE << np.uint64((b >> 6) & 63)
        if k + need > cols.shape[0]:
            cols = _grow(cols, k + need)
            counts64 = _grow(counts64, k + need)
        k = _drain(acc, bits, summary, cols, counts64, k)
        row_ptr[r + 1] = k
    out = np.empty(k, dtype=np.uint32)
    limit = np.uint64(0xFFFFFFFF)
    for i in range(k):
        v = counts64[i]
        out[i] = v if v < limit else limit
    return row_ptr, cols[:k].copy(), out
