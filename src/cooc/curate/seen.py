"""`FirstSeen`: the first value stored under each 128-bit key, in bounded memory.

Why this design: streaming exact dedup must answer "seen before, and where first?" for
every document in corpus order, in one pass. Keys go into an in-memory open-addressing
table (`cooc.kernels.dedup`, 48 bytes a key) that doubles while it fits the budget; when it
would not, it is sorted by key and spilled to disk as a run (three .npy arrays), and the
table starts empty. A later key is looked up in every run (binary search through a memory
map, so the pages are the OS's page cache, not the process's memory) and then in the
table. A key is inserted only when no run and not the table holds it, so every key is
stored once, with its first value. Runs are not merged: with the default budget (a quarter
of RAM) a run holds tens of millions of keys, so even billions of documents make few runs.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np

from cooc.kernels.dedup import EMPTY, sorted_lookup, table_get_or_insert, table_rehash

SLOT_BYTES = 24  # hi, lo, value
MIN_CAPACITY = 1024


class FirstSeen:
    """Keys (hi, lo uint64) -> first int64 value (>= 0), within `memory_bytes`."""

    def __init__(self, memory_bytes: int, scratch: str | Path | None = None):
        if memory_bytes < 2 * MIN_CAPACITY * SLOT_BYTES:
            raise ValueError(f"memory_bytes must be at least {2 * MIN_CAPACITY * SLOT_BYTES} "
                             f"for the dedup table, got {memory_bytes}")
        self.memory_bytes = memory_bytes
        self._scratch = Path(scratch) if scratch is not None else None
        self._own_scratch = False
        self._alloc(MIN_CAPACITY)
        self.count = 0  # keys in the table
        self.runs: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self.keys = 0  # keys stored, table and runs

    def _alloc(self, cap: int) -> None:
        self.hi = np.zeros(cap, np.uint64)
        self.lo = np.zeros(cap, np.uint64)
        self.vals = np.full(cap, EMPTY, np.int64)

    @property
    def capacity(self) -> int:
        return self.vals.shape[0]

    def get_or_insert(self, hi: np.ndarray, lo: np.ndarray,
                      values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(first value of each key, whether it was new), keys taken in order."""
        n = hi.shape[0]
        first = np.full(n, EMPTY, np.int64)
        new = np.zeros(n, bool)
        pos = 0
        while pos < n:
            room = self.capacity // 2 - self.count
            if room < min(n - pos, self.capacity // 4):
                self._make_room()
                continue
            c = slice(pos, pos + min(room, n - pos))
            part = first[c]
            for r_hi, r_lo, r_val in self.runs:
                sorted_lookup(r_hi, r_lo, r_val, hi[c], lo[c], part)
            miss = np.flatnonzero(part == EMPTY)
            if miss.size:
                m_val = np.empty(miss.size, np.int64)
                m_new = np.empty(miss.size, bool)
                sub = values[c]
                added = table_get_or_insert(self.hi, self.lo, self.vals, hi[c][miss],
                                            lo[c][miss], sub[miss], m_val, m_new)
                self.count += added
                self.keys += added
                part[miss] = m_val
                new[c][miss] = m_new
                first[c] = part
            pos = c.stop
        return first, new

    def _make_room(self) -> None:
        cap = self.capacity
        if 2 * cap * SLOT_BYTES <= self.memory_bytes:
            old = (self.hi, self.lo, self.vals)
            self._alloc(2 * cap)
            table_rehash(*old, self.hi, self.lo, self.vals)
        else:
            self.spill()

    def spill(self) -> None:
        """Write the table as a sorted run on disk and empty it."""
        used = self.vals != EMPTY
        hi, lo, vals = self.hi[used], self.lo[used], self.vals[used]
        order = np.lexsort((lo, hi))
        folder = self._folder()
        k = len(self.runs)
        arrays = []
        for name, a in (("hi", hi), ("lo", lo), ("val", vals)):
            path = folder / f"run-{k:05d}.{name}.npy"
            np.save(path, a[order])
            arrays.append(np.load(path, mmap_mode="r").view(np.ndarray))
        self.runs.append(tuple(arrays))
        self.vals.fill(EMPTY)
        self.count = 0

    def _folder(self) -> Path:
        if self._scratch is None:
            self._scratch = Path(tempfile.mkdtemp(prefix="cooc-dedup-"))
            self._own_scratch = True
        self._scratch.mkdir(parents=True, exist_ok=True)
        return self._scratch

    def close(self) -> None:
        """Drop the runs (and the scratch folder if this object made it)."""
        self.runs = []
        if self._own_scratch and self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)

    def nbytes(self) -> int:
        return self.capacity * SLOT_BYTES
