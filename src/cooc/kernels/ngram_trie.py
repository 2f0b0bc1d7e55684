"""The n-gram count trie (`cooc.ngram.writer` documents the files): building its levels
from sorted (row, token) streams, and reading it: batched lookups, nodes, continuations and
whole levels.

Levels. Level 1 is the token ids (a 1-gram's node is its token id; the observed ones are an
Elias-Fano sequence, their counts a count code). Level k >= 2 holds the distinct k-grams in
lexicographic order of their token ids, as two Elias-Fano sequences (`cooc.kernels.
elias_fano`): its rows are level k - 1's nodes (token ids for k = 2); ptr holds the row
starts, val the per-row prefix-summed ids. The id of a 2-gram is its last token id; the id
of a k-gram g_0..g_{k-1}, k >= 3, is *context remapped* (Tongrams): the position of its
suffix g_1..g_{k-1} in its row of level k - 1 (the row of the middle g_1..g_{k-2}), i.e. the
rank of g_{k-1} among the continuations of g_1..g_{k-2}. Rows hold tokens in increasing
order, so ranks increase along a row as the tokens do and the trie keeps the lexicographic
order. Each level's counts are a count code (`cooc.kernels.succinct.count_code`) in entry order.

A lookup finds the nodes E[i, t] of every substring g_i..g_t, shortest first for each end
t: the id of g_t below g_i..g_{t-1} is the position of E[i + 1, t] in its row, known from
the search one level down. An n-gram costs n (n - 1) / 2 searches (3 for a 3-gram, 10 for a
5-gram), each a row in two Elias-Fano sequences; a present n-gram has every substring, so
the first miss ends it. Reading a level back follows the same remapping downwards: an
entry's suffix is (row start of its parent's suffix) + its id, and its last token is its
suffix's (`level_entries`).

Level table (int64[order + 1, LEVEL_FIELDS]): columns PTR and VAL (seven each, see
`cooc.kernels.succinct.elias_fano`; for level 1 the VAL columns describe the observed token ids),
CREC (first uint32 of the level's count records), NGRAMS (its n-grams), TABLES and
TABLES + 1 (how many tables of positions ptr and val have; they follow all sequences).
"""

import numpy as np
from numba import njit

from cooc.kernels.intrinsics import prefetch
from cooc.kernels.succinct import count_code as cc
from cooc.kernels.succinct.elias_fano import (
    EF_FIELDS,
    PTR,
    VAL,
    ef_access,
    ef_decode,
    ef_low,
    ef_next1,
    ef_select1,
    find_in_row,
    row_of,
)

_JIT = dict(cache=True, nogil=True)
CREC = 2 * EF_FIELDS
NGRAMS = CREC + 1
TABLES = NGRAMS + 1  # tables of positions (`cooc.kernels.succinct.elias_fano`) of ptr, then of val
LEVEL_FIELDS = TABLES + 2

# problems found by `remap_part` (0: none)
OK = 0
ROW_RANGE = 1  # a row is not a node of the level below
ROWS_DECREASE = 2
TOKENS_NOT_INCREASING = 3  # within a row
TOKEN_RANGE = 4
NO_SUFFIX = 5  # the (k-1)-suffix of a k-gram is not in level k - 1
NOT_UNIGRAM = 6  # a 2-gram's first or last token has no unigram count


# ---------------------------------------------------------------------------------------------
# building

_AHEAD = 16  # entries ahead whose rows below are prefetched (random reads of level k - 1)


