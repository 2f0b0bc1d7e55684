"""word2vec with negative sampling: skip-gram (SGNS) and CBOW, as word2vec.c trains them.

One call of `train_chunk` trains on a chunk of documents (dense vocabulary ids, rare words
already removed): every word is kept with its subsampling probability, each kept word gets a
reduced window b uniform in [0, window) (contexts at distance 1..window-b in its document,
after subsampling), and each (context, center) pair (skip-gram) or each center with the mean
of its contexts (CBOW) is one logistic-regression step against the center and `negative`
words drawn from the unigram^0.75 distribution. The learning rate falls linearly from
`alpha` at the first word of the first epoch to `min_alpha` at the last word of the last
(the chunk is told its first word's place in the whole run). Several threads may call
`train_chunk` at once on different chunks with the same W and C (Hogwild: unsynchronised
float32 updates, as word2vec.c and gensim do); the kernels release the GIL.

Conventions (word2vec.c's): W holds the input vectors (the result), C the output vectors.
Skip-gram: the context word's W row is the input, the center's C row the positive target;
the input's gradient is summed in a local buffer (neu1e) and added once. CBOW: the mean of
the contexts' W rows is the input; its gradient is added whole to each context row. The
sigmoid comes from a table of `EXP_TABLE_SIZE` values over [-MAX_EXP, MAX_EXP]; outside it
the gradient is that of a saturated sigmoid (0 or 1), as in word2vec.c.

Randomness: one splitmix64 stream per chunk, seeded by the caller (from the run's seed and
the chunk's index, not the thread: a chunk draws the same numbers whichever thread runs it,
so one thread is bit-reproducible and more threads differ only by the Hogwild races).

Negatives: Walker's alias table over the V words (`alias_table`): one 64-bit random number,
the top 32 bits pick a column uniformly, the low 32 bits choose between the column's word and
its alias. Exact up to 2^-32, O(1) and branch-free, in V x 8 bytes (in L2 for ~100k words).

Performance notes (one thread, CPU time, on 2 cores shared with other jobs, so +-15 %;
the whole-run figures are in BENCHMARKS.md, issue 13):
- The vector size is a compile-time constant (`numba.literally`; `specialized` then skips
  the dispatcher): with a runtime size LLVM vectorized 64 floats at a time and ran the last
  36 of 100 as scalars; one dot + axpy went from 26 to 14 ns.
- Each center's window and negatives are drawn while the previous center trains, and the
  rows they name are prefetched: W and C (2 x 17 MB for 44k words) are larger than the
  caches and the rows random; 641 -> 388 ns a (context, center) pair with 50k words.
- Negatives: gensim's cumulative table with a binary search (bucketed by the top bits)
  cost 13-27 ns a draw (mispredicted branches), five draws a pair; the alias table 5.5 ns.
- Skip-gram: with no target twice among (center, negatives), all the dots are taken first
  (exactly the sequential loop's, since a step changes only its own target's row).
- Tried and dropped: fusing the updates of all targets into one pass over the vector
  (LLVM does not vectorize the outer loop: 5x slower); gensim's rule of skipping the
  update when |dot| >= 6 instead of word2vec.c's saturated gradient (no change in speed
  or rho). xorshift64* (its low 32 bits tossed the alias coin) gave way to splitmix64 at
  the same speed: SimLex-999 rho 0.150 over 2 seeds vs 0.156 over 4 (suggestive only).
- `shared`: the C rows of a center's targets stay in L1 across its contexts and a sixth
  of the draws are made: 1.45-1.55x the words per CPU-second on one thread.
"""

import numpy as np
from numba import literally, njit, typeof, types

from cooc.kernels.intrinsics import prefetch

_JIT = dict(nogil=True, fastmath=True, cache=True)

EXP_TABLE_SIZE = 1000
MAX_EXP = 6.0
_U27, _U30, _U31, _U32 = np.uint64(27), np.uint64(30), np.uint64(31), np.uint64(32)
_LOW32 = np.uint64(0xFFFFFFFF)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1, _MIX2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)


def sigmoid_table(size: int = EXP_TABLE_SIZE, max_exp: float = MAX_EXP) -> np.ndarray:
    """word2vec.c's expTable: sigmoid at (i / size * 2 - 1) * max_exp, float32."""
    x = np.exp((np.arange(size, dtype=np.float64) / size * 2 - 1) * max_exp)
    return (x / (x + 1)).astype(np.float32)


