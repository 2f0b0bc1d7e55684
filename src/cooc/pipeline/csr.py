"""An in-memory CSR slice of the co-occurrence matrix, and helpers to stack slices."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cooc.kernels import cooccur


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


def sum_csrs(parts: list[Csr], vocab_size: int) -> Csr:
    """Entry-wise sum of CSR slices covering the same rows."""
    if len(parts) == 1:
        return parts[0]
    ptrs = np.stack([p.row_ptr for p in parts]).astype(np.int64)
    bases = np.cumsum([0] + [p.num_entries for p in parts])[:-1].astype(np.int64)
    cols = np.concatenate([p.cols for p in parts])
    counts = np.concatenate([p.counts for p in parts])
    total = int(bases[-1]) + parts[-1].num_entries if len(parts) else 0
    row_ptr = np.empty(parts[0].num_rows + 1, np.int64)
    out_cols = np.empty(total, np.uint32)
    out_counts = np.empty(total, np.uint32)
    k = cooccur.merge_rows(ptrs, bases, cols, counts, vocab_size, row_ptr, out_cols, out_counts)
    # copy out of the bound-sized buffers so the unused tail is freed
    return Csr(row_ptr, out_cols[:k].copy(), out_counts[:k].copy(), parts[0].row_start)
