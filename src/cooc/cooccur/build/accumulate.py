"""Summing batch matrices under a memory budget: in-memory sums, compressed spills, bounded runs.

Batches arrive as upper triangles, whole or in row ranges (a batch of long windows has its
triangle counted a range at a time), and are summed in memory (exact-size two-way merges).
When the pending sum plus the next batch would pass `pending_bytes`, the sum is mirrored into full
symmetric rows and written to disk as a compressed run. When `max_runs` runs exist they are
merged into one, so the number of temp files stays bounded however long the corpus (GloVe's
cooccur opens one file per spill and hits the 1,024-file limit); the smaller half is merged,
so each entry is rewritten O(log n) times. Merges and the final stream
work row range by row range, each range sized to `merge_bytes`.

Peak memory, in terms of the pending cap P and the merge share M: summing holds the old sum,
the batch and the new sum (<= 2P); a spill holds the sum, its mirror and one range (2P + M);
the final stream the same.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Executor
from pathlib import Path

import numpy as np

from cooc.cooccur.build.csr import Csr, Mirrored, full_height, merge2, sum_csrs
from cooc.cooccur.build.runs import RunFile, RunWriter
from cooc.runtime.malloc import trim
from cooc.runtime.ranges import bounded_ranges

MIN_MERGE_BYTES = 1 << 20  # row ranges of merges never get smaller than this
MAX_RANGE_BYTES = 1 << 26  # ... nor larger: bigger ranges are no faster, only fatter
MAX_RUNS = 16  # runs on disk before the smaller half is merged (6 files each)
# bytes per input entry while a range is summed: decoded input (8), two tree levels (16)
_MERGE_BYTES_PER_ENTRY = 24


class CountAccumulator:
    def __init__(self, vocab_size: int, pending_bytes: int, tmp_dir: Path, merge_bytes: int,
                 max_runs: int = 0, pool: Executor | None = None, num_threads: int = 1,
                 keep_merged: bool = False):
        max_runs = max_runs or MAX_RUNS
        if max_runs < 2:
            raise ValueError(f"max_runs must be >= 2, got {max_runs}")
        self.vocab_size = vocab_size
        self.pending_bytes = pending_bytes
        self.merge_bytes = max(merge_bytes, MIN_MERGE_BYTES)
        self.tmp_dir = Path(tmp_dir)
        self.max_runs = max_runs
        self.pool, self.num_threads = pool, num_threads
        self.pending: Csr | None = None  # upper triangle
        self._mirrored: Mirrored | None = None
        self.runs: list[RunFile] = []
        # runs merged away but kept until `drop_obsolete` (checkpointed builds)
        self.keep_merged = keep_merged
        self.obsolete: list[RunFile] = []
        self.spilled_bytes = 0
        self.num_spills = 0
        self._run_seq = 0

    @property
    def in_memory_bytes(self) -> int:
        return self.pending.nbytes if self.pending is not None else 0

    def add(self, batch: Csr) -> None:
        """Add a batch's upper triangle (cols >= row), or consecutive row ranges of it one
        after another (a batch too large to count whole, see `count.window_counts`)."""
        batch = full_height(batch, self.vocab_size)
        if self.pending is None:
            self.pending = batch
        elif self.pending.nbytes + batch.nbytes > self.pending_bytes:
            self._spill()
            self.pending = batch
        else:
            self.pending = merge2(self.pending, batch, self.pool, self.num_threads)

    def adopt_runs(self, runs: list[RunFile]) -> None:
        """Continue from runs a killed build left (see `checkpoint`)."""
        self.runs = list(runs)
        self.spilled_bytes += sum(r.disk_bytes for r in runs)
        self._run_seq = max([self._run_seq] + [int(r.path.name.split("-")[-1]) for r in runs])

    def drop_obsolete(self) -> None:
        """Delete runs merged away since the last checkpoint (which no longer names them)."""
        for r in self.obsolete:
            r.delete()
        self.obsolete = []

    def spill_pending(self) -> None:
        """Move the in-memory sum to a run, so the runs hold everything added so far."""
        if self.pending is not None:
            self._spill()

    def _spill(self) -> None:
        mirrored = Mirrored(self.pending)
        self.pending = None
        run = self._write_run([], mirrored)
        del mirrored
        trim()
        self.runs.append(run)
        self.num_spills += 1
        self.spilled_bytes += run.disk_bytes
        if len(self.runs) >= self.max_runs:
            # merge the smaller half (tiered, as in LSM trees): each entry is rewritten
            # O(log n) times, not once per max_runs spills as when merging everything
            small = sorted(self.runs, key=lambda r: r.num_entries)[: max(2, self.max_runs // 2)]
            merged = self._write_run(small, None)
            if self.keep_merged:  # the last checkpoint may still name them
                self.obsolete.extend(small)
            else:
                for r in small:
                    r.delete()
            self.runs = [r for r in self.runs if r not in small] + [merged]

    def _write_run(self, runs: list[RunFile], mirrored: Mirrored | None,
                   path: Path | None = None) -> RunFile:
        self._run_seq += 1
        path = path or self.tmp_dir / f"run-{self._run_seq:06d}"
        writer = RunWriter(path, self.vocab_size, self.pool, self.num_threads)
        try:
            for part in sum_rows(runs, mirrored, self.vocab_size, self.merge_bytes, self.pool,
                                 self.num_threads):
                writer.add(part)
        except BaseException:
            writer.abort()
            raise
        return writer.close()

    def finish_run(self, path: Path) -> RunFile:
        """The whole sum as one run at `path` (a map task's output); the other runs go."""
        mirrored = Mirrored(self.pending) if self.pending is not None else None
        self.pending = None
        run = self._write_run(self.runs, mirrored, path)
        for r in self.runs + self.obsolete:
            r.delete()
        self.runs, self.obsolete = [], []
        return run

    def final_degrees(self) -> np.ndarray | None:
        """Row lengths of the final sum when it is all in memory (no run spilled), else None.

        Mirrors the pending sum now, so `finish` streams it; lets the index writer encode in
        one pass.
        """
        if self.runs:
            return None
        if self._mirrored is None:
            self._mirrored = Mirrored(self.pending if self.pending is not None else Csr.empty(self.vocab_size))
            self.pending = None
        return self._mirrored.degrees()

    def finish(self) -> Iterator[Csr]:
        """Row ranges of the final sum, in order. The runs are deleted once the stream is
        complete, not before; with `keep_merged` (a checkpointed build) not at all: the
        checkpoint names them until the index is in place, so a build killed while writing
        its index resumes from them (the build folder goes once the index is installed), at
        the cost of the runs' disk space during the final write."""
        mirrored = self._mirrored
        if mirrored is None and self.pending is not None:
            mirrored = Mirrored(self.pending)
        self._mirrored = self.pending = None
        yield from sum_rows(self.runs, mirrored, self.vocab_size, self.merge_bytes, self.pool,
                            self.num_threads)
        if self.keep_merged:
            return
        for r in self.runs:
            r.delete()
        self.runs = []
        self.drop_obsolete()

    @property
    def temp_files(self) -> int:
        return 6 * (len(self.runs) + len(self.obsolete))


def sum_rows(runs: list[RunFile], mirrored: Mirrored | None, num_rows: int, merge_bytes: int,
             pool: Executor | None = None, num_threads: int = 1, start: int = 0,
             stop: int | None = None) -> Iterator[Csr]:
    """Rows [start, stop) of the sum of runs and an in-memory matrix, as consecutive row
    ranges of about `merge_bytes` each."""
    stop = num_rows if stop is None else stop
    if not runs and mirrored is None:
        yield Csr.empty(stop - start, start)
        return
    # entries at or before each row boundary, over all inputs: cut ranges of ~merge_bytes
    total_ptr = np.zeros(stop - start + 1, np.int64)
    for r in runs:
        total_ptr += r.row_ptr(start, stop)
    per_entry = _MERGE_BYTES_PER_ENTRY if runs else 8
    if mirrored is not None:
        total_ptr += mirrored.row_ptr[start : stop + 1]
    max_entries = max(1, min(merge_bytes, MAX_RANGE_BYTES) // per_entry)
    for lo, hi in bounded_ranges(total_ptr, max_entries):
        parts = [r.read_rows(start + lo, start + hi) for r in runs]
        if mirrored is not None:
            parts.append(mirrored.rows(start + lo, start + hi))
        yield sum_csrs(parts, pool, num_threads)
        del parts
