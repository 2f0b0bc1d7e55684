"""Embedding kernels: the PPMI matrix of a co-occurrence index's rows, and its products with
dense blocks (the randomized SVD's passes).

The matrix is held as the index's sparsity pattern restricted to the kept tokens, in
"storage rows" (the kept tokens in index id order): storage row s is token `rows[s]` (its
vector row), its entries `indptr[s]:indptr[s + 1]` have context `cols[e]`, and two values,

    val[e]   = M[rows[s], cols[e]]     (the PPMI of word rows[s] with context cols[e])
    val_t[e] = M[cols[e], rows[s]]     (the transpose's entry: word cols[e], context rows[s])

The counts are symmetric, so the pattern is; each row of M and of M^T is then a gather over
one storage row, and both products run row-parallel with no scatter (`csr_times_dense`).
While the counts are gathered, `val_t` holds them as uint32 (`counts`: the same memory);
`ppmi_values` reads a count before writing over it.
"""

import numpy as np
from numba import njit

_JIT = dict(cache=True, nogil=True)


@njit(**_JIT)
def gather_rows(row_ptr, cols, counts, first_token, new_id, indptr, out_cols, out_counts,
                rows, row_sums, entry, row):
    """Append the rows of a decoded index chunk (rows first_token.., `row_ptr` from 0,
    `cols` token ids, `counts` uint32) restricted to kept tokens (`new_id[token] >= 0`, their
    vector row) to the storage arrays from entry `entry` and storage row `row`: contexts
    renumbered by `new_id`, dropped ones skipped; `row_sums[new id]` gets the row's kept
    count sum. Returns (entries, storage rows) after."""
    n = row_ptr.shape[0] - 1
    k = entry
    s = row
    for r in range(n):
        i = new_id[first_token + r]
        if i < 0:
            continue
        acc = np.uint64(0)
        for e in range(row_ptr[r], row_ptr[r + 1]):
            j = new_id[cols[e]]
            if j >= 0:
                out_cols[k] = j
                out_counts[k] = counts[e]
                acc += np.uint64(counts[e])
                k += 1
        rows[s] = i
        row_sums[i] = acc
        s += 1
        indptr[s] = k
    return k, s


ROUNDING = 1e-12


@njit(**_JIT)
def ppmi_values(indptr, cols, rows, counts, log_rows, log_contexts, log_norm, log_shift,
                val, val_t, lo, hi):
    """For storage rows [lo, hi): with c the entry's count (`counts`, the memory of `val_t`),
    i = rows[s] and j = cols[e],

        val[e]   = max(0, log c + log_norm - log_rows[i] - log_contexts[j] - log_shift)
        val_t[e] = max(0, log c + log_norm - log_rows[j] - log_contexts[i] - log_shift)

    (log_rows: log of the row sums; log_contexts: alpha times that; log_norm: log of the sum
    of the row sums to the power alpha). A value within float64 rounding of 0 (below
    ROUNDING, from a sum of four logs) is 0: the pair met exactly as often as chance says, and
    keeping 2e-16 would keep an entry that is 0 in exact arithmetic."""
    for s in range(lo, hi):
        i = rows[s]
        for e in range(indptr[s], indptr[s + 1]):
            j = cols[e]
            lc = np.log(np.float64(counts[e])) + log_norm - log_shift
            a = lc - log_rows[i] - log_contexts[j]
            b = lc - log_rows[j] - log_contexts[i]
            val[e] = a if a > ROUNDING else 0.0
            val_t[e] = b if b > ROUNDING else 0.0


@njit(**_JIT)
def drop_zeros(indptr, cols, val, val_t):
    """Remove, in place, the entries whose value is 0 in both M and M^T; returns the entries
    left (`indptr` is rewritten)."""
    n = indptr.shape[0] - 1
    k = 0
    start = indptr[0]
    for s in range(n):
        end = indptr[s + 1]
        for e in range(start, end):
            if val[e] != 0.0 or val_t[e] != 0.0:
                cols[k] = cols[e]
                val[k] = val[e]
                val_t[k] = val_t[e]
                k += 1
        start = end
        indptr[s + 1] = k
    return k


@njit(**_JIT)
def csr_times_dense(indptr, cols, vals, rows, x, out, lo, hi):
    """out[rows[s], :] = sum over the entries e of storage row s of vals[e] * x[cols[e], :],
    for storage rows [lo, hi) (`vals` = val: M @ x; `vals` = val_t: M^T @ x). Rows of `out`
    no storage row names are left as they are."""
    width = x.shape[1]
    for s in range(lo, hi):
        o = out[rows[s]]
        for c in range(width):
            o[c] = 0.0
        for e in range(indptr[s], indptr[s + 1]):
            v = vals[e]
            xr = x[cols[e]]
            for c in range(width):
                o[c] += v * xr[c]
