"""Vocabulary kernels: hash tables of UTF-8 words, and splitting on whitespace as `str.split`.

Tables. A table has 2**bits slots; a slot is a row of int64 (hash tag << 32 | id, where), -1 =
empty: the high `bits` bits of the word's 64-bit hash pick the slot (linear probing), its low
31 bits are the tag, so a probe reads one slot and, only when the tags agree, the word.

- fixed (`vocab_insert`, `vocab_find`): words are spans of a byte buffer given by the caller
  (a language model's vocabulary, ARPA import), shorter than 16 MiB; hash FNV-1a
  (`hash_bytes`); where = start << 24 | length.
- growing (`encode_grow`, the whitespace tokenizer): words are kept in one buffer in id order,
  each followed by b"\n" (which no word holds), so the buffer is at once the word list, the
  input of the vocabulary checksum and the way to find the end of a word of 16 MiB or more
  (its slot's length saturates at 2**24 - 1). Hash `hash_word` (8 bytes a step); where =
  start << 24 | length, or for a word of at most 7 bytes the bytes themselves
  (`_short_key`, negative), so that most lookups never touch the word buffer. New words get
  the next id; when the ids buffer, the word buffer or the table is full, the kernel stops
  before the word and says which, and the caller grows the arrays and calls again from
  there. `sort_words` and `renumber` put the words in byte order (for UTF-8: code-point
  order) at freeze time. The kernels read 8 bytes at a time: the text and the word buffer
  have 8 bytes of slack after their last byte used.

Whitespace. `space_len` implements Python's `str.isspace` (what `str.split()` splits on) on
UTF-8: \t \n \v \f \r, \x1c-\x1f, space, U+0085, U+00A0, U+1680, U+2000-U+200A, U+2028,
U+2029, U+202F, U+205F, U+3000.

Performance notes (`encode_grow`; 2-core VM shared with other jobs; 28 MB of English, 4.19 M
words, 339 k distinct; one thread; kernel time of a pass over words all known):

- byte at a time, FNV-1a, lookup right after each word: 0.27 s (~65 ns a word). Splitting
  was 0.07 s, hashing 0.03 s, the lookups the rest: their cache misses did not overlap.
- blocks of 1024 words split and hashed first, then looked up with the slot 16 words
  ahead prefetched: -10%. Also prefetching the word bytes (from the slot 8 ahead): no gain.
- ASCII 8 bytes a step when looking for a word's end (SWAR: the lowest byte < 0x21 or
  >= 0x80), `hash_word` 8 bytes a step, equality 8 bytes a step (`load_u64`): -10%.
- short words' bytes in their slot: -20% (comparing against the word buffer cost more
  than the slot's miss).
- `inline="always"` on the helpers (numba does not inline calls between njit functions
  otherwise): -25%. Now ~0.11 s, ~27 ns a word; 3 ns a byte on CJK.
- load limit of the table 0.3, 0.5 or 0.7: no difference (tags: probes seldom leave a cache
  line), so 0.7 (the tokenizer's `_MAX_LOAD`) for memory.
"""


import numpy as np
from numba import njit
from numba.cpython.unsafe.numbers import trailing_zeros

from cooc.kernels.intrinsics import load_u64, prefetch

_JIT = dict(cache=True, nogil=True)
_MUL = np.uint64(0x9E3779B97F4A7C15)
_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)

_LEN_BITS = 24  # a slot packs (start << 24) | length
_LEN_MASK = (1 << _LEN_BITS) - 1
_TAG = np.uint64(0x7FFFFFFF)  # 31 bits: a used slot is >= 0
_ID_MASK = np.int64(0xFFFFFFFF)
NEWLINE = 10  # ends every word of a growing table's buffer
TEXT_END = 0xFF  # ends a text in `encode_grow`'s input: never a byte of UTF-8

# `encode_grow`'s status: done, or what to grow before calling again
DONE = 0
GROW_IDS = 1
GROW_WORDS = 2
GROW_TABLE = 3
UNKNOWN = 4  # a word not in a frozen table


@njit(**_JIT)
def hash_bytes(buf, a, b):
    """FNV-1a (64 bit) of buf[a:b], finalised (FNV's high bits mix poorly: slots are the
    high bits)."""
    h = _FNV_OFFSET
    for i in range(a, b):
        h = (h ^ np.uint64(buf[i])) * _FNV_PRIME
    h ^= h >> np.uint64(29)
    return h * _MUL


