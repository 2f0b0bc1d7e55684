"""Block codec of the on-disk index: Elias-Fano neighbour ids, Rice or bit-packed counts.

The bit layout of a block is documented once, in `cooc.cooccur.format`; this module is its only
implementation: per block of 128 entries, neighbour ranks as Elias-Fano over y_i = r_i - r_0 - i
(first rank in the skip table), counts - 1 bit-packed or Rice-coded with a per-block width.

Every read goes through `get_bits`, which clamps the word index into the data array: a corrupted
offset decodes garbage (caught by the callers' range checks or by `verify`), never reads
outside the mapping.

Performance notes (3.9 M Qwen tokens, 40.6 M directed entries, 128-token windows; bytes per
directed entry; 2-core AMD EPYC, shared, timings +-20 %):
- Column order is the biggest lever. Qwen ids (BPE ranks) as stored: ids 0.72. Remapping
  columns to frequency rank (by occurrences) 0.51, by degree 0.50: rare tokens' rows point
  at frequent tokens, which then have small, dense ranks. Degree rank is used: slightly
  smaller and it needs nothing from the caller. It is known only after the last row, so the
  writer stages rows (this codec, token-id order, ~1.2 B/entry on disk) and re-encodes them
  at finish (2.5 s for the sample, all in).
- ids, per block of 128: bit-packed gaps 0.65, plain Elias-Fano 0.58, best of
  (packed, EF, bitmap) 0.52, EF on y_i = x_i - i 0.50: subtracting i makes dense blocks cost
  about their bitmap size and all-consecutive blocks 0 bits (hz == 0), so no bitmap mode.
- counts (62 % are 1, 3306 distinct values, 0-order entropy 0.29): per-block bit width over
  count-1 0.43, PFor with exceptions 0.29, Elias-gamma 0.30, exp-Golomb 0.28, Elias-Fano on
  block prefix sums 0.37, Rice with a per-block k 0.26 (0.30 in token-id column order: the
  rank order also groups similar counts). A rank into a table of distinct values sorted by
  frequency changed nothing (the table is 1, 2, 3, ... in order). An escape for huge Rice
  quotients changed nothing. Packed-width is kept as the alternative for flat blocks.
- Block size (cost model, all overheads): 64 -> 0.99 B/entry, 128 -> 0.94, 256 -> 0.92; 128
  kept, since a pair lookup searches a whole block. Measured with 128: ids 0.549 (skip first
  ranks and headers included), counts 0.258, offsets 0.097; 1.024 with the per-token arrays.
- Rows start on 64-bit words (0.004 B/entry of padding) so row chunks encode independently and
  the stream is byte-identical whatever the writer's chunking.
- Pair lookup, 1e6 random pairs: one lookup after another, decoding the block entry by entry:
  1240 ns (810 ns with sorted queries: compute bound). Searching the block word by word
  (popcount, and a word's last entry bounds all of its entries) with an O(1) reject past the
  block's last entry: 220 ns sorted, but still 1270 ns random: memory bound, ~10 dependent
  cache misses. Lookups in groups of 32, stage by stage (row table with one cache line per
  row, binary search over the skip table one level per pass, touch the blocks, then search
  them) let the misses overlap: 470-560 ns. Group sizes 16 and 64: same within noise.
- Full decode: int64 buffers and a bit search per entry 1.6 s; uint32 output and word-wise ctz
  scans 0.5 s. Sorting rows by token id after the rank -> token map: per-row sort of packed
  (token << 32 | count) keys 1.7 s; a two-level bitmap over the vocabulary for rows of 32+
  entries (as `cooccur._drain`) 0.5 s. iter_rows: ~55 M entries/s all in.
"""

import numpy as np
from numba import njit
from numba.cpython.unsafe.numbers import leading_zeros, trailing_zeros

from cooc.kernels.bitmap import drain, mark
from cooc.kernels.bits import bit_length, get_bits, popcount, put_bits, set_bit

_JIT = dict(cache=True, nogil=True)

_ONE = np.uint64(1)
_MASK32 = np.int64(0xFFFFFFFF)
_NO_LIMIT = np.int64(1) << 62
PACKED_CODES = 33  # codes 0..32: bit-packed count-1 of that width; 33..63: Rice k = code - 33
ID_HEADER_BITS = 13  # l:5 + hz:8, present when a block has more than one entry
COUNT_HEADER_BITS = 6

