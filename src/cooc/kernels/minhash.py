"""MinHash-LSH kernels (`cooc.curate.minhash`): word hashes, shingle sets, signatures, band
keys, exact Jaccard of sorted sets, union-find over verified candidate pairs.

Hashes are of content, never of vocabulary ids: a word's hash is FNV-1a of its UTF-8,
finalised with splitmix64, so a shingle hash is the same in every batch, shard and process
(the map of a map/shuffle/reduce needs no shared vocabulary).

- a shingle is `ngram` consecutive words (a document of fewer words, but at least one: one
  shingle of all its words); its hash chains the word hashes (`shingle_hash`);
- permutation p of a shingle hash x is (a[p] * x + c[p]) mod 2**64, its high 32 bits
  (multiply-add-shift, a[p] odd): a signature is the minimum of each over the document's
  shingles, uint32 (the chance that two different shingles tie is 2**-32, and 4 bytes a value
  halve the memory of 8);
- band j's key is splitmix64 chained over its `rows` values, seeded with j (equal keys in
  different bands never meet: bands are grouped one at a time).

Performance notes (2-core VM shared with other jobs; 30 k documents of the near-copy
benchmark, 7.3 M shingles, 128 permutations): `signatures` runs over the permutations
innermost, the running minima in one small array, so LLVM vectorises the multiply-add-min
over P (AVX-512 has the 64-bit multiply): 0.29 s (0.3 ns a value); the shingles innermost
(a min reduction per permutation) took 0.67-0.74 s.
"""

import numpy as np
from numba import njit

from cooc.kernels.intrinsics import pread_bytes

_JIT = dict(cache=True, nogil=True)
_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_SPACE = 32
EMPTY_KEY = np.uint64(0)  # band key of a document without shingles (never a candidate)


@njit(inline="always", **_JIT)
def mix64(x):
    """splitmix64's finaliser: every input bit reaches every output bit."""
    x = np.uint64(x)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


@njit(**_JIT)
def hash_words(buf, doc_bounds, out, word_offsets):
    """The hash of every space-separated word of each document, in order, into out (room
    for len(buf) // 2 + documents + 1 words is always enough: a document of L bytes holds
    at most (L + 1) // 2); document d's are
    out[word_offsets[d]:word_offsets[d + 1]]. A word's hash is FNV-1a of its bytes,
    splitmix64-finalised, never 0. Returns the number of words, or -1 if out is too short
    (nothing past it is written)."""
    k = 0
    word_offsets[0] = 0
    for d in range(doc_bounds.shape[0] - 1):
        h = _FNV_OFFSET
        inside = False
        for p in range(doc_bounds[d], doc_bounds[d + 1]):
            c = buf[p]
            if c == _SPACE:
                if inside:
                    if k >= out.shape[0]:
                        return -1
                    out[k] = mix64(h) | np.uint64(1)
                    k += 1
                    inside = False
                    h = _FNV_OFFSET
            else:
                h = (h ^ np.uint64(c)) * _FNV_PRIME
                inside = True
        if inside:
            if k >= out.shape[0]:
                return -1
            out[k] = mix64(h) | np.uint64(1)
            k += 1
        word_offsets[d + 1] = k
    return k


@njit(inline="always", **_JIT)
def shingle_hash(words, start, n, seed):
    """The hash of words[start:start + n]: the polynomial sum(words[start + i] * K**(n-1-i))
    mod 2**64 of the (random-looking, never 0) word hashes, K odd, then mixed with the seed
    and n. Two different n-grams collide only by a 2**-64 chance: the term of a position
    where they differ is a word hash difference times an odd (invertible) constant."""
    h = np.uint64(0)
    for i in range(n):
        h = h * _GOLDEN + words[start + i]
    return mix64(h ^ seed ^ np.uint64(n))


@njit(**_JIT)
def shingle_counts(word_offsets, ngram, counts):
    """counts[d] = shingles of document d before de-duplication (an upper bound)."""
    for d in range(word_offsets.shape[0] - 1):
        w = word_offsets[d + 1] - word_offsets[d]
        counts[d] = 0 if w == 0 else max(1, w - ngram + 1)


