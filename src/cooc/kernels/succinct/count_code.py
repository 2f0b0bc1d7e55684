"""Count codes: a sequence of counts (>= 1) in blocks of Rice codes with sampled pointers,
read one count at a time in O(1)-ish (two record reads, a header, one select).

Layout. Values x_i = count_i - 1. Blocks of BLOCK = 128 values; a block has its own Rice
parameter k (0..63, the one giving the fewest bits) and codes x as its k low bits, bit-packed
in the block's low part, and q = x >> k as q zeros and a 1 in its unary part:

    k: 6 bits | low parts: n k bits | unary parts: sum(q) + n bits

Value j: its low bits at j k, its q between the (j-1)-th and the j-th 1 of the unary part
(one select finds both). 64 blocks make a superblock, which starts on a 64-bit word; a
record of REC uint32 per superblock holds the word of its first bit (two uint32, low first)
and the first bit of each of its blocks relative to it (0 for the first; slots past the
sequence's last block are 0).

Performance notes (an order-5 index of 4 M Qwen tokens, 8.6 M counts, 57-89 % of them 1 in
orders 2-5; bits per count with their block headers, records apart): Rice with a per-block
k 1.67; exp-Golomb with a per-block k 1.71 (it needs the unary part's length in its header:
19 bits a block); the better of the two per block 1.66; Elias-gamma 1.67. Ranks into a
per-order table of distinct counts sorted by frequency (Tongrams) instead of count - 1:
the same codes (the ranks of small counts are count - 1), and no smaller once the tables are
counted; bit-packed ranks (Tongrams): 9-10 bits. Pointers: an int64 per block costs 0.5 bits
a count, the two-level records 0.26. Blocks of 256: -0.02 bits a count and half the records,
and a select twice as long. Reading a count: ~35 ns in a batch of random lookups.
"""

import numpy as np
from numba import njit
from numba.cpython.unsafe.numbers import trailing_zeros

from cooc.kernels.bits import bit_length, get_bits, popcount, put_bits, set_bit
from cooc.kernels.succinct.elias_fano import select_in_word

_JIT = dict(cache=True, nogil=True)
_ONE = np.uint64(1)
BLOCK = 128
SUPER = 64  # blocks per superblock
REC = 2 + SUPER  # uint32 per superblock record
SUPER_VALUES = BLOCK * SUPER
HEADER_BITS = 6  # k
MAX_VALUE = (1 << 63) - 2  # the largest count - 1 (counts below 2**63)
_CAP = np.int64(1) << 50  # costs past this are never the smallest (k = 63: 64 bits a value)


@njit(**_JIT)
def _rice_bits(x, s, n, k):
    t = n * (k + 1)
    for i in range(s, s + n):
        t = min(t + (x[i] >> k), _CAP)
    return t


@njit(**_JIT)
def _block_params(x, s, n):
    """(k, bits) of the block of values x[s : s + n]: the cost is convex in k, so walk
    downhill from k ~ log2(mean)."""
    total = 0.0  # (a float: an int64 sum of values up to 2**63 overflows)
    for i in range(s, s + n):
        total += np.float64(x[i])
    k = min(63, max(0, bit_length(np.int64(min(total / n, 2.0**62))) - 1))
    c = _rice_bits(x, s, n, k)
    while k > 0:
        c2 = _rice_bits(x, s, n, k - 1)
        if c2 >= c:
            break
        k -= 1
        c = c2
    while k < 63:
        c2 = _rice_bits(x, s, n, k + 1)
        if c2 >= c:
            break
        k += 1
        c = c2
    return k, c + HEADER_BITS


