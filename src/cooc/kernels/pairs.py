"""Skip-gram (target, context) pairs of word2vec's windows, for trainers outside cooc.

`subsample` keeps each word with its subsampling probability (the thresholds of
`cooc.kernels.word2vec.keep_thresholds`), `emit_pairs` then gives each kept word (the
target) its reduced window b uniform in 1..window (or the whole window) over the kept words
of its document, and writes one (target, context) pair per context, contexts left to right.
Documents are never crossed.

Randomness is counter-based, not a stream: the 64 random bits of the word at position p of
the run (its index among the in-vocabulary words of the whole corpus) are splitmix64's
output for the state key + p * golden (`position_bits`), with one key for the subsampling
coin and one for the window. A word's draws therefore depend on the seed and its position
only, never on how the corpus was cut into chunks, how many threads ran them or in which
order: the pairs are the same, in the same order, whatever the chunking.
"""

import numpy as np
from numba import njit

from cooc.kernels.word2vec import splitmix64

_JIT = dict(nogil=True, cache=True)
_U32 = np.uint64(32)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


@njit(**_JIT)
def position_bits(key, p):
    """64 random bits of position `p` (int) under `key` (uint64): splitmix64's output for
    the state key + p * golden, as if the stream from `key` had been advanced p times."""
    _, bits = splitmix64(key + np.uint64(p) * _GOLDEN)
    return bits


@njit(**_JIT)
def subsample(ids, doc_ptr, first_pos, keep, key):
    """The words of ids (dense ids, int32; documents ids[doc_ptr[d]:doc_ptr[d+1]]) kept by
    subsampling: word t (run position first_pos + t) is kept when the top 32 of its bits are
    below keep[ids[t]] (uint64 thresholds). Returns (kept ids int32, their run positions
    int64, the documents' pointers into them int64)."""
    n = ids.shape[0]
    out = np.empty(n, dtype=np.int32)
    pos = np.empty(n, dtype=np.int64)
    ptr = np.empty(doc_ptr.shape[0], dtype=np.int64)
    ptr[0] = 0
    k = 0
    for d in range(doc_ptr.shape[0] - 1):
        for t in range(doc_ptr[d], doc_ptr[d + 1]):
            w = ids[t]
            if (position_bits(key, first_pos + t) >> _U32) < keep[w]:
                out[k] = w
                pos[k] = first_pos + t
                k += 1
        ptr[d + 1] = k
    return out[:k], pos[:k], ptr


@njit(**_JIT)
def emit_pairs(ids, pos, doc_ptr, c0, c1, window, dynamic, key, targets, contexts):
    """The pairs of the targets ids[c0:c1] (kept words; pos their run positions, doc_ptr
    their documents) into targets/contexts (int32, room for (c1 - c0) * 2 * window); returns
    how many. Target i's reach is window - (top 32 bits of its window draw) % window when
    `dynamic` (uniform in 1..window, word2vec.c's reduced window), else window; its
    contexts are the kept words of its document within that reach, left to right."""
    n = 0
    if c0 >= c1:
        return n
    d = np.searchsorted(doc_ptr, c0, side="right") - 1
    for i in range(c0, c1):
        while doc_ptr[d + 1] <= i:
            d += 1
        reach = window
        if dynamic:
            reach = window - np.int64((position_bits(key, pos[i]) >> _U32) % np.uint64(window))
        lo = max(doc_ptr[d], i - reach)
        hi = min(doc_ptr[d + 1], i + reach + 1)
        w = ids[i]
        for j in range(lo, hi):
            if j != i:
                targets[n] = w
                contexts[n] = ids[j]
                n += 1
    return n
