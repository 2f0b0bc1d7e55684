"""Counting one batch of windows into a symmetric CSR, on a thread pool of nogil kernels."""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass

import numpy as np

from cooc.cooccur.build.csr import Csr, concat_rows
from cooc.kernels import cooccur, distance, windows

MODES = {"windows": cooccur.MODE_WINDOWS, "occurrences": cooccur.MODE_OCCURRENCES}


@dataclass
class BatchStats:
    """Per-token statistics of a batch; `+` merges batches."""

    occurrences: np.ndarray  # uint64[V]
    windows: np.ndarray  # uint64[V], windows containing the token
    num_tokens: int
    num_windows: int

    def __add__(self, other: BatchStats) -> BatchStats:
        return BatchStats(
            self.occurrences + other.occurrences,
            self.windows + other.windows,
            self.num_tokens + other.num_tokens,
            self.num_windows + other.num_windows,
        )

    @staticmethod
    def zeros(vocab_size: int) -> BatchStats:
        z = np.zeros(vocab_size, np.uint64)
        return BatchStats(z, z.copy(), 0, 0)


def _split_even(n: int, parts: int) -> list[tuple[int, int]]:
    bounds = np.linspace(0, n, parts + 1).astype(np.int64)
    return [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a]


def _split_by_work(work: np.ndarray, parts: int) -> list[tuple[int, int]]:
    """Row ranges of roughly equal kernel work."""
    cum = np.cumsum(work)
    total = int(cum[-1]) if len(cum) else 0
    if total == 0:
        return [(0, len(work))]
    cuts = np.searchsorted(cum, np.linspace(0, total, parts + 1)[1:-1], side="right")
    bounds = np.unique(np.concatenate([[0], cuts, [len(work)]]))
    return [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def _window_sets(tokens, win_ptr, chunk):
    w0, w1 = chunk
    n = int(win_ptr[w1] - win_ptr[w0])
    set_ptr = np.empty(w1 - w0 + 1, np.int64)
    set_tok = np.empty(n, np.uint32)
    set_mult = np.empty(n, np.uint32)
    k = windows.window_sets(tokens, win_ptr, w0, w1, set_ptr, set_tok, set_mult)
    return set_ptr, set_tok[:k], set_mult[:k]


def count_windows(
    tokens: np.ndarray,
    win_ptr: np.ndarray,
    vocab_size: int,
    mode: str = "windows",
    include_self: bool = False,
    pool: Executor | None = None,
    num_threads: int = 1,
) -> tuple[Csr, BatchStats]:
    """The co-occurrence counts of the given windows as an upper triangle (cols > row; the
    diagonal too with include_self), with per-token statistics. `csr.Mirrored` mirrors it.

    tokens: uint32 ids < vocab_size; win_ptr: int64 window boundaries tiling `tokens`.
    Output arrays are allocated here with numpy (huge pages) and filled by the kernels.
    """
    kmode = MODES[mode]
    nwin = len(win_ptr) - 1
    run = pool.map if pool is not None else map
    chunks = _split_even(nwin, num_threads * 2) if nwin else []
    parts = list(run(lambda c: _window_sets(tokens, win_ptr, c), chunks))
    if parts:
        offs = np.cumsum([0] + [int(p[0][-1]) for p in parts])
        set_ptr = np.concatenate(
            [np.zeros(1, np.int64)] + [p[0][1:] + o for p, o in zip(parts, offs, strict=False)]
        )
        set_tok = np.concatenate([p[1] for p in parts])
        set_mult = np.concatenate([p[2] for p in parts])
    else:
        set_ptr = np.zeros(1, np.int64)
        set_tok = np.zeros(0, np.uint32)
        set_mult = np.zeros(0, np.uint32)
    del parts

    inv_pos = np.empty(len(set_tok), np.int64)
    entry_end = np.empty(len(set_tok), np.int64)
    inv_ptr = windows.invert_sets(set_ptr, set_tok, vocab_size, inv_pos, entry_end)
    windows_per_token = np.diff(inv_ptr)
    work = windows.upper_row_work(inv_ptr, inv_pos, entry_end, 0, vocab_size)
    # many more ranges than threads: row work is skewed (frequent tokens), 16x balanced best
    ranges = _split_by_work(work, num_threads * 16)

    def upper(r: tuple[int, int]) -> Csr:
        # a row's work bounds its entries; untouched pages of the bound cost no memory
        bound = int(work[r[0] : r[1]].sum())
        ptr = np.empty(r[1] - r[0] + 1, np.int64)
        cols = np.empty(bound, np.uint32)
        counts = np.empty(bound, np.uint32)
        k = cooccur.upper_rows(inv_ptr, inv_pos, entry_end, set_tok, set_mult, r[0], r[1],
                               vocab_size, kmode, include_self, ptr, cols, counts)
        return Csr(ptr, cols[:k], counts[:k], r[0])

    up = concat_rows(list(run(upper, ranges)))
    stats = BatchStats(
        occurrences=np.bincount(tokens, minlength=vocab_size).astype(np.uint64),
        windows=windows_per_token.astype(np.uint64),
        num_tokens=int(tokens.shape[0]),
        num_windows=nwin,
    )
    return up, stats


def count_by_distance(
    tokens: np.ndarray,
    win_ptr: np.ndarray,
    vocab_size: int,
    weights: np.ndarray,
    include_self: bool = False,
    pool: Executor | None = None,
    num_threads: int = 1,
    forward_only: bool = False,
) -> tuple[Csr, BatchStats]:
    """Occurrence pairs within each window at distance 1..R (R = len(weights) - 1), each
    adding weights[d]: an upper triangle as `count_windows` gives, with the same statistics.
    forward_only: only pairs where the smaller id comes first (see `kernels.distance`)."""
    weights = np.asarray(weights, np.uint64)
    radius = len(weights) - 1
    nwin = len(win_ptr) - 1
    inv_pos = np.empty(len(tokens), np.int64)
    inv_ptr = distance.position_index(tokens, vocab_size, inv_pos)
    seg = distance.segment_of(win_ptr, len(tokens))
    work = distance.row_work(inv_ptr, inv_pos, seg, win_ptr, radius, 0, vocab_size)
    ranges = _split_by_work(work, num_threads * 16)
    run = pool.map if pool is not None else map

    def upper(r: tuple[int, int]) -> Csr:
        bound = min(int(work[r[0] : r[1]].sum()), (r[1] - r[0]) * vocab_size)
        ptr = np.empty(r[1] - r[0] + 1, np.int64)
        cols = np.empty(bound, np.uint32)
        counts = np.empty(bound, np.uint32)
        k = distance.upper_rows(tokens, inv_ptr, inv_pos, seg, win_ptr, weights, radius, r[0],
                                r[1], vocab_size, include_self, forward_only, ptr, cols, counts)
        return Csr(ptr, cols[:k], counts[:k], r[0])

    up = concat_rows(list(run(upper, ranges)))
    # windows holding each token: the distinct tokens of every window
    chunks = _split_even(nwin, num_threads * 2) if nwin else []
    held = [np.bincount(p[1], minlength=vocab_size) for p in
            run(lambda c: _window_sets(tokens, win_ptr, c), chunks)]
    stats = BatchStats(
        occurrences=np.bincount(tokens, minlength=vocab_size).astype(np.uint64),
        windows=(np.sum(held, axis=0) if held else np.zeros(vocab_size)).astype(np.uint64),
        num_tokens=int(tokens.shape[0]),
        num_windows=nwin,
    )
    return up, stats


