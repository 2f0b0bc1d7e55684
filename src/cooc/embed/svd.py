"""Truncated SVD of a matrix known only through its products with dense blocks: the
randomized range finder with power iterations (Halko, Martinsson & Tropp 2011, algorithms
4.4 and 5.1).

Why randomized and not ARPACK (`scipy.sparse.linalg.svds`): every pass over the matrix
multiplies it by a whole block of `k + oversample` vectors, so the matrix is read
2 * power_iterations + 2 times in all, each time by a compiled kernel on all cores
(`cooc.kernels.embed.csr_times_dense`), and a matrix spilled to disk is streamed a fixed,
small number of times. ARPACK's Lanczos multiplies by one vector at a time through a
Python callback, hundreds of times for k = 100, single-threaded. The price is an
approximation whose error falls with the power iterations; `bench/embed_ppmi_svd.py`
compares the singular values and the vectors' scores with `svds` on the same matrix.

The dense steps (Gram matrices, products with small matrices) are cut into row blocks run on
the caller's threads, one BLAS thread each (`cooc.runtime.blas.blas_threads(1)` is the
caller's to set: see there why).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

Product = Callable[[np.ndarray], np.ndarray]


class RowBlocks:
    """Gram matrices and right products of tall arrays [n, l], block by block of `rows` rows
    on the threads of `pool` (None: the calling thread). The blocks do not depend on the
    threads, and the Gram matrix adds them in order: one answer for any thread count."""

    def __init__(self, pool: ThreadPoolExecutor | None = None, rows: int = 1 << 13):
        self.pool = pool
        self.rows = rows

    def _map(self, fn, n: int) -> list:
        ranges = [(a, min(n, a + self.rows)) for a in range(0, n, self.rows)]
        if self.pool is None or len(ranges) <= 1:
            return [fn(a, b) for a, b in ranges]
        return list(self.pool.map(lambda r: fn(*r), ranges))

    def gram(self, y: np.ndarray) -> np.ndarray:
        """y^T y."""
        parts = self._map(lambda a, b: y[a:b].T @ y[a:b], len(y))
        return np.sum(parts, axis=0) if parts else np.zeros((y.shape[1], y.shape[1]))

    def times(self, y: np.ndarray, m: np.ndarray, dtype=np.float64) -> np.ndarray:
        """y @ m (m small), as `dtype`."""
        out = np.empty((len(y), m.shape[1]), dtype)

        def part(a: int, b: int) -> None:
            out[a:b] = y[a:b] @ m

        self._map(part, len(y))
        return out


def orthonormal(y: np.ndarray, blocks: RowBlocks | None = None) -> np.ndarray:
    """An orthonormal basis (float32, C order) of the columns of y [n, l], n >= l.

    CholeskyQR2 in float64 (Y^T Y = L L^T, Y <- Y L^-T, twice): two Gram matrices and two
    products with a small inverse, all BLAS-3 and cut into row blocks. OpenBLAS's
    Householder QR (`np.linalg.qr`) took 1.1 s for a 50,000 x 120 block here, the Gram
    matrix 0.04 s; `np.linalg.solve` with n right-hand sides 6x a product. Cholesky squares
    the condition number, so a block whose columns are nearly dependent (cond > 1e6, e.g. a
    matrix of lower rank than l) takes the Householder QR instead."""
    blocks = blocks or RowBlocks()
    y = np.asarray(y, np.float64)
    for _ in range(2):
        try:
            low = np.linalg.cholesky(blocks.gram(y))
        except np.linalg.LinAlgError:
            low = None
        d = np.abs(np.diag(low)) if low is not None else None
        if d is None or not np.isfinite(low).all() or d.min() <= 1e-6 * d.max():
            q, _ = np.linalg.qr(y)
            return np.ascontiguousarray(q, dtype=np.float32)
        y = blocks.times(y, np.ascontiguousarray(np.linalg.inv(low).T))
    return np.ascontiguousarray(y, dtype=np.float32)


def randomized_svd(matmul: Product, rmatmul: Product, n: int, k: int, oversample: int = 20,
                   power_iterations: int = 5, seed: int = 0,
                   on_pass: Callable[[], None] | None = None,
                   blocks: RowBlocks | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The k leading singular values and left singular vectors of an n x n matrix M.

    matmul(x) must return M @ x and rmatmul(x) M^T @ x for x float32 [n, l] (C order).
    Returns (U float64 [n, k], s float64 [k], decreasing); the sign of each column is fixed
    (its largest entry in absolute value is positive), so a seed gives one answer."""
    blocks = blocks or RowBlocks()
    width = min(n, k + oversample)
    rng = np.random.default_rng(seed)
    done = on_pass or (lambda: None)
    q = orthonormal(matmul(rng.standard_normal((n, width), dtype=np.float32)), blocks)
    done()
    for _ in range(power_iterations):
        q = orthonormal(rmatmul(q), blocks)
        done()
        q = orthonormal(matmul(q), blocks)
        done()
    bt = np.asarray(rmatmul(q), np.float64)  # B^T = (Q^T M)^T, n x width
    done()
    # B B^T = bt^T bt (width x width): its eigenvectors are B's left singular vectors, its
    # eigenvalues their squares (relative error ~ 1e-16 (s_1 / s_k)^2: ample in float64)
    evals, evecs = np.linalg.eigh(blocks.gram(bt))
    top = np.argsort(evals)[::-1][:k]
    s = np.sqrt(np.maximum(evals[top], 0.0))
    u = blocks.times(q, np.ascontiguousarray(evecs[:, top]))
    pick = np.abs(u).argmax(axis=0)
    u *= np.where(u[pick, np.arange(u.shape[1])] < 0, -1.0, 1.0)
    return u, s
