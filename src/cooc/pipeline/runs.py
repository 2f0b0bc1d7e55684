"""Sorted runs spilled to disk: full-height CSR slices of the count matrix.

A run is three raw little-endian arrays (row_ptr <i8, cols <u4, counts <u4) in one folder,
written under a temporary name and renamed, read back by memory map so a row range costs
only its own bytes. Runs live in the build's temp folder and are deleted once merged.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cooc.pipeline.csr import Csr

_MAGIC = "COOC-RUN"
_VERSION = 1


@dataclass(frozen=True)
class RunFile:
    path: Path
    num_rows: int
    num_entries: int

    @property
    def disk_bytes(self) -> int:
        return (self.num_rows + 1) * 8 + self.num_entries * 8

    def row_ptr(self) -> np.ndarray:
        return np.fromfile(self.path / "row_ptr.bin", dtype="<i8").astype(np.int64, copy=False)

    def read_rows(self, start: int, stop: int, row_ptr: np.ndarray | None = None) -> Csr:
        """Rows [start, stop) read into RAM with positioned reads.

        Not a memory map: pages of a mapped file count toward this process's RSS for as long
        as the map lives, which broke the memory budget during merges of large runs.
        """
        ptr = self.row_ptr() if row_ptr is None else row_ptr
        lo, hi = int(ptr[start]), int(ptr[stop])

        def read(name: str) -> np.ndarray:
            with open(self.path / name, "rb") as f:
                return np.fromfile(f, dtype="<u4", count=hi - lo, offset=4 * lo).astype(
                    np.uint32, copy=False)

        return Csr(np.asarray(ptr[start : stop + 1] - lo, np.int64), read("cols.bin"),
                   read("counts.bin"), start)

    def delete(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


class RunWriter:
    """Streams consecutive row ranges into a new run."""

    def __init__(self, path: Path, num_rows: int):
        self.path = Path(path)
        self.tmp = self.path.with_name(self.path.name + ".tmp")
        self.tmp.mkdir(parents=True)
        self.num_rows = num_rows
        self._ptr = open(self.tmp / "row_ptr.bin", "wb")
        self._cols = open(self.tmp / "cols.bin", "wb")
        self._counts = open(self.tmp / "counts.bin", "wb")
        self._ptr.write(np.zeros(1, "<i8").tobytes())
        self._rows = 0
        self._entries = 0

    def add(self, part: Csr) -> None:
        self._ptr.write((part.row_ptr[1:] + self._entries).astype("<i8").tobytes())
        self._cols.write(np.ascontiguousarray(part.cols, "<u4").tobytes())
        self._counts.write(np.ascontiguousarray(part.counts, "<u4").tobytes())
        self._rows += part.num_rows
        self._entries += part.num_entries

    def close(self) -> RunFile:
        if self._rows != self.num_rows:
            raise RuntimeError(f"run {self.path} got {self._rows} rows, expected {self.num_rows}")
        for f in (self._ptr, self._cols, self._counts):
            f.close()
        meta = {"magic": _MAGIC, "version": _VERSION, "rows": self._rows, "entries": self._entries}
        (self.tmp / "run.json").write_text(json.dumps(meta))
        os.replace(self.tmp, self.path)
        return RunFile(self.path, self._rows, self._entries)

    def abort(self) -> None:
        for f in (self._ptr, self._cols, self._counts):
            f.close()
        shutil.rmtree(self.tmp, ignore_errors=True)
