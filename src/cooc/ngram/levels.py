"""Trie levels as plain arrays, for consumers that read every level once in order (Kneser-Ney
estimation) and need no compressed index.

A level k >= 2 is three parallel arrays in lexicographic order of the k-grams: `rows` (the
parent: row in level k - 1, or the first token id for k = 2; non-decreasing), `toks` (the
last token id) and `counts`; level 1 is the dense unigram count array. Two sources share the
`read(k, name, lo, hi)` interface:

- `LevelSpool`: what the n-gram counter's level cutter writes (`cooc.ngram.count.write_levels`
  calls `add_level` as the n-gram writer's), spooled to raw files in a folder and read back
  by range, so a consumer holds only the slices it works on. It skips encoding the count
  trie (and decoding it again), which is most of what estimation spent outside its own math.
- `IndexLevels`: the levels of an existing n-gram index (`NgramIndex.level_arrays`), each
  decoded once when first asked for and kept (memory: 16 bytes an n-gram).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from cooc.runtime.spool import SpoolFiles

_DTYPES = {"rows": np.dtype("<i4"), "toks": np.dtype("<i4"), "counts": np.dtype("<u8")}


class LevelSpool:
    """Levels 2..order appended in order as raw little-endian files in `folder` (made, and
    removed by `close`); unigram counts in memory (`unigrams`, uint64[V])."""

    def __init__(self, folder: str | Path, order: int, vocab_size: int):
        if vocab_size >= 2**31:
            raise ValueError(f"vocab_size {vocab_size} does not fit int32 token ids")
        self.order = order
        self.vocab_size = vocab_size
        self.unigrams = np.zeros(vocab_size, np.uint64)
        self.grams = {k: 0 for k in range(2, order + 1)}
        self.files = SpoolFiles(folder, {f"level{k}.{name}": dt for k in range(2, order + 1)
                                         for name, dt in _DTYPES.items()})

    @property
    def folder(self) -> Path:
        return self.files.folder

    def __enter__(self) -> LevelSpool:
        return self

    def __exit__(self, *exc) -> None:
        if exc[0] is not None:
            self.close()

    def add_level(self, k: int, rows: np.ndarray, toks: np.ndarray, cnts: np.ndarray) -> None:
        """Append the next entries of level k (in order)."""
        if self.grams[k] + len(rows) >= 2**31:
            raise ValueError(f"more than 2**31 {k}-grams: rows do not fit int32")
        for name, a in (("rows", rows), ("toks", toks), ("counts", cnts)):
            self.files.append(f"level{k}.{name}", a)
        self.grams[k] += len(rows)

    def finish(self) -> LevelSpool:
        self.files.flush()
        return self

    def close(self) -> None:
        """Remove the folder."""
        self.files.flush()
        shutil.rmtree(self.folder, ignore_errors=True)

    def size(self, k: int) -> int:
        return self.vocab_size if k == 1 else self.grams[k]

    def read(self, k: int, name: str, lo: int = 0, hi: int | None = None) -> np.ndarray:
        """Entries lo..hi of one array of level k >= 2 (a fresh array)."""
        return self.files.read(f"level{k}.{name}", lo, self.grams[k] if hi is None else hi)


class IndexLevels:
    """The levels of an n-gram index, decoded when first read."""

    def __init__(self, index, order: int | None = None):
        self.index = index
        self.order = order or index.order
        self.vocab_size = index.vocab_size
        self.unigrams = np.asarray(index.unigrams, np.uint64)
        self.grams = {k: int(index.grams[k]) for k in range(2, self.order + 1)}
        self._levels: dict[int, dict] = {}

    def size(self, k: int) -> int:
        return self.vocab_size if k == 1 else self.grams[k]

    def read(self, k: int, name: str, lo: int = 0, hi: int | None = None) -> np.ndarray:
        if k not in self._levels:
            rows, toks, counts = self.index.level_arrays(k)
            self._levels[k] = {"rows": rows.astype(np.int32), "toks": toks.astype(np.int32),
                               "counts": counts.astype(np.uint64)}
        a = self._levels[k][name]
        return a[lo : len(a) if hi is None else hi]
