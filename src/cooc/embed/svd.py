"""Truncated SVD of a matrix known only through its products with dense blocks: randomized
block Krylov iteration (Musco & Musco 2015, "Randomized block Krylov methods for stronger and
faster approximate singular value decomposition"; Halko, Martinsson & Tropp 2011 for the
frame), with full reorthogonalization and a Rayleigh-Ritz step.

    Q_0 = basis(M G)                       G: n x b Gaussian (seeded)
    Q_i = basis((M M^T) Q_{i-1}, made orthogonal to Q_0 .. Q_{i-1}),   i = 1 .. q
    W_i = M^T Q_i (kept: the last product of each step), so B^T = M^T [Q_0 .. Q_q] = [W_0 .. W_q]
    B B^T = [W]^T [W] = V L V^T  ->  s = sqrt(L), U = [Q] V   (the top k)

Each step multiplies the matrix by one block of b vectors twice; the Krylov subspace ends with
b (q + 1) vectors, and the Ritz vectors of the k largest values are the answer.

Why this and not ARPACK (`scipy.sparse.linalg.svds`): every pass multiplies the matrix by a
block of vectors, in a compiled kernel on all cores (`cooc.kernels.embed.csr_times_dense`),
and the matrix is read a fixed number of times, 2 (q + 1) (it may be streamed from disk).
ARPACK's Lanczos multiplies by one vector at a time through a Python callback, hundreds of
times for k = 100, on one core. Why Krylov and not simultaneous (subspace) iteration: on the
PPMI matrix of the English shared corpus (43,726 tokens, k = 100; `bench/embed_ppmi_svd.py`)
subspace iteration with 120 vectors and 5 power iterations (12 passes of 120 vectors) left the
100 singular values off `svds`'s by up to 3.3 % (0.78 % on average) in 5.5-8 s; block Krylov
with b = 40, q = 9 (20 passes of 40 vectors) by 0.7 % (0.04 %) in 3.9 s, and b = 60, q = 8 by
0.07 %. PPMI spectra decay slowly, so the gap between the k-th and the next singular values,
which subspace iteration depends on, is small.

`basis` orthonormalizes a block through its Gram matrix (eigendecomposition, twice, in
float64; all BLAS-3, cut into row blocks) and drops the directions that are numerically zero
(the Krylov space of a small or low-rank matrix is exhausted early: the iteration then
stops). OpenBLAS's Householder QR (`np.linalg.qr`) took 1.1 s for a 50,000 x 120 block here,
the Gram matrix 0.04 s. The Gram-Schmidt steps run in float32 (a 43,726 x 360 basis against
a block of 40: 0.085 s, 0.22 s in float64; the orthogonality that float32 leaves, ~1e-7, is
far below the method's error), the Gram matrices of `basis` and of the Ritz step in
float64. The dense steps run on the caller's threads, one BLAS thread each
(`cooc.runtime.blas.blas_threads(1)` is the caller's to set: see there why).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

Product = Callable[[np.ndarray], np.ndarray]
# a new direction shorter than this, relative to the block before its projection, is
# rounding noise (float32 products: ~1e-7)
_NEW_DIRECTION = 1e-5
_BLOCK_ELEMENTS = 1 << 20  # a row block's copy: 8 MB in float64


class RowBlocks:
    """Gram matrices and products of tall arrays [n, l], block by block on the threads of
    `pool` (None: the calling thread): `rows` rows a block, or fewer so that a block's
    float64 copy stays under `_BLOCK_ELEMENTS` elements. The blocks do not depend on the
    threads, and sums add them in order: one answer for any thread count."""

    def __init__(self, pool: ThreadPoolExecutor | None = None, rows: int = 1 << 13):
        self.pool = pool
        self.rows = rows

    def _map(self, fn, n: int, width: int = 1) -> list:
        step = max(1, min(self.rows, _BLOCK_ELEMENTS // max(width, 1)))
        ranges = [(a, min(n, a + step)) for a in range(0, n, step)]
        if self.pool is None or len(ranges) <= 1:
            return [fn(a, b) for a, b in ranges]
        return list(self.pool.map(lambda r: fn(*r), ranges))

    def cross(self, x: np.ndarray, y: np.ndarray, dtype=np.float64) -> np.ndarray:
        """x^T y (x [n, a], y [n, b]), computed in `dtype`, summed in float64."""

        def part(a: int, b: int) -> np.ndarray:
            xb = np.asarray(x[a:b], dtype)
            return xb.T @ (xb if y is x else np.asarray(y[a:b], dtype))

        parts = self._map(part, len(x), x.shape[1] + (0 if y is x else y.shape[1]))
        return np.sum(parts, axis=0, dtype=np.float64) if parts else \
            np.zeros((x.shape[1], y.shape[1]))

    def times(self, y: np.ndarray, m: np.ndarray, out: np.ndarray | None = None,
              subtract_from: np.ndarray | None = None) -> np.ndarray:
        """y @ m (m small) into `out` (default: a new float64 array), or, with
        `subtract_from`, that array less y @ m, in place (in the dtype of the output)."""
        if subtract_from is not None:
            out = subtract_from
        elif out is None:
            out = np.empty((len(y), m.shape[1]), np.float64)
        m = np.ascontiguousarray(m, out.dtype)

        def part(a: int, b: int) -> None:
            p = np.asarray(y[a:b], out.dtype) @ m
            if subtract_from is not None:
                out[a:b] -= p
            else:
                out[a:b] = p

        self._map(part, len(y), y.shape[1] + m.shape[1])
        return out


def basis(z: np.ndarray, blocks: RowBlocks, floor: float = 0.0) -> np.ndarray:
    """An orthonormal basis (float64 [n, r], r <= l) of the columns of z [n, l], from the
    eigendecomposition of its Gram matrix, twice; directions whose length is at most `floor`
    (and rounding noise) are dropped."""
    z = np.asarray(z, np.float64)
    for rnd in range(2):
        evals, evecs = np.linalg.eigh(blocks.cross(z, z))  # squared lengths of directions
        top = float(evals.max()) if len(evals) else 0.0
        # round 1 drops rounding noise (lengths below 1e-7 of the longest) and what is not
        # longer than `floor`; round 2 only polishes orthogonality (lengths ~ 1)
        keep = evals > (max(top * 1e-14, floor ** 2) if rnd == 0 else top * 1e-6)
        if top <= 0.0 or not keep.any():
            return np.zeros((len(z), 0))
        m = evecs[:, keep] / np.sqrt(evals[keep])
        z = blocks.times(z, np.ascontiguousarray(m))
    return z


def block_krylov_svd(matmul: Product, rmatmul: Product, n: int, k: int, block: int,
                     iterations: int, seed: int = 0, on_pass: Callable[[], None] | None = None,
                     blocks: RowBlocks | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The k leading singular values and left singular vectors of an n x n matrix M.

    matmul(x) must return M @ x and rmatmul(x) M^T @ x for x float32 [n, b] (C order).
    Returns (U float64 [n, k'], s float64 [k'], decreasing), k' = k unless the Krylov space
    is exhausted first (a matrix of rank below k); the sign of each column is fixed (its
    largest entry in absolute value is positive), so a seed gives one answer."""
    blocks = blocks or RowBlocks()
    done = on_pass or (lambda: None)
    b = max(1, min(block, n))
    width = min(n, b * (iterations + 1))
    qs = np.empty((n, width), np.float32)  # [Q_0 .. Q_q]
    ws = np.empty((n, width), np.float32)  # [W_0 .. W_q] = M^T [Q]
    rng = np.random.default_rng(seed)
    z = np.asarray(matmul(rng.standard_normal((n, b), dtype=np.float32)), np.float32)
    done()
    used = 0
    for step in range(iterations + 1):
        if step:
            floor = _NEW_DIRECTION * float(np.sqrt(np.einsum("ij,ij->j", z, z,
                                                             dtype=np.float64).max()))
            for _ in range(2):  # classical Gram-Schmidt, twice, against [Q_0 .. Q_i-1]
                c = blocks.cross(qs[:, :used], z, np.float32)
                blocks.times(qs[:, :used], c, subtract_from=z)
        else:
            floor = 0.0
        q = basis(z, blocks, floor)[:, : width - used]
        if q.shape[1] == 0:  # the Krylov space is exhausted: the subspace is invariant
            break
        qs[:, used : used + q.shape[1]] = q
        w = np.asarray(rmatmul(np.ascontiguousarray(qs[:, used : used + q.shape[1]])))
        done()
        ws[:, used : used + q.shape[1]] = w
        used += q.shape[1]
        if step == iterations or used >= width:
            break
        z = np.asarray(matmul(w), np.float32)
        done()
    # Rayleigh-Ritz: B = [Q]^T M, B B^T = [W]^T [W]
    w_all = ws[:, :used]
    evals, evecs = np.linalg.eigh(blocks.cross(w_all, w_all))
    del ws, w_all
    top = np.argsort(evals)[::-1][: min(k, used)]
    s = np.sqrt(np.maximum(evals[top], 0.0))
    u = blocks.times(qs[:, :used], np.ascontiguousarray(evecs[:, top]))
    pick = np.abs(u).argmax(axis=0)
    u *= np.where(u[pick, np.arange(u.shape[1])] < 0, -1.0, 1.0)
    return u, s
