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
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Product = Callable[[np.ndarray], np.ndarray]


def orthonormal(y: np.ndarray) -> np.ndarray:
    """An orthonormal basis (float32, C order) of the columns of y [n, l], n >= l.

    CholeskyQR2 in float64 (Y^T Y = L L^T, Y <- Y L^-T, twice): two Gram matrices and two
    products with a small inverse, all BLAS-3 (`np.linalg.solve` with n right-hand sides
    took 6x a product). OpenBLAS's Householder QR (`np.linalg.qr`) took 1.1 s for
    a 50,000 x 120 block here, the Gram matrix 0.04 s. Cholesky squares the condition
    number, so a block whose columns are nearly dependent (cond > 1e6, e.g. a matrix of
    lower rank than l) takes the Householder QR instead."""
    y = np.asarray(y, np.float64)
    for _ in range(2):
        try:
            low = np.linalg.cholesky(y.T @ y)
        except np.linalg.LinAlgError:
            low = None
        d = np.abs(np.diag(low)) if low is not None else None
        if d is None or not np.isfinite(low).all() or d.min() <= 1e-6 * d.max():
            q, _ = np.linalg.qr(y)
            return np.ascontiguousarray(q, dtype=np.float32)
        y = y @ np.ascontiguousarray(np.linalg.inv(low).T)
    return np.ascontiguousarray(y, dtype=np.float32)


def randomized_svd(matmul: Product, rmatmul: Product, n: int, k: int, oversample: int = 20,
                   power_iterations: int = 5, seed: int = 0,
                   on_pass: Callable[[], None] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The k leading singular values and left singular vectors of an n x n matrix M.

    matmul(x) must return M @ x and rmatmul(x) M^T @ x for x float32 [n, l] (C order).
    Returns (U float64 [n, k], s float64 [k], decreasing); the sign of each column is fixed
    (its largest entry in absolute value is positive), so a seed gives one answer."""
    width = min(n, k + oversample)
    rng = np.random.default_rng(seed)
    done = on_pass or (lambda: None)
    q = orthonormal(matmul(rng.standard_normal((n, width), dtype=np.float32)))
    done()
    for _ in range(power_iterations):
        q = orthonormal(rmatmul(q))
        done()
        q = orthonormal(matmul(q))
        done()
    bt = np.asarray(rmatmul(q), np.float64)  # B^T = (Q^T M)^T, n x width
    done()
    # B B^T = bt^T bt (width x width): its eigenvectors are B's left singular vectors, its
    # eigenvalues their squares (relative error ~ 1e-16 (s_1 / s_k)^2: ample in float64)
    evals, evecs = np.linalg.eigh(bt.T @ bt)
    top = np.argsort(evals)[::-1][:k]
    s = np.sqrt(np.maximum(evals[top], 0.0))
    u = np.asarray(q, np.float64) @ evecs[:, top]
    top = np.abs(u).argmax(axis=0)
    u *= np.where(u[top, np.arange(u.shape[1])] < 0, -1.0, 1.0)
    return u, s