@njit(**_JIT)
def remap_part(rows, toks, e0, k, vocab, nrows, uni, prev_ptr, prev_toks, prev_suffix, state,
               ptr_out, val_out, suffix_out):
    """Ids and values of the entries e0, e0 + 1, ... of level k (rows non-decreasing, tokens
    increasing along a row), streamed part by part.

    nrows: rows of the level (n_{k-1}; V for k = 2). For k >= 3: prev_ptr (row starts of
    level k - 1), prev_toks (its tokens), prev_suffix (the node of each level k - 1 entry's
    suffix in level k - 2). uni: unigram counts (k = 2 checks both tokens have one).
    state (int64[6], zeros at the start): the next row whose start is not written, the base
    of the current row, the current row (-1 before the first), the last value, the last
    token, the search cursor in level k - 1.
    Writes ptr_out[:np] (the next row starts), val_out (values), suffix_out (the node of each
    entry's suffix in level k - 1: its last token for k = 2). Returns (np, problem, entry).
    """
    m = rows.shape[0]
    npt = 0
    nprev = prev_suffix.shape[0]
    for i in range(m):
        e = e0 + i
        if k >= 3 and i + _AHEAD < m:  # the rows below of later entries: misses overlap
            r2 = rows[i + _AHEAD]
            if 0 <= r2 < nprev:
                prefetch(prev_ptr, prev_suffix[r2])
            r2 = rows[i + _AHEAD // 2]
            if 0 <= r2 < nprev and 0 <= prev_suffix[r2] < prev_ptr.shape[0]:
                prefetch(prev_toks, min(prev_ptr[prev_suffix[r2]], prev_toks.shape[0] - 1))
        r = np.int64(rows[i])
        w = np.int64(toks[i])
        if r < 0 or r >= nrows:
            return npt, ROW_RANGE, e
        if w < 0 or w >= vocab:
            return npt, TOKEN_RANGE, e
        if r < state[2]:
            return npt, ROWS_DECREASE, e
        if r == state[2]:
            if w <= state[4]:
                return npt, TOKENS_NOT_INCREASING, e
        else:
            while state[0] <= r:
                ptr_out[npt] = e
                npt += 1
                state[0] += 1
            state[1] = state[3]
            state[2] = r
            if k >= 3:
                state[5] = prev_ptr[prev_suffix[r]]
        if k == 2:
            if uni[r] == 0 or uni[w] == 0:
                return npt, NOT_UNIGRAM, e
            x = w
            suffix_out[i] = w
        else:
            sr = prev_suffix[r]
            lo = state[5]
            hi = prev_ptr[sr + 1]
            if lo < hi and np.int64(prev_toks[lo]) < w:  # gallop, then binary search
                s = np.int64(1)
                while lo + s < hi and np.int64(prev_toks[lo + s]) < w:
                    lo += s
                    s <<= 1
                top = min(lo + s, hi)
                lo += 1
                while lo < top:
                    mid = (lo + top) >> 1
                    if np.int64(prev_toks[mid]) < w:
                        lo = mid + 1
                    else:
                        top = mid
            if lo >= hi or np.int64(prev_toks[lo]) != w:
                return npt, NO_SUFFIX, e
            x = lo - prev_ptr[sr]
            suffix_out[i] = lo
            state[5] = lo + 1
        v = state[1] + x
        val_out[i] = v
        state[3] = v
        state[4] = w
    return npt, OK, np.int64(-1)


@njit(**_JIT)
def ptr_tail(state, nrows, n, ptr_out):
    """The starts of the rows after the last entry (all n), up to the end slot nrows."""
    npt = 0
    while state[0] <= nrows:
        ptr_out[npt] = n
        npt += 1
        state[0] += 1
    return npt


# ---------------------------------------------------------------------------------------------
# reading


@njit(**_JIT)
def _walk(g, q, n, t0, lev, trie, E, rc):
    """Fill columns t0..n-1 (t0 >= 1) of E for the n-gram g[q, :n]: E[i, t] is the node of
    g[q, i..t] in level t - i + 1 (E[t, t] the token). Columns below t0 must hold already.
    rc[i * order + t]: the row last searched for E[i, t] (row, then `row_of`'s a, b, base,
    q): consecutive lookups of a sorted batch often search the same row again. Returns the
    number of columns that hold: n when every substring is present."""
    order = E.shape[0]
    for t in range(t0, n):
        x = np.int64(g[q, t])
        E[t, t] = x
        for i in range(t - 1, -1, -1):
            k = t - i + 1
            row = E[i, t - 1]
            s = i * order + t
            if rc[s, 0] != row:
                a, b, base, p = row_of(trie, lev, k, row)
                rc[s, 0] = row
                rc[s, 1] = a
                rc[s, 2] = b
                rc[s, 3] = base
                rc[s, 4] = p
            a = rc[s, 1]
            b = rc[s, 2]
            if a >= b:
                return t
            e = find_in_row(trie, lev[k, VAL : VAL + EF_FIELDS], a, b, rc[s, 3], rc[s, 4], x)
            if e < 0:
                return t
            E[i, t] = e
            x = e - a  # the id of g[t] one level up: the rank of g[i..t] in its row
    return n


@njit(**_JIT)
def _count(lev, cwords, crecs, k, e):
    return np.uint64(cc.count_at(cwords, crecs, lev[k, CREC], lev[k, NGRAMS], e))


@njit(**_JIT)
def lookup_many(grams, lens, out, uni, lev, trie, cwords, crecs):
    """out[q] = the count of the n-gram grams[q, :lens[q]] (ids already < V; 0 where
    absent). (The caller scatters sorted batches back: a random store here costs 55 ns a
    lookup, numpy's scatter after it 3.)

    A lookup that shares its first s tokens with the one before keeps that lookup's nodes
    of the substrings within them (sorted batches share most: see the performance notes
    of `cooc.ngram.reader`); a shared absent substring makes it absent at once.
    """
    width = grams.shape[1]
    E = np.zeros((width, width), dtype=np.int64)
    rc = np.full((width * width, 5), -1, dtype=np.int64)
    cols = 0  # columns of E that hold for the lookup before
    c = np.uint64(0)  # the count of the lookup before
    for q in range(grams.shape[0]):
        n = lens[q]
        s = 0
        if q > 0:
            lim = min(n, lens[q - 1])
            while s < lim and grams[q, s] == grams[q - 1, s]:
                s += 1
        if s > cols:  # an absent substring of the shared prefix
            c = np.uint64(0)
        elif s == n and lens[q - 1] == n:  # (q > 0 here) the n-gram before: its count
            pass
        else:
            c = np.uint64(0)
            if s == 0:
                t = np.int64(grams[q, 0])
                E[0, 0] = t
                cols = 1 if uni[t] > 0 else 0
                s = 1
            if cols > 0:
                cols = _walk(grams, q, n, s, lev, trie, E, rc)
                if cols == n:
                    c = uni[E[0, 0]] if n == 1 else _count(lev, cwords, crecs, n, E[0, n - 1])
        out[q] = c


@njit(**_JIT)
def gather_rows(grams, lens, order):
    """(grams[order], lens[order]): a numpy fancy index of rows costs 60 ns a row, this 5."""
    g = np.empty((order.shape[0], grams.shape[1]), dtype=grams.dtype)
    ln = np.empty(order.shape[0], dtype=lens.dtype)
    for j in range(order.shape[0]):
        q = order[j]
        ln[j] = lens[q]
        for i in range(grams.shape[1]):
            g[j, i] = grams[q, i]
    return g, ln


@njit(**_JIT)
def find_node(gram, uni, lev, trie):
    """Node of the n-gram `gram` (its entry in level len(gram); the token id for one
    token), or -1."""
    n = gram.shape[0]
    g = gram.reshape((1, n))
    E = np.zeros((n, n), dtype=np.int64)
    E[0, 0] = np.int64(gram[0])
    if uni[E[0, 0]] == 0:
        return np.int64(-1)
    if _walk(g, 0, n, 1, lev, trie, E, np.full((n * n, 5), -1, dtype=np.int64)) < n:
        return np.int64(-1)
    return E[0, n - 1]


@njit(**_JIT)
def _row_bounds(trie, lev, k, row):
    """[a, b) of row `row` of level k (a = b = 0 when damaged)."""
    ptr = lev[k, PTR : PTR + EF_FIELDS]
    p = ef_select1(trie, ptr, row)
    if p < 0:
        return np.int64(0), np.int64(0)
    a = ((p - row) << ptr[1]) | ef_low(trie, ptr, row)
    p = ef_next1(trie, ptr, p)
    if p < 0:
        return np.int64(0), np.int64(0)
    return a, ((p - row - 1) << ptr[1]) | ef_low(trie, ptr, row + 1)


@njit(**_JIT)
def _ids(trie, lev, k, a, b, row_start, out):
    """Ids of the entries a..b-1 of level k, which lie in the row starting at row_start
    (increasing; one select then scans)."""
    val = lev[k, VAL : VAL + EF_FIELDS]
    base = ef_access(trie, val, row_start - 1) if row_start > 0 else np.int64(0)
    if b <= a:
        return
    p = ef_select1(trie, val, a)
    out[0] = (((p - a) << val[1]) | ef_low(trie, val, a)) - base
    for i in range(a + 1, b):
        p = ef_next1(trie, val, p)
        out[i - a] = (((p - i) << val[1]) | ef_low(trie, val, i)) - base


@njit(**_JIT)
def children(ctx, uni, lev, trie, cwords, crecs):
    """(tokens int64[], counts int64[]) of the n-grams that continue the context `ctx`
    (1..order-1 token ids), tokens increasing.

    The children's ids are ranks in the row of the context's suffix one level down; a rank
    there is an entry whose own id is a rank one more level down, ..., down to level 2,
    whose ids are tokens."""
    m = ctx.shape[0]
    empty = np.zeros(0, dtype=np.int64)
    g = ctx.reshape((1, m))
    E = np.zeros((m, m), dtype=np.int64)
    E[0, 0] = np.int64(ctx[0])
    if uni[E[0, 0]] == 0 or _walk(g, 0, m, 1, lev, trie, E,
                                   np.full((m * m, 5), -1, dtype=np.int64)) < m:
        return empty, empty.copy()
    k = m + 1
    if E[0, m - 1] + 1 >= lev[k, PTR]:
        return empty, empty.copy()
    a, b = _row_bounds(trie, lev, k, E[0, m - 1])
    if b <= a:
        return empty, empty.copy()
    ids = np.empty(b - a, dtype=np.int64)
    _ids(trie, lev, k, a, b, a, ids)
    one = np.empty(1, dtype=np.int64)
    for level in range(m, 1, -1):  # ranks in the row of ctx[m - level + 1:] in `level`
        r0, _ = _row_bounds(trie, lev, level, E[m - level + 1, m - 1])
        for j in range(ids.shape[0]):
            f = r0 + ids[j]
            _ids(trie, lev, level, f, f + 1, r0, one)
            ids[j] = one[0]
    cnt = np.empty(b - a, dtype=np.int64)
    cc.decode(cwords, crecs, lev[k, CREC], lev[k, NGRAMS], a, b, cnt)
    return ids, cnt


@njit(**_JIT)
def level_entries(trie, lev, k, prev_ptr, prev_suffix, prev_last):
    """(rows, tokens, suffixes, row starts, ok) of every entry of level k >= 2, in order:
    rows are level k - 1 nodes, suffixes the node of each entry's suffix in level k - 1.
    prev_*: level k - 1's row starts, suffixes and last tokens (unused for k = 2)."""
    ptr, ok1 = ef_decode(trie, lev[k, PTR : PTR + EF_FIELDS])
    val, ok2 = ef_decode(trie, lev[k, VAL : VAL + EF_FIELDS])
    n = val.shape[0]
    nrows = ptr.shape[0] - 1
    rows = np.empty(n, dtype=np.int64)
    toks = np.empty(n, dtype=np.int64)
    suffix = np.empty(n, dtype=np.int64)
    ok = ok1 and ok2 and nrows >= 0 and (nrows == 0 or (ptr[0] == 0 and ptr[nrows] == n))
    if not ok:
        return rows, toks, suffix, ptr, False
    base = np.int64(0)
    for r in range(nrows):
        a = ptr[r]
        b = ptr[r + 1]
        if b < a or b > n:
            return rows, toks, suffix, ptr, False
        if k >= 3 and r + _AHEAD < nrows:  # the rows below of later rows: misses overlap
            prefetch(prev_ptr, prev_suffix[r + _AHEAD])
            s = prev_suffix[r + _AHEAD // 2]
            if 0 <= s < prev_ptr.shape[0]:
                prefetch(prev_last, min(max(prev_ptr[s], 0), prev_last.shape[0] - 1))
        for i in range(a, b):
            x = val[i] - base
            rows[i] = r
            if k == 2:
                if x < 0 or x >= nrows:  # a token id (rows of level 2 are the V tokens)
                    return rows, toks, suffix, ptr, False
                suffix[i] = x
                toks[i] = x
            else:
                s = prev_ptr[prev_suffix[r]] + x
                if x < 0 or s >= prev_ptr[prev_suffix[r] + 1]:
                    return rows, toks, suffix, ptr, False
                suffix[i] = s
                toks[i] = prev_last[s]
        if b > a:
            base = val[b - 1]
    return rows, toks, suffix, ptr, True


_RADIX = 11  # bits per LSD radix pass: 2048 counters stay in L1


@njit(**_JIT)
def batch_order(grams, lens, bits):
    """A permutation that sorts the lookups grams[q, :lens[q]] by their first tokens (as many
    as fit 63 bits, `bits` each, ids + 1, 0 past the end): lexicographic on those tokens, so
    lookups sharing a prefix become neighbours (`lookup_many` then copies their nodes). LSD
    radix sort, stable."""
    m = grams.shape[0]
    ntok = min(grams.shape[1], 63 // bits)
    keys = np.zeros(m, dtype=np.uint64)
    for q in range(m):
        k = np.uint64(0)
        for j in range(ntok):
            t = np.uint64(grams[q, j] + 1) if j < lens[q] else np.uint64(0)
            k = (k << np.uint64(bits)) | t
        keys[q] = k
    perm = np.arange(m)
    tmp = np.empty(m, dtype=np.int64)
    tkeys = np.empty(m, dtype=np.uint64)
    nb = 1 << _RADIX
    cnt = np.empty(nb + 1, dtype=np.int64)
    mask = np.uint64(nb - 1)
    for sh in range(0, ntok * bits, _RADIX):
        ush = np.uint64(sh)
        cnt[:] = 0
        for q in range(m):
            cnt[((keys[q] >> ush) & mask) + 1] += 1
        if cnt.max() == m:
            continue  # one digit value: the pass would change nothing
        for d in range(nb):
            cnt[d + 1] += cnt[d]
        for q in range(m):
            d = (keys[q] >> ush) & mask
            o = cnt[d]
            cnt[d] = o + 1
            tkeys[o] = keys[q]
            tmp[o] = perm[q]
        keys, tkeys = tkeys, keys
        perm, tmp = tmp, perm
    return perm
