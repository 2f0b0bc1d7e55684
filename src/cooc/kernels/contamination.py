"""Kernels of the n-gram contamination check (`cooc.curate.contamination`): the n-gram keys
of evaluation examples, an open-addressing table of them, and the training documents'
n-grams looked up in it.

An n-gram's key is a polynomial hash of its words' 64-bit hashes (base `seed | 1`, mod
2**64) mixed with its length and finalised: with a document's prefix hashes P, the words
i..i+L-1 are P[i+L] - P[i] * base**L, O(1) for any start and length. So one pass over a
training document checks, at every word, the n-grams of long examples and every shorter
length some short example has, at the cost of a multiply and a table probe each.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from cooc.kernels.minhash import mix64

_JIT = dict(cache=True, nogil=True)
EMPTY = np.int64(-1)


@njit(inline="always", **_JIT)
def prefix_hashes(words, a, b, base, prefix):
    """prefix[k] = hash of words[a:a + k], k = 0..b - a."""
    h = np.uint64(0)
    prefix[0] = h
    for k in range(b - a):
        h = h * base + words[a + k]
        prefix[k + 1] = h


@njit(inline="always", **_JIT)
def span_key(prefix, i, length, powers):
    """The key of the words i..i+length-1 of the document whose prefix hashes are given."""
    return mix64((prefix[i + length] - prefix[i] * powers[length]) ^ np.uint64(length))


@njit(**_JIT)
def powers_of(base, n):
    out = np.empty(n + 1, np.uint64)
    out[0] = np.uint64(1)
    for k in range(1, n + 1):
        out[k] = out[k - 1] * base
    return out


@njit(**_JIT)
def example_keys(words, word_offsets, n, min_n, seed, keys, owners, lengths):
    """Keys of every example (words[word_offsets[e]:word_offsets[e + 1]]): each n-gram of an
    example of n words or more, the whole example when it has min_n to n - 1 words, none
    when shorter. keys/owners (room for sum(max(1, words - n + 1))) get the keys and their
    example; lengths[e] = the key length used (0: too short). Returns the keys written."""
    base = seed | np.uint64(1)
    powers = powers_of(base, n)
    most = 1
    for e in range(word_offsets.shape[0] - 1):
        most = max(most, word_offsets[e + 1] - word_offsets[e])
    prefix = np.empty(most + 1, np.uint64)
    k = 0
    for e in range(word_offsets.shape[0] - 1):
        a = word_offsets[e]
        m = word_offsets[e + 1] - a
        prefix_hashes(words, a, a + m, base, prefix)
        if m >= n:
            lengths[e] = n
            for i in range(m - n + 1):
                keys[k] = span_key(prefix, i, n, powers)
                owners[k] = e
                k += 1
        elif m >= min_n:
            lengths[e] = m
            keys[k] = span_key(prefix, 0, m, powers)
            owners[k] = e
            k += 1
        else:
            lengths[e] = 0
    return k


FILTER_BITS = 3  # the presence filter has 2**3 bits a table slot


@njit(**_JIT)
def build_table(keys, bits):
    """An open-addressing table (2**bits slots, at most half full) of distinct keys: slot
    keys and the index of each key in `keys` (-1: empty), and a presence filter (one bit a
    key among 8 a slot, indexed by the key's high bits): most lookups are of keys that are
    not there, and the filter (an eighth of the table's bytes) answers them from cache."""
    size = np.int64(1) << bits
    mask = size - 1
    tkeys = np.zeros(size, np.uint64)
    tvals = np.full(size, EMPTY, np.int64)
    present = np.zeros(max(1, (size << FILTER_BITS) >> 6), np.uint64)
    for i in range(keys.shape[0]):
        s = np.int64(keys[i] >> np.uint64(64 - bits))
        while tvals[s] != EMPTY:
            s = (s + 1) & mask
        tkeys[s] = keys[i]
        tvals[s] = i
        f = np.int64(keys[i] >> np.uint64(64 - bits - FILTER_BITS))
        present[f >> 6] |= np.uint64(1) << np.uint64(f & 63)
    return tkeys, tvals, present


@njit(inline="always", **_JIT)
def probe(h, tkeys, tvals, present, bits):
    f = np.int64(h >> np.uint64(64 - bits - FILTER_BITS))
    if (present[f >> 6] >> np.uint64(f & 63)) & np.uint64(1) == 0:
        return EMPTY
    mask = (np.int64(1) << bits) - 1
    s = np.int64(h >> np.uint64(64 - bits))
    while tvals[s] != EMPTY:
        if tkeys[s] == h:
            return tvals[s]
        s = (s + 1) & mask
    return EMPTY


@njit(**_JIT)
def find_hits(words, word_offsets, n, wanted, seed, tkeys, tvals, present, bits, hit_doc,
              hit_key):
    """Every (document, key index) where document d (words[word_offsets[d]:...]) holds a
    key of the table: the n-grams starting at each word, of every length L <= n with
    wanted[L]. hit_doc/hit_key have room for one hit a word (a document's repeated hits of a
    key may take more: the caller grows them and calls again when -1 comes back). Returns
    the hits written, or -1 when out of room."""
    base = seed | np.uint64(1)
    powers = powers_of(base, n)
    lengths = np.flatnonzero(wanted)
    most = 1
    for d in range(word_offsets.shape[0] - 1):
        most = max(most, word_offsets[d + 1] - word_offsets[d])
    prefix = np.empty(most + 1, np.uint64)
    k = 0
    cap = hit_doc.shape[0]
    for d in range(word_offsets.shape[0] - 1):
        a = word_offsets[d]
        m = word_offsets[d + 1] - a
        prefix_hashes(words, a, a + m, base, prefix)
        for length in lengths:
            for i in range(m - length + 1):
                v = probe(span_key(prefix, i, length, powers), tkeys, tvals, present, bits)
                if v != EMPTY:
                    if k == cap:
                        return -1
                    hit_doc[k] = d
                    hit_key[k] = v
                    k += 1
    return k
