"""Kernels of the n-gram contamination check (`cooc.curate.contamination`): the n-gram keys
of evaluation examples, an open-addressing table of them, and the training documents'
n-grams looked up in it.

An n-gram's key folds its words' 64-bit hashes in order from a seed (`fold`), so the key of
words i..i+L-1 is built word by word and every length L up to n is seen on the way: one pass
over a training document finds the n-grams of long examples and the whole of short ones.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from cooc.kernels.minhash import mix64

_JIT = dict(cache=True, nogil=True)
EMPTY = np.int64(-1)


@njit(inline="always", **_JIT)
def fold(h, w):
    """The key of an n-gram so far (h) extended by a word hash w."""
    return mix64(h ^ w)


@njit(**_JIT)
def example_keys(words, word_offsets, n, min_n, seed, keys, owners, lengths):
    """Keys of every example (words[word_offsets[e]:word_offsets[e + 1]]): each n-gram of an
    example of n words or more, the whole example when it has min_n to n - 1 words, none
    when shorter. keys/owners (room for sum(max(1, words - n + 1))) get the keys and their
    example; lengths[e] = the key length used (0: too short). Returns the keys written."""
    k = 0
    for e in range(word_offsets.shape[0] - 1):
        a = word_offsets[e]
        m = word_offsets[e + 1] - a
        if m >= n:
            lengths[e] = n
            for i in range(a, a + m - n + 1):
                h = seed
                for j in range(i, i + n):
                    h = fold(h, words[j])
                keys[k] = h
                owners[k] = e
                k += 1
        elif m >= min_n:
            lengths[e] = m
            h = seed
            for j in range(a, a + m):
                h = fold(h, words[j])
            keys[k] = h
            owners[k] = e
            k += 1
        else:
            lengths[e] = 0
    return k


@njit(**_JIT)
def build_table(keys, bits):
    """An open-addressing table (2**bits slots, at most half full) of distinct keys: slot
    keys and the index of each key in `keys` (-1: empty)."""
    size = np.int64(1) << bits
    mask = size - 1
    tkeys = np.zeros(size, np.uint64)
    tvals = np.full(size, EMPTY, np.int64)
    for i in range(keys.shape[0]):
        s = np.int64(keys[i] >> np.uint64(64 - bits))
        while tvals[s] != EMPTY:
            s = (s + 1) & mask
        tkeys[s] = keys[i]
        tvals[s] = i
    return tkeys, tvals


@njit(inline="always", **_JIT)
def probe(h, tkeys, tvals, bits):
    mask = (np.int64(1) << bits) - 1
    s = np.int64(h >> np.uint64(64 - bits))
    while tvals[s] != EMPTY:
        if tkeys[s] == h:
            return tvals[s]
        s = (s + 1) & mask
    return EMPTY


@njit(**_JIT)
def find_hits(words, word_offsets, n, wanted, seed, tkeys, tvals, bits, hit_doc, hit_key):
    """Every (document, key index) where document d (words[word_offsets[d]:...]) holds a
    key of the table: the n-grams starting at each word, of every length L <= n with
    wanted[L]. hit_doc/hit_key have room for one hit a word (a document's repeated hits of a
    key may take more: the caller grows them and calls again when -1 comes back). Returns
    the hits written, or -1 when out of room."""
    k = 0
    cap = hit_doc.shape[0]
    for d in range(word_offsets.shape[0] - 1):
        a = word_offsets[d]
        b = word_offsets[d + 1]
        for i in range(a, b):
            h = seed
            top = min(n, b - i)
            for length in range(1, top + 1):
                h = fold(h, words[i + length - 1])
                if wanted[length]:
                    v = probe(h, tkeys, tvals, bits)
                    if v != EMPTY:
                        if k == cap:
                            return -1
                        hit_doc[k] = d
                        hit_key[k] = v
                        k += 1
    return k
