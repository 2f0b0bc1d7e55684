"""Sorted runs spilled to disk: full-height slices of the count matrix, compressed.

A run holds rows 0..V-1 (a partition of a distributed build: some of them; each sorted by column) in the index's block codec with columns as
token ids (`codec.encode_rows`: Elias-Fano ids, bit-packed or Rice counts; ~2-3 bytes per
entry instead of 8 raw). Files, all little-endian, in one folder:

    data.u64      the rows' bit strings, each row starting on a word
    skip.u32      (first column, bit offset) per block of BLOCK entries
    row_ptr.i64   entries before each row      (V+1)
    row_word.i64  words before each row        (V+1)
    blk_ptr.i64   blocks before each row       (V+1)
    run.json      magic, version, sizes and a sha256 per file

The folder is written under `<name>.tmp` and renamed, so a run that exists is complete.
Row ranges are read with positioned reads, not memory maps: pages of a live map count toward
the process's RSS, which broke the memory budget during merges of large runs.
"""

from __future__ import annotations

import json
import os
import shutil
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cooc.cooccur.build.csr import Csr, threaded
from cooc.formats.manifest import HashedFile, file_sha256
from cooc.kernels import codec
from cooc.runtime.ranges import even_ranges

MAGIC = "COOC-RUN"
VERSION = 2
BLOCK = 128
_FILES = {"data": "data.u64", "skip": "skip.u32", "row_ptr": "row_ptr.i64",
          "row_word": "row_word.i64", "blk_ptr": "blk_ptr.i64"}
_DTYPES = {"data": "<u8", "skip": "<u4", "row_ptr": "<i8", "row_word": "<i8", "blk_ptr": "<i8"}


class RunFormatError(RuntimeError):
    pass


def _read(path: Path, dtype: str, start: int, stop: int) -> np.ndarray:
    """Elements [start, stop) of a raw array file."""
    size = np.dtype(dtype).itemsize
    with open(path, "rb") as f:
        a = np.fromfile(f, dtype=dtype, count=stop - start, offset=size * start)
    if a.shape[0] != stop - start:
        raise RunFormatError(f"{path} is truncated")
    return a


