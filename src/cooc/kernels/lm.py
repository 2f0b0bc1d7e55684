"""Backoff language model kernels: per-order hash tables keyed by (parent row, word), and the
batched scorer (KenLM `query` semantics).

Tables. Level 1 is dense (row = word id). A k-gram (k >= 2) is the key
parent * V + word + 1 (parent: its (k-1)-prefix's row in level k - 1) in an open-addressing
table (linear probing, 2**bits slots, at most half full, 0 = empty) whose value is the
k-gram's row; every level's slots are concatenated (`slot_base[k]`, `slot_bits[k]`) as are
the rows' log10 probs and backoffs (`row_base[k]`).

Scoring. The state after a word is the rows of the longest n-grams ending there, one per
length (ctx[j]: the (j+1)-gram). The next word w extends ctx[j] into a (j+2)-gram while the
tables hold it (suffix closure: a missing k-gram has no longer extension); with m found,
log10 p(w | h) = logprob(longest found) + sum of backoffs of the contexts longer than it —
the backoff recursion of KenLM's `FullScore`.
"""

import numpy as np
from numba import njit

_JIT = dict(cache=True, nogil=True)
_MUL = np.uint64(0x9E3779B97F4A7C15)


@njit(**_JIT)
def _slot(key, bits):
    return np.int64((np.uint64(key) * _MUL) >> np.uint64(64 - bits))


@njit(**_JIT)
def table_bits(n):
    """Slot bits for n keys: at most half full."""
    b = 1
    while (np.int64(1) << b) < 2 * n:
        b += 1
    return b


@njit(**_JIT)
def fill_table(keys, vals, bits, out_keys, out_vals):
    """Insert keys (int64 > 0, distinct) with values into a table of 2**bits slots."""
    mask = (np.int64(1) << bits) - 1
    for i in range(keys.shape[0]):
        s = _slot(keys[i], bits)
        while out_keys[s] != 0:
            s = (s + 1) & mask
        out_keys[s] = keys[i]
        out_vals[s] = vals[i]


@njit(**_JIT)
def _find(key, base, bits, tkeys, tvals):
    mask = (np.int64(1) << bits) - 1
    s = _slot(key, bits)
    while True:
        k = tkeys[base + s]
        if k == key:
            return np.int64(tvals[base + s])
        if k == 0:
            return np.int64(-1)
        s = (s + 1) & mask


@njit(**_JIT)
def score_sentences(words, sent_ptr, order, vocab, bos, eos, slot_base, slot_bits, tkeys,
                    tvals, row_base, logprob, backoff, out):
    """log10 p of every word of every sentence (words[sent_ptr[s]:sent_ptr[s+1]], model ids,
    OOVs already <unk>) after `<s>`, and of `</s>` after each sentence.

    out: float32[len(words) + sentences]; sentence s's scores are at
    out[sent_ptr[s] + s : sent_ptr[s + 1] + s + 1], `</s>` last. Returns nothing."""
    ctx = np.empty(order, dtype=np.int64)
    nxt = np.empty(order, dtype=np.int64)
    for s in range(sent_ptr.shape[0] - 1):
        a = sent_ptr[s]
        b = sent_ptr[s + 1]
        ctx[0] = bos
        nctx = 1
        for i in range(a, b + 1):
            w = np.int64(words[i]) if i < b else np.int64(eos)
            nxt[0] = w
            m = 0  # found extensions: the (m+1)-gram ending in w is the longest
            while m < nctx and m + 1 < order:
                k = m + 2
                r = _find(ctx[m] * vocab + w + 1, slot_base[k], slot_bits[k], tkeys, tvals)
                if r < 0:
                    break
                nxt[m + 1] = r
                m += 1
            p = np.float64(logprob[row_base[m + 1] + nxt[m]])
            for j in range(m, nctx):
                p += backoff[row_base[j + 1] + ctx[j]]
            out[i + s] = p
            nctx = min(m + 1, order - 1)
            for j in range(nctx):
                ctx[j] = nxt[j]


@njit(**_JIT)
def map_ids(ids, table, unk):
    """table[ids] with -1 -> unk (token ids of a tokenizer -> model ids)."""
    out = np.empty(ids.shape[0], dtype=np.int32)
    for i in range(ids.shape[0]):
        t = ids[i]
        v = table[t] if 0 <= t < table.shape[0] else -1
        out[i] = unk if v < 0 else v
    return out
