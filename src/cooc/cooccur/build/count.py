"""Counting one batch of windows into a symmetric CSR, on a thread pool of nogil kernels."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Executor
from dataclasses import dataclass

import numpy as np

from cooc.cooccur.build.csr import Csr, concat_rows
from cooc.kernels import cooccur, distance, windows
from cooc.runtime.ranges import bounded_ranges

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
    The whole triangle at once: `window_counts` gives it in parts of bounded size.
    """
    stats, parts = window_counts(tokens, win_ptr, vocab_size, mode, include_self, pool,
                                 num_threads)
    return concat_rows(list(parts)), stats


def window_counts(
    tokens: np.ndarray,
    win_ptr: np.ndarray,
    vocab_size: int,
    mode: str = "windows",
    include_self: bool = False,
    pool: Executor | None = None,
    num_threads: int = 1,
    max_entries: int = 0,
) -> tuple[BatchStats, Iterator[Csr]]:
    """`count_windows`'s statistics, and its upper triangle as consecutive row ranges
    (covering rows 0..vocab_size-1 in order) of at most `max_entries` entries each (0: one
    range; a row longer than that comes alone, and a row has at most vocab_size entries).

    A batch of long windows (whole documents, a context length of a billion) has up to V**2/2
    distinct pairs: only one range of them is in memory at a time. Output arrays are
    allocated here with numpy (huge pages) and filled by the kernels.
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
    stats = BatchStats(
        occurrences=np.bincount(tokens, minlength=vocab_size).astype(np.uint64),
        windows=windows_per_token.astype(np.uint64),
        num_tokens=int(tokens.shape[0]),
        num_windows=nwin,
    )
    # row a's entries: distinct tokens after it in its windows (its work less the windows
    # themselves), and at most the batch's distinct tokens above a; + the diagonal
    bound = np.minimum(work - windows_per_token, _tokens_above(windows_per_token > 0))
    bound += int(include_self)
    bound[windows_per_token == 0] = 0

    def upper(r: tuple[int, int]) -> Csr:
        # a row's work bounds its entries; untouched pages of the bound cost no memory
        cap = int(work[r[0] : r[1]].sum())
        ptr = np.empty(r[1] - r[0] + 1, np.int64)
        cols = np.empty(cap, np.uint32)
        counts = np.empty(cap, np.uint32)
        k = cooccur.upper_rows(inv_ptr, inv_pos, entry_end, set_tok, set_mult, r[0], r[1],
                               vocab_size, kmode, include_self, ptr, cols, counts)
        return Csr(ptr, cols[:k], counts[:k], r[0])

    # many more ranges than threads: row work is skewed (frequent tokens), 16x balanced best
    return stats, upper_parts(upper, work, bound, run, num_threads * 16, max_entries)


def upper_parts(count_rows, work: np.ndarray, bound: np.ndarray, run, num_ranges: int,
                max_entries: int = 0) -> Iterator[Csr]:
    """The rows `count_rows((lo, hi))` counts, joined into consecutive parts of at most
    `max_entries` entries (0: one part), rows 0..len(work)-1 in order.

    Rows are cut into `num_ranges` ranges of equal `work` (threads balance on them), each
    cut again where its rows' entry bounds `bound` pass a quarter of a part. When all bounds
    together fit a part, every range is counted in one go (one part, as with no limit);
    otherwise in waves, each as many ranges as the part's room left (by their bounds) takes:
    counted entries are often fewer than bounded, so the next wave takes more. A part ends
    when not even the next range fits.
    """
    n = len(work)
    ranges = _split_by_work(work, num_ranges) if n else [(0, 0)]
    whole = int(bound.sum())
    if not max_entries or whole <= max_entries:
        yield concat_rows(list(run(count_rows, ranges)))
        return
    cum = np.zeros(n + 1, np.int64)
    np.cumsum(bound, out=cum[1:])
    fine: list[tuple[int, int]] = []
    for lo, hi in ranges:
        fine.extend((lo + a, lo + b) for a, b in
                    bounded_ranges(cum[lo : hi + 1] - cum[lo], max(1, max_entries // 4)))
    sizes = [int(cum[b] - cum[a]) for a, b in fine]
    held: list[Csr] = []
    entries = i = 0
    while i < len(fine):
        j, room = i, max_entries - entries
        while j < len(fine) and sizes[j] <= room:
            room -= sizes[j]
            j += 1
        if j == i:
            if held:  # the part is full
                part, held, entries = concat_rows(held), [], 0
                yield part  # (its ranges are gone: one copy while the caller adds it)
                del part
                continue
            j = i + 1  # one row longer than a part: alone
        done = list(run(count_rows, fine[i:j]))
        entries += sum(p.num_entries for p in done)
        held.extend(done)
        del done
        i = j
    if held:
        part, held = concat_rows(held), []
        yield part


def _tokens_above(present: np.ndarray) -> np.ndarray:
    """For each token id a, how many ids above a are `present`."""
    return int(present.sum()) - np.cumsum(present, dtype=np.int64)


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
    stats, parts = distance_counts(tokens, win_ptr, vocab_size, weights, include_self, pool,
                                   num_threads, forward_only)
    return concat_rows(list(parts)), stats


def distance_counts(
    tokens: np.ndarray,
    win_ptr: np.ndarray,
    vocab_size: int,
    weights: np.ndarray,
    include_self: bool = False,
    pool: Executor | None = None,
    num_threads: int = 1,
    forward_only: bool = False,
    max_entries: int = 0,
) -> tuple[BatchStats, Iterator[Csr]]:
    """`count_by_distance`'s statistics, and its triangle in row ranges of at most
    `max_entries` entries, as `window_counts` gives them."""
    weights = np.asarray(weights, np.uint64)
    radius = len(weights) - 1
    nwin = len(win_ptr) - 1
    run = pool.map if pool is not None else map
    # windows holding each token: the distinct tokens of every window
    chunks = _split_even(nwin, num_threads * 2) if nwin else []
    held = [np.bincount(p[1], minlength=vocab_size) for p in
            run(lambda c: _window_sets(tokens, win_ptr, c), chunks)]
    occurrences = np.bincount(tokens, minlength=vocab_size).astype(np.uint64)
    stats = BatchStats(
        occurrences=occurrences,
        windows=(np.sum(held, axis=0) if held else np.zeros(vocab_size)).astype(np.uint64),
        num_tokens=int(tokens.shape[0]),
        num_windows=nwin,
    )
    del held
    inv_pos = np.empty(len(tokens), np.int64)
    inv_ptr = distance.position_index(tokens, vocab_size, inv_pos)
    seg = distance.segment_of(win_ptr, len(tokens))
    work = distance.row_work(inv_ptr, inv_pos, seg, win_ptr, radius, 0, vocab_size)
    # row a's entries: at most its pairs, and the batch's distinct tokens from a on
    present = occurrences > 0
    bound = np.minimum(work, _tokens_above(present) + present)

    def upper(r: tuple[int, int]) -> Csr:
        cap = min(int(work[r[0] : r[1]].sum()), (r[1] - r[0]) * vocab_size)
        ptr = np.empty(r[1] - r[0] + 1, np.int64)
        cols = np.empty(cap, np.uint32)
        counts = np.empty(cap, np.uint32)
        k = distance.upper_rows(tokens, inv_ptr, inv_pos, seg, win_ptr, weights, radius, r[0],
                                r[1], vocab_size, include_self, forward_only, ptr, cols, counts)
        return Csr(ptr, cols[:k], counts[:k], r[0])

    return stats, upper_parts(upper, work, bound, run, num_threads * 16, max_entries)
