"""N-gram kernels: pack document n-grams into sortable keys, sort and run-length them, merge
sorted runs, cut the merged stream into trie levels, and look n-grams up in an encoded trie.

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

Trie lookups reuse the block codec (`cooc.kernels.codec`): a level's encoded "rows" are chunks
of 2**shift consecutive trie rows; an entry (trie row r, next token t) is stored as the id
(r mod 2**shift) * V + t, strictly increasing along the chunk (see `cooc.ngram.writer`).
"""

import numpy as np
from numba import njit
from numba.cpython.unsafe.numbers import trailing_zeros

from cooc.kernels.codec import (
    COUNT_HEADER_BITS,
    ID_HEADER_BITS,
    PACKED_CODES,
    _decode_block,
    _find_in_block,
    _get,
    _popcount,
    last_block_le,
)
from cooc.kernels.intrinsics import prefetch

_JIT = dict(cache=True, nogil=True)
BLOCK = 128  # entries per codec block (the index's block size)


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
    an empty array means every count is 1)."""
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
    out_k = np.empty((n, nw), dtype=np.uint64)
    out_c = np.zeros(n, dtype=np.uint64)
    m = -1
    for i in range(n):
        c = np.uint64(1) if ones else counts[perm[i]]
        if m >= 0 and _key_equal(skeys, i, out_k, m):
            out_c[m] += c
        else:
            m += 1
            for w in range(nw):
                out_k[m, w] = skeys[i, w]
            out_c[m] = c
    return out_k[: m + 1].copy(), out_c[: m + 1].copy()


@njit(**_JIT)
def merge_two(ak, ac, bk, bc):
    """Merge two sorted distinct runs, summing the counts of equal keys."""
    na = ak.shape[0]
    nb = bk.shape[0]
    nw = ak.shape[1]
    ok = np.empty((na + nb, nw), dtype=np.uint64)
    oc = np.empty(na + nb, dtype=np.uint64)
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
    return ok[:m].copy(), oc[:m].copy()


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
def level_keys(rows, toks, shift, vocab):
    """Codec ids of level entries: (row mod 2**shift) * vocab + token, as uint32."""
    n = rows.shape[0]
    out = np.empty(n, dtype=np.uint32)
    mask = (np.int64(1) << shift) - 1
    for i in range(n):
        out[i] = (rows[i] & mask) * vocab + np.int64(toks[i])
    return out


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


# ---------------------------------------------------------------------------------------------
# lookups in the encoded trie


@njit(**_JIT)
def _find_sparse(words, pos, n1, lw, hz, x):
    """`codec._find_in_block` for blocks with lw >= _JUMP_LW: entry i can hold x only if
    y_i = x - 1 - i, whose high part is in [(x - n1) >> lw, (x - 1) >> lw] (one or two
    buckets), so the search starts at the first entry of bucket (x - n1) >> lw, found by
    counting zeros of the high part, instead of walking its words bit by bit."""
    hi = pos + n1 * lw
    end = hi + n1 + hz
    last = words.shape[0] - 1
    x_last = ((hz << lw) | _get(words, pos + (n1 - 1) * lw, lw)) + n1
    if x > x_last:
        return np.int64(-1)
    if x == x_last:
        return n1 - 1
    hl = max(np.int64(0), x - n1) >> lw
    i = np.int64(0)
    p = hi - 1
    if hl > 0:  # zero number hl - 1 of the high part ends the buckets below hl
        j = hl - 1
        wi = hi >> 6
        w = ~words[min(wi, last)] & ~((_ONE << np.uint64(hi & 63)) - _ONE)
        while True:
            c = np.int64(_popcount(w))
            if j < c:
                break
            j -= c
            wi += 1
            if wi << 6 >= end:
                return np.int64(-1)
            w = ~words[min(wi, last)]
        p = (wi << 6) + select_in_word(w, j)
        if p >= end:
            return np.int64(-1)
        i = p - hi - (hl - 1)
    while i < n1:
        q = p + 1  # the next 1 bit: entry i
        wi = q >> 6
        w = words[min(wi, last)] & ~((_ONE << np.uint64(q & 63)) - _ONE)
        while w == 0:
            wi += 1
            if wi << 6 >= end:
                return np.int64(-1)
            w = words[min(wi, last)]
        p = (wi << 6) + np.int64(trailing_zeros(w))
        if p >= end:
            return np.int64(-1)
        xi = (((p - hi - i) << lw) | _get(words, pos + i * lw, lw)) + i + 1
        if xi >= x:
            return i if xi == x else np.int64(-1)
        i += 1
    return np.int64(-1)


_JUMP_LW = 7  # 2**lw >= 128 entries: the candidates of x span at most two high buckets


@njit(**_JIT)
def _block_index(words, pos, n, first, x):
    """Index (0-based) of id x in the block at bit `pos` with n entries, or -1."""
    if x == first:
        return np.int64(0)
    if n == 1:
        return np.int64(-1)
    lw = _get(words, pos, 5)
    hz = _get(words, pos + 5, 8)
    p = pos + ID_HEADER_BITS + COUNT_HEADER_BITS
    if lw >= _JUMP_LW and hz > 0:
        j = _find_sparse(words, p, n - 1, lw, hz, x - first)
    else:
        j = _find_in_block(words, p, n - 1, lw, hz, x - first)
    return j + 1 if j >= 0 else np.int64(-1)


def _byte_select_table() -> np.ndarray:
    t = np.zeros(256 * 8, np.uint8)
    for b in range(256):
        ones = [i for i in range(8) if b >> i & 1]
        for j, i in enumerate(ones):
            t[b * 8 + j] = i
    return t


_BYTE_SELECT = _byte_select_table()  # [byte * 8 + j]: position of the byte's j-th 1 bit
_ONE = np.uint64(1)
_L8 = np.uint64(0x0101010101010101)


@njit(**_JIT)
def select_in_word(x, j):
    """Position of the j-th (0-based, j < popcount(x)) 1 bit of the uint64 x: byte counts
    by SWAR and their prefix sums by one multiplication, then a table for the byte (a loop
    clearing j low bits costs up to 63 steps)."""
    s = x - ((x >> _ONE) & np.uint64(0x5555555555555555))
    s = (s & np.uint64(0x3333333333333333)) + ((s >> np.uint64(2)) & np.uint64(0x3333333333333333))
    s = (s + (s >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    c = s * _L8  # byte i: ones in bytes 0..i
    b = 0
    while b < 7 and np.int64((c >> np.uint64(8 * b)) & np.uint64(0xFF)) <= j:
        b += 1
    before = 0 if b == 0 else np.int64((c >> np.uint64(8 * b - 8)) & np.uint64(0xFF))
    byte = np.int64((x >> np.uint64(8 * b)) & np.uint64(0xFF))
    return 8 * b + np.int64(_BYTE_SELECT[byte * 8 + j - before])


@njit(**_JIT)
def _select_pair(words, pos, j):
    """Positions of the (j-1)-th (pos - 1 for j = 0) and j-th 1 bits at or after bit pos
    (-1 past the end of words)."""
    last = words.shape[0] - 1
    i = pos >> 6
    if i > last:
        return np.int64(-1), np.int64(-1)
    w = words[i] & ~((_ONE << np.uint64(pos & 63)) - _ONE)
    prev = pos - 1
    if j > 0:
        jj = j - 1
        while True:
            c = np.int64(_popcount(w))
            if jj < c:
                break
            jj -= c
            i += 1
            if i > last:
                return np.int64(-1), np.int64(-1)
            w = words[i]
        b = select_in_word(w, jj)
        prev = (i << 6) + b
        w &= ~((_ONE << np.uint64(b)) | ((_ONE << np.uint64(b)) - _ONE))
    while w == 0:
        i += 1
        if i > last:
            return np.int64(-1), np.int64(-1)
        w = words[i]
    return prev, (i << 6) + np.int64(trailing_zeros(w))


@njit(**_JIT)
def _block_count(words, pos, n, j):
    """Count of entry j of the block at bit `pos` with n entries."""
    lw = np.int64(0)
    hz = np.int64(0)
    if n > 1:
        lw = _get(words, pos, 5)
        hz = _get(words, pos + 5, 8)
        pos += ID_HEADER_BITS
    code = _get(words, pos, 6)
    pos += COUNT_HEADER_BITS
    n1 = n - 1
    pos += n1 * lw + (n1 + hz if hz > 0 else 0)
    if code < PACKED_CODES:
        return _get(words, pos + j * code, code) + 1
    k = code - PACKED_CODES
    prev, pj = _select_pair(words, pos + n * k, j)
    if pj < 0:
        return np.int64(0)
    return (((pj - prev - 1) << k) | _get(words, pos + j * k, k)) + 1


@njit(**_JIT)
def _child(node, tok, level, levels, ctab, skip, words, vocab):
    """(entry of (node, tok) in `level`, first block, entry's block, index in block) or
    entry -1. levels[level] = (chunk base, shift, chunks); ctab[slot] = (first entry, first
    block, first word) of every chunk slot: one cache line per chunk instead of three."""
    base = levels[level, 0]
    shift = levels[level, 1]
    c = node >> shift
    if c >= levels[level, 2]:
        return np.int64(-1), np.int64(0), np.int64(0)
    x = (node & ((np.int64(1) << shift) - 1)) * vocab + tok
    e0 = ctab[base + c, 0]
    n = ctab[base + c + 1, 0] - e0
    if n == 0:
        return np.int64(-1), np.int64(0), np.int64(0)
    b_lo = ctab[base + c, 1]
    lo = b_lo
    hi = b_lo + (n + BLOCK - 1) // BLOCK - 1
    if x < np.int64(skip[lo, 0]):
        return np.int64(-1), np.int64(0), np.int64(0)
    while lo < hi:  # last block whose first id <= x
        mid = (lo + hi + 1) >> 1
        if np.int64(skip[mid, 0]) <= x:
            lo = mid
        else:
            hi = mid - 1
    s = (lo - b_lo) * BLOCK
    bn = min(BLOCK, n - s)
    pos = (ctab[base + c, 2] << 6) + np.int64(skip[lo, 1])
    j = _block_index(words, pos, bn, np.int64(skip[lo, 0]), x)
    if j < 0:
        return np.int64(-1), np.int64(0), np.int64(0)
    return e0 + s + j, pos, bn * BLOCK + j  # (entry, block bit position, n * BLOCK + j)


_GROUP = 32  # lookups in flight: each stage touches the group's memory with independent loads


@njit(**_JIT)
def _prefetch_bits(words, a, b):
    """Prefetch the cache lines of words holding bits [a, b)."""
    last = words.shape[0] - 1
    for w in range(a >> 6, ((b - 1) >> 6) + 1, 8):
        prefetch(words, min(w, last))
    prefetch(words, min((b - 1) >> 6, last))


@njit(**_JIT)
def lookup_many(grams, lens, unigrams, levels, ctab, skip, words, vocab):
    """Count of every n-gram grams[q, :lens[q]] (ids already < vocab), 0 where absent.

    Lookups go in groups of 32, level by level and stage by stage; each stage prefetches
    what the next one reads for the whole group (chunk slot -> skip entries -> block header
    and low bits -> high bits -> counts), so the group's cache misses overlap instead of
    queueing. A lookup whose first j + 1 tokens are the previous lookup's (same group)
    copies its level-j node instead of searching: sorted batches skip most of the work
    (see the performance notes of `cooc.ngram.reader`).
    """
    m = grams.shape[0]
    out = np.zeros(m, dtype=np.uint64)
    cflat = ctab.reshape(-1)
    sflat = skip.reshape(-1)
    node = np.empty(_GROUP, dtype=np.int64)
    x = np.empty(_GROUP, dtype=np.int64)
    e0 = np.empty(_GROUP, dtype=np.int64)
    n = np.empty(_GROUP, dtype=np.int64)
    blo = np.empty(_GROUP, dtype=np.int64)
    lo = np.empty(_GROUP, dtype=np.int64)
    hi = np.empty(_GROUP, dtype=np.int64)
    pos = np.empty(_GROUP, dtype=np.int64)
    bn = np.empty(_GROUP, dtype=np.int64)
    jj = np.empty(_GROUP, dtype=np.int64)
    slot = np.empty(_GROUP, dtype=np.int64)
    share = np.zeros(_GROUP, dtype=np.int64)
    for g0 in range(0, m, _GROUP):
        gn = min(_GROUP, m - g0)
        kmax = 0
        for i in range(gn):
            t0 = np.int64(grams[g0 + i, 0])
            node[i] = t0 if unigrams[t0] > 0 else -1
            kmax = max(kmax, lens[g0 + i])
            share[i] = 0  # leading tokens shared with lookup i - 1 (which has them all)
            if i > 0:
                lim = min(lens[g0 + i], lens[g0 + i - 1])
                while share[i] < lim and grams[g0 + i, share[i]] == grams[g0 + i - 1, share[i]]:
                    share[i] += 1
        for j in range(1, kmax):
            level = j + 1
            base = levels[level, 0]
            shift = levels[level, 1]
            mask = (np.int64(1) << shift) - 1
            for i in range(gn):  # chunk slots
                if node[i] < 0 or lens[g0 + i] <= j or share[i] > j:
                    hi[i] = -1
                    continue
                c = node[i] >> shift
                if c >= levels[level, 2]:
                    hi[i] = -1
                    node[i] = -1
                    continue
                x[i] = (node[i] & mask) * vocab + np.int64(grams[g0 + i, j])
                slot[i] = base + c
                hi[i] = 0
                prefetch(cflat, 3 * (base + c))
                prefetch(cflat, 3 * (base + c) + 5)
            for i in range(gn):
                if hi[i] < 0:
                    continue
                e0[i] = ctab[slot[i], 0]
                n[i] = ctab[slot[i] + 1, 0] - e0[i]
                blo[i] = ctab[slot[i], 1]
                pos[i] = ctab[slot[i], 2] << 6
                lo[i] = blo[i]
                hi[i] = blo[i] + (n[i] + BLOCK - 1) // BLOCK - 1
                prefetch(sflat, 2 * blo[i])
                prefetch(sflat, 2 * hi[i])
            for i in range(gn):
                if hi[i] >= 0 and (n[i] == 0 or x[i] < np.int64(skip[lo[i], 0])):
                    hi[i] = -1
                    node[i] = -1
            last_block_le(skip, lo, hi, x, gn)  # last block whose first id <= x
            for i in range(gn):  # block headers and low bits
                if hi[i] >= 0:
                    pos[i] += np.int64(skip[lo[i], 1])
                    s = (lo[i] - blo[i]) * BLOCK
                    bn[i] = min(BLOCK, n[i] - s)
                    prefetch(words, min(pos[i] >> 6, words.shape[0] - 1))
            for i in range(gn):  # the rest of the ids: low bits, high bits
                if hi[i] >= 0 and bn[i] > 1 and np.int64(skip[lo[i], 0]) != x[i]:
                    lw = _get(words, pos[i], 5)
                    hz = _get(words, pos[i] + 5, 8)
                    b = pos[i] + ID_HEADER_BITS + COUNT_HEADER_BITS
                    _prefetch_bits(words, b, b + (bn[i] - 1) * (lw + 1) + hz)
            for i in range(gn):
                if hi[i] < 0:
                    continue
                s = (lo[i] - blo[i]) * BLOCK
                r = _block_index(words, pos[i], bn[i], np.int64(skip[lo[i], 0]), x[i])
                if r < 0:
                    node[i] = -1
                else:
                    node[i] = e0[i] + s + r
                    jj[i] = r
            for i in range(1, gn):  # the same j + 1 tokens as the lookup before: its node
                if share[i] > j and lens[g0 + i] > j:
                    node[i] = node[i - 1]
                    pos[i] = pos[i - 1]
                    bn[i] = bn[i - 1]
                    jj[i] = jj[i - 1]
        for i in range(gn):  # the counts of the last level's blocks
            if node[i] >= 0 and lens[g0 + i] > 1:
                p = pos[i]
                lw = np.int64(0)
                hz = np.int64(0)
                if bn[i] > 1:
                    lw = _get(words, p, 5)
                    hz = _get(words, p + 5, 8)
                    p += ID_HEADER_BITS
                p += COUNT_HEADER_BITS + (bn[i] - 1) * lw + (bn[i] - 1 + hz if hz > 0 else 0)
                prefetch(words, min(p >> 6, words.shape[0] - 1))
        for i in range(gn):
            if node[i] < 0:
                continue
            k = lens[g0 + i]
            if k == 1:
                out[g0 + i] = unigrams[node[i]]
            elif i > 0 and share[i] == k and lens[g0 + i - 1] == k:
                out[g0 + i] = out[g0 + i - 1]  # the same n-gram as the lookup before
            else:
                out[g0 + i] = _block_count(words, pos[i], bn[i], jj[i])
    return out


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


@njit(**_JIT)
def find_node(gram, unigrams, levels, ctab, skip, words, vocab):
    """Trie node (entry index in level len(gram); the token id for level 1) or -1."""
    t0 = np.int64(gram[0])
    if unigrams[t0] == 0:
        return np.int64(-1)
    node = t0
    for j in range(1, gram.shape[0]):
        node, _, _ = _child(node, np.int64(gram[j]), j + 1, levels, ctab, skip, words, vocab)
        if node < 0:
            return np.int64(-1)
    return node


@njit(**_JIT)
def decode_chunks(c_lo, c_hi, base, ctab, skip, words, rank_limit):
    """Ids and counts (uint32, uint64) of the chunks [c_lo, c_hi) of a level (absolute chunk
    slots base + c); bad >= 0 names the first chunk whose blocks do not decode."""
    e_lo = ctab[base + c_lo, 0]
    n = ctab[base + c_hi, 0] - e_lo
    ids = np.empty(n, dtype=np.int64)
    cnt = np.empty(n, dtype=np.int64)
    bad = np.int64(-1)
    for c in range(c_lo, c_hi):
        s = ctab[base + c, 0]
        e = ctab[base + c + 1, 0]
        rbase = ctab[base + c, 2] << 6
        limit = ctab[base + c + 1, 2] << 6
        b = ctab[base + c, 1]
        while s < e:
            bn = min(BLOCK, e - s)
            end = _decode_block(words, rbase + np.int64(skip[b, 1]), bn, np.int64(skip[b, 0]),
                                ids, cnt, s - e_lo, limit, rank_limit)
            if end < 0 and bad < 0:
                bad = c
            s += bn
            b += 1
    return ids, cnt, bad


@njit(**_JIT)
def row_entries(node, level, levels, ctab, skip, words, vocab):
    """(tokens int64[], counts int64[]) of trie row `node` in `level` (its continuations)."""
    base = levels[level, 0]
    shift = levels[level, 1]
    c = node >> shift
    empty = np.zeros(0, dtype=np.int64)
    if c >= levels[level, 2]:
        return empty, empty.copy()
    lo_x = (node & ((np.int64(1) << shift) - 1)) * vocab
    hi_x = lo_x + vocab
    e0 = ctab[base + c, 0]
    n = ctab[base + c + 1, 0] - e0
    if n == 0:
        return empty, empty.copy()
    b_lo = ctab[base + c, 1]
    nb = (n + BLOCK - 1) // BLOCK
    lo = b_lo
    hi = b_lo + nb - 1
    while lo < hi:  # last block whose first id <= lo_x (or the first block)
        mid = (lo + hi + 1) >> 1
        if np.int64(skip[mid, 0]) <= lo_x:
            lo = mid
        else:
            hi = mid - 1
    ids = np.empty(BLOCK, dtype=np.int64)
    cnt = np.empty(BLOCK, dtype=np.int64)
    out_t = np.empty(16, dtype=np.int64)
    out_c = np.empty(16, dtype=np.int64)
    m = 0
    rbase = ctab[base + c, 2] << 6
    limit = ctab[base + c + 1, 2] << 6
    for b in range(lo, b_lo + nb):
        if np.int64(skip[b, 0]) >= hi_x:
            break
        bn = min(BLOCK, n - (b - b_lo) * BLOCK)
        _decode_block(words, rbase + np.int64(skip[b, 1]), bn, np.int64(skip[b, 0]), ids, cnt,
                      0, limit, np.int64(1) << 62)
        for i in range(bn):
            if lo_x <= ids[i] < hi_x:
                if m == out_t.shape[0]:
                    out_t = np.concatenate((out_t, np.empty(m, dtype=np.int64)))
                    out_c = np.concatenate((out_c, np.empty(m, dtype=np.int64)))
                out_t[m] = ids[i] - lo_x
                out_c[m] = cnt[i]
                m += 1
    return out_t[:m].copy(), out_c[:m].copy()
