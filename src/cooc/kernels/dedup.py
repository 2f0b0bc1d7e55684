"""Exact-dedup kernels: a 128-bit-key open-addressing table (first ordinal per hash) and
lookups in sorted spilled runs of it. Keys are two uint64 columns (hi, lo) of an xxh3_128
digest; values are int64 ordinals, -1 marking an empty slot.

Performance notes: linear probing on `lo & (cap - 1)` (the digest's bits are uniform, so no
mixing is needed); 24 bytes a slot, at most half full, so 48 bytes a key against ~120 for a
Python dict of bytes -> int. A query is answered and inserted in one probe sequence, in
input order, so repeats inside one batch are found as well as earlier ones.
"""

import numpy as np
from numba import njit

_JIT = dict(cache=True, nogil=True)
EMPTY = -1


@njit(**_JIT)
def table_get_or_insert(keys_hi, keys_lo, vals, q_hi, q_lo, q_val, out_val, out_new):
    """For each query in order: if its key is in the table, out_val = the stored value and
    out_new = False; else store q_val there, out_val = q_val, out_new = True. Returns the
    number of keys inserted. The caller keeps the table at most half full."""
    mask = np.uint64(keys_hi.shape[0] - 1)
    inserted = 0
    for i in range(q_hi.shape[0]):
        hi = q_hi[i]
        lo = q_lo[i]
        s = np.int64(lo & mask)
        while True:
            v = vals[s]
            if v == EMPTY:
                keys_hi[s] = hi
                keys_lo[s] = lo
                vals[s] = q_val[i]
                out_val[i] = q_val[i]
                out_new[i] = True
                inserted += 1
                break
            if keys_hi[s] == hi and keys_lo[s] == lo:
                out_val[i] = v
                out_new[i] = False
                break
            s = np.int64((np.uint64(s) + np.uint64(1)) & mask)
    return inserted


@njit(**_JIT)
def table_rehash(keys_hi, keys_lo, vals, new_hi, new_lo, new_vals):
    """Move every stored key of one table into another (empty, larger) one."""
    mask = np.uint64(new_hi.shape[0] - 1)
    for s in range(vals.shape[0]):
        v = vals[s]
        if v == EMPTY:
            continue
        t = np.int64(keys_lo[s] & mask)
        while new_vals[t] != EMPTY:
            t = np.int64((np.uint64(t) + np.uint64(1)) & mask)
        new_hi[t] = keys_hi[s]
        new_lo[t] = keys_lo[s]
        new_vals[t] = v


@njit(**_JIT)
def sorted_lookup(r_hi, r_lo, r_val, q_hi, q_lo, out_val):
    """For each query whose out_val is still EMPTY, binary-search the run sorted by (hi, lo)
    and set out_val to the stored value when found. Returns the number found."""
    n = r_hi.shape[0]
    found = 0
    for i in range(q_hi.shape[0]):
        if out_val[i] != EMPTY:
            continue
        hi = q_hi[i]
        lo = q_lo[i]
        a = 0
        b = n
        while a < b:
            c = (a + b) >> 1
            if r_hi[c] < hi or (r_hi[c] == hi and r_lo[c] < lo):
                a = c + 1
            else:
                b = c
        if a < n and r_hi[a] == hi and r_lo[a] == lo:
            out_val[i] = r_val[a]
            found += 1
    return found