@njit(**_JIT)
def same_bytes(buf, a, b, word_bytes, wa, wb):
    if b - a != wb - wa:
        return False
    for i in range(b - a):
        if buf[a + i] != word_bytes[wa + i]:
            return False
    return True


# -- fixed tables -------------------------------------------------------------------------------


@njit(**_JIT)
def vocab_find(buf, a, b, words, slots, bits):
    """Id of the word buf[a:b] in a table made by `vocab_insert`, or -1. A slot is a row
    (hash tag << 32 | id, start << 24 | length), so a probe reads one slot and, when the
    tags agree, the word's bytes."""
    mask = (np.int64(1) << bits) - 1
    h = hash_bytes(buf, a, b)
    s = np.int64(h >> np.uint64(64 - bits))
    tag = np.int64(h & _TAG)
    n = b - a
    while True:
        v = slots[s, 0]
        if v < 0:
            return np.int64(-1)
        if (v >> 32) == tag:
            loc = slots[s, 1]
            if (loc & _LEN_MASK) == n:
                st = loc >> _LEN_BITS
                same = True
                for i in range(n):
                    if buf[a + i] != words[st + i]:
                        same = False
                        break
                if same:
                    return v & _ID_MASK
        s = (s + 1) & mask


@njit(**_JIT)
def vocab_insert(words, wstart, wend, lo, hi, slots, bits):
    """Insert words lo..hi-1 (word w: words[wstart[w]:wend[w]], UTF-8, shorter than 16 MiB)
    into slots (int64[2**bits, 2], -1 = empty, at most half full; see `vocab_find`).
    Returns the first word already present (a duplicate) or too long, or -1."""
    mask = (np.int64(1) << bits) - 1
    for w in range(lo, hi):
        a = wstart[w]
        b = wend[w]
        if b - a > _LEN_MASK:
            return np.int64(w)
        if vocab_find(words, a, b, words, slots, bits) >= 0:
            return np.int64(w)
        h = hash_bytes(words, a, b)
        s = np.int64(h >> np.uint64(64 - bits))
        while slots[s, 0] >= 0:
            s = (s + 1) & mask
        slots[s, 0] = (np.int64(h & _TAG) << 32) | w
        slots[s, 1] = (a << _LEN_BITS) | (b - a)
    return np.int64(-1)


# -- whitespace ---------------------------------------------------------------------------------


@njit(**_JIT)
def space_len(buf, i, n):
    """Bytes of the whitespace character (as `str.split` sees it) at buf[i], or 0."""
    c = buf[i]
    if c < 128:
        return 1 if (c == 32 or 9 <= c <= 13 or 28 <= c <= 31) else 0
    if c == 0xC2 and i + 1 < n:
        d = buf[i + 1]
        return 2 if (d == 0x85 or d == 0xA0) else 0
    if i + 2 < n:
        d = buf[i + 1]
        f = buf[i + 2]
        if c == 0xE1 and d == 0x9A and f == 0x80:  # U+1680
            return 3
        if c == 0xE2 and d == 0x80 and (f <= 0x8A or f == 0xA8 or f == 0xA9 or f == 0xAF):
            return 3  # U+2000..U+200A, U+2028, U+2029, U+202F
        if c == 0xE2 and d == 0x81 and f == 0x9F:  # U+205F
            return 3
        if c == 0xE3 and d == 0x80 and f == 0x80:  # U+3000
            return 3
    return 0



# -- growing tables -----------------------------------------------------------------------------
# Buffers read 8 bytes at a time (`load_u64`) with 8 bytes of slack after the last byte used:
# the text has 8 bytes after its end, a word buffer keeps 8 free bytes after `used`.

READ_SLACK = 8
_ONE = np.uint64(1)
_LOW7 = np.uint64((1 << 56) - 1)
_SHORT = np.int64(-(1 << 63))  # flag of a slot holding a short word's bytes
_H1 = np.uint64(0x9E3779B97F4A7C15)
_H2 = np.uint64(0xBF58476D1CE4E5B9)
_H3 = np.uint64(0x94D049BB133111EB)
_ONES = np.uint64(0x0101010101010101)
_HIGH = np.uint64(0x8080808080808080)
_BLOCK = 1024  # words split and hashed before they are looked up
_AHEAD = 16  # words ahead whose slot is prefetched


@njit(inline="always", **_JIT)
def _tail(x, r):
    """The low r bytes (1..7) of x."""
    return x & ((_ONE << np.uint64(8 * r)) - _ONE)