@njit(**_JIT)
def encode(counts, word_base):
    """(words uint64[], records uint32[]) of counts (uint64 >= 1, below 2**63) that start a
    superblock; word_base: the index of words[0] in the whole code (for the records; or 0,
    then `rebase`). Concatenating the parts of consecutive slices (each a whole number of
    superblocks but the last) gives the code of the whole sequence."""
    n = counts.shape[0]
    nb = (n + BLOCK - 1) // BLOCK
    nsb = (nb + SUPER - 1) // SUPER
    ks = np.empty(nb, dtype=np.int64)
    starts = np.empty(nb + 1, dtype=np.int64)  # first bit of each block, superblocks aligned
    pos = np.int64(0)
    x = np.empty(n, dtype=np.int64)
    for i in range(n):
        x[i] = np.int64(counts[i]) - 1
    for b in range(nb):
        if b % SUPER == 0:
            pos = (pos + 63) & ~np.int64(63)
        s = b * BLOCK
        k, bits = _block_params(x, s, min(BLOCK, n - s))
        ks[b] = k
        starts[b] = pos
        pos += bits
    words = np.zeros((pos + 63) >> 6, dtype=np.uint64)
    recs = np.zeros(nsb * REC, dtype=np.uint32)
    for b in range(nb):
        sb = b // SUPER
        if b % SUPER == 0:
            w = word_base + (starts[b] >> 6)
            recs[sb * REC] = np.uint32(w & 0xFFFFFFFF)
            recs[sb * REC + 1] = np.uint32(w >> 32)
        recs[sb * REC + 2 + b % SUPER] = np.uint32(starts[b] - starts[sb * SUPER])
        s = b * BLOCK
        m = min(BLOCK, n - s)
        k = ks[b]
        p = starts[b]
        put_bits(words, p, k, HEADER_BITS)
        p += HEADER_BITS
        u = p + m * k  # the unary parts
        mk = (np.int64(1) << k) - 1
        for i in range(s, s + m):
            put_bits(words, p, x[i] & mk, k)
            p += k
            u += x[i] >> k
            set_bit(words, u)
            u += 1
    return words, recs


@njit(**_JIT)
def rebase(recs, word_base):
    """Add word_base to the superblock words of records made by `encode(counts, 0)`."""
    for r in range(0, recs.shape[0], REC):
        w = (np.int64(recs[r]) | (np.int64(recs[r + 1]) << 32)) + word_base
        recs[r] = np.uint32(w & 0xFFFFFFFF)
        recs[r + 1] = np.uint32(w >> 32)


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
            c = np.int64(popcount(w))
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
def block_start(recs, rec_base, b):
    """First bit of block b of the sequence whose records start at recs[rec_base]."""
    r = rec_base + (b // SUPER) * REC
    w = np.int64(recs[r]) | (np.int64(recs[r + 1]) << 32)
    return (w << 6) + np.int64(recs[r + 2 + b % SUPER])


@njit(**_JIT)
def count_at(words, recs, rec_base, n, e):
    """Count e (0 <= e < n) of the sequence of n counts whose records start at rec_base;
    0 where the code is damaged."""
    b = e // BLOCK
    j = e - b * BLOCK
    pos = block_start(recs, rec_base, b)
    m = min(BLOCK, n - b * BLOCK)
    k = get_bits(words, pos, HEADER_BITS)
    p = pos + HEADER_BITS
    prev, pj = _select_pair(words, p + m * k, j)
    if pj < 0:
        return np.int64(0)
    return (((pj - prev - 1) << k) | get_bits(words, p + j * k, k)) + 1


@njit(**_JIT)
def decode(words, recs, rec_base, n, e0, e1, out):
    """Counts e0..e1 - 1 into out[0 : e1 - e0]; False where a block it reads does not end
    where the next one starts (a damaged code or records)."""
    nb = (n + BLOCK - 1) // BLOCK
    last = words.shape[0]
    b = e0 // BLOCK
    while b * BLOCK < e1:
        m = min(BLOCK, n - b * BLOCK)
        pos = block_start(recs, rec_base, b)
        if pos < 0 or (pos + 63) >> 6 > last:
            return False
        k = get_bits(words, pos, HEADER_BITS)
        p = pos + HEADER_BITS
        u = p + m * k
        for j in range(m):
            wi = u >> 6  # the next 1 bit of the unary part
            if wi >= last:
                return False
            w = words[wi] & ~((_ONE << np.uint64(u & 63)) - _ONE)
            while w == 0:
                wi += 1
                if wi >= last:
                    return False
                w = words[wi]
            q1 = (wi << 6) + np.int64(trailing_zeros(w))
            i = b * BLOCK + j
            if e0 <= i < e1:
                out[i - e0] = (((q1 - u) << k) | get_bits(words, p + j * k, k)) + 1
            u = q1 + 1
        if b + 1 < nb:
            nxt = block_start(recs, rec_base, b + 1)
            if (b + 1) % SUPER == 0:
                u = (u + 63) & ~np.int64(63)
            if nxt != u:
                return False
        elif u > last << 6:
            return False
        b += 1
    return True


@njit(**_JIT)
def check_records(recs, rec_base, n):
    """True when the records' slots past the last block are 0 (the rest is checked by
    decoding every block)."""
    nb = (n + BLOCK - 1) // BLOCK
    for b in range(nb, ((nb + SUPER - 1) // SUPER) * SUPER):
        if recs[rec_base + (b // SUPER) * REC + 2 + b % SUPER] != 0:
            return False
    return True
