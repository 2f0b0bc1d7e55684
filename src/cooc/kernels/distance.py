"""Distance-weighted co-occurrence: every pair of token occurrences at distance 1..R within a
segment (a window or a document) adds the weight of its distance.

    C[a, b] = sum over occurrences p of a, q of b, same segment, 1 <= |p - q| <= R: w[|p - q|]

Both orientations of a pair are counted (C is symmetric); a token repeated within R of
itself adds 2 w[d] to C[a, a] (once from each occurrence), as GloVe's symmetric `cooccur`
does. Weights are integers (fractional weights are scaled to integers by the caller, so
sums are exact). Rows are computed as in `cooccur` (a dense accumulator per row, touched
columns drained in order through a bitmap), only for columns >= the row: upper triangles.
"""

import numpy as np
from numba import njit

from cooc.kernels.bitmap import drain_from

_JIT = dict(cache=True, nogil=True)
_ONE = np.uint64(1)


@njit(**_JIT)
def position_index(tokens, vocab_size, inv_pos):
    """Positions of each token in order (a counting sort): token t is at
    inv_pos[inv_ptr[t]:inv_ptr[t+1]]. Returns inv_ptr."""
    inv_ptr = np.zeros(vocab_size + 1, dtype=np.int64)
    for i in range(tokens.shape[0]):
        inv_ptr[tokens[i] + 1] += 1
    for t in range(vocab_size):
        inv_ptr[t + 1] += inv_ptr[t]
    fill = inv_ptr[:-1].copy()
    for i in range(tokens.shape[0]):
        t = tokens[i]
        inv_pos[fill[t]] = i
        fill[t] += 1
    return inv_ptr


@njit(**_JIT)
def segment_of(seg_ptr, n):
    """Segment index of every position."""
    out = np.empty(n, dtype=np.int64)
    for s in range(seg_ptr.shape[0] - 1):
        for i in range(seg_ptr[s], seg_ptr[s + 1]):
            out[i] = s
    return out


@njit(**_JIT)
def row_work(inv_ptr, inv_pos, seg, seg_ptr, radius, row_start, row_stop):
    """Occurrence pairs each row visits (an upper bound on its entries)."""
    out = np.zeros(row_stop - row_start, dtype=np.int64)
    for a in range(row_start, row_stop):
        w = 0
        for i in range(inv_ptr[a], inv_ptr[a + 1]):
            p = inv_pos[i]
            s = seg[p]
            w += min(seg_ptr[s + 1], p + radius + 1) - max(seg_ptr[s], p - radius) - 1
        out[a - row_start] = w
    return out


@njit(**_JIT)
def upper_rows(tokens, inv_ptr, inv_pos, seg, seg_ptr, weights, radius, row_start, row_stop,
               vocab_size, include_self, forward_only, row_ptr, cols, counts):
    """Rows [row_start, row_stop) of C, columns >= row (the diagonal only with include_self).

    weights: uint64[radius + 1], weights[d] for distance d (weights[0] unused). With
    forward_only, only pairs where the row's token comes first (q > p) count: the upper
    triangle then holds, for a < b, what a-before-b pairs add (positions). Fills row_ptr
    (int64[n+1] from 0), cols and counts (uint32, room for the rows' `row_work`); sums
    saturate at 2**32-1. Returns the number of entries.
    """
    acc = np.zeros(vocab_size, dtype=np.uint64)
    bits = np.zeros((vocab_size + 63) >> 6, dtype=np.uint64)
    row_ptr[0] = 0
    k = 0
    for a in range(row_start, row_stop):
        lo = inv_ptr[a]
        hi = inv_ptr[a + 1]
        if lo != hi:
            for i in range(lo, hi):
                p = inv_pos[i]
                s = seg[p]
                q0 = max(seg_ptr[s], p - radius)
                q1 = min(seg_ptr[s + 1], p + radius + 1)
                for q in range(q0, q1):
                    b = np.int64(tokens[q])
                    if b < a or q == p or (b == a and not include_self) or (forward_only and q < p):
                        continue
                    w = weights[abs(q - p)]
                    if w == 0:  # a distance weighted 0 is not a meeting: no entry of count 0
                        continue
                    acc[b] += w
                    bits[b >> 6] |= _ONE << np.uint64(b & 63)
            k = drain_from(acc, bits, a >> 6, cols, counts, k)
        row_ptr[a - row_start + 1] = k
    return k


@njit(**_JIT)
def drop_tokens(tokens, doc_ptr, keep, out_tokens, out_ptr):
    """Tokens with keep[t], documents kept in place (possibly empty). Returns the count."""
    k = 0
    out_ptr[0] = 0
    for d in range(doc_ptr.shape[0] - 1):
        for i in range(doc_ptr[d], doc_ptr[d + 1]):
            t = tokens[i]
            if keep[t]:
                out_tokens[k] = t
                k += 1
        out_ptr[d + 1] = k
    return k
