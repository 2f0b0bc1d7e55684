"""Compressed-trie backoff language model kernels: Elias-Fano sequences in one word array,
bit-packed quantized values, and the batched scorer (KenLM `query` semantics, as
`cooc.kernels.lm`).

Elias-Fano. A non-decreasing sequence v_0..v_{n-1} of values in [0, U] with
l = floor(log2(U / n)) low bits: the low bits of every value bit-packed (l bits each), the
high parts as a bit vector with bit (v_i >> l) + i set ((U >> l) + n + 1 bits), and a select
sample every 2**SAMPLE ones (the position of one number j << SAMPLE), and for `val`
sequences one every 2**SAMPLE zeros. Every part is a run of uint64 words inside one array
(`trie`); a sequence is described by seven int64 (`EF_FIELDS`): n, l, first word of the low
bits, of the high bits, of the one samples, bits of the high part, first word of the zero
samples (-1: none). access(i) = ((select1(i) - i) << l) | low(i); the next value after i is
one scan to the next 1 bit; the values whose high part is h are the ones numbered
select0(h - 1) - h + 1 .. select0(h) - h - 1: a long row is searched in that range by its
low bits alone (a binary search over access() selects once a step and was 2x slower).

The trie (levels k = 2..order; level 1 is dense: the unigram of token t is row t). Level k's
entries are its k-grams in lexicographic order of their (internal) token ids; level k's rows
are level k - 1's entries (token ids for k = 2). Per level two sequences:
- ptr: n_{k-1} + 1 row starts (entry positions in level k);
- val: one value per entry, val_i = base(row) + id_i with base(row) = val of the entry just
  before the row (0 for the first): non-decreasing, and id_i = val_i - val_{start - 1}.
The id of a 2-gram's last word is the token id; for k >= 3 it is *context remapped*
(Tongrams): the rank of the last word among the continuations of the k-gram's (k-2)-word
middle, i.e. the position of the k-gram's (k-1)-suffix inside its row of level k - 1. The
scorer has that position at hand: it has just found the suffix one level down.

Scoring. As `cooc.kernels.lm.score_sentences`: the state after a word is the entries of the
longest n-grams ending there, one per length; the next word extends them while the trie holds
the extension; log10 p(w | h) = prob(longest found) + backoffs of the longer contexts.
"""

import numpy as np
from numba import njit
from numba.cpython.unsafe.numbers import trailing_zeros

from cooc.kernels.codec import _get, _popcount, _put, _set_bit
from cooc.kernels.ngram import select_in_word

_JIT = dict(cache=True, nogil=True)
_ONE = np.uint64(1)
SAMPLE = 8  # a select sample every 256 ones
EF_FIELDS = 7  # n, l, low word, high word, sample word, high bits, zero-sample word
# level table columns: ptr sequence, val sequence, then the values' places
PTR = 0
VAL = EF_FIELDS
PROB_OFF = 2 * EF_FIELDS  # first bit of the level's prob codes (or first float32 value)
BACKOFF_OFF = PROB_OFF + 1  # same for backoffs; -1: none (the highest order)
PROB_CENTRE = PROB_OFF + 2  # first centre of the level's prob bins
BACKOFF_CENTRE = PROB_OFF + 3
LEVEL_FIELDS = PROB_OFF + 4


# ---------------------------------------------------------------------------------------------
# Elias-Fano


@njit(**_JIT)
def ef_low_bits(n, universe):
    """lb = floor(log2(universe / n)) (0 when universe < 2 n)."""
    if n == 0:
        return np.int64(0)
    q = universe // n
    lb = np.int64(0)
    while (np.int64(2) << lb) <= q:
        lb += 1
    return lb


@njit(**_JIT)
def ef_words(n, universe, lb):
    """(low words, high words, sample words, high bits) of an Elias-Fano sequence."""
    hi_bits = (universe >> lb) + n + 1
    return ((n * lb + 63) >> 6, (hi_bits + 63) >> 6, (n + (1 << SAMPLE) - 1) >> SAMPLE, hi_bits)


@njit(**_JIT)
def ef_zero_samples(n, universe, lb):
    """Words of the zero samples of a sequence."""
    return (((universe >> lb) + 1) + (1 << SAMPLE) - 1) >> SAMPLE


