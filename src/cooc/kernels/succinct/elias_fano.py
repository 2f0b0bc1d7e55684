"""Elias-Fano sequences in one word array, and the two-sequence trie level built from them:
the building blocks shared by the LM trie (`cooc.kernels.lm_trie`) and the n-gram count trie
(`cooc.kernels.ngram_trie`).

Elias-Fano. A non-decreasing sequence v_0..v_{n-1} of values in [0, U] with
l = floor(log2(U / n)) low bits: the low bits of every value bit-packed (l bits each), the
high parts as a bit vector with bit (v_i >> l) + i set ((U >> l) + n + 1 bits), and a select
sample every 2**SAMPLE ones (the position of one number j << SAMPLE), and for sequences that
are searched by value one every 2**SAMPLE zeros. Every part is a run of uint64 words inside
one array (`trie`); a sequence is described by seven int64 (`EF_FIELDS`): n, l, first word of
the low bits, of the high bits, of the one samples, bits of the high part, first word of the
zero samples (-1: none). access(i) = ((select1(i) - i) << l) | low(i); the next value after
i is one scan to the next 1 bit; the values whose high part is h are the ones numbered
select0(h - 1) - h + 1 .. select0(h) - h - 1: a long row is searched in that range by its
low bits alone (a binary search over access() selects once a step and was 2x slower).

Tables of positions (optional; the n-gram trie has them, the LM trie not). A select scans
from its sample to its bit: as far as the block of 2**SAMPLE ones (zeros) spans, and one long
gap makes that thousands of bits. A writer may give such a block a table of TABLE_WORDS
words: its first position, then the offset of each of its bits (uint32); the block's sample
word then holds SPARSE | the table's word instead of a position, and select reads the
table (`ef_write_part` makes them for blocks longer than a given span).

A trie level (Tongrams' layout, Pibiri and Venturini, SIGIR 2017). Level k's entries are
its k-grams in lexicographic order; its rows are level k - 1's entries. Two sequences:
- ptr (columns PTR..PTR+6 of a level table row): the n_{k-1} + 1 row starts;
- val (columns VAL..VAL+6): one value per entry, val_i = base(row) + id_i, base(row) = val of
  the entry just before the row (0 for the first): non-decreasing although the ids restart
  at every row, and id_i = val_i - val_{start - 1}. `find_child` finds (row, id).
Each k-gram's id is what the trie chooses (a token id, or a context-remapped rank: see the
modules of the two tries); ids must increase along a row.

Every read goes through `cooc.kernels.bits.get_bits` or clamps its word index: a damaged
sequence decodes garbage (caught by `ef_decode`'s checks or the callers' range checks),
never reads outside the array.
"""

import numpy as np
from numba import njit
from numba.cpython.unsafe.numbers import trailing_zeros

from cooc.kernels.bits import get_bits, popcount, put_bits, set_bit

_JIT = dict(cache=True, nogil=True)
_ONE = np.uint64(1)
SAMPLE = 8  # a select sample every 256 ones (and zeros)
SPARSE = np.uint64(1) << np.uint64(63)  # a sample word with this bit names a table
TABLE_WORDS = 1 + (1 << SAMPLE) // 2  # a block's first position, then uint32 offsets
EF_FIELDS = 7  # n, l, low word, high word, sample word, high bits, zero-sample word
# level table columns of a trie level: the ptr sequence, then the val sequence
PTR = 0
VAL = EF_FIELDS


# ---------------------------------------------------------------------------------------------
# select in a word


def _byte_select_table() -> np.ndarray:
    t = np.zeros(256 * 8, np.uint8)
    for b in range(256):
        ones = [i for i in range(8) if b >> i & 1]
        for j, i in enumerate(ones):
            t[b * 8 + j] = i
    return t


_BYTE_SELECT = _byte_select_table()  # [byte * 8 + j]: position of the byte's j-th 1 bit
_L8 = np.uint64(0x0101010101010101)
_H8 = np.uint64(0x8080808080808080)