# problems reported by `check_rows` and `verify_rows` (0 = none)
OK = 0
COL_OUT_OF_RANGE = 1
COLS_NOT_INCREASING = 2
COUNT_ZERO = 3
BLOCK_OFFSET = 4  # a block does not start where the previous one ended
ROW_SIZE = 5  # a row's bits do not fill its words / the data runs past the end
COUNT_OVERFLOW = 6


@njit(**_JIT)
def _word(words, i):
    last = words.shape[0] - 1
    return words[i if i < last else last]


@njit(**_JIT)
def _next_one(words, pos, limit):
    """Position of the first 1 bit at or after pos, or -1 if none before bit `limit`."""
    i = pos >> 6
    w = _word(words, i) & ~((_ONE << np.uint64(pos & 63)) - _ONE)
    while w == 0:
        i += 1
        if i << 6 >= limit:
            return np.int64(-1)
        w = _word(words, i)
    p = (i << 6) + np.int64(trailing_zeros(w))
    return p if p < limit else np.int64(-1)


@njit(**_JIT)
def _select(words, pos, j, limit):
    """Position of the j-th (0-based) 1 bit at or after pos, or -1 if none before `limit`."""
    i = pos >> 6
    w = _word(words, i) & ~((_ONE << np.uint64(pos & 63)) - _ONE)
    while True:
        c = np.int64(popcount(w))
        if j < c:
            break
        j -= c
        i += 1
        if i << 6 >= limit:
            return np.int64(-1)
        w = _word(words, i)
    for _ in range(j):
        w &= w - _ONE
    p = (i << 6) + np.int64(trailing_zeros(w))
    return p if p < limit else np.int64(-1)


# ---------------------------------------------------------------------------------------------
# encoding


@njit(**_JIT)
def _id_params(ranks, s, n):
    """(lw, hz, bits) of the Elias-Fano part of a block (bits include its 13-bit header)."""
    n1 = n - 1
    if n1 == 0:
        return 0, 0, 0
    u = np.int64(ranks[s + n1]) - np.int64(ranks[s]) - n1
    top = bit_length(u)
    best_l = 0
    best = np.int64(-1)
    for lw in range(max(0, top - 8), min(top, 31) + 1):
        hz = u >> lw
        bits = n1 * lw + (n1 + hz if hz > 0 else 0)
        if best < 0 or bits < best:
            best = bits
            best_l = lw
    return best_l, u >> best_l, best + ID_HEADER_BITS


@njit(**_JIT)
def _rice_bits(counts, s, n, k):
    t = n * (k + 1)
    for i in range(s, s + n):
        t += (np.int64(counts[i]) - 1) >> k
    return t