@njit(inline="always", **_JIT)
def sort_uniform(x, a, b, tmp, counts):
    """Sort x[a:b] of uniformly distributed 64-bit hashes in expected linear time: a
    counting pass puts each into one of ~(b - a) buckets by its high bits (in tmp), then an
    insertion sort moves each only within its bucket, back into x."""
    m = b - a
    if m < 2:
        return
    bits = 1
    while (1 << bits) < m:
        bits += 1
    shift = np.uint64(64 - bits)
    nb = 1 << bits
    for i in range(nb + 1):
        counts[i] = 0
    for i in range(a, b):
        counts[(x[i] >> shift) + np.uint64(1)] += 1
    for i in range(nb):
        counts[i + 1] += counts[i]
    for i in range(a, b):
        q = x[i] >> shift
        tmp[counts[q]] = x[i]
        counts[q] += 1
    for i in range(m):
        v = tmp[i]
        j = i
        while j > 0 and x[a + j - 1] > v:
            x[a + j] = x[a + j - 1]
            j -= 1
        x[a + j] = v


@njit(**_JIT)
def shingle_sets(words, word_offsets, ngram, seed, out, out_offsets):
    """The sorted unique shingle hashes of each document, packed into out (sized by
    `shingle_counts`); out_offsets[d]:out_offsets[d + 1] are document d's (out_offsets[0]
    = 0). Returns the number written.

    Performance notes (100 k documents, 24 M shingles, 2 shared cores): hashing 0.14 s;
    sorting each document's hashes with np.sort 0.7 s, with `sort_uniform` (the hashes are
    uniform) 0.2 s."""
    most = 1
    for d in range(word_offsets.shape[0] - 1):
        most = max(most, word_offsets[d + 1] - word_offsets[d])
    tmp = np.empty(most, np.uint64)
    counts = np.empty(2 * most + 2, np.int64)
    k = 0
    out_offsets[0] = 0
    for d in range(word_offsets.shape[0] - 1):
        a = word_offsets[d]
        w = word_offsets[d + 1] - a
        if w > 0:
            m = max(1, w - ngram + 1)
            n = min(ngram, w)
            for i in range(m):
                out[k + i] = shingle_hash(words, a + i, n, seed)
            sort_uniform(out, k, k + m, tmp, counts)
            u = k + 1
            for i in range(k + 1, k + m):
                if out[i] != out[u - 1]:
                    out[u] = out[i]
                    u += 1
            k = u
        out_offsets[d + 1] = k
    return k


@njit(**_JIT)
def signatures(shingles, offsets, mult, add, out):
    """out[d, p] = min over document d's shingles x of the high 32 bits of
    mult[p] * x + add[p] (mod 2**64); 2**32 - 1 for a document without shingles."""
    P = mult.shape[0]
    sig = np.empty(P, np.uint64)
    for d in range(offsets.shape[0] - 1):
        for p in range(P):
            sig[p] = np.uint64(0xFFFFFFFFFFFFFFFF)
        for i in range(offsets[d], offsets[d + 1]):
            x = shingles[i]
            for p in range(P):
                v = mult[p] * x + add[p]
                if v < sig[p]:
                    sig[p] = v
        for p in range(P):
            out[d, p] = np.uint32(sig[p] >> np.uint64(32))


@njit(**_JIT)
def band_keys(sigs, offsets, rows, out):
    """out[j, d] = key of band j (values j*rows:(j+1)*rows) of document d's signature;
    `EMPTY_KEY` for a document without shingles, never a band's key otherwise."""
    bands = out.shape[0]
    for d in range(sigs.shape[0]):
        empty = offsets[d + 1] == offsets[d]
        for j in range(bands):
            if empty:
                out[j, d] = EMPTY_KEY
                continue
            h = mix64(np.uint64(j) + _GOLDEN)
            for i in range(j * rows, (j + 1) * rows):
                h = mix64(h * _GOLDEN + np.uint64(sigs[d, i]))
            out[j, d] = h | np.uint64(1)


@njit(inline="always", **_JIT)
def intersection_size(x, a0, a1, y, b0, b1):
    """|x[a0:a1] & y[b0:b1]| of two sorted unique runs (a merge)."""
    i = a0
    j = b0
    n = 0
    while i < a1 and j < b1:
        u = x[i]
        v = y[j]
        if u == v:
            n += 1
            i += 1
            j += 1
        elif u < v:
            i += 1
        else:
            j += 1
    return n


