"""Checksums and whole-artefact checks on first use, remembered per file.

Opening an artefact must not answer from damaged bytes, yet hashing a 10 GB index before every
one-token query would undo what the memory map is for. So every reader calls `check_once`
when it opens an artefact: the first open on a machine reads each file the manifest lists,
compares its sha256, and runs the format's own whole-artefact checks (`deep_check`: the ones
that read every byte, such as "the token texts are UTF-8"); when all pass, a stamp is written
to the user's cache (`$COOC_CACHE_DIR`, else `$XDG_CACHE_HOME/cooc`, else `~/.cache/cooc`)
naming each file's device, inode, size, mtime and ctime. Later opens compare those with
`stat` and skip the reads. Any write to a file changes its ctime (which no user call can set
back), so a stamp never vouches for changed bytes; a file changed within the clock's
granularity of its check is the one gap, closed as git closes its "racy" index entries: a
file whose ctime is less than `RACY_SECONDS` old is checked but not stamped.

`COOC_CHECKSUMS=always` checks on every open (no stamps read or written). `cooc verify`
always reads everything, with or without a stamp.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cooc.formats.manifest import file_problem

RACY_SECONDS = 2.0
_MODES = ("once", "always")


def checksum_mode() -> str:
    """'once' (the default) or 'always', from `COOC_CHECKSUMS`."""
    mode = os.environ.get("COOC_CHECKSUMS", "once").strip().lower() or "once"
    if mode not in _MODES:
        raise ValueError(f"COOC_CHECKSUMS must be one of {', '.join(_MODES)}, got {mode!r}")
    return mode


def cache_dir() -> Path:
    base = os.environ.get("COOC_CACHE_DIR")
    if base:
        return Path(base)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "cooc"


def _file_stamp(path: Path) -> list[int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


def _stamp_path(folder: Path) -> Path:
    key = hashlib.sha256(os.fsencode(os.path.realpath(folder))).hexdigest()[:32]
    return cache_dir() / "checked" / f"{key}.json"


def _current_stamp(folder: Path, manifest_file: str, entries: list[dict[str, Any]]
                   ) -> dict[str, Any] | None:
    names = [manifest_file, *sorted({str(e.get("file")) for e in entries})]
    files = {}
    for name in names:
        s = _file_stamp(folder / name)
        if s is None:
            return None
        files[name] = s
    return {"folder": os.path.realpath(folder), "files": files}


def _stamp_holds(folder: Path, stamp: dict[str, Any]) -> bool:
    try:
        with open(_stamp_path(folder), encoding="utf-8") as f:
            return json.load(f) == stamp
    except (OSError, ValueError):
        return False


def _write_stamp(folder: Path, stamp: dict[str, Any]) -> None:
    """Remember a passed check, unless a file changed too recently to be told apart from a
    change within the same clock tick; a cache that cannot be written costs only speed."""
    racy_before = time.time_ns() - int(RACY_SECONDS * 1e9)
    if any(s[4] > racy_before or s[3] > racy_before for s in stamp["files"].values()):
        return
    path = _stamp_path(folder)
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(stamp), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        try:
            tmp.unlink()
        except OSError:
            pass


def check_once(folder: Path, manifest_file: str, entries: list[dict[str, Any]],
               deep_check: Callable[[], str | None] | None = None) -> str | None:
    """The first problem with the artefact at `folder` (a listed file missing, of another size
    or failing its sha256, or what `deep_check` returns), or None when it is sound; skipped
    (None) when a stamp shows these very files passed before. `entries` are the manifest's
    file entries (`file`, `bytes`, `sha256`); `manifest_file` is the manifest's own name, whose
    own checksum the reader has checked already."""
    folder = Path(folder)
    mode = checksum_mode()
    stamp = _current_stamp(folder, manifest_file, entries) if mode == "once" else None
    if stamp is not None and _stamp_holds(folder, stamp):
        return None
    problem = file_problem(folder, entries)
    if problem is None and deep_check is not None:
        problem = deep_check()
    if problem is None and stamp is not None and _current_stamp(
            folder, manifest_file, entries) == stamp:  # unchanged while it was read
        _write_stamp(folder, stamp)
    return problem