def keep_probabilities(counts: np.ndarray, sample: float) -> np.ndarray:
    """word2vec.c's subsampling: word i is kept with probability
    min(1, (sqrt(f/(t*total)) + 1) * t*total/f), f its count, t = sample (0: always)."""
    counts = np.asarray(counts, dtype=np.float64)
    if sample <= 0:
        return np.ones(len(counts))
    st = sample * counts.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        p = (np.sqrt(counts / st) + 1) * st / counts
    return np.where(counts > 0, np.minimum(p, 1.0), 1.0)


def keep_thresholds(counts: np.ndarray, sample: float) -> np.ndarray:
    """`keep_probabilities` as uint64 thresholds: kept when a uniform 32-bit number is below."""
    return np.round(keep_probabilities(counts, sample) * 2.0**32).astype(np.uint64)


def alias_table(counts: np.ndarray, power: float = 0.75) -> np.ndarray:
    """Walker's alias table for drawing word i with probability count_i^power / Z: entry i is
    (threshold << 32) | alias (uint64); column i (chosen uniformly) gives i when a uniform
    32-bit number is below threshold, else alias. Built by Vose's method in float64."""
    w = np.asarray(counts, dtype=np.float64) ** power
    if len(w) == 0 or not w.sum() > 0:
        raise ValueError("the negative-sampling table needs at least one word with a count")
    if len(w) >= 1 << 32:
        raise ValueError(f"the negative-sampling table holds at most 2^32 - 1 words, got {len(w)}")
    return _vose(w / w.sum() * len(w))


@njit(cache=True)
def _vose(q):
    n = q.shape[0]
    q = q.copy()
    alias = np.arange(n).astype(np.uint64)
    thresh = np.zeros(n, dtype=np.uint64)  # 0 with alias = self: the column is all i
    small = np.empty(n, dtype=np.int64)
    large = np.empty(n, dtype=np.int64)
    ns = nl = 0
    for i in range(n):
        if q[i] < 1.0:
            small[ns] = i
            ns += 1
        else:
            large[nl] = i
            nl += 1
    while ns > 0 and nl > 0:
        ns -= 1
        s = small[ns]
        g = large[nl - 1]
        thresh[s] = np.uint64(min(np.round(q[s] * 4294967296.0), 4294967295.0))
        alias[s] = g
        q[g] = (q[g] + q[s]) - 1.0
        if q[g] < 1.0:
            nl -= 1
            small[ns] = g
            ns += 1
    return (thresh << _U32) | alias


@njit(**_JIT)
def splitmix64(state):
    """(next state, 64 random bits): splitmix64 (Steele et al.; passes BigCrush)."""
    x = state + _GOLDEN
    z = (x ^ (x >> _U30)) * _MIX1
    z = (z ^ (z >> _U27)) * _MIX2
    return x, z ^ (z >> _U31)


@njit(**_JIT)
def draw_word(table, bits):
    """The alias table's word for 64 random bits (top 32: the column, low 32: the coin)."""
    i = ((bits >> _U32) * np.uint64(table.shape[0])) >> _U32
    e = table[i]
    return np.int64(i) if (bits & _LOW32) < (e >> _U32) else np.int64(e & _LOW32)


@njit(**_JIT)
def draw_words(table, state, n):
    """n negatives (a test entry point); returns (words, state)."""
    out = np.empty(n, dtype=np.int64)
    for i in range(n):
        state, bits = splitmix64(state)
        out[i] = draw_word(table, bits)
    return out, state


@njit(**_JIT)
def _gradient(f, label, lr, exp_table):
    if f >= MAX_EXP:
        return (label - np.float32(1.0)) * lr
    if f <= -MAX_EXP:
        return label * lr
    i = int((f + MAX_EXP) * (EXP_TABLE_SIZE / MAX_EXP / 2))
    return (label - exp_table[i]) * lr


@njit(**_JIT)
def sgns_step(W, C, inp, center, negs, q0, n_neg, lr, neu1e, grad, exp_table, dim):
    """One skip-gram step: W[inp] (the context) predicts C[center] (label 1) and not
    C[negs[q0:q0 + n_neg]] (label 0; a negative equal to the center is skipped), as
    word2vec.c's loop does it; neu1e (dim) and grad (n_neg + 1) are scratch."""
    wi = W[inp]
    distinct = True
    for a in range(1, n_neg):
        for b in range(a):
            if negs[q0 + a] == negs[q0 + b]:
                distinct = False
    for k in range(dim):
        neu1e[k] = 0.0
    if distinct:
        # every target's dot first: a step changes only its own target's row, so with no
        # target twice these are the dots of the sequential loop below
        for d in range(n_neg + 1):
            t = center if d == 0 else negs[q0 + d - 1]
            grad[d] = 0.0
            if d > 0 and t == center:
                continue
            ct = C[t]
            f = np.float32(0.0)
            for k in range(dim):
                f += wi[k] * ct[k]
            grad[d] = _gradient(f, np.float32(1.0 if d == 0 else 0.0), lr, exp_table)
        for d in range(n_neg + 1):
            t = center if d == 0 else negs[q0 + d - 1]
            if d > 0 and t == center:
                continue
            ct = C[t]
            g = grad[d]
            for k in range(dim):
                neu1e[k] += g * ct[k]
                ct[k] += g * wi[k]
    else:
        for d in range(n_neg + 1):
            t = center if d == 0 else negs[q0 + d - 1]
            if d > 0 and t == center:
                continue
            ct = C[t]
            f = np.float32(0.0)
            for k in range(dim):
                f += wi[k] * ct[k]
            g = np.float32(_gradient(f, np.float32(1.0 if d == 0 else 0.0), lr, exp_table))
            for k in range(dim):
                neu1e[k] += g * ct[k]
                ct[k] += g * wi[k]
    for k in range(dim):
        wi[k] += neu1e[k]