@njit(**_JIT)
def select_in_word(x, j):
    """Position of the j-th (0-based, j < popcount(x)) 1 bit of the uint64 x, branch-free
    (Vigna's broadword select): byte counts by SWAR, their prefix sums by one multiplication,
    the byte holding the bit by comparing all prefix sums with j at once, then a table for
    the byte. (A loop over the bytes: 7 ns a call, mispredicted; this: ~2 ns.)"""
    s = x - ((x >> _ONE) & np.uint64(0x5555555555555555))
    s = (s & np.uint64(0x3333333333333333)) + ((s >> np.uint64(2)) & np.uint64(0x3333333333333333))
    s = (s + (s >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    c = s * _L8  # byte i: ones in bytes 0..i
    le = (((np.uint64(j) * _L8) | _H8) - c) & _H8  # bytes whose prefix sum is <= j
    place = np.uint64(popcount(le) * 8)
    before = np.int64(((c << np.uint64(8)) >> place) & np.uint64(0xFF))
    byte = np.int64((x >> place) & np.uint64(0xFF))
    return np.int64(place) + np.int64(_BYTE_SELECT[byte * 8 + j - before])


# ---------------------------------------------------------------------------------------------
# building


def ef_extent(fields) -> tuple[int, int] | None:
    """(first word, end word) of the words an Elias-Fano sequence's table fields (n, l, low
    word, high word, sample word, high bits, zero-sample word or -1) say it occupies, or
    None when the fields are impossible: what a reader checks against its array before the
    kernels trust the table (plain Python)."""
    m, lb, lo, hi, sel, hi_bits, sel0 = (int(x) for x in fields[:EF_FIELDS])
    if min(m, lb, lo, hi, sel, hi_bits) < 0 or lb > 56 or hi_bits < m + 1:
        return None
    ends = [lo + ((m * lb + 63) >> 6), hi + ((hi_bits + 63) >> 6),
            sel + ((m + (1 << SAMPLE) - 1) >> SAMPLE)]
    if sel0 >= 0:
        ends.append(sel0 + ((hi_bits - m + (1 << SAMPLE) - 1) >> SAMPLE))
    return lo, max(ends)


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
def ef_write_part(values, i0, prev, n, lb, words, lo_w, hi_w, sel_w, sel0_w, span, first,
                  ntab, tabs):
    """Encode values (int64, non-decreasing, >= 0) as entries i0, i0 + 1, ... of a sequence
    of n values at the given word offsets of `words` (zeroed there); prev: the value of
    entry i0 - 1 (ignored when i0 == 0); sel0_w < 0: no zero samples. A sequence written in
    parts, in order, equals one written whole; `ef_write_end` adds the zeros after the last
    entry. Returns `tabs`, grown.

    Tables of positions (span >= 0): a block of 2**SAMPLE ones or zeros that spans more
    than `span` bits gets the next table in `tabs` (uint64, TABLE_WORDS words a table;
    ntab[0]: tables so far) and its sample word SPARSE | the table's number;
    `ef_place_tables` turns numbers into words once the tables' place is known. first:
    int64[2], the first positions of the current blocks of ones and of zeros."""
    lo_b = lo_w << 6
    hi_b = hi_w << 6
    mask = (np.int64(1) << lb) - 1
    last_r = (np.int64(1) << SAMPLE) - 1
    hp = (prev >> lb) if i0 > 0 else np.int64(0)  # zeros before the previous entry's one
    for j in range(values.shape[0]):
        i = i0 + j
        v = values[j]
        if lb > 0:
            put_bits(words, lo_b + i * lb, v & mask, lb)
        h = v >> lb
        p = h + i
        set_bit(words, hi_b + p)
        r = i & last_r
        if r == 0:
            words[sel_w + (i >> SAMPLE)] = np.uint64(p)
            first[0] = p
        if span >= 0 and (r == last_r or i == n - 1):
            tabs = _table(words, hi_w, sel_w, 1, i, p, span, first[0], ntab, tabs)
        if sel0_w >= 0 and h > hp:  # zeros number hp..h - 1 lie just before this one
            tabs = _zeros(words, hi_w, sel0_w, hp, h, i, -1, span, first, ntab, tabs)
        hp = h
    return tabs


@njit(**_JIT)
def _table(words, hi_w, sel_w, bit, i, p, span, first, ntab, tabs):
    """Block i >> SAMPLE of the ones (bit 1) or zeros (bit 0), from `first` to its bit i at
    p (positions in the high part): a table of its positions when it spans more than
    `span` bits, read back from the high bits written so far."""
    if not span < p - first < (np.int64(1) << 32):
        return tabs
    t = ntab[0]
    if (t + 1) * TABLE_WORDS > tabs.shape[0]:
        grown = np.zeros(max(2 * tabs.shape[0], (t + 1) * TABLE_WORDS), dtype=np.uint64)
        grown[: tabs.shape[0]] = tabs
        tabs = grown
    base = t * TABLE_WORDS
    tabs[base] = np.uint64(first)
    j = 0
    q = first
    while q <= p:  # the block's bits, word by word
        w = words[hi_w + (q >> 6)] >> np.uint64(q & 63)
        if bit == 0:
            w = ~w if (q & 63) == 0 else ~w & ((_ONE << np.uint64(64 - (q & 63))) - _ONE)
        while w != 0 and q + np.int64(trailing_zeros(w)) <= p:
            o = np.int64(trailing_zeros(w))
            if j > 0:
                put_bits(tabs, ((base + 1) << 6) + 32 * j, q + o - first, 32)
            j += 1
            w &= w - _ONE
        q = ((q >> 6) + 1) << 6
    words[sel_w + (i >> SAMPLE)] = SPARSE | np.uint64(t)
    ntab[0] = t + 1
    return tabs


@njit(**_JIT)
def _zeros(words, hi_w, sel0_w, z0, z1, ones, last, span, first, ntab, tabs):
    """Zeros number z0..z1 - 1, `ones` ones before them (zero z at position z + ones): their
    samples, and the tables of the blocks that end among them; `last`: the number of the
    sequence's last zero (-1: not among these)."""
    step = np.int64(1) << SAMPLE
    b = z0 >> SAMPLE
    while (b << SAMPLE) < z1:  # the blocks that start or end here, in order
        zs = b << SAMPLE
        if zs >= z0:
            words[sel0_w + b] = np.uint64(zs + ones)
            first[1] = zs + ones
        if span >= 0:
            ze = zs + step - 1
            if z0 <= ze < z1:
                tabs = _table(words, hi_w, sel0_w, 0, ze, ze + ones, span, first[1], ntab, tabs)
            elif z0 <= last < min(ze, z1):  # the last block, short
                tabs = _table(words, hi_w, sel0_w, 0, last, last + ones, span, first[1], ntab,
                              tabs)
        b += 1
    return tabs


@njit(**_JIT)
def ef_write_end(n, last, lb, words, hi_w, sel0_w, hi_bits, span, first, ntab, tabs):
    """The zeros after the last one (entry n - 1, value `last`): samples and tables."""
    if sel0_w >= 0:
        tabs = _zeros(words, hi_w, sel0_w, (last >> lb) if n > 0 else np.int64(0), hi_bits - n,
                      n, hi_bits - n - 1, span, first, ntab, tabs)
    return tabs


@njit(**_JIT)
def ef_place_tables(words, sel_w, nsel, first_table):
    """Sample words sel_w..sel_w + nsel - 1 that name table number t get the word
    first_table + t TABLE_WORDS."""
    for s in range(sel_w, sel_w + nsel):
        w = words[s]
        if w & SPARSE:
            words[s] = SPARSE | np.uint64(first_table + np.int64(w & ~SPARSE) * TABLE_WORDS)


@njit(**_JIT)
def ef_write(values, lb, words, lo_w, hi_w, sel_w, sel0_w):
    """Encode non-decreasing values (int64, >= 0) at the given word offsets of `words`
    (zeroed); sel0_w < 0: no zero samples. No tables of positions."""
    n = values.shape[0]
    first = np.zeros(2, dtype=np.int64)
    ntab = np.zeros(1, dtype=np.int64)
    tabs = np.zeros(0, dtype=np.uint64)
    ef_write_part(values, 0, 0, n, lb, words, lo_w, hi_w, sel_w, sel0_w, -1, first, ntab, tabs)
    last = values[n - 1] if n > 0 else np.int64(0)
    ef_write_end(n, last, lb, words, hi_w, sel0_w, (last >> lb) + n + 1, -1, first, ntab, tabs)


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


# ---------------------------------------------------------------------------------------------
# reading


@njit(**_JIT)
def _from_table(trie, ef, s, j):
    """Position j of the block whose sample word s names its table, or -1."""
    last = trie.shape[0] - 1
    t = np.int64(s & ~SPARSE)
    if t < 0 or t + TABLE_WORDS > last + 1:
        return np.int64(-1)
    w = trie[t + 1 + (j >> 1)] >> np.uint64(32 * (j & 1))
    p = np.int64(trie[t]) + np.int64(w & np.uint64(0xFFFFFFFF))
    return p if 0 <= p < ef[5] else np.int64(-1)


@njit(**_JIT)
def ef_select1(trie, ef, i):
    """Position (bit, relative to the high part) of one number i of sequence ef, or -1."""
    hi_w = ef[3]
    s = trie[ef[4] + (i >> SAMPLE)]
    j = i & ((1 << SAMPLE) - 1)
    if s & SPARSE:
        return _from_table(trie, ef, s, j)
    s = np.int64(s)
    w = hi_w + (s >> 6)
    end_w = hi_w + ((ef[5] + 63) >> 6)
    if w >= end_w or w < hi_w:
        return np.int64(-1)
    x = trie[w] & ~((_ONE << np.uint64(s & 63)) - _ONE)
    while True:
        c = np.int64(popcount(x))
        if j < c:
            break
        j -= c
        w += 1
        if w >= end_w:
            return np.int64(-1)
        x = trie[w]
    return ((w - hi_w) << 6) + select_in_word(x, j)


@njit(**_JIT)
def ef_select0(trie, ef, i):
    """Position (relative) of zero number i of sequence ef's high part, or -1."""
    hi_w = ef[3]
    s = trie[ef[6] + (i >> SAMPLE)]
    j = i & ((1 << SAMPLE) - 1)
    if s & SPARSE:
        return _from_table(trie, ef, s, j)
    s = np.int64(s)
    w = hi_w + (s >> 6)
    end_w = hi_w + ((ef[5] + 63) >> 6)
    if w >= end_w or w < hi_w:
        return np.int64(-1)
    x = ~trie[w] & ~((_ONE << np.uint64(s & 63)) - _ONE)
    while True:
        c = np.int64(popcount(x))
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
def ef_next1(trie, ef, p):
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
def ef_low(trie, ef, i):
    return get_bits(trie, (ef[2] << 6) + i * ef[1], ef[1])


@njit(**_JIT)
def ef_access(trie, ef, i):
    """Value i of sequence ef (-1 if the high part is damaged)."""
    p = ef_select1(trie, ef, i)
    if p < 0:
        return np.int64(-1)
    return ((p - i) << ef[1]) | ef_low(trie, ef, i)


@njit(**_JIT)
def ef_decode_range(trie, ef, i0, i1, out):
    """Values i0..i1 - 1 of sequence ef into out[0 : i1 - i0]; False if the high part is
    damaged (one select, then one scan to the next 1 bit per value)."""
    if i1 <= i0:
        return True
    p = ef_select1(trie, ef, i0)
    if p < 0:
        return False
    lb = ef[1]
    out[0] = ((p - i0) << lb) | ef_low(trie, ef, i0)
    for i in range(i0 + 1, i1):
        p = ef_next1(trie, ef, p)
        if p < 0:
            return False
        out[i - i0] = ((p - i) << lb) | ef_low(trie, ef, i)
    return True


@njit(**_JIT)
def ef_decode(trie, ef):
    """Every value of sequence ef (int64[n]); ok False if the high part is damaged."""
    n = ef[0]
    out = np.empty(n, dtype=np.int64)
    p = np.int64(-1)
    for i in range(n):
        p = ef_next1(trie, ef, p)
        if p < 0:
            return out, False
        out[i] = ((p - i) << ef[1]) | ef_low(trie, ef, i)
    return out, True


_LINEAR = 8  # rows longer than this jump to the target's high bucket with select0


@njit(**_JIT)
def find_child(trie, lev, k, row, x):
    """(entry of (row, id x) in level k or -1, first entry of the row); lev[k] holds the
    level's ptr and val sequences at columns PTR and VAL."""
    a, b, base, q = row_of(trie, lev, k, row)
    if a >= b:
        return np.int64(-1), np.int64(0)
    return find_in_row(trie, lev[k, VAL : VAL + EF_FIELDS], a, b, base, q, x), a


@njit(**_JIT)
def row_of(trie, lev, k, row):
    """(a, b, base, q) of row `row` of level k: its entries [a, b), the value of entry a - 1
    (0 for a = 0) and that entry's high-bit position (-1 for a = 0); a = b = 0 when the row
    is empty, out of range or damaged."""
    ptr = lev[k, PTR : PTR + EF_FIELDS]
    val = lev[k, VAL : VAL + EF_FIELDS]
    z = np.int64(0)
    if row < 0 or row + 1 >= ptr[0]:
        return z, z, z, z - 1
    p = ef_select1(trie, ptr, row)
    if p < 0:
        return z, z, z, z - 1
    a = ((p - row) << ptr[1]) | ef_low(trie, ptr, row)
    p = ef_next1(trie, ptr, p)
    if p < 0:
        return z, z, z, z - 1
    b = ((p - row - 1) << ptr[1]) | ef_low(trie, ptr, row + 1)
    if a >= b or b > val[0] or a < 0:
        return z, z, z, z - 1
    if a == 0:
        return a, b, z, z - 1
    q = ef_select1(trie, val, a - 1)
    if q < 0:
        return z, z, z, z - 1
    return a, b, ((q - a + 1) << val[1]) | ef_low(trie, val, a - 1), q


@njit(**_JIT)
def find_in_row(trie, val, a, b, base, q, x):
    """Entry of id x in the row [a, b) (b > a) of the val sequence `val`, whose entry a - 1
    has value `base` at high-bit position q (`row_of`), or -1."""
    lv = val[1]
    p = q  # position of entry a - 1 (-1: before the first)
    target = base + x
    if b - a > _LINEAR and val[6] >= 0:
        # the entries whose high part is target's: [count below h, count up to h); their
        # values differ in the low bits only, so a binary search reads no high bits
        h = target >> lv
        lo = a
        z = np.int64(-1)
        if h > 0:
            z = ef_select0(trie, val, h - 1)
            if z < 0:
                return np.int64(-1)
            lo = max(a, z - h + 1)
        z = _next0(trie, val, z)
        if z < 0:
            return np.int64(-1)
        hi = min(b, z - h)
        if lo >= hi:
            return np.int64(-1)
        t = target & ((np.int64(1) << lv) - 1)
        m = hi - lo
        while m > 1:  # the last entry with low bits < t, or lo; branch-free steps
            half = m >> 1
            lo = lo + half if ef_low(trie, val, lo + half) < t else lo
            m -= half
        if ef_low(trie, val, lo) < t:
            lo += 1
        if lo < hi and ef_low(trie, val, lo) == t:
            return lo
        return np.int64(-1)
    i = a
    while i < b:
        p = ef_next1(trie, val, p)
        if p < 0:
            return np.int64(-1)
        v = ((p - i) << lv) | ef_low(trie, val, i)
        if v == target:
            return i
        if v > target:
            return np.int64(-1)
        i += 1
    return np.int64(-1)
