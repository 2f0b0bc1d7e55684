"""Small file helpers shared by every on-disk format: hashed appends, file checksums."""

from __future__ import annotations

import hashlib
import json
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


def read_folder_manifest(path: Path, manifest: str, magic: str, version: int, what: str,
                         make_hint: str, error=ValueError) -> dict:
    """The manifest of a folder format, checked for its magic and version; `error` (the
    format's exception class) names the folder and the problem in one line."""
    try:
        with open(path / manifest, encoding="utf-8") as f:
            m = json.load(f)
    except FileNotFoundError:
        raise error(f"{path} is not {what} (no {manifest}); make one with {make_hint}") from None
    except (OSError, ValueError) as e:
        raise error(f"{path}/{manifest} is unreadable: {e}") from None
    if not isinstance(m, dict) or m.get("magic") != magic:
        raise error(f"{path} is not a cooc {what.removeprefix('an ').removeprefix('a ')} "
                    "(bad magic)")
    if m.get("format_version") != version:
        raise error(f"{path} has {what.removeprefix('an ').removeprefix('a ')} format version "
                    f"{m.get('format_version')}; this cooc reads version {version}: rebuild it")
    return m


def cooc_version() -> str:
    """The installed cooc version, for the manifest's `created_by`."""
    import sys

    v = getattr(sys.modules.get("cooc"), "__version__", None)
    if v:
        return str(v)
    try:
        from importlib.metadata import PackageNotFoundError, version

        return version("cooc")
    except (ImportError, PackageNotFoundError):
        return "unknown"

