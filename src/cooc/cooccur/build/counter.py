"""Counting a stream of windows into an accumulator, in slices that fit the memory budget.

Windows are gathered until they would fill the batch share of the budget, then counted on
all threads and summed by the `CountAccumulator` (which spills when its share is full). The
cost of a token is measured batch by batch, so slices follow the corpus's real density.
Used by the local build and by every map task of a distributed one.
"""

from __future__ import annotations

import time
from concurrent.futures import Executor

import numpy as np

from cooc.cooccur.build.accumulate import MIN_MERGE_BYTES, CountAccumulator
from cooc.cooccur.build.count import BatchStats, count_windows, distance_counts, window_counts
from cooc.cooccur.config import WindowConfig
from cooc.errors import CoocError
from cooc.runtime.malloc import bound_allocator
from cooc.runtime.progress import fmt_bytes, log, rss_bytes

# Memory of a counting batch per token (window sets, inverted lists) and per matrix entry
# (the upper triangle's row-range parts and their concatenation); measured on English text.
BYTES_PER_TOKEN = 48
BYTES_PER_ENTRY = 16
# Below this the spill count explodes (at 16 MB: 360 spills on 20 M tokens; at 8 MB: 1,220)
MIN_DATA_BUDGET = 16 << 20
# Shares of the data budget (memory beyond the process's base): the pending sum, the batch
# being counted (its windows and counts), the row ranges of merges. A spill holds the sum,
# its mirror and a range at once (see accumulate.py), so the shares add up to about 1.
PENDING_SHARE = 0.3
BATCH_SHARE = 0.3
MERGE_SHARE = 0.25
# While a document longer than a batch is counted slice by slice, its ids (and window
# pointers: at most 12 bytes a token) are held beside the counting: they come off the shares
# above, which may shrink to MIN_HELD_SHARE of themselves; a longer document is refused.
_HELD_PER_TOKEN = 12
MIN_HELD_SHARE = 0.25
# the index writer re-encodes a staged index in chunks: decoded, permuted, encoded entries
_WRITER_BYTES_PER_ENTRY = 24


def _warm_kernels(vocab_size: int) -> None:
    """Load every compiled kernel of a build once, so the baseline memory includes them."""
    from cooc.cooccur.build.csr import Mirrored, merge2
    from cooc.kernels import windows

    tokens = np.arange(min(vocab_size, 4), dtype=np.uint32)
    upper, _ = count_windows(tokens, windows.document_windows(np.array([0, len(tokens)]), 4),
                             vocab_size)
    merge2(upper, upper)
    Mirrored(upper).rows(0, vocab_size)


def measure_data_budget(memory_bytes: int, vocab_size: int) -> int:
    """The memory left for data: `memory_bytes` less what this process holds once its
    libraries, tokenizer and compiled kernels are loaded (at least MIN_DATA_BUDGET)."""
    bound_allocator()
    _warm_kernels(vocab_size)
    baseline = rss_bytes()
    data_budget = memory_bytes - baseline
    if data_budget < MIN_DATA_BUDGET:
        log.warning("the memory budget %s leaves %s beyond the %s this process needs to start; "
                    "using %s for data", fmt_bytes(memory_bytes), fmt_bytes(max(0, data_budget)),
                    fmt_bytes(baseline), fmt_bytes(MIN_DATA_BUDGET))
        data_budget = MIN_DATA_BUDGET
    log.debug("memory: base %s, data budget %s", fmt_bytes(baseline), fmt_bytes(data_budget))
    return data_budget


def remeasure_data_budget(data_budget: int, baseline: int) -> int:
    """The data budget once the process has grown by what was loaded after `baseline` was
    measured (a vocabulary grown from the corpus): smaller by that growth when the rest still
    leaves the data half its budget; otherwise unchanged, with a warning that the memory
    budget cannot be kept (shrinking further only multiplies spills: 977 instead of 1 on the
    English corpus with 802 k words at --memory 256M, for a 3 % lower peak)."""
    from cooc.runtime.malloc import trim

    trim()
    grown = max(0, rss_bytes() - baseline)
    if grown <= data_budget // 2:
        return data_budget - grown
    log.warning("the vocabulary grown from the corpus took %s, more than half the %s of "
                "the memory budget left for data: the budget will be exceeded by about that "
                "much; give a larger memory budget", fmt_bytes(grown), fmt_bytes(data_budget))
    return data_budget


