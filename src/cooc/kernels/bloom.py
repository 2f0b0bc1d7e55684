"""Bloom filter kernels over a little-endian uint64 bit array: the k positions of a key are
h1 + i*h2 mod m (i = 0..k-1, Kirsch-Mitzenmacher double hashing) from the two 64-bit halves
of its 128-bit hash, computed incrementally so nothing overflows (h1, h2 < m < 2**63)."""

import numpy as np
from numba import njit

_JIT = dict(cache=True, nogil=True)
_ONE = np.uint64(1)


@njit(**_JIT)
def bloom_add(bits, m, k, h1, h2, was_present):
    """Set the k bits of every key, in order; was_present[i] tells whether all of key i's
    bits were set before it (so a repeat inside one call is seen). Returns keys not present."""
    mm = np.uint64(m)
    added = 0
    for i in range(h1.shape[0]):
        g = h1[i] % mm
        d = h2[i] % mm
        if d == 0:
            d = _ONE
        present = True
        for _ in range(k):
            w = np.int64(g >> np.uint64(6))
            b = _ONE << (g & np.uint64(63))
            if bits[w] & b == 0:
                present = False
                bits[w] |= b
            g = (g + d) % mm
        was_present[i] = present
        if not present:
            added += 1
    return added


@njit(**_JIT)
def bloom_contains(bits, m, k, h1, h2, out):
    """out[i]: whether all k bits of key i are set (the filter is not changed)."""
    mm = np.uint64(m)
    for i in range(h1.shape[0]):
        g = h1[i] % mm
        d = h2[i] % mm
        if d == 0:
            d = _ONE
        present = True
        for _ in range(k):
            if bits[np.int64(g >> np.uint64(6))] & (_ONE << (g & np.uint64(63))) == 0:
                present = False
                break
            g = (g + d) % mm
        out[i] = present
