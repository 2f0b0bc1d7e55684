"""Compressed-trie backoff language model kernels: bit-packed quantized values and the
batched scorer (KenLM `query` semantics, as `cooc.kernels.lm`) over a trie of Elias-Fano
levels (`cooc.kernels.succinct.elias_fano`, shared with the n-gram count trie).

The trie (levels k = 2..order; level 1 is dense: the unigram of token t is row t). Level k's
entries are its k-grams in lexicographic order of their (internal) token ids; level k's rows
are level k - 1's entries (token ids for k = 2). Per level the two sequences ptr and val of
`cooc.kernels.succinct.elias_fano`. The id of a 2-gram's last word is the token id; for k >= 3 it is
*context remapped* (Tongrams): the rank of the last word among the continuations of the
k-gram's (k-2)-word middle, i.e. the position of the k-gram's (k-1)-suffix inside its row of
level k - 1. The scorer has that position at hand: it has just found the suffix one level
down.

Scoring. As `cooc.kernels.lm.score_sentences`: the state after a word is the entries of the
longest n-grams ending there, one per length; the next word extends them while the trie holds
the extension; log10 p(w | h) = prob(longest found) + backoffs of the longer contexts.
"""

import numpy as np
from numba import njit

from cooc.kernels.bits import get_bits, put_bits
from cooc.kernels.succinct.elias_fano import (
    EF_FIELDS,
    find_child,
)

_JIT = dict(cache=True, nogil=True)
# level table columns: ptr sequence (PTR), val sequence (VAL), then the values' places
PROB_OFF = 2 * EF_FIELDS  # first bit of the level's prob codes (or first float32 value)
BACKOFF_OFF = PROB_OFF + 1  # same for backoffs; -1: none (the highest order)
PROB_CENTRE = PROB_OFF + 2  # first centre of the level's prob bins
BACKOFF_CENTRE = PROB_OFF + 3
LEVEL_FIELDS = PROB_OFF + 4


# ---------------------------------------------------------------------------------------------
# building


@njit(**_JIT)
def pack_codes(codes, bits, words, bit_off):
    for i in range(codes.shape[0]):
        put_bits(words, bit_off + i * bits, np.int64(codes[i]), bits)


@njit(**_JIT)
def unpack_codes(words, bit_off, n, bits):
    out = np.empty(n, dtype=np.int64)
    for i in range(n):
        out[i] = get_bits(words, bit_off + i * bits, bits)
    return out


# ---------------------------------------------------------------------------------------------
# scoring


@njit(**_JIT)
def value(k, e, col, lev, uni, codes, centres, values, qbits):
    """log10 prob (col 0) or backoff (col 1) of entry e of level k."""
    if k == 1:
        return np.float64(uni[e, col])
    off = lev[k, PROB_OFF + col]
    if off < 0:
        return 0.0
    if qbits == 0:
        return np.float64(values[off + e])
    c = get_bits(codes, off + e * qbits, qbits)
    return np.float64(centres[lev[k, PROB_CENTRE + col] + c])


@njit(**_JIT)
def score_sentences(words, sent_ptr, order, bos, eos, tokmap, lev, trie, uni, codes, centres,
                    values, qbits, out):
    """log10 p of every word of every sentence (words[sent_ptr[s]:sent_ptr[s+1]], model ids,
    OOVs already <unk>) after `<s>`, and of `</s>` after each sentence; tokmap: model id ->
    trie token id; bos/eos: trie ids. out: float32[len(words) + sentences], sentence s at
    out[sent_ptr[s] + s : sent_ptr[s + 1] + s + 1]. Returns nothing."""
    ctx = np.empty(order, dtype=np.int64)
    nxt = np.empty(order, dtype=np.int64)
    for s in range(sent_ptr.shape[0] - 1):
        a = sent_ptr[s]
        b = sent_ptr[s + 1]
        ctx[0] = bos
        nctx = 1
        for i in range(a, b + 1):
            w = np.int64(tokmap[words[i]]) if i < b else np.int64(eos)
            nxt[0] = w
            x = w  # the id of the next extension's last word (remapped above level 2)
            m = 0
            while m < nctx and m + 1 < order:
                e, start = find_child(trie, lev, m + 2, ctx[m], x)
                if e < 0:
                    break
                nxt[m + 1] = e
                x = e - start
                m += 1
            p = value(m + 1, nxt[m], 0, lev, uni, codes, centres, values, qbits)
            for j in range(m, nctx):
                p += value(j + 1, ctx[j], 1, lev, uni, codes, centres, values, qbits)
            out[i + s] = p
            nctx = min(m + 1, order - 1)
            for j in range(nctx):
                ctx[j] = nxt[j]


@njit(**_JIT)
def find_gram(gram, trie, lev):
    """Entry of the n-gram `gram` (trie token ids) in level len(gram), or -1.

    Walks the gram as the scorer walks a sentence: after token t, the entries of the
    suffixes of gram[:t + 1] (a remapped id needs the suffix one level down)."""
    n = gram.shape[0]
    prev = np.full(n + 1, -1, dtype=np.int64)  # prev[j]: entry of the j-gram ending at t - 1
    cur = np.full(n + 1, -1, dtype=np.int64)
    for t in range(n):
        cur[:] = -1
        cur[1] = np.int64(gram[t])
        x = cur[1]
        for j in range(1, t + 1):
            if prev[j] < 0:
                break
            e, start = find_child(trie, lev, j + 1, prev[j], x)
            if e < 0:
                break
            cur[j + 1] = e
            x = e - start
        prev[:] = cur
    return prev[n]