@njit(**_JIT)
def cbow_step(W, C, ctx, n_ctx, center, negs, n_neg, lr, neu1, neu1e, exp_table, dim):
    """One CBOW step: the mean of W[ctx[:n_ctx]] predicts C[center] and not C[negs[:n_neg]];
    the input's gradient is added to each context row (word2vec.c, gensim cbow_mean=1)."""
    for k in range(dim):
        neu1[k] = 0.0
        neu1e[k] = 0.0
    for j in range(n_ctx):
        wc = W[ctx[j]]
        for k in range(dim):
            neu1[k] += wc[k]
    inv = np.float32(1.0) / np.float32(n_ctx)
    for k in range(dim):
        neu1[k] *= inv
    for d in range(n_neg + 1):
        t = center if d == 0 else negs[d - 1]
        if d > 0 and t == center:
            continue
        ct = C[t]
        f = np.float32(0.0)
        for k in range(dim):
            f += neu1[k] * ct[k]
        g = np.float32(_gradient(f, np.float32(1.0 if d == 0 else 0.0), lr, exp_table))
        for k in range(dim):
            neu1e[k] += g * ct[k]
            ct[k] += g * neu1[k]
    for j in range(n_ctx):
        wc = W[ctx[j]]
        for k in range(dim):
            wc[k] += neu1e[k]


@njit(**_JIT)
def sgns_update(W, C, inp, center, negs, lr, exp_table):
    """`sgns_step` on its own (the tests' entry point): negs are the negatives, lr float32."""
    dim = W.shape[1]
    neu1e = np.empty(dim, dtype=np.float32)
    grad = np.empty(negs.shape[0] + 1, dtype=np.float32)
    sgns_step(W, C, inp, center, negs, 0, negs.shape[0], lr, neu1e, grad, exp_table, dim)


@njit(**_JIT)
def cbow_update(W, C, ctx, center, negs, lr, exp_table):
    """`cbow_step` on its own (the tests' entry point): ctx the context words."""
    dim = W.shape[1]
    neu1 = np.empty(dim, dtype=np.float32)
    neu1e = np.empty(dim, dtype=np.float32)
    cbow_step(W, C, ctx, ctx.shape[0], center, negs, negs.shape[0], lr, neu1, neu1e,
              exp_table, dim)


@njit(**_JIT)
def _prefetch_row(flat, row, dim):
    base = row * dim
    for k in range(0, dim, 16):  # 64-byte lines
        prefetch(flat, base + k)


@njit(**_JIT)
def _plan(i, n, window, sets, negative, negs, table, state):
    """Center i's reduced window [lo, hi) and `sets` sets of negatives in negs (one per
    context for skip-gram, one for CBOW: `sets` < 0 means hi - lo - 1); (lo, hi, state)."""
    state, bits = splitmix64(state)
    b = np.int64((bits >> _U32) % np.uint64(window))
    lo = max(0, i - window + b)
    hi = min(n, i + window - b + 1)
    if sets < 0:
        sets = hi - lo - 1
    for q in range(sets * negative):
        state, bits = splitmix64(state)
        negs[q] = draw_word(table, bits)
    return lo, hi, state


@njit(**_JIT)
def train_chunk(ids, doc_ptr, W, C, keep, table, exp_table, sg, shared, window, negative,
                alpha, min_alpha, word_offset, total_words, state, dim):
    """Train on the documents ids[doc_ptr[d]:doc_ptr[d+1]] (dense ids, int32); `dim` =
    W.shape[1], compiled as a constant. The chunk's first word is word `word_offset` of the
    run's `total_words` (all epochs): the learning rate at word x is
    max(min_alpha, alpha - (alpha - min_alpha) * x / total_words). `shared` (skip-gram):
    one set of negatives per center, used by each of its contexts (pWord2Vec's scheme,
    Ji et al. 2016), instead of one set per (context, center) pair. Returns the words kept
    by subsampling (trained on)."""
    return _train_chunk(ids, doc_ptr, W, C, keep, table, exp_table, sg, shared, window,
                        negative, alpha, min_alpha, word_offset, total_words, state,
                        literally(dim))