def new_counter(vocab_size: int, data_budget: int, tmp_dir, window: WindowConfig,
                pool: Executor | None, num_threads: int, timings: dict[str, float],
                keep_merged: bool = False, memory_bytes: int = 0) -> WindowCounter:
    """A counter and its accumulator, sharing `data_budget` as the shares above say
    (`memory_bytes`: the whole budget, named in messages)."""
    acc = CountAccumulator(vocab_size, int(data_budget * PENDING_SHARE), tmp_dir,
                           int(data_budget * MERGE_SHARE), pool=pool, num_threads=num_threads,
                           keep_merged=keep_merged)
    return WindowCounter(acc, BatchStats.zeros(vocab_size), int(data_budget * BATCH_SHARE),
                         window, pool, num_threads, timings, memory_bytes=memory_bytes)


def writer_chunk_entries(data_budget: int) -> int:
    """Entries the index writer handles at a time within the merge share."""
    return max(1 << 16, int(data_budget * MERGE_SHARE) // _WRITER_BYTES_PER_ENTRY)


class WindowCounter:
    def __init__(self, acc: CountAccumulator, stats: BatchStats, batch_bytes: int,
                 window: WindowConfig, pool: Executor | None, num_threads: int,
                 timings: dict[str, float], on_counted=None, memory_bytes: int = 0):
        self.acc, self.stats = acc, stats
        self.memory_bytes = memory_bytes  # the whole budget, for messages (0: not known)
        self.batch_bytes = batch_bytes
        self.window = window
        # distance weights of harmonic and weights modes (a few dozen); occurrence pairs
        # weigh 1 at every distance up to the radius, which may be a billion (the context
        # length): made per batch, no longer than its longest window (`_weights`)
        self.weights = (np.array(window.distance_weighting()[0], np.uint64)
                        if window.by_distance and window.count_mode != "occurrences" else None)
        self.pool, self.num_threads = pool, num_threads
        self.timings = timings
        self.on_counted = on_counted  # called with the number of tokens of each counted slice
        self.bytes_per_token = BYTES_PER_TOKEN + 16 * BYTES_PER_ENTRY  # first guess, then measured
        self._tokens: list[np.ndarray] = []
        self._wins: list[np.ndarray] = []
        self._n = 0
        self._shares = (batch_bytes, acc.pending_bytes, acc.merge_bytes)  # as given

    def add(self, tokens: np.ndarray, win_ptr: np.ndarray) -> bool:
        """Gather windows; returns True when the gathered windows were counted."""
        if len(win_ptr) > 1:
            self._tokens.append(tokens)
            self._wins.append(win_ptr)
            self._n += len(tokens)
        if self._n * self.bytes_per_token >= self.batch_bytes:
            self.flush()
            return True
        return False

    def flush(self) -> None:
        """Count everything gathered, in slices of the batch budget."""
        if not self._tokens:
            return
        tokens, win_ptr = join_windows(self._tokens, self._wins)
        self._tokens, self._wins, self._n = [], [], 0
        # what is held while the slices are counted beyond two slices' worth (the ids of
        # a document longer than a batch) comes off the shares meanwhile
        slice_tokens = self.batch_bytes / self.bytes_per_token
        self._hold(tokens.nbytes + win_ptr.nbytes - int(2 * slice_tokens * _HELD_PER_TOKEN),
                   len(tokens))
        try:
            w, nwin = 0, len(win_ptr) - 1
            while w < nwin:
                max_tokens = max(1, int(self.batch_bytes / self.bytes_per_token))
                end = int(np.searchsorted(win_ptr, win_ptr[w] + max_tokens, side="right")) - 1
                end = min(nwin, max(end, w + 1))
                lo, hi = int(win_ptr[w]), int(win_ptr[end])
                self._count(tokens[lo:hi], win_ptr[w : end + 1] - lo)
                w = end
        finally:
            self._hold(0, 0)

    def _hold(self, nbytes: int, num_tokens: int) -> None:
        """Take `nbytes` held beside the counting (0: nothing) off the batch, pending and
        merge shares, each by its part; refuse when that would leave less than
        MIN_HELD_SHARE of them (CoocError naming the budget that would do)."""
        shares = PENDING_SHARE + BATCH_SHARE + MERGE_SHARE
        total = self._shares[0] / BATCH_SHARE * shares  # as new_counter made them (unfloored)
        f = 1.0 - max(0, nbytes) / total
        if f < MIN_HELD_SHARE:
            more = int(nbytes / (1 - MIN_HELD_SHARE) / shares - total / shares)
            # as the flag takes it: whole MiB, rounded up
            need = (f"--memory {-(-(self.memory_bytes + more) >> 20)}M or more"
                    if self.memory_bytes else f"{-(-more >> 20)}M more --memory")
            raise CoocError(f"the {num_tokens:,} tokens of a document longer than a batch are "
                            f"held while its windows are counted: {fmt_bytes(nbytes)} beyond the "
                            f"batch, more than the memory budget leaves for counting; give {need}")
        batch, pending, merge = self._shares
        self.batch_bytes = int(batch * f)
        self.acc.pending_bytes = int(pending * f)
        self.acc.merge_bytes = max(MIN_MERGE_BYTES, int(merge * f))

    def _count(self, tokens: np.ndarray, win_ptr: np.ndarray) -> None:
        """Count a slice of windows and hand its triangle to the accumulator in row ranges
        of at most `part_entries` entries: one range unless the slice's windows have far
        more distinct pairs than its size said (one window of a whole book)."""
        t0 = time.perf_counter()
        max_entries = self.part_entries(len(tokens))
        if self.window.by_distance:
            bstats, parts = distance_counts(tokens, win_ptr, self.acc.vocab_size,
                                            self._weights(win_ptr), self.window.include_self,
                                            self.pool, self.num_threads, self.window.first_only,
                                            max_entries)
        else:
            bstats, parts = window_counts(tokens, win_ptr, self.acc.vocab_size,
                                          self.window.count_mode, self.window.include_self,
                                          self.pool, self.num_threads, max_entries)
        self.stats = self.stats + bstats
        del bstats
        entries = 0
        merge = 0.0
        for part in parts:
            entries += part.num_entries
            t1 = time.perf_counter()
            self.acc.add(part)
            del part
            merge += time.perf_counter() - t1
        self.timings["count"] = self.timings.get("count", 0.0) + time.perf_counter() - t0 - merge
        self.timings["merge"] = self.timings.get("merge", 0.0) + merge
        if len(tokens):
            self.bytes_per_token = BYTES_PER_TOKEN + BYTES_PER_ENTRY * entries / len(tokens)
        if self.on_counted is not None:
            self.on_counted(len(tokens))

    def part_entries(self, num_tokens: int) -> int:
        """Entries of a counted triangle the accumulator takes at a time: what the batch
        share leaves beside the slice's tokens, and at least a quarter of that share."""
        free = max(self.batch_bytes - num_tokens * BYTES_PER_TOKEN, self.batch_bytes // 4)
        return max(1, free // BYTES_PER_ENTRY)

    def _weights(self, win_ptr: np.ndarray) -> np.ndarray:
        """The distance weights of a slice: weights[d] for d = 0..R (weights[0] unused)."""
        if self.weights is not None:
            return self.weights
        longest = int(np.diff(win_ptr).max()) if len(win_ptr) > 1 else 1
        w = np.ones(max(0, min(self.window.effective_radius, longest - 1)) + 1, np.uint64)
        w[0] = 0
        return w


def join_windows(token_parts: list[np.ndarray],
                 win_parts: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Window batches -> one (tokens, win_ptr)."""
    if len(token_parts) == 1:
        return token_parts[0], win_parts[0]
    offsets = np.cumsum([0] + [len(t) for t in token_parts])
    win_ptr = np.concatenate(
        [np.zeros(1, np.int64)] + [w[1:] + o for w, o in zip(win_parts, offsets, strict=False)]
    )
    return np.concatenate(token_parts), win_ptr