@njit(**_JIT)
def ef_write(values, lb, words, lo_w, hi_w, sel_w, sel0_w):
    """Encode non-decreasing values (int64, >= 0) at the given word offsets of `words`
    (zeroed); sel0_w < 0: no zero samples."""
    lo_b = lo_w << 6
    hi_b = hi_w << 6
    mask = (np.int64(1) << lb) - 1
    for i in range(values.shape[0]):
        v = values[i]
        if lb > 0:
            _put(words, lo_b + i * lb, v & mask, lb)
        p = (v >> lb) + i
        _set_bit(words, hi_b + p)
        if (i & ((1 << SAMPLE) - 1)) == 0:
            words[sel_w + (i >> SAMPLE)] = np.uint64(p)
    if sel0_w < 0:
        return
    n = values.shape[0]
    hi_bits = ((values[n - 1] >> lb) if n else 0) + n + 1
    z = 0
    for p in range(hi_bits):
        if (words[hi_w + (p >> 6)] >> np.uint64(p & 63)) & _ONE == 0:
            if (z & ((1 << SAMPLE) - 1)) == 0:
                words[sel0_w + (z >> SAMPLE)] = np.uint64(p)
            z += 1


@njit(**_JIT)
def _select1(trie, ef, i):
    """Position (bit, relative to the high part) of one number i of sequence ef, or -1."""
    hi_w = ef[3]
    s = np.int64(trie[ef[4] + (i >> SAMPLE)])
    j = i & ((1 << SAMPLE) - 1)
    w = hi_w + (s >> 6)
    end_w = hi_w + ((ef[5] + 63) >> 6)
    if w >= end_w or w < hi_w:
        return np.int64(-1)
    x = trie[w] & ~((_ONE << np.uint64(s & 63)) - _ONE)
    while True:
        c = np.int64(_popcount(x))
        if j < c:
            break
        j -= c
        w += 1
        if w >= end_w:
            return np.int64(-1)
        x = trie[w]
    return ((w - hi_w) << 6) + select_in_word(x, j)


@njit(**_JIT)
def _select0(trie, ef, i):
    """Position (relative) of zero number i of sequence ef's high part, or -1."""
    hi_w = ef[3]
    s = np.int64(trie[ef[6] + (i >> SAMPLE)])
    j = i & ((1 << SAMPLE) - 1)
    w = hi_w + (s >> 6)
    end_w = hi_w + ((ef[5] + 63) >> 6)
    if w >= end_w or w < hi_w:
        return np.int64(-1)
    x = ~trie[w] & ~((_ONE << np.uint64(s & 63)) - _ONE)
    while True:
        c = np.int64(_popcount(x))
        if j < c:
            break
        j -= c
        w += 1
        if w >= end_w:
            return np.int64(-1)
        x = ~trie[w]
    return ((w - hi_w) << 6) + select_in_word(x, j)


@njit(**_JIT)
def _next0(trie, ef, p):
    """Position (relative) of the first 0 bit of the high part after position p, or -1."""
    hi_w = ef[3]
    end_w = hi_w + ((ef[5] + 63) >> 6)
    q = p + 1
    w = hi_w + (q >> 6)
    if w >= end_w:
        return np.int64(-1)
    x = ~trie[w] & ~((_ONE << np.uint64(q & 63)) - _ONE)
    while x == 0:
        w += 1
        if w >= end_w:
            return np.int64(-1)
        x = ~trie[w]
    r = ((w - hi_w) << 6) + np.int64(trailing_zeros(x))
    return r if r < ef[5] else np.int64(-1)


@njit(**_JIT)
def _next1(trie, ef, p):
    """Position (relative) of the first 1 bit after relative position p, or -1."""
    hi_w = ef[3]
    end_w = hi_w + ((ef[5] + 63) >> 6)
    q = p + 1
    w = hi_w + (q >> 6)
    if w >= end_w:
        return np.int64(-1)
    x = trie[w] & ~((_ONE << np.uint64(q & 63)) - _ONE)
    while x == 0:
        w += 1
        if w >= end_w:
            return np.int64(-1)
        x = trie[w]
    return ((w - hi_w) << 6) + np.int64(trailing_zeros(x))


@njit(**_JIT)
def _low(trie, ef, i):
    return _get(trie, (ef[2] << 6) + i * ef[1], ef[1])


@njit(**_JIT)
def ef_access(trie, ef, i):
    """Value i of sequence ef (-1 if the high part is damaged)."""
    p = _select1(trie, ef, i)
    if p < 0:
        return np.int64(-1)
    return ((p - i) << ef[1]) | _low(trie, ef, i)


