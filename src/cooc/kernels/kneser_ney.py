"""Kneser-Ney estimation kernels over one trie level's slices (`cooc.lm.kneser_ney`).

A level's entries are in lexicographic order, so the children of a context (the entries with
the same parent row) are one run of consecutive entries; the callers cut slices at run
boundaries, and every kernel here treats a run in one go.
"""

import numpy as np
from numba import njit

_JIT = dict(cache=True, nogil=True)


@njit(**_JIT)
def add_counts(index, counts):
    """counts[index[i]] += 1 for every i (a bincount into an existing array)."""
    for i in range(index.shape[0]):
        counts[index[i]] += 1


@njit(**_JIT)
def context_gammas(rows, adjusted, discount, gamma, raw, threshold):
    """gamma[r] = (sum D(a) over kept children + sum a over pruned ones) / sum a over all the
    children a of every context r in the slice (D(a) = discount[min(a, 3)]; a child is pruned
    when its raw count is <= threshold, as lmplz --prune): the mass the context leaves to
    its backoff."""
    n = rows.shape[0]
    i = 0
    while i < n:
        r = rows[i]
        den = 0.0
        num = 0.0
        j = i
        while j < n and rows[j] == r:
            a = adjusted[j]
            den += a
            if raw[j] <= threshold:
                num += a
            else:
                num += discount[min(a, 3)]
            j += 1
        gamma[r] = num / den
        i = j


@njit(**_JIT)
def interpolate(rows, adjusted, suffix, discount, gamma, lower, out):
    """out[i] = (a_i - D(a_i)) / sum of a over i's siblings + gamma[rows[i]] * lower[suffix[i]]:
    the interpolated probability of every entry of the slice from its lower-order one."""
    n = rows.shape[0]
    i = 0
    while i < n:
        r = rows[i]
        den = 0.0
        j = i
        while j < n and rows[j] == r:
            den += adjusted[j]
            j += 1
        g = gamma[r]
        for m in range(i, j):
            a = adjusted[m]
            out[m] = (a - discount[min(a, 3)]) / den + g * lower[suffix[m]]
        i = j


@njit(**_JIT)
def suffix_rows(start, child_tokens, rows, parents, tokens):
    """Position of every (parents[i], tokens[i]) among the children of its parent (children
    of node q: child_tokens[start[q]:start[q + 1]], increasing), or -1.

    Consecutive queries of the same row (siblings in a level in lexicographic order) have
    the same parent and increasing tokens, so each gallops forward from the previous
    answer: a context with thousands of continuations costs a step per query, not a
    binary search."""
    n = tokens.shape[0]
    out = np.empty(n, np.int64)
    prev_row = -1
    lo = 0
    for i in range(n):
        p = parents[i]
        end = start[p + 1]
        if rows[i] != prev_row:
            lo = start[p]
            prev_row = rows[i]
        w = tokens[i]
        step = 1  # gallop: find hi with child_tokens[hi] >= w, then binary search
        hi = lo
        while hi < end and child_tokens[hi] < w:
            lo = hi + 1
            hi += step
            step <<= 1
        if hi > end:
            hi = end
        while lo < hi:
            mid = (lo + hi) >> 1
            if child_tokens[mid] < w:
                lo = mid + 1
            else:
                hi = mid
        out[i] = lo if lo < end and child_tokens[lo] == w else -1
    return out
