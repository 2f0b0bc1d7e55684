"""Small file helpers shared by every on-disk format: hashed appends, file checksums."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np


class HashedFile:
    """An array file being appended to, hashed (sha256 by default) as it is written."""

    def __init__(self, path: Path, dtype: str, algorithm: str = "sha256"):
        self.f = open(path, "wb")
        self.h = hashlib.new(algorithm)
        self.dtype = dtype
        self.nbytes = 0

    def append(self, a: np.ndarray) -> None:
        b = np.ascontiguousarray(a, dtype=self.dtype)
        if b.nbytes:
            mv = memoryview(b).cast("B")
            self.f.write(mv)
            self.h.update(mv)
            self.nbytes += b.nbytes

    def close(self) -> None:
        self.f.close()


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()
