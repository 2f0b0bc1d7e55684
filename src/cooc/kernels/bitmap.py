"""Sparse accumulators read back in column order through a bitmap (no sort).

A kernel adds values into a dense `acc[V]` and flags each touched column in `bits`
(one bit per column) and, optionally, in `summary` (one bit per nonzero word of `bits`).
Draining walks the set bits in order, so the touched columns come out sorted in
O(touched + words scanned); the counting kernel and the index writer's column remap share
this. Draining clears `acc` and the bitmaps for the next row.
"""

import numpy as np
from numba import njit
from numba.cpython.unsafe.numbers import trailing_zeros

_JIT = dict(cache=True, nogil=True)
_ONE = np.uint64(1)
_U32_MAX = np.uint64(0xFFFFFFFF)


@njit(inline="always", **_JIT)
def mark(bits, summary, c):
    """Flag column c in both levels."""
    bits[c >> 6] |= _ONE << np.uint64(c & 63)
    summary[c >> 12] |= _ONE << np.uint64((c >> 6) & 63)


@njit(inline="always", **_JIT)
def drain_word(acc, bits, wi, cols, counts, k):
    """Append the columns flagged in word wi (in order) with their values, saturating at
    2**32-1; clear them from acc and the word. Returns the new k."""
    x = bits[wi]
    bits[wi] = 0
    while x:
        b = (wi << 6) + np.int64(trailing_zeros(x))
        x &= x - _ONE
        cols[k] = b
        v = np.uint64(acc[b])
        counts[k] = v if v < _U32_MAX else _U32_MAX
        acc[b] = 0
        k += 1
    return k


@njit(**_JIT)
def drain(acc, bits, summary, cols, counts, k):
    """Append every flagged column at cols/counts[k:] in column order; clear both levels."""
    for si in range(summary.shape[0]):
        y = summary[si]
        if y == 0:
            continue
        summary[si] = 0
        while y:
            wi = (si << 6) + np.int64(trailing_zeros(y))
            y &= y - _ONE
            k = drain_word(acc, bits, wi, cols, counts, k)
    return k


@njit(**_JIT)
def drain_from(acc, bits, first_word, cols, counts, k):
    """`drain` without a summary, for rows whose columns all lie at or after word
    `first_word` (upper-triangle rows)."""
    for wi in range(first_word, bits.shape[0]):
        if bits[wi] != 0:
            k = drain_word(acc, bits, wi, cols, counts, k)
    return k