@njit(**_JIT)
def ef_decode(trie, ef):
    """Every value of sequence ef (int64[n]); ok False if the high part is damaged."""
    n = ef[0]
    out = np.empty(n, dtype=np.int64)
    p = np.int64(-1)
    for i in range(n):
        p = _next1(trie, ef, p)
        if p < 0:
            return out, False
        out[i] = ((p - i) << ef[1]) | _low(trie, ef, i)
    return out, True


_LINEAR = 8  # rows longer than this jump to the target's high bucket with select0


@njit(**_JIT)
def find_child(trie, lev, k, row, x):
    """(entry of (row, id x) in level k or -1, first entry of the row)."""
    ptr = lev[k, PTR : PTR + EF_FIELDS]
    val = lev[k, VAL : VAL + EF_FIELDS]
    if row < 0 or row + 1 >= ptr[0]:
        return np.int64(-1), np.int64(0)
    p = _select1(trie, ptr, row)
    if p < 0:
        return np.int64(-1), np.int64(0)
    a = ((p - row) << ptr[1]) | _low(trie, ptr, row)
    p = _next1(trie, ptr, p)
    if p < 0:
        return np.int64(-1), np.int64(0)
    b = ((p - row - 1) << ptr[1]) | _low(trie, ptr, row + 1)
    if a >= b or b > val[0] or a < 0:
        return np.int64(-1), max(a, np.int64(0))
    lv = val[1]
    p = np.int64(-1)  # position of entry a - 1 (-1: before the first)
    target = x
    if a > 0:
        p = _select1(trie, val, a - 1)
        if p < 0:
            return np.int64(-1), a
        target += ((p - a + 1) << lv) | _low(trie, val, a - 1)
    if b - a > _LINEAR and val[6] >= 0:
        # the entries whose high part is target's: [count below h, count up to h); their
        # values differ in the low bits only, so a binary search reads no high bits
        h = target >> lv
        lo = a
        z = np.int64(-1)
        if h > 0:
            z = _select0(trie, val, h - 1)
            if z < 0:
                return np.int64(-1), a
            lo = max(a, z - h + 1)
        z = _next0(trie, val, z)
        if z < 0:
            return np.int64(-1), a
        hi = min(b, z - h)
        t = target & ((np.int64(1) << lv) - 1)
        while lo < hi:  # first entry with low bits >= t
            mid = (lo + hi) >> 1
            if _low(trie, val, mid) < t:
                lo = mid + 1
            else:
                hi = mid
        if lo < min(b, z - h) and _low(trie, val, lo) == t:
            return lo, a
        return np.int64(-1), a
    i = a
    while i < b:
        p = _next1(trie, val, p)
        if p < 0:
            return np.int64(-1), a
        v = ((p - i) << lv) | _low(trie, val, i)
        if v == target:
            return i, a
        if v > target:
            return np.int64(-1), a
        i += 1
    return np.int64(-1), a


# ---------------------------------------------------------------------------------------------
# building


@njit(**_JIT)
def row_starts(parents, nrows):
    """Row starts (int64[nrows + 1]) of entries sorted by parent row."""
    out = np.zeros(nrows + 1, dtype=np.int64)
    for i in range(parents.shape[0]):
        out[parents[i] + 1] += 1
    for r in range(nrows):
        out[r + 1] += out[r]
    return out


@njit(**_JIT)
def level_values(ptr, ids):
    """val_i = base(row) + id_i (see the module docstring); ids increase along each row."""
    n = ids.shape[0]
    out = np.empty(n, dtype=np.int64)
    base = np.int64(0)
    for r in range(ptr.shape[0] - 1):
        a = ptr[r]
        b = ptr[r + 1]
        for i in range(a, b):
            out[i] = base + ids[i]
        if b > a:
            base = out[b - 1]
    return out


@njit(**_JIT)
def pack_codes(codes, bits, words, bit_off):
    for i in range(codes.shape[0]):
        _put(words, bit_off + i * bits, np.int64(codes[i]), bits)


@njit(**_JIT)
def unpack_codes(words, bit_off, n, bits):
    out = np.empty(n, dtype=np.int64)
    for i in range(n):
        out[i] = _get(words, bit_off + i * bits, bits)
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
    c = _get(codes, off + e * qbits, qbits)
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