@njit(inline="always", **_JIT)
def _mix(h, x):
    h = (h ^ x) * _H2
    return h ^ (h >> np.uint64(31))


@njit(inline="always", **_JIT)
def _finish(h):
    h ^= h >> np.uint64(30)
    h *= _H3
    return h ^ (h >> np.uint64(31))


@njit(inline="always", **_JIT)
def hash_word(buf, a, b):
    """Hash of the word buf[a:b] (a growing table's: 8 bytes a step, ~3x faster than
    `hash_bytes` on words); buf has 8 bytes of slack after b."""
    h = np.uint64(b - a) * _H1
    p = a
    while p + 8 <= b:
        h = _mix(h, load_u64(buf, p))
        p += 8
    if p < b:
        h = _mix(h, _tail(load_u64(buf, p), b - p))
    return _finish(h)


@njit(inline="always", **_JIT)
def _short_key(buf, a, m):
    """Slot column 1 of a word of m <= 7 bytes at buf[a:]: its bytes, length and a flag."""
    return _SHORT | (np.int64(m) << 56) | np.int64(_tail(load_u64(buf, a), m))


@njit(inline="always", **_JIT)
def _equal(x, a, y, c, m):
    """x[a:a + m] == y[c:c + m], 8 bytes a step (both have 8 bytes of slack)."""
    p = 0
    while p + 8 <= m:
        if load_u64(x, a + p) != load_u64(y, c + p):
            return False
        p += 8
    return p == m or _tail(load_u64(x, a + p) ^ load_u64(y, c + p), m - p) == 0


@njit(inline="always", **_JIT)
def _probe(text, a, b, h, words, slots, bits):
    """(slot, id) of the word text[a:b] with hash h in a growing table; id -1: absent, and
    the slot is where it goes.

    Slot column 1: a word of at most 7 bytes holds them (`_short_key`, negative: no trip to
    the word buffer); a longer one start << 24 | length, the length saturated for words of
    16 MiB or more, whose end is then their newline."""
    mask = (np.int64(1) << bits) - 1
    s = np.int64(h >> np.uint64(64 - bits))
    tag = np.int64(h & _TAG)
    m = b - a
    key = _short_key(text, a, m) if m <= 7 else np.int64(-1)
    nl = min(m, _LEN_MASK)
    while True:
        v = slots[s, 0]
        if v < 0:
            return s, np.int64(-1)
        if (v >> 32) == tag:
            loc = slots[s, 1]
            if m <= 7:
                if loc == key:
                    return s, v & _ID_MASK
            elif (loc & _LEN_MASK) == nl and loc >= 0:
                st = loc >> _LEN_BITS
                if nl < _LEN_MASK:
                    if _equal(text, a, words, st, m):
                        return s, v & _ID_MASK
                elif same_bytes(text, a, b, words, st, st + m) and words[st + m] == NEWLINE:
                    return s, v & _ID_MASK  # (same_bytes stops at the newline of a shorter one)
        s = (s + 1) & mask


@njit(inline="always", **_JIT)
def _word_end(text, j, n):
    """End of the word that goes on at text[j:] (the next whitespace, TEXT_END or n):
    ASCII 8 bytes a step, looking for a byte < 0x21 or >= 0x80, then that byte's class."""
    while True:
        while j < n:
            x = load_u64(text, j)
            # the lowest marked byte is exact (a borrow only reaches the bytes above it)
            hit = ((x - _ONES * np.uint64(0x21)) | x) & _HIGH
            if hit:
                j += np.int64(trailing_zeros(hit) >> np.uint64(3))
                break
            j += 8
        if j >= n:
            return n
        c = text[j]
        if c < 128:
            if c == 32 or 9 <= c <= 13 or 28 <= c <= 31:
                return j
            j += 1  # a control character: part of the word
            continue
        # non-ASCII: a byte at a time up to the next ASCII byte (whitespace other than ASCII
        # starts with 0xC2, 0xE1, 0xE2 or 0xE3)
        while True:
            if c == TEXT_END or ((c == 0xC2 or 0xE1 <= c <= 0xE3) and space_len(text, j, n)):
                return j
            j += 1
            if j >= n:
                return n
            c = text[j]
            if c < 128:
                break