@dataclass(frozen=True)
class RunFile:
    path: Path
    num_rows: int
    num_entries: int
    disk_bytes: int
    num_cols: int = 0  # column ids are < num_cols (0: num_rows, a full-height run)

    def _file(self, name: str) -> Path:
        return self.path / _FILES[name]

    def row_ptr(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Entries before each row of [start, stop], from 0 at `start`."""
        stop = self.num_rows if stop is None else stop
        ptr = _read(self._file("row_ptr"), "<i8", start, stop + 1).astype(np.int64, copy=False)
        return ptr - ptr[0]

    def read_rows(self, start: int, stop: int) -> Csr:
        """Rows [start, stop), decoded into RAM."""
        ptr = _read(self._file("row_ptr"), "<i8", start, stop + 1).astype(np.int64, copy=False)
        rw = _read(self._file("row_word"), "<i8", start, stop + 1).astype(np.int64, copy=False)
        bp = _read(self._file("blk_ptr"), "<i8", start, stop + 1).astype(np.int64, copy=False)
        nw = int(rw[-1] - rw[0])
        words = np.zeros(nw + 1, np.uint64)  # +1: a zero guard word for the decoder
        words[:nw] = _read(self._file("data"), "<u8", int(rw[0]), int(rw[-1]))
        skip = _read(self._file("skip"), "<u4", 2 * int(bp[0]), 2 * int(bp[-1])).reshape(-1, 2)
        out_ptr, cols, counts, bad = codec.decode_rows(
            0, stop - start, ptr, rw - rw[0], bp - bp[0], skip, words, BLOCK,
            self.num_cols or self.num_rows)
        if bad >= 0:
            raise RunFormatError(f"run {self.path}: row {start + int(bad)} does not decode")
        return Csr(out_ptr, cols, counts, start)

    def verify(self) -> None:
        """Check the files against the checksums in run.json."""
        meta = _load_meta(self.path)
        for name, fname in _FILES.items():
            if file_sha256(self.path / fname) != meta["sha256"][name]:
                raise RunFormatError(f"run {self.path}: {fname} does not match its checksum")

    def delete(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def _load_meta(path: Path) -> dict:
    try:
        meta = json.loads((path / "run.json").read_text())
    except (OSError, ValueError) as e:
        raise RunFormatError(f"run {path}: unreadable run.json ({e})") from None
    if meta.get("magic") != MAGIC or meta.get("version") != VERSION:
        raise RunFormatError(f"run {path}: not a cooc run of version {VERSION}")
    return meta


def open_run(path: Path) -> RunFile:
    meta = _load_meta(Path(path))
    return RunFile(Path(path), meta["rows"], meta["entries"], meta["disk_bytes"],
                   meta.get("cols", meta["rows"]))


class RunWriter:
    """Streams consecutive row ranges (covering rows 0..num_rows-1 in order) into a new run."""

    def __init__(self, path: Path, num_rows: int, pool: Executor | None = None,
                 num_threads: int = 1, num_cols: int | None = None):
        self.path = Path(path)
        self.tmp = self.path.with_name(self.path.name + ".tmp")
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.tmp.mkdir(parents=True)
        self.num_rows = num_rows
        self.num_cols = num_rows if num_cols is None else num_cols
        self.pool, self.num_threads = pool, num_threads
        self._files = {k: HashedFile(self.tmp / f, _DTYPES[k]) for k, f in _FILES.items()}
        for k in ("row_ptr", "row_word", "blk_ptr"):
            self._files[k].append(np.zeros(1, np.int64))
        self._rows = 0
        self._entries = 0
        self._words = 0
        self._blocks = 0

    def add(self, part: Csr) -> None:
        if part.row_start != self._rows:
            raise ValueError(f"run {self.path}: rows must arrive in order (got {part.row_start}, "
                             f"expected {self._rows})")
        ranges = even_ranges(part.row_ptr, 4 * self.num_threads if part.num_entries > (1 << 18) else 1)

        def encode(r):
            lo, hi = r
            a, b = int(part.row_ptr[lo]), int(part.row_ptr[hi])
            ptr = part.row_ptr[lo : hi + 1] - a
            words, rw, skip, _ = codec.encode_rows(ptr, part.cols[a:b], part.counts[a:b], BLOCK)
            return ptr, words, rw, skip

        for ptr, words, rw, skip in threaded(self.pool, self.num_threads, encode, ranges):
            blocks = np.cumsum((np.diff(ptr) + BLOCK - 1) // BLOCK)
            self._files["row_ptr"].append(ptr[1:] + self._entries)
            self._files["row_word"].append(rw[1:] + self._words)
            self._files["blk_ptr"].append(blocks + self._blocks)
            self._files["data"].append(words)
            self._files["skip"].append(skip)
            self._rows += ptr.shape[0] - 1
            self._entries += int(ptr[-1])
            self._words += int(rw[-1])
            self._blocks += int(blocks[-1]) if blocks.shape[0] else 0

    def close(self) -> RunFile:
        if self._rows != self.num_rows:
            raise RuntimeError(f"run {self.path} got {self._rows} rows, expected {self.num_rows}")
        for f in self._files.values():
            f.close()
        disk = sum(f.nbytes for f in self._files.values())
        meta = {"magic": MAGIC, "version": VERSION, "rows": self._rows, "cols": self.num_cols,
                "entries": self._entries,
                "words": self._words, "blocks": self._blocks, "disk_bytes": disk,
                "sha256": {k: f.h.hexdigest() for k, f in self._files.items()}}
        (self.tmp / "run.json").write_text(json.dumps(meta))
        shutil.rmtree(self.path, ignore_errors=True)
        os.replace(self.tmp, self.path)
        return RunFile(self.path, self._rows, self._entries, disk, self.num_cols)

    def abort(self) -> None:
        for f in self._files.values():
            f.close()
        shutil.rmtree(self.tmp, ignore_errors=True)