@njit(**_JIT)
def _count_params(counts, s, n):
    """(code, bits) of the counts part of a block (bits include its 6-bit header)."""
    m = np.int64(0)
    total = np.int64(0)
    for i in range(s, s + n):
        v = np.int64(counts[i]) - 1
        m |= v
        total += v
    w = bit_length(m)
    best_code = w
    best = n * w
    # Rice cost is convex in k: walk downhill from k ~ log2(mean)
    k = max(0, min(30, bit_length(total // n) - 1))
    c = _rice_bits(counts, s, n, k)
    while k > 0:
        c2 = _rice_bits(counts, s, n, k - 1)
        if c2 >= c:
            break
        k -= 1
        c = c2
    while k < 30:
        c2 = _rice_bits(counts, s, n, k + 1)
        if c2 >= c:
            break
        k += 1
        c = c2
    if c < best:
        best = c
        best_code = PACKED_CODES + k
    return best_code, best + COUNT_HEADER_BITS


@njit(**_JIT)
def _write_block(words, pos, ranks, counts, s, n, lw, hz, code):
    n1 = n - 1
    if n1 > 0:
        put_bits(words, pos, lw, 5)
        put_bits(words, pos + 5, hz, 8)
        pos += ID_HEADER_BITS
    put_bits(words, pos, code, 6)
    pos += COUNT_HEADER_BITS
    if n1 > 0:
        r0 = np.int64(ranks[s])
        low_mask = (np.int64(1) << lw) - 1
        hi = pos + n1 * lw
        for i in range(n1):
            y = np.int64(ranks[s + 1 + i]) - r0 - (i + 1)
            put_bits(words, pos + i * lw, y & low_mask, lw)
            if hz > 0:
                set_bit(words, hi + (y >> lw) + i)
        pos = hi + (n1 + hz if hz > 0 else 0)
    if code < PACKED_CODES:
        for j in range(n):
            put_bits(words, pos + j * code, np.int64(counts[s + j]) - 1, code)
        pos += n * code
    else:
        k = code - PACKED_CODES
        low_mask = (np.int64(1) << k) - 1
        p = pos + n * k
        for j in range(n):
            v = np.int64(counts[s + j]) - 1
            put_bits(words, pos + j * k, v & low_mask, k)
            p += v >> k
            set_bit(words, p)
            p += 1
        pos = p
    return pos


@njit(**_JIT)
def encode_rows(row_ptr, ranks, counts, block):
    """Encode consecutive rows (ranks strictly increasing per row, counts >= 1).

    Parameters
    ----------
    row_ptr : int64[n+1] from 0.
    ranks, counts : uint32[row_ptr[n]].
    block : entries per block.

    Returns
    -------
    words : uint64[] the rows' bit strings, each row starting on a word.
    row_word : int64[n+1] word offset of each row from 0.
    skip : uint32[nblocks, 2] (first rank, bit offset of the block in its row).
    bits : int64[2] payload bits of (ids, counts), headers included.
    """
    nrows = row_ptr.shape[0] - 1
    nblk = 0
    for r in range(nrows):
        nblk += (row_ptr[r + 1] - row_ptr[r] + block - 1) // block
    params = np.empty((nblk, 3), dtype=np.int64)
    skip = np.empty((nblk, 2), dtype=np.uint32)
    row_word = np.zeros(nrows + 1, dtype=np.int64)
    bits = np.zeros(2, dtype=np.int64)
    b = 0
    for r in range(nrows):
        e = row_ptr[r + 1]
        off = np.int64(0)
        for s in range(row_ptr[r], e, block):
            n = min(block, e - s)
            lw, hz, ibits = _id_params(ranks, s, n)
            code, cbits = _count_params(counts, s, n)
            params[b, 0] = lw
            params[b, 1] = hz
            params[b, 2] = code
            skip[b, 0] = ranks[s]
            skip[b, 1] = off
            off += ibits + cbits
            bits[0] += ibits
            bits[1] += cbits
            b += 1
        row_word[r + 1] = row_word[r] + ((off + 63) >> 6)
    words = np.zeros(row_word[nrows] + 1, dtype=np.uint64)  # +1: put_bits may touch word i + 1
    b = 0
    for r in range(nrows):
        base = row_word[r] << 6
        e = row_ptr[r + 1]
        for s in range(row_ptr[r], e, block):
            n = min(block, e - s)
            _write_block(words, base + np.int64(skip[b, 1]), ranks, counts, s, n,
                         params[b, 0], params[b, 1], params[b, 2])
            b += 1
    return words[: row_word[nrows]], row_word, skip, bits


# ---------------------------------------------------------------------------------------------
# decoding


@njit(**_JIT)
def _high_word(words, wi, lo, hi):
    """Word wi of the bit range [lo, hi), bits outside the range cleared."""
    w = _word(words, wi)
    if wi == lo >> 6:
        w &= ~((_ONE << np.uint64(lo & 63)) - _ONE)
    if wi == hi >> 6:
        w &= (_ONE << np.uint64(hi & 63)) - _ONE
    return w


DECODE_PAST_END = -1  # `_decode_block` results below 0
DECODE_RANK_RANGE = -2
DECODE_COUNT_RANGE = -3


@njit(**_JIT)
def _decode_block(words, pos, n, first, out_r, out_c, o, limit, rank_limit):
    """Decode one block into out_r/out_c[o:o+n].

    Returns the end bit, or DECODE_PAST_END if the block runs past bit `limit`,
    DECODE_RANK_RANGE if its last rank is >= rank_limit, DECODE_COUNT_RANGE if a count is
    >= 2**32 (the offending value is then stored truncated).
    """
    n1 = n - 1
    lw = np.int64(0)
    hz = np.int64(0)
    if n1 > 0:
        lw = get_bits(words, pos, 5)
        hz = get_bits(words, pos + 5, 8)
        pos += ID_HEADER_BITS
    code = get_bits(words, pos, 6)
    pos += COUNT_HEADER_BITS
    status = np.int64(0)
    out_r[o] = first
    if first >= rank_limit:
        status = DECODE_RANK_RANGE
    if n1 > 0:
        hi = pos + n1 * lw
        if hz == 0:
            for i in range(n1):
                out_r[o + 1 + i] = first + get_bits(words, pos + i * lw, lw) + i + 1
        else:
            end = hi + n1 + hz
            i = np.int64(0)
            wi = hi >> 6
            while i < n1:
                if wi > (end - 1) >> 6:
                    return np.int64(DECODE_PAST_END)
                w = _high_word(words, wi, hi, end)
                base = (wi << 6) - hi
                while w != 0 and i < n1:
                    h = base + np.int64(trailing_zeros(w)) - i
                    w &= w - _ONE
                    out_r[o + 1 + i] = first + ((h << lw) | get_bits(words, pos + i * lw, lw)) + i + 1
                    i += 1
                wi += 1
        # the last rank is the largest if the block is sound (verify checks the order); it is
        # recomputed here because out_r may be uint32 and wrap
        last = first + ((hz << lw) | get_bits(words, pos + (n1 - 1) * lw, lw)) + n1
        if last >= rank_limit:
            status = DECODE_RANK_RANGE
        pos = hi + (n1 + hz if hz > 0 else 0)
    if code < PACKED_CODES:
        for j in range(n):
            out_c[o + j] = get_bits(words, pos + j * code, code) + 1
        pos += n * code
    else:
        k = code - PACKED_CODES
        j = np.int64(0)
        prev = pos + n * k - 1
        wi = (prev + 1) >> 6
        while j < n:
            if wi << 6 >= limit:
                return np.int64(DECODE_PAST_END)
            w = _high_word(words, wi, prev + 1, limit)
            while w != 0 and j < n:
                p = (wi << 6) + np.int64(trailing_zeros(w))
                w &= w - _ONE
                c = (((p - prev - 1) << k) | get_bits(words, pos + j * k, k)) + 1
                if c > _MASK32:
                    status = DECODE_COUNT_RANGE
                out_c[o + j] = c
                prev = p
                j += 1
            wi += 1
        pos = prev + 1
    if pos > limit:
        return np.int64(DECODE_PAST_END)
    return status if status < 0 else pos


@njit(**_JIT)
def decode_rows(row_lo, row_hi, row_ptr, row_word, blk_ptr, skip, words, block, vocab_size):
    """Rows [row_lo, row_hi) in stored order (neighbour ranks increasing).

    Returns (ptr int64[n+1] from 0, ranks uint32[], counts uint32[], bad_row); bad_row is -1,
    or the first row whose data runs past its words or whose blocks end on a rank
    >= vocab_size or hold a count >= 2**32. The rank order inside a block is not checked
    (`verify_rows` is), so callers that index with ranks must bound them (permute_rows does).
    """
    base = row_ptr[row_lo]
    nent = row_ptr[row_hi] - base
    ptr = np.empty(row_hi - row_lo + 1, dtype=np.int64)
    r_out = np.empty(nent, dtype=np.uint32)
    c_out = np.empty(nent, dtype=np.uint32)
    bad = np.int64(-1)
    for r in range(row_lo, row_hi):
        ptr[r - row_lo] = row_ptr[r] - base
        rbase = row_word[r] << 6
        limit = row_word[r + 1] << 6
        s = row_ptr[r]
        e = row_ptr[r + 1]
        for b in range(blk_ptr[r], blk_ptr[r + 1]):
            n = min(block, e - s)
            end = _decode_block(words, rbase + np.int64(skip[b, 1]), n, np.int64(skip[b, 0]),
                                r_out, c_out, s - base, limit, vocab_size)
            if end < 0 and bad < 0:
                bad = r
            s += n
    ptr[row_hi - row_lo] = nent
    return ptr, r_out, c_out, bad


@njit(**_JIT)
def _find_in_block(words, pos, n1, lw, hz, x):
    """Index i (0-based among the n-1 stored entries) with x_i == x, or -1.

    x_i = y_i + i + 1 strictly increases; `pos` is the start of the id low bits.
    """
    hi = pos + n1 * lw
    # last entry first: one read rejects targets past the block
    x_last = ((hz << lw) | get_bits(words, pos + (n1 - 1) * lw, lw)) + n1
    if x > x_last:
        return np.int64(-1)
    if x == x_last:
        return n1 - 1
    if hz == 0:  # low bits only: binary search
        lo = 0
        up = n1 - 1
        while lo < up:
            mid = (lo + up) >> 1
            if get_bits(words, pos + mid * lw, lw) + mid + 1 < x:
                lo = mid + 1
            else:
                up = mid
        return lo if get_bits(words, pos + lo * lw, lw) + lo + 1 == x else np.int64(-1)
    end = hi + n1 + hz
    i = np.int64(0)
    wi = hi >> 6
    while wi <= (end - 1) >> 6:
        w = _high_word(words, wi, hi, end)
        if w != 0:
            c = np.int64(popcount(w))
            # the word's last entry bounds all of its entries from above
            p_last = (wi << 6) + 63 - np.int64(leading_zeros(w)) - hi
            i_last = i + c - 1
            if ((p_last - i_last + 1) << lw) + i_last < x:
                i += c
            else:
                while w:
                    p = (wi << 6) + np.int64(trailing_zeros(w)) - hi
                    w &= w - _ONE
                    h = p - i
                    if ((h + 1) << lw) + i >= x:  # else x_i < x for sure
                        xi = ((h << lw) | get_bits(words, pos + i * lw, lw)) + i + 1
                        if xi >= x:
                            return i if xi == x else np.int64(-1)
                    i += 1
        wi += 1
    return np.int64(-1)


@njit(**_JIT)
def _block_lookup(words, pos, n, first, t):
    """Count of rank t in the block at bit `pos` (0 if absent)."""
    n1 = n - 1
    lw = np.int64(0)
    hz = np.int64(0)
    if n1 > 0:
        lw = get_bits(words, pos, 5)
        hz = get_bits(words, pos + 5, 8)
        pos += ID_HEADER_BITS
    code = get_bits(words, pos, 6)
    pos += COUNT_HEADER_BITS
    if t == first:
        j = np.int64(0)
    elif n1 > 0:
        j = _find_in_block(words, pos, n1, lw, hz, t - first) + 1
        if j == 0:
            return np.int64(0)
    else:
        return np.int64(0)
    pos += n1 * lw + (n1 + hz if hz > 0 else 0)
    if code < PACKED_CODES:
        return get_bits(words, pos + j * code, code) + 1
    k = code - PACKED_CODES
    hi = pos + n * k
    limit = words.shape[0] << 6
    pj = _select(words, hi, j, limit)
    if pj < 0:
        return np.int64(0)
    prev = hi - 1 if j == 0 else _select(words, hi, j - 1, limit)
    return (((pj - prev - 1) << k) | get_bits(words, pos + j * k, k)) + 1


@njit(**_JIT)
def row_table(row_ptr, blk_ptr, row_word):
    """Per-row lookup table int64[V, 4]: (first entry, end entry, first block, first word).

    One cache line per row instead of one per array: random pair lookups are memory bound.
    """
    nrows = row_ptr.shape[0] - 1
    tab = np.empty((nrows, 4), dtype=np.int64)
    for r in range(nrows):
        tab[r, 0] = row_ptr[r]
        tab[r, 1] = row_ptr[r + 1]
        tab[r, 2] = blk_ptr[r]
        tab[r, 3] = row_word[r]
    return tab


_GROUP = 32  # lookups in flight: each stage touches the group's memory with independent loads


@njit(**_JIT)
def last_block_le(skip, lo, hi, x, n):
    """For searches i < n: the last block in [lo[i], hi[i]] whose first id is <= x[i], left
    in lo[i] (searches with hi[i] < lo[i] are skipped). All searches step once per pass, so
    their cache misses overlap instead of queueing."""
    active = True
    while active:
        active = False
        for i in range(n):
            if lo[i] < hi[i]:
                mid = (lo[i] + hi[i] + 1) >> 1
                if np.int64(skip[mid, 0]) <= x[i]:
                    lo[i] = mid
                else:
                    hi[i] = mid - 1
                active = True


@njit(**_JIT)
def pair_counts(a_ids, b_ids, rows, skip, words, rank, block):
    """count(a_ids[q], b_ids[q]) for every q (0 where absent); ids already range-checked.

    rows is `row_table(...)`. Lookups go in groups, stage by stage (row entry, binary search
    over the skip table one level at a time, block lookup), so that the cache misses of a
    group overlap instead of queueing one after another.
    """
    m = a_ids.shape[0]
    out = np.zeros(m, dtype=np.uint32)
    tgt = np.empty(_GROUP, dtype=np.int64)
    lo = np.empty(_GROUP, dtype=np.int64)
    hi = np.empty(_GROUP, dtype=np.int64)
    pos = np.empty(_GROUP, dtype=np.int64)
    sink = np.zeros(1, dtype=np.uint64)
    for g0 in range(0, m, _GROUP):
        gn = min(_GROUP, m - g0)
        for k in range(gn):
            tgt[k] = rank[b_ids[g0 + k]]
        for k in range(gn):
            a = a_ids[g0 + k]
            lo[k] = rows[a, 2]
            hi[k] = rows[a, 2] + (rows[a, 1] - rows[a, 0] + block - 1) // block - 1
        for k in range(gn):  # empty row, or target before the row's first rank
            if hi[k] < lo[k] or tgt[k] < np.int64(skip[lo[k], 0]):
                hi[k] = -1
        last_block_le(skip, lo, hi, tgt, gn)
        for k in range(gn):
            if hi[k] >= 0:
                pos[k] = (rows[a_ids[g0 + k], 3] << 6) + np.int64(skip[lo[k], 1])
        for k in range(gn):  # pull every block's first two lines in before decoding any
            if hi[k] >= 0:
                sink[0] ^= _word(words, pos[k] >> 6) ^ _word(words, (pos[k] >> 6) + 8)
        for k in range(gn):
            if hi[k] < 0:
                continue
            a = a_ids[g0 + k]
            b0 = lo[k]
            s = rows[a, 0] + (b0 - rows[a, 2]) * block
            n = min(block, rows[a, 1] - s)
            c = _block_lookup(words, pos[k], n, np.int64(skip[b0, 0]), tgt[k])
            out[g0 + k] = c if c <= _MASK32 else _MASK32
    return out


# ---------------------------------------------------------------------------------------------
# row reordering, validation, symmetry hashing


_SORT_BELOW = 32  # rows shorter than this sort packed keys; longer ones go through a bitmap


@njit(**_JIT)
def permute_rows(ptr, cols, counts, perm, vocab_size):
    """Map every column through `perm` (values < vocab_size) and re-sort each row by it.

    Returns (cols uint32[], counts uint32[], bad_row) on the same `ptr`; bad_row is -1, or
    the first row with a column >= len(perm) (a corrupt block), which is then left unsorted.
    Long rows scatter into a two-level bitmap over the vocabulary and read it back in order:
    O(d + V / 4096) per row instead of a sort's O(d log d).
    """
    m = cols.shape[0]
    out_c = np.empty(m, dtype=np.uint32)
    out_n = np.empty(m, dtype=np.uint32)
    nrows = ptr.shape[0] - 1
    nperm = perm.shape[0]
    bad = np.int64(-1)
    keys = np.empty(_SORT_BELOW, dtype=np.uint64)
    nwords = (vocab_size + 63) >> 6
    bitmap = np.zeros(0, dtype=np.uint64)
    summary = np.zeros(0, dtype=np.uint64)
    acc = np.zeros(0, dtype=np.uint32)
    for r in range(nrows):
        s = ptr[r]
        e = ptr[r + 1]
        d = e - s
        ok = True
        for i in range(s, e):
            if np.int64(cols[i]) >= nperm:
                ok = False
        if not ok:
            if bad < 0:
                bad = r
            out_c[s:e] = 0
            out_n[s:e] = counts[s:e]
            continue
        if d < _SORT_BELOW:
            for i in range(d):
                keys[i] = (np.uint64(perm[cols[s + i]]) << np.uint64(32)) | np.uint64(counts[s + i])
            kk = keys[:d]
            kk.sort()
            for i in range(d):
                out_c[s + i] = kk[i] >> np.uint64(32)
                out_n[s + i] = kk[i] & np.uint64(0xFFFFFFFF)
            continue
        if bitmap.shape[0] == 0:
            bitmap = np.zeros(nwords, dtype=np.uint64)
            summary = np.zeros((nwords + 63) >> 6, dtype=np.uint64)
            acc = np.zeros(vocab_size, dtype=np.uint32)
        for i in range(s, e):
            c = np.int64(perm[cols[i]])
            acc[c] = counts[i]
            mark(bitmap, summary, c)
        drain(acc, bitmap, summary, out_c, out_n, s)
    return out_c, out_n, bad


@njit(**_JIT)
def check_rows(ptr, cols, counts, vocab_size):
    """First problem of a CSR slice: (problem, local row, entry in row), problem 0 if none."""
    for r in range(ptr.shape[0] - 1):
        s = ptr[r]
        for i in range(s, ptr[r + 1]):
            if np.int64(cols[i]) >= vocab_size:
                return COL_OUT_OF_RANGE, r, i - s
            if i > s and cols[i] <= cols[i - 1]:
                return COLS_NOT_INCREASING, r, i - s
            if counts[i] == 0:
                return COUNT_ZERO, r, i - s
    return OK, 0, 0


@njit(**_JIT)
def _mix(x):
    """splitmix64 finaliser."""
    x ^= x >> np.uint64(30)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    return x


@njit(**_JIT)
def sym_hash_rows(row_start, ptr, cols, counts, h_row, h_col, h_row_base=0):
    """Accumulate symmetry hashes of rows [row_start, row_start + n); returns diagonal entries.

    Every off-diagonal entry (r, b, c) adds h({r, b}, c) to h_row[r - h_row_base] and to
    h_col[b] (h_row may cover just the rows hashed, from h_row_base). The
    matrix is symmetric iff h_row == h_col everywhere (up to 64-bit hash collisions): both
    then hold, for token t, the multiset of (unordered pair, count) of t's row and column.
    """
    diag = 0
    for lr in range(ptr.shape[0] - 1):
        r = row_start + lr
        for i in range(ptr[lr], ptr[lr + 1]):
            b = np.int64(cols[i])
            if b == r:
                diag += 1
                continue
            lo = min(r, b)
            hi = max(r, b)
            h = _mix(_mix(np.uint64((lo << 32) | hi)) + np.uint64(counts[i]))
            h_row[r - h_row_base] += h
            h_col[b] += h
    return diag


@njit(**_JIT)
def verify_rows(row_lo, row_hi, row_ptr, row_word, blk_ptr, skip, words, block, vocab_size):
    """Strict structural check of rows [row_lo, row_hi) as stored.

    Returns (problem, row, entry): blocks packed back to back from bit 0 of the row, the row's
    bits filling its words, ranks strictly increasing and < vocab_size, counts in [1, 2**32).
    """
    cap = block
    r_buf = np.empty(cap, dtype=np.int64)
    c_buf = np.empty(cap, dtype=np.int64)
    for r in range(row_lo, row_hi):
        rbase = row_word[r] << 6
        limit = row_word[r + 1] << 6
        s = row_ptr[r]
        e = row_ptr[r + 1]
        expect = rbase
        prev = np.int64(-1)
        for b in range(blk_ptr[r], blk_ptr[r + 1]):
            n = min(block, e - s)
            ent = s - row_ptr[r]
            if rbase + np.int64(skip[b, 1]) != expect:
                return BLOCK_OFFSET, r, ent
            end = _decode_block(words, expect, n, np.int64(skip[b, 0]), r_buf, c_buf, 0, limit,
                                _NO_LIMIT)
            if end == DECODE_PAST_END:
                return ROW_SIZE, r, ent
            for i in range(n):
                if r_buf[i] <= prev:
                    return COLS_NOT_INCREASING, r, ent + i
                if r_buf[i] >= vocab_size:
                    return COL_OUT_OF_RANGE, r, ent + i
                if c_buf[i] > _MASK32:  # (int64 buffers: never truncated)
                    return COUNT_OVERFLOW, r, ent + i
                prev = r_buf[i]
            expect = end
            s += n
        if (expect + 63) >> 6 != limit >> 6:
            return ROW_SIZE, r, e - row_ptr[r]
    return OK, 0, 0