@njit(**_JIT)
def encode_grow(text, pos, end, doc, nid, ids, doc_ptr, words, state, slots, bits, max_words,
                frozen):
    """Split text[pos:end] (UTF-8 texts, each but the last followed by TEXT_END; 8 bytes of
    slack after end) on whitespace as `str.split` does and write every word's id to
    ids[nid:]; a word not in the growing table gets the next id (unless frozen), its bytes
    and a newline appended to words (which keeps 8 free bytes).

    doc: texts finished before pos; text k's ids end at doc_ptr[k + 1] (the caller sets
    doc_ptr[0] = 0). state: int64[2], (words in the table, bytes used in words), updated.
    max_words: the most words the table may hold (its load limit).

    Returns (status, pos, doc, nid, extra): with status DONE every text is done; GROW_IDS,
    GROW_WORDS (extra: the bytes words needs) or GROW_TABLE: the word at pos was left for
    the caller to grow that array and call again with the returned pos, doc and nid;
    UNKNOWN: text[pos:extra] is a word the frozen table lacks.

    Words go in blocks: split and hashed first, then looked up with the slots of the words
    `_AHEAD` on prefetched (the lookups' cache misses overlap).
    """
    wa = np.empty(_BLOCK, np.int64)
    wb = np.empty(_BLOCK, np.int64)
    wh = np.empty(_BLOCK, np.uint64)
    ends = np.empty(_BLOCK, np.int64)  # text ends in the block: words before each
    nw = state[0]
    used = state[1]
    i = pos
    status = DONE
    extra = np.int64(0)
    shift = np.uint64(64 - bits)
    while i < end and status == DONE:
        nb = 0
        ne = 0
        while i < end and nb < _BLOCK and ne < _BLOCK:
            c = text[i]
            if c < 128:
                if c == 32 or 9 <= c <= 13 or 28 <= c <= 31:
                    i += 1
                    continue
            elif c == TEXT_END:
                ends[ne] = nb
                ne += 1
                i += 1
                continue
            else:
                sl = space_len(text, i, end)
                if sl:
                    i += sl
                    continue
            j = _word_end(text, i + 1, end)
            wa[nb] = i
            wb[nb] = j
            wh[nb] = hash_word(text, i, j)
            nb += 1
            i = j
        e = 0
        k = 0
        while k < nb:
            if k + _AHEAD < nb:
                prefetch(slots, np.int64(wh[k + _AHEAD] >> shift))
            while e < ne and ends[e] <= k:
                doc += 1
                doc_ptr[doc] = nid
                e += 1
            a = wa[k]
            b = wb[k]
            if nid == ids.shape[0]:
                status = GROW_IDS
                break
            s, w = _probe(text, a, b, wh[k], words, slots, bits)
            if w < 0:
                if frozen:
                    status = UNKNOWN
                    extra = b
                    break
                if nw >= max_words:
                    status = GROW_TABLE
                    break
                m = b - a
                if used + m + 1 + READ_SLACK > words.shape[0]:
                    status = GROW_WORDS
                    extra = used + m + 1 + READ_SLACK
                    break
                words[used : used + m] = text[a:b]
                words[used + m] = NEWLINE
                slots[s, 0] = (np.int64(wh[k] & _TAG) << 32) | nw
                if m <= 7:
                    slots[s, 1] = _short_key(text, a, m)
                else:
                    slots[s, 1] = (used << _LEN_BITS) | min(m, _LEN_MASK)
                w = nw
                nw += 1
                used += m + 1
            ids[nid] = w
            nid += 1
            k += 1
        if status != DONE:
            i = wa[k]  # from the word left
        while e < ne and (status == DONE or ends[e] <= k):
            doc += 1
            doc_ptr[doc] = nid
            e += 1
    if status == DONE:
        doc += 1  # the last text
        doc_ptr[doc] = nid
    state[0] = nw
    state[1] = used
    return status, i, doc, nid, extra


@njit(**_JIT)
def build_table(words, used, slots, bits, check):
    """Add the newline-terminated words of words[:used] (8 bytes of slack after) to an empty
    growing table, with ids in their order. With check, stop at the first one that is empty,
    holds whitespace or repeats an earlier word. Returns (words added, first bad word or -1,
    why: 1 empty, 2 holds whitespace, 3 repeats an earlier word)."""
    nw = np.int64(0)
    a = np.int64(0)
    mask = (np.int64(1) << bits) - 1
    while a < used:
        b = a
        while words[b] != NEWLINE:
            b += 1
        h = hash_word(words, a, b)
        if check:
            if b == a:
                return nw, nw, 1
            for i in range(a, b):
                if space_len(words, i, b):
                    return nw, nw, 2
            s, w = _probe(words, a, b, h, words, slots, bits)
            if w >= 0:
                return nw, nw, 3
        else:
            s = np.int64(h >> np.uint64(64 - bits))
            while slots[s, 0] >= 0:
                s = (s + 1) & mask
        m = b - a
        slots[s, 0] = (np.int64(h & _TAG) << 32) | nw
        slots[s, 1] = _short_key(words, a, m) if m <= 7 else (a << _LEN_BITS) | min(m, _LEN_MASK)
        nw += 1
        a = b + 1
    return nw, np.int64(-1), 0


