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

Also here: text to model ids (`encode_words`, over the vocabulary hash table of UTF-8 words
and the `str.split` whitespace rules of `cooc.kernels.vocab`); ARPA export
(`format_float32`: lmplz's shortest float32 decimals; `format_arpa_lines`) and import
(`parse_arpa_section`).

Performance notes (2-core VM, 11.6 M n-grams of order <= 5): a word lookup costs ~140 ns
(3-4 cache misses: slot, offsets, bytes) with the offsets in their own arrays, which bounded
ARPA import (~1.1 us per 5-gram line) and text encoding: slots now hold a hash tag, the id,
the start and length (one miss, then the bytes). Float
formatting is ~100 ns a value, mostly branch misses of the digit search (unsigned digit
arithmetic and division-free exponent search changed little).
"""

import math

import numpy as np
from numba import njit

from cooc.kernels.vocab import hash_bytes, same_bytes, space_len, vocab_find, vocab_insert

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
def find_slot(key, base, bits, tkeys, tvals):
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
                r = find_slot(ctx[m] * vocab + w + 1, slot_base[k], slot_bits[k], tkeys, tvals)
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


# -- ARPA export: numbers and lines into a byte buffer ----------------------------------------

_ZERO = np.uint64(48)  # "0"
_NPOW10 = np.array([float(f"1e-{i}") for i in range(309)], dtype=np.float64)
_POW10I = np.array([10 ** i for i in range(19)], dtype=np.int64)
_POW10 = np.array([float(f"1e{i}") for i in range(309)], dtype=np.float64)  # correctly rounded


@njit(**_JIT)
def _scale(v, s):
    """v * 10**s (exact powers up to 10**22; beyond, the round-trip check catches errors)."""
    if s >= 0:
        return v * _POW10[s] if s < 309 else v * 1e300 * _POW10[s - 300]
    return v / _POW10[-s] if -s < 309 else v / 1e300 / _POW10[-s - 300]


@njit(**_JIT)
def _pow10(e):
    """The double nearest 10**e (|e| < 309)."""
    return _POW10[e] if e >= 0 else _NPOW10[-e]


@njit(**_JIT)
def _reads_back(v, e, p, target):
    """v (of decimal exponent e) rounded to p significant digits reads back as target."""
    m = math.floor(_scale(v, p - 1 - e) + 0.5)
    return np.float32(_scale(m, e - p + 1)) == target


@njit(**_JIT)
def format_float32(x, out, pos):
    """Write float32 x at out[pos:] as KenLM's lmplz does (double-conversion's ToShortestSingle:
    the fewest significant digits that read back as x; positional for decimal exponents in
    [-6, 21), else d.ddde-N; zero as "0"). Returns the position after it.

    Digits: the least p in 1..9 such that x rounded to p significant digits reads back (as
    a float64, then float32) as x; 9 digits always identify a float32."""
    v = np.float64(x)
    if v == 0.0 or v != v:
        out[pos] = 48  # "0"; NaN cannot occur (log10 of positive numbers, capped at 0)
        return pos + 1
    if v < 0:
        out[pos] = 45  # "-"
        pos += 1
        v = -v
    if v == np.inf:
        for c in (105, 110, 102):  # "inf"
            out[pos] = c
            pos += 1
        return pos
    # decimal exponent: from the binary one (log10(2) = 0.30103), then corrected
    e = int(math.floor((math.frexp(v)[1] - 1) * 0.30102999566398120))
    # (against the nearest doubles of 10**e: a float32 is never that close to a power of 10
    # it does not equal, so no division is needed)
    while _pow10(e) > v:
        e -= 1
    while _pow10(e + 1) <= v:
        e += 1
    # the least p whose rounding to p digits reads back as x (monotone in p). Log10
    # probabilities need 7 (57 %) or 8 (42 %) digits: try 7, then 8 or 6, and search below
    # 6 only for the rare short ones (2 checks a value instead of a binary search's 3-4)
    target = np.float32(v)
    if _reads_back(v, e, 7, target):
        if not _reads_back(v, e, 6, target):
            p = 7
        else:
            lo_p = 1
            p = 6
            while lo_p < p:
                q = (lo_p + p) // 2
                if _reads_back(v, e, q, target):
                    p = q
                else:
                    lo_p = q + 1
    else:
        p = 8 if _reads_back(v, e, 8, target) else 9
    m = np.uint64(math.floor(_scale(v, p - 1 - e) + 0.5))  # unsigned: cheaper % and //
    ten = np.uint64(10)
    if m >= np.uint64(_POW10I[p]):  # rounded up to the next power of ten
        m //= ten
        e += 1
    while p > 1 and m % ten == 0:  # trailing zeros
        m //= ten
        p -= 1
    point = e + 1  # value = 0.d1d2...dp * 10**point
    if -6 <= e < 21:
        if point <= 0:  # 0.000ddd
            out[pos] = 48
            out[pos + 1] = 46
            pos += 2
            for _ in range(-point):
                out[pos] = 48
                pos += 1
            for i in range(p - 1, -1, -1):
                out[pos + i] = _ZERO + m % ten
                m //= ten
            return pos + p
        if point >= p:  # ddd000
            for i in range(p - 1, -1, -1):
                out[pos + i] = _ZERO + m % ten
                m //= ten
            pos += p
            for _ in range(point - p):
                out[pos] = 48
                pos += 1
            return pos
        for i in range(p - 1, -1, -1):  # dd.ddd
            out[pos + i + (1 if i >= point else 0)] = _ZERO + m % ten
            m //= ten
        out[pos + point] = 46
        return pos + p + 1
    for i in range(p - 1, 0, -1):  # d.ddde-N
        out[pos + 1 + i] = _ZERO + m % ten
        m //= ten
    out[pos] = _ZERO + m
    if p > 1:
        out[pos + 1] = 46
        pos += p + 1
    else:
        pos += 1
    out[pos] = 101  # "e"
    pos += 1
    if e < 0:
        out[pos] = 45
        pos += 1
        e = -e
    q = 1
    while q * 10 <= e:
        q *= 10
    while q > 0:
        out[pos] = 48 + (e // q) % 10
        pos += 1
        q //= 10
    return pos


@njit(**_JIT)
def format_floats(values, out):
    """Every float32 of values formatted by `format_float32`, newline-terminated, into out
    (at least 23 bytes per value); returns the bytes written (a test helper)."""
    pos = 0
    for i in range(values.shape[0]):
        pos = format_float32(values[i], out, pos)
        out[pos] = 10
        pos += 1
    return pos


@njit(**_JIT)
def arpa_lines_size(grams, word_len):
    """Upper bound of the bytes `format_arpa_lines` writes for grams."""
    k = grams.shape[1]
    total = np.int64(0)
    for i in range(grams.shape[0]):
        for j in range(k):
            total += word_len[grams[i, j]]
    return total + grams.shape[0] * (k + 48)  # numbers: at most 22 bytes each


@njit(**_JIT)
def format_arpa_lines(grams, logprob, backoff, with_backoff, word_bytes, word_off, out):
    """ARPA lines `prob<TAB>w1 ... wk[<TAB>backoff]<NL>` of the rows of grams (word ids into
    word_bytes[word_off[w]:word_off[w + 1]], UTF-8) into out; returns the bytes written. out
    holds at least `arpa_lines_size` bytes."""
    k = grams.shape[1]
    pos = 0
    for i in range(grams.shape[0]):
        pos = format_float32(logprob[i], out, pos)
        out[pos] = 9
        pos += 1
        for j in range(k):
            if j:
                out[pos] = 32
                pos += 1
            w = grams[i, j]
            for b in range(word_off[w], word_off[w + 1]):
                out[pos] = word_bytes[b]
                pos += 1
        if with_backoff:
            out[pos] = 9
            pos += 1
            pos = format_float32(backoff[i], out, pos)
        out[pos] = 10
        pos += 1
    return pos


# -- vocabulary: text to model ids (the table and `space_len` are in `cooc.kernels.vocab`) ----


@njit(inline="always", **_JIT)
def ascii_space_len(buf, i):
    """1 for the ASCII whitespace `bytes.split` splits on (space, \t, \n, \r, \v, \f), else 0."""
    c = buf[i]
    return 1 if (c == 32 or 9 <= c <= 13) else 0


@njit(**_JIT)
def encode_words(text, bounds, words, slots, bits, unk, ids, sent_ptr, ascii_spaces=False):
    """Split every text[bounds[s]:bounds[s + 1]] (UTF-8) on whitespace as `str.split` does
    (ascii_spaces: on ASCII whitespace only, as KenLM and `bytes.split` do) and look each
    word up (unknown: unk). ids (int32, at least one slot per 2 bytes of text plus one) gets
    the ids, sent_ptr (int64[sentences + 1]) the sentence pointers; returns the number of
    words."""
    nw = 0
    sent_ptr[0] = 0
    for s in range(bounds.shape[0] - 1):
        i = bounds[s]
        end = bounds[s + 1]
        while i < end:
            sl = ascii_space_len(text, i) if ascii_spaces else space_len(text, i, end)
            if sl:
                i += sl
                continue
            j = i + 1
            while j < end and (ascii_space_len(text, j) if ascii_spaces
                               else space_len(text, j, end)) == 0:
                j += 1
            w = vocab_find(text, i, j, words, slots, bits)
            ids[nw] = unk if w < 0 else w
            nw += 1
            i = j
        sent_ptr[s + 1] = nw
    return nw


@njit(**_JIT)
def hash_words(word_bytes, word_off):
    """64-bit hashes (uint64[V]) of the words word_bytes[word_off[w]:word_off[w + 1]]."""
    n = word_off.shape[0] - 1
    out = np.empty(n, np.uint64)
    for w in range(n):
        out[w] = hash_bytes(word_bytes, word_off[w], word_off[w + 1])
    return out


# -- ARPA import: one section's lines ---------------------------------------------------------

_EXACT = 2.0 ** 53


@njit(**_JIT)
def _parse_float(buf, a, b):
    """(value, status) of the decimal buf[a:b]: status 0 exact (correctly rounded float64),
    1 a number this parser does not read exactly (the caller uses Python's float), 2 not the
    plain form [+-]d[.d][e[+-]d] (the caller's slow path names the problem)."""
    i = a
    neg = False
    if i < b and (buf[i] == 45 or buf[i] == 43):
        neg = buf[i] == 45
        i += 1
    m = np.int64(0)
    nd = 0  # significant digits kept in m
    scale = 0  # decimal exponent adjustment
    digits = 0
    while i < b and 48 <= buf[i] <= 57:
        if m > 0 or buf[i] != 48:
            if nd < 18:
                m = m * 10 + (buf[i] - 48)
                nd += 1
            else:
                scale += 1
                if buf[i] != 48:
                    nd = 99
        digits += 1
        i += 1
    if i < b and buf[i] == 46:
        i += 1
        while i < b and 48 <= buf[i] <= 57:
            if m > 0 or buf[i] != 48:
                if nd < 18:
                    m = m * 10 + (buf[i] - 48)
                    nd += 1
                    scale -= 1
                elif buf[i] != 48:
                    nd = 99
            else:
                scale -= 1
            digits += 1
            i += 1
    if digits == 0:
        return 0.0, 2
    if i < b and (buf[i] == 101 or buf[i] == 69):
        i += 1
        eneg = False
        if i < b and (buf[i] == 45 or buf[i] == 43):
            eneg = buf[i] == 45
            i += 1
        if i == b:
            return 0.0, 2
        ex = 0
        while i < b and 48 <= buf[i] <= 57:
            if ex < 100000:
                ex = ex * 10 + (buf[i] - 48)
            i += 1
        scale += -ex if eneg else ex
    if i != b:
        return 0.0, 2
    if m == 0:
        return (-0.0 if neg else 0.0), 0
    if nd > 15 or m >= _EXACT or scale > 22 or scale < -22:
        return 0.0, 1
    v = np.float64(m) * _POW10[scale] if scale >= 0 else np.float64(m) / _POW10[-scale]
    return (-v if neg else v), 0


@njit(**_JIT)
def parse_arpa_section(text, pos, k, count, highest, words, wstart, wend, slots, bits,
                       grams, prob, backoff, slow_rows):
    """Parse the lines of one `\\k-grams:` section from text[pos:] up to the next line
    starting with a backslash: `prob w1 .. wk [backoff]`, fields split on whitespace as
    `str.split` does. Unigrams (k = 1) are new words: their spans go to wstart/wend and the
    table; higher orders' words are looked up there.

    Returns (status, position of the stopping line, rows, rows with a number to re-read in
    Python: slow_rows[:that] holds (row, line start)). status 0: fine; 1: anything else (more rows than count, a
    bad field, an unknown or repeated word, a lone CR): the caller's line-by-line reader then
    finds and names the problem."""
    n = text.shape[0]
    row = 0
    nslow = 0
    span_a = np.empty(k + 2, np.int64)
    span_b = np.empty(k + 2, np.int64)
    prev_a = np.zeros(k, np.int64)
    prev_b = np.zeros(k, np.int64)
    while pos < n:
        # one line: [pos, eol)
        eol = pos
        while eol < n and text[eol] != 10:
            eol += 1
        nf = 0
        i = pos
        while i < eol:
            if text[i] == 13:
                return 1, pos, row, nslow
            sl = space_len(text, i, eol)
            if sl:
                i += sl
                continue
            j = i + 1
            while j < eol and text[j] != 13 and space_len(text, j, eol) == 0:
                j += 1
            if nf == k + 2:
                return 1, pos, row, nslow
            span_a[nf] = i
            span_b[nf] = j
            nf += 1
            i = j
        if nf == 0:
            pos = eol + 1
            continue
        if text[span_a[0]] == 92:  # "\\": the next section or \\end\\
            return 0, pos, row, nslow
        if nf < k + 1 or (nf == k + 2 and highest) or row >= count:
            return 1, pos, row, nslow
        v, st = _parse_float(text, span_a[0], span_b[0])
        if st == 2 or v != v or v == np.inf or v == -np.inf:
            return 1, pos, row, nslow
        slow = st == 1
        prob[row] = v
        if nf == k + 2:
            v, st = _parse_float(text, span_a[k + 1], span_b[k + 1])
            if st == 2 or v != v or v == np.inf or v == -np.inf:
                return 1, pos, row, nslow
            slow = slow or st == 1
            backoff[row] = v
        else:
            backoff[row] = 0.0
        if slow:
            slow_rows[nslow, 0] = row
            slow_rows[nslow, 1] = pos
            nslow += 1
        if k == 1:
            wstart[row] = span_a[1]
            wend[row] = span_b[1]
            if vocab_insert(words, wstart, wend, row, row + 1, slots, bits) >= 0:
                return 1, pos, row, nslow
            grams[row, 0] = row
        else:
            for j in range(k):
                a = span_a[j + 1]
                b = span_b[j + 1]
                # files in suffix order repeat the last words line after line: the previous
                # line's word at j (cache-hot) before the table
                if row > 0 and same_bytes(text, a, b, text, prev_a[j], prev_b[j]):
                    w = grams[row - 1, j]
                else:
                    w = vocab_find(text, a, b, words, slots, bits)
                    if w < 0:
                        return 1, pos, row, nslow
                grams[row, j] = w
                prev_a[j] = a
                prev_b[j] = b
        row += 1
        pos = eol + 1
    return 0, pos, row, nslow
