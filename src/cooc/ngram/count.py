"""Counting n-grams of orders 1..N in bounded memory: token batches -> sorted runs -> (spill)
-> one merged stream -> trie levels (`cooc.ngram.writer`).

Every position of every document gives one padded key of N tokens (`cooc.kernels.ngram`:
cut at the document's end, so no n-gram crosses documents); a batch's keys are sorted and
run-length encoded into a run of distinct keys with counts (uint64). Because sorting groups
every prefix, this single stream of N-token keys yields the counts of every order 1..N.

Memory model (`memory_bytes` = B, default 1 GiB; the process's fixed cost, ~200-300 MB of
Python, numba and a tokenizer vocabulary, comes on top). With w = words per key, an item of
a run costs r = 8w + 8 bytes:
- counting: a batch of T tokens peaks at ~(24w + 40) T bytes (keys, sort permutation,
  sorted copy, run); batches are sized so that all threads together use B/4, at most 2**17 tokens a thread;
  a document longer than a batch is packed span by span (`kn.pack_span`: the same keys);
- runs in memory are merged as they come (equal sizes merge, like a binary counter: each key
  is merged O(log) times, never into a run above half the run budget) and held up to the
  run budget, 16 MB at first, doubling at every spill up to 0.35 B; past it, each run is
  spilled to the temporary folder as a sorted run file;
- at the end, the runs (spilled, or still in memory) are merged k ways in slices: each step
  reads a slice of C = min(B / 4, 16 MB) / (4 r K) items from each of the K runs, merges everything up to
  the smallest of the slices' last keys, and hands it on (never a whole merged copy);
- the level cutter keeps one slice of 2**16 items (20 (N + 1) bytes per item of output
  buffers); the levels are spooled to disk, by the index writer (`cooc.ngram.writer`, which
  then encodes them in groups of 2**22 entries) or, for estimation, by a `LevelSpool`.
The result does not depend on B, the batch size or the number of threads (tested).
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cooc.kernels import ngram as kn
from cooc.ngram.writer import NgramWriter, key_shape
from cooc.runtime.malloc import trim
from cooc.runtime.progress import log
from cooc.runtime.ranges import bounded_ranges, even_ranges
from cooc.runtime.scratch import scratch_dir

_RUN_SHARE = 0.35
_BATCH_SHARE = 0.25
_MERGE_SHARE = 0.25
# the in-memory runs' first budget; it doubles at every spill up to the run share of the
# budget, so a small count holds little (as lmplz's -S is an upper bound) and a big one
# spills a few files more than with the whole share from the start
_FIRST_RUN_BUDGET = 16 << 20
# the final merge's slices: sequential reads of a few MB a run are as fast as bigger ones
_MAX_MERGE_BYTES = 16 << 20
_SPLIT_ITEMS = 1 << 16
_MIN_BATCH_TOKENS = 1 << 12
# tokens a thread sorts at once: past this, bigger batches only cost memory (the sort stays
# in cache, and the runs are merged O(log) times either way)
_MAX_BATCH_TOKENS = 1 << 17


@dataclass
class CountStats:
    """What a count did; `+` merges them."""

    documents: int = 0
    tokens: int = 0
    keys: int = 0
    spills: int = 0
    spilled_bytes: int = 0
    timings: dict[str, float] = field(default_factory=dict)


class _Run:
    """A sorted run of distinct keys with counts, in memory or in a pair of raw files."""

    def __init__(self, keys: np.ndarray | None, counts: np.ndarray | None,
                 path: Path | None = None, n: int = 0, nwords: int = 0):
        self.keys = keys
        self.counts = counts
        self.path = path
        self.n = keys.shape[0] if keys is not None else n
        self.nwords = keys.shape[1] if keys is not None else nwords

    @classmethod
    def spill(cls, keys: np.ndarray, counts: np.ndarray, path: Path) -> _Run:
        keys.astype("<u8", copy=False).tofile(path.with_suffix(".keys"))
        counts.astype("<u8", copy=False).tofile(path.with_suffix(".counts"))
        return cls(None, None, path, keys.shape[0], keys.shape[1])

    @property
    def nbytes(self) -> int:
        return self.n * (8 * self.nwords + 8)

    def read(self, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        if self.path is None:
            return self.keys[lo:hi], self.counts[lo:hi]
        with open(self.path.with_suffix(".keys"), "rb") as f:
            k = np.fromfile(f, "<u8", (hi - lo) * self.nwords, offset=8 * lo * self.nwords)
        with open(self.path.with_suffix(".counts"), "rb") as f:
            c = np.fromfile(f, "<u8", hi - lo, offset=8 * lo)
        return k.reshape(-1, self.nwords).astype(np.uint64, copy=False), c.astype(np.uint64, copy=False)


class NgramCounter:
    """Counts the padded `order`-gram keys of token batches into sorted runs.

    Parameters
    ----------
    order : N, 1..8.
    vocab_size : V of the n-gram index (markers included: ids V - 2 and V - 1 are <s>, </s>).
    markers : put <s> (V - 2) before and </s> (V - 1) after every document.
    memory_bytes : the budget B of the module docstring.
    tmp_dir : where spilled runs go (a private folder is made inside and removed).
    num_threads : threads for packing and sorting (numba kernels release the GIL).
    batch_tokens : tokens per counting batch (0: from the budget); never changes the result.
    """

    def __init__(self, order: int, vocab_size: int, *, markers: bool = False,
                 memory_bytes: int = 1 << 30, tmp_dir: str | os.PathLike | None = None,
                 num_threads: int = 1, batch_tokens: int = 0):
        self.order = order
        self.vocab_size = vocab_size
        self.markers = markers
        self.bits, self.per_word, self.nwords = key_shape(order, vocab_size)
        self.memory_bytes = memory_bytes
        self.num_threads = max(1, num_threads)
        item = 24 * self.nwords + 40
        self.batch_tokens = batch_tokens or max(_MIN_BATCH_TOKENS, min(
            _MAX_BATCH_TOKENS, int(memory_bytes * _BATCH_SHARE / item / self.num_threads)))
        self.max_run_budget = int(memory_bytes * _RUN_SHARE)
        self.run_budget = min(self.max_run_budget, _FIRST_RUN_BUDGET)  # doubles at each spill
        self._tmp = scratch_dir(tmp_dir, "ngrams")
        self.runs: list[_Run] = []  # in memory, sizes decreasing
        self.spilled: list[_Run] = []
        self.stats = CountStats()
        self._pool = ThreadPoolExecutor(self.num_threads) if self.num_threads > 1 else None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
        shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self) -> NgramCounter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _count_piece(self, tokens: np.ndarray, lens: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        bos = self.vocab_size - 2 if self.markers else -1
        eos = self.vocab_size - 1 if self.markers else -1
        keys = kn.pack_grams(tokens, lens, self.order, self.bits, self.per_word, self.nwords,
                             bos, eos)
        return kn.sort_count(keys, np.zeros(0, np.uint64))

    def add(self, tokens: np.ndarray, doc_lens: np.ndarray) -> None:
        """Count a batch of whole documents (token ids < V, minus 2 with markers)."""
        tokens = np.ascontiguousarray(tokens, dtype=np.uint32)
        doc_lens = np.ascontiguousarray(doc_lens, dtype=np.int64)
        limit = self.vocab_size - (2 if self.markers else 0)
        if len(tokens) and int(tokens.max()) >= limit:
            raise ValueError(f"token id {int(tokens.max())} >= vocab_size {limit}")
        if int(doc_lens.sum()) != len(tokens):
            raise ValueError(f"document lengths sum to {int(doc_lens.sum())}, not {len(tokens)}")
        t0 = time.perf_counter()
        ptr = np.zeros(len(doc_lens) + 1, np.int64)
        np.cumsum(doc_lens, out=ptr[1:])
        pieces = []
        max_tokens = self.batch_tokens * self.num_threads
        for d, e in bounded_ranges(ptr, max_tokens):
            if e - d == 1 and doc_lens[d] > max_tokens:  # a document longer than a batch
                self._add_long(tokens[ptr[d] : ptr[e]])
                continue
            parts = even_ranges(ptr[d : e + 1] - ptr[d], self.num_threads)
            pieces = [(tokens[ptr[d + a] : ptr[d + b]], doc_lens[d + a : d + b]) for a, b in parts]
            if self._pool is None or len(pieces) == 1:
                results = [self._count_piece(*p) for p in pieces]
            else:
                results = list(self._pool.map(lambda p: self._count_piece(*p), pieces))
            for keys, counts in results:
                self._push(_Run(keys, counts))
        self.stats.documents += len(doc_lens)
        self.stats.tokens += len(tokens)
        self.stats.keys += len(tokens) + (2 * len(doc_lens) if self.markers else 0)
        self.stats.timings["count"] = self.stats.timings.get("count", 0.0) + time.perf_counter() - t0

    def _add_long(self, doc: np.ndarray) -> None:
        """Count one long document span by span (`kn.pack_span`), `batch_tokens` positions
        a thread: the same keys as one piece would give, in a batch's memory."""
        bos = self.vocab_size - 2 if self.markers else -1
        eos = self.vocab_size - 1 if self.markers else -1
        m = len(doc) + (2 if self.markers else 0)
        spans = [(a, min(a + self.batch_tokens, m)) for a in range(0, m, self.batch_tokens)]

        def count(span: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
            keys = kn.pack_span(doc, span[0], span[1], self.order, self.bits, self.per_word,
                                self.nwords, bos, eos)
            return kn.sort_count(keys, np.zeros(0, np.uint64))

        for k in range(0, len(spans), self.num_threads):
            group = spans[k : k + self.num_threads]
            if self._pool is None or len(group) == 1:
                results = [count(sp) for sp in group]
            else:
                results = list(self._pool.map(count, group))
            for keys, counts in results:
                self._push(_Run(keys, counts))

    def _push(self, run: _Run) -> None:
        if run.n == 0:
            return
        self.runs.append(run)
        # binary-counter merging: a run merges with the previous one once that is not larger
        # than twice its size, so every key is merged O(log(keys)) times; never into a run
        # above half the run budget (the merge holds both inputs and the output)
        while (len(self.runs) > 1 and self.runs[-2].n <= 2 * self.runs[-1].n
               and self.runs[-2].nbytes + self.runs[-1].nbytes <= self.run_budget // 2):
            b = self.runs.pop()
            a = self.runs.pop()
            self.runs.append(_Run(*kn.merge_two(a.keys, a.counts, b.keys, b.counts)))
        if sum(r.nbytes for r in self.runs) > self.run_budget:
            self._spill()
            # small inputs stay small in memory; big ones soon use the whole share
            self.run_budget = min(self.max_run_budget, 2 * self.run_budget)

    def _spill(self) -> None:
        """Write every in-memory run to its own file (merging them first would hold two
        copies at the peak; the final merge takes any number of runs)."""
        for run in self.runs:
            path = self._tmp / f"run{len(self.spilled):05d}"
            self.spilled.append(_Run.spill(run.keys, run.counts, path))
            self.stats.spills += 1
            self.stats.spilled_bytes += run.nbytes
            log.debug("spilled run %d: %d keys", len(self.spilled), run.n)
        self.runs = []

    def merged(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """The sorted, distinct keys of everything added, with counts, in slices: the runs
        (in memory, or spilled and read back by slices) are merged k ways, never whole."""
        if self.spilled:
            self._spill()
        runs = self.spilled or self.runs
        self.runs = []
        item = 8 * self.nwords + 8
        merge_bytes = min(self.memory_bytes * _MERGE_SHARE, _MAX_MERGE_BYTES)
        step = max(1024, int(merge_bytes / (4 * item * max(1, len(runs)))))
        if not self.spilled:  # slices of in-memory runs are views: small ones cost nothing
            step = min(step, _SPLIT_ITEMS)
        pos = [0] * len(runs)
        while True:
            live = [i for i, r in enumerate(runs) if pos[i] < r.n]
            if not live:
                return
            slices = {i: runs[i].read(pos[i], min(runs[i].n, pos[i] + step)) for i in live}
            if len(live) == 1:
                (k, c), = slices.values()
                pos[live[0]] += len(c)
                yield k, c
                continue
            bound = None  # the smallest last key among slices that do not end their run
            for i in live:
                if pos[i] + len(slices[i][1]) < runs[i].n:
                    last = slices[i][0][-1:]
                    if bound is None or kn.count_not_above(bound, last, 0) == 0:
                        bound = last
            keys, counts = [], []
            for i in live:
                k, c = slices[i]
                m = len(c) if bound is None else kn.count_not_above(k, bound, 0)
                keys.append(k[:m])
                counts.append(c[:m])
                pos[i] += m
            parts = list(zip(keys, counts, strict=True))
            while len(parts) > 1:  # pairwise: linear merges of sorted slices
                parts = [kn.merge_two(*parts[j], *parts[j + 1]) if j + 1 < len(parts)
                         else parts[j] for j in range(0, len(parts), 2)]
            mk, mc = parts[0]
            for lo in range(0, len(mc), _SPLIT_ITEMS):
                yield mk[lo : lo + _SPLIT_ITEMS], mc[lo : lo + _SPLIT_ITEMS]
            for i in live:  # an in-memory run handed on whole is freed now
                if runs[i].path is None and pos[i] >= runs[i].n:
                    runs[i].keys = runs[i].counts = None


def write_levels(stream: Iterable[tuple[np.ndarray, np.ndarray]], writer: NgramWriter,
                 counter: NgramCounter) -> None:
    """Cut the merged key stream into the writer's levels (unigram counts and levels 2..N)."""
    order = counter.order
    cur = np.zeros(order + 1, np.int64)
    cur_count = np.zeros(order + 1, np.uint64)
    cur_parent = np.zeros(order + 1, np.int64)
    started = np.zeros(order + 1, np.int64)
    out_n = np.zeros(order + 1, np.int64)
    out_row = np.zeros((order + 1, _SPLIT_ITEMS), np.int64)
    out_tok = np.zeros((order + 1, _SPLIT_ITEMS), np.uint32)
    out_cnt = np.zeros((order + 1, _SPLIT_ITEMS), np.uint64)

    def drain() -> None:
        for k in range(2, order + 1):
            m = int(out_n[k])
            if m:
                writer.add_level(k, out_row[k, :m], out_tok[k, :m], out_cnt[k, :m])
        out_n[:] = 0

    for keys, counts in stream:
        for lo in range(0, len(counts), _SPLIT_ITEMS):
            kn.split_levels(np.ascontiguousarray(keys[lo : lo + _SPLIT_ITEMS]),
                            np.ascontiguousarray(counts[lo : lo + _SPLIT_ITEMS]), order,
                            counter.bits, counter.per_word, cur, cur_count, cur_parent, started,
                            writer.unigrams, out_row, out_tok, out_cnt, out_n)
            drain()
    kn.finish_levels(order, cur, cur_count, cur_parent, writer.unigrams, out_row, out_tok,
                     out_cnt, out_n)
    drain()
    trim()