@njit(**_JIT)
def _train_chunk(ids, doc_ptr, W, C, keep, table, exp_table, sg, shared, window, negative,
                 alpha, min_alpha, word_offset, total_words, state, dim):
    Wf = W.reshape(W.shape[0] * dim)
    Cf = C.reshape(C.shape[0] * dim)
    longest = 0
    for d in range(doc_ptr.shape[0] - 1):
        longest = max(longest, doc_ptr[d + 1] - doc_ptr[d])
    sent = np.empty(longest, dtype=np.int32)
    pos = np.empty(longest, dtype=np.int64)
    neu1 = np.empty(dim, dtype=np.float32)
    neu1e = np.empty(dim, dtype=np.float32)
    grad = np.empty(negative + 1, dtype=np.float32)
    cur = np.empty(2 * window * negative, dtype=np.int64)
    nxt = np.empty(2 * window * negative, dtype=np.int64)
    ctx = np.empty(2 * window, dtype=np.int64)
    sets = -1 if sg and not shared else 1
    slope = (alpha - min_alpha) / max(total_words, 1)
    kept = 0
    for d in range(doc_ptr.shape[0] - 1):
        n = 0
        for t in range(doc_ptr[d], doc_ptr[d + 1]):
            w = ids[t]
            state, bits = splitmix64(state)
            if (bits >> _U32) < keep[w]:
                sent[n] = w
                pos[n] = t
                n += 1
        kept += n
        if n == 0:
            continue
        lo, hi, state = _plan(0, n, window, sets, negative, cur, table, state)
        nlo = nhi = 0
        for i in range(n):
            if i + 1 < n:  # the next center's draws, and its rows on their way to the cache
                nlo, nhi, state = _plan(i + 1, n, window, sets, negative, nxt, table, state)
                _prefetch_row(Cf, sent[i + 1], dim)
                _prefetch_row(Wf, sent[nhi - 1], dim)
                for q in range((nhi - nlo - 1) * negative if sets < 0 else negative):
                    _prefetch_row(Cf, nxt[q], dim)
            lr = np.float32(max(min_alpha, alpha - slope * (word_offset + pos[i])))
            center = sent[i]
            if sg:
                q = 0
                for j in range(lo, hi):
                    if j != i:
                        sgns_step(W, C, sent[j], center, cur, q, negative, lr, neu1e, grad,
                                  exp_table, dim)
                        if not shared:
                            q += negative
            else:
                m = 0
                for j in range(lo, hi):
                    if j != i:
                        ctx[m] = sent[j]
                        m += 1
                if m > 0:
                    cbow_step(W, C, ctx, m, center, cur, negative, lr, neu1, neu1e,
                              exp_table, dim)
            cur, nxt = nxt, cur
            lo, hi = nlo, nhi
    return kept


def specialized(dispatcher, args):
    """The compiled entry point of `dispatcher` for `args` whose last argument was made a
    literal (`numba.literally`), once a call with `args` compiled it; None if not found.
    Calling it skips the dispatcher, which retypes the function on every call (~4 ms)
    before it finds the literal version."""
    want = tuple(typeof(a) for a in args[:-1])
    for sig, res in dispatcher.overloads.items():
        last = sig[-1]
        if (isinstance(last, types.IntegerLiteral) and last.literal_value == args[-1]
                and tuple(sig[:-1]) == want):
            return res.entry_point
    return None


@njit(nogil=True, cache=True)
def dense_ids(tokens, doc_lens, dense_of):
    """Tokens mapped to dense ids (dense_of[t], -1: dropped before windows, as word2vec drops
    words below min_count), documents kept in place (possibly empty). Returns (ids int32,
    doc_ptr int64)."""
    ids = np.empty(tokens.shape[0], dtype=np.int32)
    doc_ptr = np.empty(doc_lens.shape[0] + 1, dtype=np.int64)
    doc_ptr[0] = 0
    k = 0
    i = 0
    for d in range(doc_lens.shape[0]):
        for _ in range(doc_lens[d]):
            v = dense_of[tokens[i]]
            i += 1
            if v >= 0:
                ids[k] = v
                k += 1
        doc_ptr[d + 1] = k
    return ids[:k], doc_ptr
