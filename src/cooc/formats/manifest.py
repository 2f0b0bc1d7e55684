"""Small file helpers shared by every on-disk format: hashed appends, file checksums, and the
one manifest shape of every folder format (written by `write_manifest`, read and checked by
`read_folder_manifest`).

Every folder artefact's manifest.json holds `magic`, `format_version`, `created_by`
("cooc <version>") and `files`: one entry per file of the folder,

    {"name", "file", "dtype", "shape", "bytes", "sha256"}

(`dtype` and `shape` are null for a file that is not an array, e.g. vocab.json), plus the
format's own fields. Earlier cooc versions wrote the list under `arrays` (co-occurrence
indexes), as a dict name -> entry (n-gram indexes, LM tries) or per shard (token stores),
with `nbytes` for `bytes`: `manifest_files` reads them all into today's shape, so artefacts
written before still open.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

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


def file_entry(name: str, file: str, dtype: str | None, shape: list[int] | None, nbytes: int,
               sha256: str) -> dict[str, Any]:
    """One entry of a manifest's `files`, in the one shape every folder format uses."""
    return {"name": name, "file": file, "dtype": dtype,
            "shape": None if shape is None else [int(x) for x in shape], "bytes": int(nbytes),
            "sha256": sha256}


def manifest_files(m: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The manifest's file entries in today's shape, from any shape cooc has written: `files`
    as a list (today), `arrays` as a list (co-occurrence indexes before), `files` as a dict
    name -> entry (n-gram indexes and LM tries before); `nbytes` is read as `bytes`. None when
    there is no such list (token stores before: see `cooc.store.format`) or it is malformed
    (an entry that is not an object with `file`, a string, and `bytes`, an int >= 0)."""
    raw = m.get("files", m.get("arrays"))
    if isinstance(raw, dict):
        raw = [{"name": k, **v} if isinstance(v, dict) else v for k, v in raw.items()]
    if not isinstance(raw, list) or not all(isinstance(e, dict) for e in raw):
        return None
    out = []
    for e in raw:
        e = dict(e)
        if "bytes" not in e and "nbytes" in e:
            e["bytes"] = e.pop("nbytes")
        if manifest_field_problem(e, {"file": str, "bytes": int}):  # readers use both
            return None
        out.append(e)
    return out


MANIFEST_CHECKSUM = "manifest_sha256"


def manifest_checksum(manifest: dict[str, Any]) -> str:
    """sha256 of the manifest's canonical JSON without its own checksum: the numbers the
    readers trust (sizes, shapes, quantization bits, counts) are covered as the files are."""
    body = {k: v for k, v in manifest.items() if k != MANIFEST_CHECKSUM}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def check_manifest_checksum(manifest: dict[str, Any]) -> str | None:
    """The problem with a manifest's own checksum, or None (manifests written before it
    carry none and are read as they are)."""
    want = manifest.get(MANIFEST_CHECKSUM)
    if want is None:
        return None
    try:
        got = manifest_checksum(manifest)
    except ValueError:  # NaN or infinity: no writer of ours puts them there
        return ("holds a number JSON cannot (NaN or infinity): the manifest was edited or "
                "damaged; rebuild the artefact")
    if want != got:
        return (f"fails its {MANIFEST_CHECKSUM}: the manifest was edited or damaged; "
                "rebuild the artefact")
    return None


def write_manifest(folder: Path, manifest: dict[str, Any], name: str = "manifest.json") -> Path:
    """Write `manifest` as `folder/name` and fsync it: JSON, indented, no NaN (a manifest any
    JSON reader takes), ASCII (file names with undecodable bytes survive), ending in its own
    checksum (`manifest_sha256`); returns the path. Written whole under a temporary name and
    renamed, so a reader never sees half of one."""
    path = Path(folder) / name
    tmp = path.with_name(name + ".tmp")
    manifest = {**manifest, MANIFEST_CHECKSUM: manifest_checksum(manifest)}
    text = json.dumps(manifest, indent=1, allow_nan=False) + "\n"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return path


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


def file_problem(folder: Path, entries: list[dict[str, Any]]) -> str | None:
    """The first of the listed files (manifest entries, `file` relative to `folder`) that is
    missing, of another size or fails its sha256, as "<path> ..." ; None when all are sound."""
    for e in entries:
        p = Path(folder) / e["file"]
        try:
            size = p.stat().st_size
        except OSError:
            return f"{p} is missing"
        if size != e.get("bytes"):
            return f"{p} has {size} bytes, the manifest says {e.get('bytes')}"
        if file_sha256(p) != e.get("sha256"):
            return f"{p} fails its checksum"
    return None


def read_folder_manifest(path: Path, manifest: str, magic: str, version: int, what: str,
                         make_hint: str, error=ValueError) -> dict:
    """The manifest of a folder format, checked for its magic and version, with its file list
    (when it has one) in today's shape under `files` (`manifest_files`); `error` (the
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
    problem = check_manifest_checksum(m)
    if problem:
        raise error(f"{path}/{manifest} {problem}")
    if "files" in m or "arrays" in m:
        files = manifest_files(m)
        if files is None:
            raise error(f"{path}/{manifest}: 'files' must be a list of objects with file and "
                        f"bytes")
        m.pop("arrays", None)
        m["files"] = files
    return m


