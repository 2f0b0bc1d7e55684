"""An in-memory CSR slice of the co-occurrence matrix, and helpers to stack slices."""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass

import numpy as np

from cooc.kernels import csr_ops
from cooc.runtime.ranges import even_ranges


@dataclass(frozen=True)
class Csr:
    """Rows [row_start, row_start + n) of a count matrix; row i spans cols[row_ptr[i]:row_ptr[i+1]]."""

    row_ptr: np.ndarray  # int64[n+1], starts at 0
    cols: np.ndarray  # uint32, strictly increasing within a row
    counts: np.ndarray  # uint32, >= 1
    row_start: int = 0

    @property
    def num_rows(self) -> int:
        return self.row_ptr.shape[0] - 1

    @property
    def num_entries(self) -> int:
        return int(self.row_ptr[-1])

    @property
    def nbytes(self) -> int:
        return self.row_ptr.nbytes + self.cols.nbytes + self.counts.nbytes

    def rows(self, start: int, stop: int) -> Csr:
        """Rows [start, stop) in absolute row numbers (views, no copy of entries)."""
        i, j = start - self.row_start, stop - self.row_start
        lo, hi = int(self.row_ptr[i]), int(self.row_ptr[j])
        return Csr(self.row_ptr[i : j + 1] - lo, self.cols[lo:hi], self.counts[lo:hi], start)

    @staticmethod
    def empty(num_rows: int, row_start: int = 0) -> Csr:
        return Csr(
            np.zeros(num_rows + 1, np.int64),
            np.zeros(0, np.uint32),
            np.zeros(0, np.uint32),
            row_start,
        )


def concat_rows(parts: list[Csr]) -> Csr:
    """Consecutive row ranges -> one CSR."""
    if len(parts) == 1:
        return parts[0]
    offsets = np.cumsum([0] + [p.num_entries for p in parts])
    row_ptr = np.concatenate(
        [np.zeros(1, np.int64)] + [p.row_ptr[1:] + off for p, off in zip(parts, offsets, strict=False)]
    )
    return Csr(
        row_ptr,
        np.concatenate([p.cols for p in parts]),
        np.concatenate([p.counts for p in parts]),
        parts[0].row_start,
    )


def full_height(part: Csr, num_rows: int) -> Csr:
    """Rows [part.row_start, ...) of a matrix as all its `num_rows` rows, the others empty
    (the entries are shared, not copied)."""
    if part.row_start == 0 and part.num_rows == num_rows:
        return part
    a, b = part.row_start, part.row_start + part.num_rows
    if a < 0 or b > num_rows:
        raise ValueError(f"rows [{a}, {b}) are not rows of a matrix of {num_rows}")
    row_ptr = np.empty(num_rows + 1, np.int64)
    row_ptr[: a + 1] = 0
    row_ptr[a + 1 : b + 1] = part.row_ptr[1:]
    row_ptr[b + 1 :] = part.num_entries
    return Csr(row_ptr, part.cols, part.counts, 0)


def threaded(pool: Executor | None, num_threads: int, fn, ranges):
    if pool is None or num_threads <= 1 or len(ranges) == 1:
        return [fn(r) for r in ranges]
    return list(pool.map(fn, ranges))


def merge2(a: Csr, b: Csr, pool: Executor | None = None, num_threads: int = 1) -> Csr:
    """Entry-wise sum of two CSR slices over the same rows, in exact-size arrays."""
    if a.num_rows != b.num_rows or a.row_start != b.row_start:
        raise ValueError("merge2: slices cover different rows")
    if b.num_entries == 0:
        return a
    if a.num_entries == 0:
        return b
    n = a.num_rows
    big = a.num_entries + b.num_entries > (1 << 18)
    ranges = even_ranges(a.row_ptr + b.row_ptr, 4 * num_threads if big else 1)
    lens = np.empty(n, np.int64)

    def lengths(r):
        csr_ops.merge2_lengths(a.row_ptr, a.cols, b.row_ptr, b.cols, r[0], r[1], lens[r[0]:r[1]])

    threaded(pool, num_threads, lengths, ranges)
    row_ptr = np.zeros(n + 1, np.int64)
    np.cumsum(lens, out=row_ptr[1:])
    cols = np.empty(int(row_ptr[-1]), np.uint32)
    counts = np.empty(int(row_ptr[-1]), np.uint32)

    def fill(r):
        csr_ops.merge2_fill(a.row_ptr, a.cols, a.counts, b.row_ptr, b.cols, b.counts,
                            r[0], r[1], row_ptr, cols, counts)

    threaded(pool, num_threads, fill, ranges)
    return Csr(row_ptr, cols, counts, a.row_start)


def sum_csrs(parts: list[Csr], pool: Executor | None = None, num_threads: int = 1) -> Csr:
    """Entry-wise sum of CSR slices covering the same rows: pairwise, as a balanced tree,
    so each entry is copied log2(len(parts)) times and at most two levels are alive."""
    parts = list(parts)
    if not parts:
        raise ValueError("sum_csrs needs at least one slice")
    while len(parts) > 1:
        nxt = [merge2(parts[i], parts[i + 1], pool, num_threads) for i in range(0, len(parts) - 1, 2)]
        if len(parts) % 2:
            nxt.append(parts[-1])
        parts = nxt
    return parts[0]


class Mirrored:
    """The full symmetric matrix of a whole upper triangle (cols >= row), without building
    it: the strict lower triangle is mirrored once, and row r is lower(r) ++ upper(r)."""

    def __init__(self, upper: Csr):
        if upper.row_start != 0:
            raise ValueError("Mirrored needs the whole upper triangle (row_start 0)")
        self.upper = upper
        n = upper.num_rows
        lo_ptr = np.zeros(n + 1, np.int64)
        np.cumsum(csr_ops.lower_lengths(upper.row_ptr, upper.cols, n), out=lo_ptr[1:])
        cols = np.empty(int(lo_ptr[-1]), np.uint32)
        counts = np.empty(int(lo_ptr[-1]), np.uint32)
        csr_ops.lower_fill(upper.row_ptr, upper.cols, upper.counts, lo_ptr, cols, counts)
        self.lower = Csr(lo_ptr, cols, counts, 0)

    @property
    def num_rows(self) -> int:
        return self.upper.num_rows

    @property
    def nbytes(self) -> int:
        return self.upper.nbytes + self.lower.nbytes

    @property
    def row_ptr(self) -> np.ndarray:
        """Row boundaries of the full matrix."""
        return self.upper.row_ptr + self.lower.row_ptr

    def degrees(self) -> np.ndarray:
        return np.diff(self.row_ptr)

    def rows(self, start: int, stop: int) -> Csr:
        """Rows [start, stop) of the full matrix, joined into new arrays."""
        lo, up = self.lower, self.upper
        n = int(lo.row_ptr[stop] - lo.row_ptr[start] + up.row_ptr[stop] - up.row_ptr[start])
        ptr = np.empty(stop - start + 1, np.int64)
        cols = np.empty(n, np.uint32)
        counts = np.empty(n, np.uint32)
        csr_ops.join_fill(lo.row_ptr, lo.cols, lo.counts, up.row_ptr, up.cols, up.counts,
                          start, stop, ptr, cols, counts)
        return Csr(ptr, cols, counts, start)


def symmetric(upper: Csr) -> Csr:
    """The full symmetric matrix (both directions) of a whole upper triangle."""
    return Mirrored(upper).rows(0, upper.num_rows)
