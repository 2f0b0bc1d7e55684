"""Summing batch matrices under a memory budget: in-memory merges, spills, bounded runs.

Batches arrive as upper triangles and are summed in memory until they exceed
`pending_bytes`; the sum is then mirrored into full symmetric rows and written to disk as a
run. When `max_runs` runs exist they are merged into one, so the number of temp
files stays bounded however long the corpus (GloVe's cooccur opens one file per spill and
hits the 1,024-file limit). The final merge streams row ranges sized to the budget.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from cooc.pipeline.count import symmetric
from cooc.pipeline.csr import Csr, sum_csrs
from cooc.pipeline.malloc import trim
from cooc.pipeline.runs import RunFile, RunWriter

MIN_MERGE_BYTES = 1 << 20  # final-merge row ranges never get smaller than this
MAX_RUNS = 32  # runs on disk before they are merged into one


class CountAccumulator:
    def __init__(self, vocab_size: int, pending_bytes: int, tmp_dir: Path,
                 merge_bytes: int, max_runs: int = 0):
        max_runs = max_runs or MAX_RUNS
        if max_runs < 2:
            raise ValueError(f"max_runs must be >= 2, got {max_runs}")
        self.vocab_size = vocab_size
        self.pending_bytes = pending_bytes
        self.merge_bytes = max(merge_bytes, MIN_MERGE_BYTES)
        self.tmp_dir = Path(tmp_dir)
        self.max_runs = max_runs
        self.pending: list[Csr] = []
        self._final: list[Csr] = []
        self.runs: list[RunFile] = []
        self.spilled_bytes = 0
        self.num_spills = 0
        self._run_seq = 0

    @property
    def in_memory_bytes(self) -> int:
        return sum(p.nbytes for p in self.pending)

    def add(self, batch: Csr) -> None:
        """Add a batch's upper triangle (cols >= row)."""
        self.pending.append(batch)
        if self.in_memory_bytes > self.pending_bytes:
            merged = sum_csrs(self.pending, self.vocab_size)
            self.pending = [merged]
            # a merged sum that still fills half the budget no longer shrinks much: spill it
            if merged.nbytes > self.pending_bytes // 2:
                self._spill()

    def _pending_symmetric(self) -> list[Csr]:
        """The in-memory sum as full symmetric rows (and the pending list emptied)."""
        if not self.pending:
            return []
        upper = sum_csrs(self.pending, self.vocab_size)
        self.pending = []
        return [symmetric(upper)]

    def _spill(self) -> None:
        full = self._pending_symmetric()
        writer = self._new_run()
        try:
            for part in self._stream([], full):
                writer.add(part)
        except BaseException:
            writer.abort()
            raise
        run = writer.close()
        self.pending = []
        del full
        trim()
        self.runs.append(run)
        self.num_spills += 1
        self.spilled_bytes += run.disk_bytes
        if len(self.runs) >= self.max_runs:
            self._merge_runs()

    def _merge_runs(self) -> None:
        writer = self._new_run()
        try:
            for part in self._stream(self.runs, []):
                writer.add(part)
        except BaseException:
            writer.abort()
            raise
        merged = writer.close()
        for r in self.runs:
            r.delete()
        self.runs = [merged]

    def _new_run(self) -> RunWriter:
        self._run_seq += 1
        return RunWriter(self.tmp_dir / f"run-{self._run_seq:06d}", self.vocab_size)

    def _stream(self, runs: list[RunFile], pending: list[Csr]) -> Iterator[Csr]:
        """The sum of runs and in-memory parts, as consecutive row ranges of bounded size."""
        if not runs and not pending:
            yield Csr.empty(self.vocab_size)
            return
        run_ptrs = [r.row_ptr() for r in runs]
        # entries at or before each row boundary, over all parts: pick cuts of ~merge_bytes
        total_ptr = np.zeros(self.vocab_size + 1, np.int64)
        for ptr in run_ptrs + [p.row_ptr for p in pending]:
            total_ptr += ptr
        max_entries = max(1, self.merge_bytes // 16)  # inputs + output, 8 bytes each
        cuts = [0]
        while cuts[-1] < self.vocab_size:
            start = cuts[-1]
            limit = total_ptr[start] + max_entries
            nxt = int(np.searchsorted(total_ptr, limit, side="right")) - 1
            cuts.append(min(self.vocab_size, max(nxt, start + 1)))
        for a, b in zip(cuts[:-1], cuts[1:], strict=True):
            slices = [r.read_rows(a, b, ptr) for r, ptr in zip(runs, run_ptrs, strict=True)]
            slices += [p.rows(a, b) for p in pending]
            yield sum_csrs(slices, self.vocab_size) if len(slices) > 1 else slices[0]

    def final_degrees(self) -> np.ndarray | None:
        """Row lengths of the final sum when it is all in memory (no run spilled), else None.

        Mirrors the pending sum now, so `finish` streams it; lets the index writer encode in
        one pass.
        """
        if self.runs:
            return None
        if not self._final:
            self._final = self._pending_symmetric() or [Csr.empty(self.vocab_size)]
        return np.diff(self._final[0].row_ptr)

    def finish(self) -> Iterator[Csr]:
        """Row ranges of the final sum, in order; runs are deleted afterwards."""
        try:
            final = self._final or self._pending_symmetric()
            self._final = []
            yield from self._stream(self.runs, final)
        finally:
            for r in self.runs:
                r.delete()
            self.runs = []
            self.pending = []

    @property
    def temp_files(self) -> int:
        return 3 * len(self.runs)
