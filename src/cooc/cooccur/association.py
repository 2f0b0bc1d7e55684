"""Association measures between a token a and tokens b, from window statistics.

Kernels: pure numpy functions over arrays, vectorised over the pairs (no loop per pair), with
no index object inside. Arguments broadcast: a scalar `windows_a` and arrays of neighbours'
`windows_b` and `count` score one token's whole row at once.

Notation: N = total windows, w(t) = windows holding t, c = c(a, b) = windows holding both
(the index's counts), so 0 <= c <= min(w(a), w(b)) <= N and w(a) + w(b) - c <= N for a != b.

- pmi      log(c N / (w(a) w(b)))                      (natural log; -inf when c = 0)
- ppmi     max(pmi, 0); smoothed contexts: pass `smoothed_windows(windows, alpha)[b]` as w(b)
- npmi     pmi / -log(c / N)                           (in [-1, 1]; 1 when c = N, -1 when c = 0)
- llr      Dunning's G^2 = 2 sum k log(k N / (row col)) over the 2x2 table of windows
           (k11 = c, k12 = w(a) - c, k21 = w(b) - c, k22 = N - w(a) - w(b) + c), 0 log 0 = 0
- jaccard  |N(a) & N(b)| / |N(a) | N(b)| of neighbour sets (`shared_neighbours` counts the
           intersections of one set with every row of a CSR slice)

Edge cells give numbers, never NaN or a floating-point warning: empty cells and empty margins
contribute 0 to G^2, and negative cells are clipped to 0. A negative k22 arises only for a
diagonal entry (a, a) of an index built with include_self, whose "table" is not a true 2x2
table (b's windows are a's windows): its G^2 is finite but not a test statistic.
"""

from __future__ import annotations

import numpy as np

MEASURES = ("count", "pmi", "ppmi", "npmi", "llr", "jaccard")


def _f64(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


def pmi(count, windows_a, windows_b, total_windows) -> np.ndarray:
    """log(c N / (w(a) w(b))); -inf where c = 0."""
    c, wa, wb, n = _f64(count), _f64(windows_a), _f64(windows_b), _f64(total_windows)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        out = np.log(c * n / (wa * wb))
    return np.where(c > 0, out, -np.inf)


def ppmi(count, windows_a, windows_b, total_windows) -> np.ndarray:
    """max(pmi, 0) (0 where c = 0). For context-distribution smoothing (Levy, Goldberg & Dagan
    2015) pass `smoothed_windows(windows, alpha)[b]` as `windows_b`."""
    return np.maximum(pmi(count, windows_a, windows_b, total_windows), 0.0)


def smoothed_windows(windows, alpha: float) -> np.ndarray:
    """w_alpha(t) = w(t)^alpha * sum_x w(x) / sum_x w(x)^alpha, for every token t.

    Then w_alpha(b) / N = P_alpha(b) * (sum_x w(x) / N) with P_alpha(b) = w(b)^alpha /
    sum_x w(x)^alpha: the smoothed context distribution, rescaled to the total mass of the
    window marginals w(x) / N (which sum to the mean number of distinct tokens per window,
    not to 1). So ppmi with w_alpha(b) is Levy et al.'s ppmi_alpha in window probabilities,
    and alpha = 1 gives plain ppmi exactly. Unseen tokens (w = 0) stay 0 for alpha > 0.
    """
    if not (isinstance(alpha, (int, float, np.floating)) and np.isfinite(alpha) and alpha > 0):
        raise ValueError(f"alpha must be a finite number > 0 (0.75 is the usual smoothing), "
                         f"got {alpha!r}")
    w = _f64(windows)
    if alpha == 1:
        return w.copy()
    powered = np.power(w, float(alpha))
    total, total_powered = float(w.sum()), float(powered.sum())
    if total_powered <= 0.0:
        return np.zeros_like(w)
    return powered * (total / total_powered)


def npmi(count, windows_a, windows_b, total_windows) -> np.ndarray:
    """pmi / -log(c / N), in [-1, 1]: 1 where c = N (> 0), -1 where c = 0."""
    c, n = _f64(count), _f64(total_windows)
    p = pmi(c, windows_a, windows_b, n)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        out = p / -np.log(c / n)
    return np.where(c <= 0, -1.0, np.where(c >= n, 1.0, out))


def _g2_term(k: np.ndarray, row: np.ndarray, col: np.ndarray, n: np.ndarray) -> np.ndarray:
    ok = (k > 0) & (row > 0) & (col > 0)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        t = k * np.log(k * n / (row * col))
    return np.where(ok, t, 0.0)


def llr(count, windows_a, windows_b, total_windows) -> np.ndarray:
    """Dunning's G^2 over the 2x2 table of windows (>= 0; high for attraction and repulsion)."""
    c, wa, wb, n = _f64(count), _f64(windows_a), _f64(windows_b), _f64(total_windows)
    zero = 0.0
    k11 = np.maximum(c, zero)
    k12 = np.maximum(wa - c, zero)
    k21 = np.maximum(wb - c, zero)
    k22 = np.maximum(n - wa - wb + c, zero)
    r1, r2 = np.maximum(wa, zero), np.maximum(n - wa, zero)
    c1, c2 = np.maximum(wb, zero), np.maximum(n - wb, zero)
    g = (_g2_term(k11, r1, c1, n) + _g2_term(k12, r1, c2, n)
         + _g2_term(k21, r2, c1, n) + _g2_term(k22, r2, c2, n))
    return np.maximum(2.0 * g, 0.0)


def shared_neighbours(neighbours, row_ptr, cols) -> np.ndarray:
    """|set(neighbours) & row i| for every row i of a CSR slice (row_ptr from 0, cols).

    `neighbours` must be sorted and unique (an index row); so must each row's columns.
    """
    nb = np.asarray(neighbours)
    cols = np.asarray(cols)
    row_ptr = np.asarray(row_ptr, dtype=np.int64)
    if nb.size == 0 or cols.size == 0:
        return np.zeros(row_ptr.shape[0] - 1, np.int64)
    pos = np.minimum(np.searchsorted(nb, cols), nb.size - 1)
    hit = nb[pos] == cols
    cum = np.zeros(cols.size + 1, np.int64)
    np.cumsum(hit, out=cum[1:])
    return cum[row_ptr[1:]] - cum[row_ptr[:-1]]


def jaccard(shared, degree_a, degree_b) -> np.ndarray:
    """|N(a) & N(b)| / |N(a) | N(b)| from the intersection size and both degrees (0 where
    both sets are empty)."""
    s, da, db = _f64(shared), _f64(degree_a), _f64(degree_b)
    union = da + db - s
    with np.errstate(divide="ignore", invalid="ignore"):
        out = s / union
    return np.where(union > 0, out, 0.0)


def score(measure: str, count, windows_a, windows_b, total_windows) -> np.ndarray:
    """One of count, pmi, ppmi, npmi, llr by name (jaccard needs rows: see `jaccard`)."""
    if measure == "count":
        return np.array(count, dtype=np.float64)
    fns = {"pmi": pmi, "ppmi": ppmi, "npmi": npmi, "llr": llr}
    if measure not in fns:
        raise ValueError(f"unknown measure {measure!r}; choose one of count, {', '.join(fns)}")
    return fns[measure](count, windows_a, windows_b, total_windows)
