"""N-gram counting kernels: pack document n-grams into sortable keys, sort and run-length
them, merge sorted runs, and cut the merged stream into trie levels (the trie itself:
`cooc.kernels.ngram_trie`).

Keys. A token id t is stored as t + 1 in `bits = bitlen(V)` bits (0 = "past the end of the
document"); `per_word = 64 // bits` tokens go into each uint64 word, the first token in the
most significant bits, so comparing keys word by word, as unsigned integers, is comparing the
token sequences lexicographically with "ended" smaller than every token. A key of `order`
tokens takes `nwords = ceil(order / per_word)` words (Qwen, 18 bits: 3 tokens a word; orders
1-3 one word, 4-6 two, 7-8 three).

Every position i of a document gives one key: the tokens [i, i + order) cut at the
document's end. Sorted, the keys of every order-k prefix are contiguous, so one sorted,
run-length encoded stream of these padded keys holds the counts of every order 1..order:
the count of a k-gram is the sum of the counts of the keys that start with it and hold at
least k tokens (`split_levels`).
"""

import numpy as np
from numba import njit

_JIT = dict(cache=True, nogil=True)


@njit(**_JIT)
def _key_token(keys, i, j, bits, per_word):
    """Token j (stored value: id + 1, 0 past the end) of key i."""
    w = keys[i, j // per_word]
    sh = (per_word - 1 - j % per_word) * bits
    return np.int64((w >> np.uint64(sh)) & np.uint64((1 << bits) - 1))


@njit(**_JIT)
def pack_grams(tokens, doc_lens, order, bits, per_word, nwords, bos, eos):
    """Padded `order`-gram keys uint64[n, nwords] of every position of every document.

    bos/eos: marker ids put before/after every document, or -1 for none. Documents never
    share a key: a key stops at its document's end (padded with 0).
    """
    extra = (1 if bos >= 0 else 0) + (1 if eos >= 0 else 0)
    ndocs = doc_lens.shape[0]
    n = np.int64(0)
    for d in range(ndocs):
        n += doc_lens[d] + extra
    keys = np.zeros((n, nwords), dtype=np.uint64)
    buf = np.empty(0, dtype=np.int64)
    start = np.int64(0)
    k = np.int64(0)
    for d in range(ndocs):
        m = doc_lens[d] + extra
        if buf.shape[0] < m:
            buf = np.empty(max(m, 2 * buf.shape[0]), dtype=np.int64)
        o = 0
        if bos >= 0:
            buf[0] = bos
            o = 1
        for i in range(doc_lens[d]):
            buf[o + i] = np.int64(tokens[start + i])
        if eos >= 0:
            buf[m - 1] = eos
        start += doc_lens[d]
        for i in range(m):
            for j in range(min(order, m - i)):
                sh = (per_word - 1 - j % per_word) * bits
                keys[k, j // per_word] |= np.uint64(buf[i + j] + 1) << np.uint64(sh)
            k += 1
    return keys


@njit(**_JIT)
def pack_span(tokens, start, stop, order, bits, per_word, nwords, bos, eos):
    """`pack_grams`' keys of positions [start, stop) of one document `tokens` (positions of
    the document with its markers: with bos, position 0 is <s>): a document too long for
    one batch is packed span by span, with the same keys.
    """
    o = 1 if bos >= 0 else 0
    n = tokens.shape[0]
    m = n + o + (1 if eos >= 0 else 0)
    keys = np.zeros((stop - start, nwords), dtype=np.uint64)
    for i in range(start, stop):
        for j in range(min(order, m - i)):
            q = i + j - o
            v = bos if q < 0 else (np.int64(tokens[q]) if q < n else eos)
            sh = (per_word - 1 - j % per_word) * bits
            keys[i - start, j // per_word] |= np.uint64(v + 1) << np.uint64(sh)
    return keys


@njit(**_JIT)
def _key_less(a, i, b, j):
    """keys a[i] < b[j], lexicographically over the words."""
    for w in range(a.shape[1]):
        if a[i, w] != b[j, w]:
            return a[i, w] < b[j, w]
    return False


@njit(**_JIT)
def _key_equal(a, i, b, j):
    for w in range(a.shape[1]):
        if a[i, w] != b[j, w]:
            return False
    return True


@njit(**_JIT)
def _argsort_keys(keys):
    """Stable lexicographic argsort of the rows of keys (LSD: one stable sort per word)."""
    n, nw = keys.shape
    perm = np.arange(n)
    for w in range(nw - 1, -1, -1):
        col = np.empty(n, dtype=np.uint64)
        for i in range(n):
            col[i] = keys[perm[i], w]
        o = np.argsort(col, kind="mergesort")
        perm = perm[o]
    return perm


@njit(**_JIT)
def sort_count(keys, counts):
    """(distinct keys sorted, summed counts uint64) of keys [n, nwords] with counts (uint64[n];
    an empty array means every count is 1). The outputs are allocated at their exact size
    (distinct keys are counted first): no over-sized buffer and copy at the peak."""
    n, nw = keys.shape
    ones = counts.shape[0] == 0
    if nw == 1 and ones:
        col = np.sort(keys[:, 0])
        perm = np.arange(0)
        skeys = col.reshape((n, 1))
    else:
        perm = _argsort_keys(keys)
        skeys = np.empty((n, nw), dtype=np.uint64)
        for i in range(n):
            for w in range(nw):
                skeys[i, w] = keys[perm[i], w]
    m = 1 if n else 0
    for i in range(1, n):
        if not _key_equal(skeys, i, skeys, i - 1):
            m += 1
    out_k = np.empty((m, nw), dtype=np.uint64)
    out_c = np.zeros(m, dtype=np.uint64)
    j = -1
    for i in range(n):
        c = np.uint64(1) if ones else counts[perm[i]]
        if j >= 0 and _key_equal(skeys, i, out_k, j):
            out_c[j] += c
        else:
            j += 1
            for w in range(nw):
                out_k[j, w] = skeys[i, w]
            out_c[j] = c
    return out_k, out_c


@njit(**_JIT)
def merge_two(ak, ac, bk, bc):
    """Merge two sorted distinct runs, summing the counts of equal keys. The keys in both
    are counted first, so the output is allocated at its exact size (a merge of the
    largest runs would otherwise hold an over-sized buffer and its trimmed copy at once)."""
    na = ak.shape[0]
    nb = bk.shape[0]
    nw = ak.shape[1]
    both = 0
    i = j = 0
    while i < na and j < nb:
        if _key_less(ak, i, bk, j):
            i += 1
        elif _key_less(bk, j, ak, i):
            j += 1
        else:
            both += 1
            i += 1
            j += 1
    ok = np.empty((na + nb - both, nw), dtype=np.uint64)
    oc = np.empty(na + nb - both, dtype=np.uint64)
    i = j = m = 0
    while i < na or j < nb:
        if j >= nb or (i < na and _key_less(ak, i, bk, j)):
            ok[m] = ak[i]
            oc[m] = ac[i]
            i += 1
        elif i >= na or _key_less(bk, j, ak, i):
            ok[m] = bk[j]
            oc[m] = bc[j]
            j += 1
        else:
            ok[m] = ak[i]
            oc[m] = ac[i] + bc[j]
            i += 1
            j += 1
        m += 1
    return ok, oc


@njit(**_JIT)
def count_not_above(keys, bound, bi):
    """Number of leading keys (sorted) that are <= bound[bi]."""
    lo = 0
    hi = keys.shape[0]
    while lo < hi:
        mid = (lo + hi) >> 1
        if _key_less(bound, bi, keys, mid):
            hi = mid
        else:
            lo = mid + 1
    return lo


@njit(**_JIT)
def split_levels(keys, counts, order, bits, per_word, cur, cur_count, cur_parent, started,
                 unigrams, out_row, out_tok, out_cnt, out_n):
    """Cut a chunk of the sorted padded-key stream into the distinct k-grams, k = 2..order.

    State kept across chunks (all int64/uint64 [order + 1], index k = order k): cur[k] the
    stored token at position k - 1 of the current key (cur[0] unused), cur_count[k] the count
    of the current k-gram so far (0: none), cur_parent[k] its trie row, started[k] the
    k-grams started so far. Unigram counts are summed into `unigrams` (uint64[V]).
    A finished k-gram is appended to out_row/out_tok/out_cnt[k, out_n[k]] (trie row, token
    id, count); call with an empty chunk and `flush=True` semantics via `finish_levels`.
    """
    n = keys.shape[0]
    for i in range(n):
        c = counts[i]
        # first position where this key differs from the current one
        d = order
        for j in range(order):
            if _key_token(keys, i, j, bits, per_word) != cur[j + 1]:
                d = j
                break
        for k in range(d + 1, order + 1):  # orders whose k-prefix changed: finish, restart
            if cur_count[k] > 0:
                _emit(k, cur, cur_count, cur_parent, unigrams, out_row, out_tok, out_cnt, out_n)
            t = _key_token(keys, i, k - 1, bits, per_word)
            cur[k] = t
            if t > 0:
                cur_count[k] = c
                if k == 2:
                    cur_parent[k] = cur[1] - 1
                elif k > 2:
                    cur_parent[k] = started[k - 1] - 1
                started[k] += 1
            else:
                cur_count[k] = 0
        for k in range(1, d + 1):  # same k-prefix: the key holds the k-gram if token k-1 > 0
            if cur[k] > 0:
                cur_count[k] += c


@njit(**_JIT)
def _emit(k, cur, cur_count, cur_parent, unigrams, out_row, out_tok, out_cnt, out_n):
    if k == 1:
        unigrams[cur[1] - 1] += cur_count[1]
    else:
        m = out_n[k]
        out_row[k, m] = cur_parent[k]
        out_tok[k, m] = cur[k] - 1
        out_cnt[k, m] = cur_count[k]
        out_n[k] = m + 1
    cur_count[k] = 0


@njit(**_JIT)
def finish_levels(order, cur, cur_count, cur_parent, unigrams, out_row, out_tok, out_cnt, out_n):
    """Emit the k-grams still open at the end of the stream."""
    for k in range(1, order + 1):
        if cur_count[k] > 0:
            _emit(k, cur, cur_count, cur_parent, unigrams, out_row, out_tok, out_cnt, out_n)


@njit(**_JIT)
def parents_of(prefix_keys, level_keys_sorted):
    """For k-gram keys sorted (prefixes: the same keys cut to k-1 tokens, same order) the
    index of each prefix among the sorted distinct (k-1)-gram keys, or -1 if absent."""
    n = prefix_keys.shape[0]
    m = level_keys_sorted.shape[0]
    out = np.empty(n, dtype=np.int64)
    j = 0
    for i in range(n):
        while j < m and _key_less(level_keys_sorted, j, prefix_keys, i):
            j += 1
        out[i] = j if j < m and _key_equal(level_keys_sorted, j, prefix_keys, i) else -1
    return out