@njit(**_JIT)
def jaccard(x, y):
    """Jaccard similarity of two sorted unique arrays (two empty sets: 0, never merged)."""
    inter = intersection_size(x, 0, x.shape[0], y, 0, y.shape[0])
    union = x.shape[0] + y.shape[0] - inter
    return inter / union if union > 0 else 0.0


@njit(inline="always", **_JIT)
def find(parent, i):
    """Root of i, halving the path on the way (every node then points to its grandparent)."""
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


@njit(inline="always", **_JIT)
def union(parent, i, j):
    """Join the sets of i and j; the smaller root becomes the root, so a set's root is its
    smallest member whatever the order of the unions. Returns whether they were apart."""
    ri = find(parent, i)
    rj = find(parent, j)
    if ri == rj:
        return False
    if ri < rj:
        parent[rj] = ri
    else:
        parent[ri] = rj
    return True


@njit(**_JIT)
def union_pairs(parent, left, right):
    """union(left[k], right[k]) for every k."""
    for k in range(left.shape[0]):
        union(parent, left[k], right[k])


@njit(inline="always", **_JIT)
def read_set(fd, offsets, d, buf):
    """Document d's shingle set (offsets index the uint64 file fd) into buf[:size]; returns
    the size, or -1 if the file could not be read."""
    count = offsets[d + 1] - offsets[d]
    done = 0
    while done < count * 8:
        r = pread_bytes(fd, buf.view(np.uint8), done, count * 8 - done, offsets[d] * 8 + done)
        if r <= 0:
            return -1
        done += r
    return count


@njit(**_JIT)
def verify_buckets(keys, docs, fd, offsets, threshold, parent, stats, buf_u, buf_v):
    """Candidates are the documents with equal keys (keys sorted, docs[i] the document of
    keys[i]; `EMPTY_KEY` skipped): every pair of a bucket whose documents are not joined yet
    is checked by exact Jaccard of their shingle sets (read from the file fd, uint64 at
    offsets, into buf_u and buf_v: each as long as the largest set) and joined if it is
    >= threshold.

    Skipping pairs already joined cannot change the clusters (the connected components of
    the verified pairs): they are the same as after checking every candidate pair, in any
    order. stats[0] += buckets of 2 or more, stats[1] += pairs checked, stats[2] += joined.
    Returns 0, or -1 if the file could not be read.
    """
    n = keys.shape[0]
    i = 0
    while i < n:
        j = i + 1
        while j < n and keys[j] == keys[i]:
            j += 1
        if j - i >= 2 and keys[i] != EMPTY_KEY:
            stats[0] += 1
            r0 = find(parent, docs[i])
            joined = True
            for u in range(i + 1, j):
                if find(parent, docs[u]) != r0:
                    joined = False
                    break
            if joined:  # the usual case after the first band: nothing to read
                i = j
                continue
            for u in range(i + 1, j):
                du = docs[u]
                nu = -2
                for v in range(i, u):
                    dv = docs[v]
                    if find(parent, du) == find(parent, dv):
                        continue
                    if nu == -2:
                        nu = read_set(fd, offsets, du, buf_u)
                    nv = read_set(fd, offsets, dv, buf_v)
                    if nu < 0 or nv < 0:
                        return -1
                    stats[1] += 1
                    inter = intersection_size(buf_u, 0, nu, buf_v, 0, nv)
                    total = nu + nv - inter
                    if total > 0 and inter >= threshold * total:
                        union(parent, du, dv)
                        stats[2] += 1
        i = j
    return 0


@njit(**_JIT)
def resolve(parent):
    """parent[i] = root of i for every i (after this, one lookup finds a root)."""
    for i in range(parent.shape[0]):
        parent[i] = parent[parent[i]]  # roots are smaller than their members: done in order


@njit(**_JIT)
def choose_kept(parent, score, kept, size):
    """For each cluster root r: size[r] = members, kept[r] = the member of highest score
    (the first, i.e. smallest, among equals). parent must be resolved (`resolve`)."""
    for i in range(parent.shape[0]):
        r = parent[i]
        size[r] += 1
        k = kept[r]
        if k < 0 or score[i] > score[k]:
            kept[r] = i


@njit(**_JIT)
def mix_ids(ids, out):
    """out[i] = a hash of token id ids[i] (fixed-vocabulary tokenizers), never 0."""
    for i in range(ids.shape[0]):
        out[i] = mix64(ids[i] + _GOLDEN) | np.uint64(1)
