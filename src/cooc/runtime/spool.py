"""Scratch arrays appended to and read back by range: spilled levels, estimation scratch."""

from __future__ import annotations

from pathlib import Path

import numpy as np


class SpoolFiles:
    """Named arrays appended to raw files in `folder` and read back by range (a fresh array,
    not a memory map: mapped pages would count in the process's memory)."""

    def __init__(self, folder: str | Path, dtypes: dict[str, np.dtype] | None = None):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.dtypes: dict[str, np.dtype] = dict(dtypes or {})  # fixed, or set by the first append
        self.sizes: dict[str, int] = {}
        self._open: dict[str, object] = {}

    def append(self, name: str, a: np.ndarray) -> None:
        a = np.ascontiguousarray(a, dtype=self.dtypes.get(name, a.dtype))
        self.dtypes.setdefault(name, a.dtype)
        if name not in self._open:
            self._open[name] = open(self.folder / name, "ab")
        self._open[name].write(memoryview(a))  # (tobytes would copy it)
        self.sizes[name] = self.sizes.get(name, 0) + len(a)

    def flush(self) -> None:
        for f in self._open.values():
            f.close()
        self._open = {}

    def read(self, name: str, lo: int = 0, hi: int | None = None) -> np.ndarray:
        if name in self._open:
            self._open.pop(name).close()
        dt = self.dtypes[name]
        hi = self.sizes.get(name, 0) if hi is None else hi
        if hi <= lo:
            return np.zeros(0, dt)
        with open(self.folder / name, "rb") as f:
            return np.fromfile(f, dt, hi - lo, offset=lo * dt.itemsize)

