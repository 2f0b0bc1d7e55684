"""Turn what the user typed (files, folders, glob patterns) into a canonical list of files."""

from __future__ import annotations

import glob
import json
import os
from collections.abc import Sequence
from pathlib import Path

from cooc.corpus.readers import SUFFIXES, format_of
from cooc.errors import CoocError

PathLike = str | os.PathLike[str]


def discover_files(source: PathLike | Sequence[PathLike]) -> list[Path]:
    """The corpus files under ``source``: a file, a folder (searched recursively), a glob
    pattern (``**`` allowed), or a list of those.

    Keeps names ending with one of `SUFFIXES`; skips hidden files and folders (name starts
    with ``.``) inside folders. The result is sorted by path string and deduplicated, so it
    does not depend on the order or the spelling (``./a`` vs ``a``) of the sources.
    Each source must exist and hold at least one corpus file, else `CoocError`.
    """
    items = [source] if isinstance(source, (str, os.PathLike)) else list(source)
    if not items:
        raise CoocError("no data path given; pass a file, a folder or a glob pattern")
    # Same file spelled two ways -> one entry, shown under its smallest spelling.
    by_key: dict[str, str] = {}
    for item in items:
        if not isinstance(item, (str, os.PathLike)):
            raise TypeError(f"a data path must be a string or a path, got {item!r}")
        for f in _expand(os.path.expanduser(os.fspath(item))):
            key = os.path.normcase(os.path.abspath(f))
            if key not in by_key or f < by_key[key]:
                by_key[key] = f
    return [Path(f) for f in sorted(by_key.values())]


def _expand(item: str) -> list[str]:
    if os.path.isdir(item):
        files = _walk(item)
    elif os.path.exists(item):
        if not _is_readable_kind(item):
            raise CoocError(f"{item} is not a regular file (a FIFO, socket or device): cooc reads "
                            "files it can open without waiting; copy the data to a file first")
        if format_of(item) is None:
            raise CoocError(
                f"not a corpus file: {item}; names must end with one of {_suffix_list()}"
            )
        files = [os.path.normpath(item)]
    elif any(c in item for c in "*?["):
        matches = glob.glob(item, recursive=True)
        if not matches:
            raise CoocError(f"data path not found: {item} (the pattern matched nothing)")
        files = []
        for m in matches:
            if os.path.isdir(m):
                files.extend(_walk(m))
            elif format_of(m) is not None and _is_readable_kind(m):
                files.append(os.path.normpath(m))
    else:
        raise CoocError(f"data path not found: {item}")
    if not files:
        raise CoocError(f"no corpus files ({_suffix_list()}) under {item}")
    return files


def _walk(top: str) -> list[str]:
    files = []
    seen_dirs: set[tuple[int, int]] = set()

    def fail(e: OSError) -> None:
        # A silently skipped subfolder would silently shrink the corpus.
        raise CoocError(f"cannot list folder {e.filename}: {e.strerror}; fix its permissions")

    for root, dirs, names in os.walk(top, onerror=fail, followlinks=True):
        st = os.stat(root)
        if (st.st_dev, st.st_ino) in seen_dirs:  # a symlink loop: walk each folder once
            dirs[:] = []
            continue
        seen_dirs.add((st.st_dev, st.st_ino))
        if root != top and _is_cooc_artefact(root):  # an index or store kept beside the data
            dirs[:] = []
            continue
        # Sorted so that, of two links to one folder, the same one is always walked.
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in names:
            path = os.path.normpath(os.path.join(root, name))
            if not name.startswith(".") and format_of(name) is not None and _is_readable_kind(path):
                files.append(path)
    return files


def _is_cooc_artefact(folder: str) -> bool:
    """A folder cooc wrote (index, token store, n-gram index, LM trie): its manifest.json
    would otherwise be read as a JSON corpus file and flood the skip report."""
    try:
        with open(os.path.join(folder, "manifest.json"), encoding="utf-8") as f:
            manifest = json.load(f)
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and str(manifest.get("magic", "")).startswith("COOC-")


def _is_readable_kind(path: str) -> bool:
    """False for FIFOs, sockets and devices (opening a FIFO would hang). A dangling symlink
    is kept, so that the reader reports it as an unreadable file instead of dropping it."""
    return os.path.isfile(path) or not os.path.exists(path)


def _suffix_list() -> str:
    return ", ".join(SUFFIXES)