def array_entry_problem(entry: dict[str, Any], size: int) -> str | None:
    """What is wrong with an array's manifest entry (`dtype`, `shape`) for a file of `size`
    bytes, or None: a reader maps the file with them, so they must say exactly its bytes."""
    shape = entry.get("shape")
    if not isinstance(shape, list) or not all(
            isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in shape):
        return f"{entry.get('file')!r}: shape must be a list of ints >= 0, got {shape!r}"
    try:
        dtype = np.dtype(entry.get("dtype"))
    except (TypeError, ValueError):
        dtype = None
    if dtype is None or dtype.kind not in "biuf" or entry.get("dtype") is None:
        return f"{entry.get('file')!r}: dtype {entry.get('dtype')!r} is not a numeric dtype"
    if int(np.prod(shape, dtype=object)) * dtype.itemsize != size:
        return (f"{entry.get('file')!r}: shape {shape} of {dtype} is not its {size} bytes")
    return None


def manifest_field_problem(m: dict[str, Any], fields: dict[str, type]) -> str | None:
    """The first of `fields` (name -> type) missing from manifest `m` or of another type
    (bool is not an int; an int must be >= 0), or None: a sealed manifest a writer's bug
    filled wrongly is reported, not met as a traceback deep in a reader."""
    for name, kind in fields.items():
        v = m.get(name)
        ok = isinstance(v, kind) and not (kind is int and (isinstance(v, bool) or v < 0))
        if not ok:
            return f"{name} must be {'an' if kind is int else 'a'} {kind.__name__}, got {v!r}"
    return None


def per_order_problem(m: dict[str, Any], name: str, order: int,
                      kind: tuple[type, ...] = (int,)) -> str | None:
    """`m[name]` must map "1".."order" to finite numbers >= 0 of `kind` (counts by default),
    or to objects of them."""
    v = m.get(name)
    if not isinstance(v, dict) or set(v) != {str(k) for k in range(1, order + 1)}:
        return f"{name} must have one entry per order 1..{order}"
    for x in v.values():
        for c in (x.values() if isinstance(x, dict) else [x]):
            if isinstance(c, bool) or not isinstance(c, kind) or not 0 <= c < float("inf"):
                return f"{name} must hold numbers >= 0, got {c!r}"
    return None


def int_table(m: dict[str, Any], name: str) -> np.ndarray | None:
    """`m[name]` as an int64 matrix, or None when it is not a rectangular table of ints."""
    v = m.get(name)
    if not isinstance(v, list) or not all(
            isinstance(r, list) and all(isinstance(x, int) and not isinstance(x, bool) for x in r)
            for r in v):
        return None
    try:
        return np.asarray(v, np.int64) if v else None
    except (ValueError, OverflowError):
        return None


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


def read_vocabulary(folder: Path, manifest: dict[str, Any], file: str, size: int | None,
                    error=ValueError) -> list[str]:
    """The vocabulary file `file` of an artefact: checked against its manifest entry (size,
    sha256) when the manifest lists it, then read as a JSON list of `size` strings; `error`
    names the file and the problem in one line."""
    path = Path(folder) / file
    entry = next((e for e in manifest.get("files") or [] if isinstance(e, dict)
                  and e.get("file") == file), None)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise error(f"{path} is unreadable ({e.strerror}); rebuild the artefact") from None
    if entry is not None and (len(data) != entry.get("bytes")
                              or hashlib.sha256(data).hexdigest() != entry.get("sha256")):
        raise error(f"{path} fails its checksum: the artefact is damaged; rebuild it")
    try:
        words = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise error(f"{path} is not JSON ({e}); rebuild the artefact") from None
    if not isinstance(words, list) or not all(isinstance(w, str) for w in words) or (
            size is not None and len(words) != size):
        raise error(f"{path} is not a list of {size if size is not None else 'the'} words; "
                    "rebuild the artefact")
    return words