@njit(**_JIT)
def word_starts(words, used, count):
    """int64[count + 1]: where each newline-terminated word of words[:used] starts, then used."""
    off = np.empty(count + 1, np.int64)
    k = 0
    off[0] = 0
    for i in range(used):
        if words[i] == NEWLINE:
            k += 1
            off[k] = i + 1
    return off


@njit(**_JIT)
def _key7(words, a, e, d):
    """Sort key of the word words[a:e] past its first d bytes: the next 7 bytes (zero-padded)
    then the bytes left, capped at 8 (more than 7), so that a word sorts before its
    extensions. Equal keys: both words go on past d + 7."""
    k = np.uint64(0)
    for t in range(7):
        p = a + d + t
        k = (k << np.uint64(8)) | np.uint64(words[p] if p < e else 0)
    return (k << np.uint64(8)) | np.uint64(min(e - a - d, 8))


@njit(**_JIT)
def _less(words, a1, e1, a2, e2, d):
    """words[a1:e1] < words[a2:e2] (bytewise), given that their first d bytes agree."""
    n1 = e1 - a1
    n2 = e2 - a2
    for t in range(d, min(n1, n2)):
        x = words[a1 + t]
        y = words[a2 + t]
        if x != y:
            return x < y
    return n1 < n2


@njit(**_JIT)
def sort_words(words, off):
    """Ids 1..len(off)-2 in byte order of their words (words[off[w]:off[w + 1] - 1]; for
    UTF-8, code-point order). Most significant bytes first: sort by a 7-byte key, then each
    run of equal keys by the next 7 bytes; small runs by insertion."""
    m = off.shape[0] - 2
    idx = np.arange(1, m + 1).astype(np.int64)
    keys = np.empty(m, np.uint64)
    stack = [(np.int64(0), np.int64(m), np.int64(0))]
    while len(stack):
        lo, hi, d = stack.pop()
        if hi - lo <= 16:
            for k in range(lo + 1, hi):
                w = idx[k]
                r = k
                while r > lo and _less(words, off[w], off[w + 1] - 1, off[idx[r - 1]],
                                       off[idx[r - 1] + 1] - 1, d):
                    idx[r] = idx[r - 1]
                    r -= 1
                idx[r] = w
            continue
        for k in range(lo, hi):
            w = idx[k]
            keys[k] = _key7(words, off[w], off[w + 1] - 1, d)
        order = np.argsort(keys[lo:hi]) + lo
        idx[lo:hi] = idx[order]
        keys[lo:hi] = keys[order]
        r = lo
        while r < hi:
            e = r + 1
            while e < hi and keys[e] == keys[r]:
                e += 1
            if e - r > 1:
                stack.append((r, e, d + 7))
            r = e
    return idx


@njit(**_JIT)
def renumber(words, off, order, slots):
    """Give word order[k] the id k + 1 (id 0 stays): returns (the words in the new order,
    newline-terminated, with 8 bytes of slack, and old id -> new id as uint32), rewriting
    the table's slots."""
    n = off.shape[0] - 1
    remap = np.empty(n, np.uint32)
    remap[0] = 0
    for k in range(order.shape[0]):
        remap[order[k]] = k + 1
    out = np.zeros(off[n] + READ_SLACK, np.uint8)
    new_off = np.empty(n, np.int64)
    pos = 0
    for k in range(n):
        w = order[k - 1] if k else 0
        new_off[k] = pos
        m = off[w + 1] - off[w]
        out[pos : pos + m] = words[off[w] : off[w + 1]]
        pos += m
    for r in range(slots.shape[0]):
        v = slots[r, 0]
        if v < 0:
            continue
        new = np.int64(remap[v & _ID_MASK])
        slots[r, 0] = ((v >> 32) << 32) | new
        loc = slots[r, 1]
        if loc >= 0:  # (a short word's slot holds its bytes, not where they are)
            slots[r, 1] = (new_off[new] << _LEN_BITS) | (loc & _LEN_MASK)
    return out, remap
