"""The token store: a corpus's token ids, written once, memory-mappable, read by every job.

    STORE/
      manifest.json          magic, version, created_by, tokenizer, corpus, skip report, the
                             shards (name, documents, tokens) and "files": one entry
                             {name, file, dtype, shape, bytes, sha256} per file
                             (`cooc.formats.manifest`), e.g. name "tokens", file
                             "shard-000000/tokens.u32"; vocab.json with null dtype and shape
      vocab.json             grown vocabularies only (whitespace, words): its words in id order
      shard-000000/
        tokens.u32           token ids of the shard's documents, concatenated (<u4)
        doc_ptr.i64          document boundaries, from 0 (<i8, documents + 1)
        doc_file.u32         index into manifest["corpus"]["files"] of each document
        doc_line.u64         1-based line (or Parquet row) of each document in its file

Every file's byte size and sha256 are in the manifest (stores written before listed a
shard's arrays in the shard, as "arrays": {name: {file, dtype, nbytes, sha256}}: still read,
see `read_manifest`). A store is written in `STORE.partial/`, shard by shard: each shard goes
to `shard-N.tmp/`, is renamed when whole, and `progress.json` (the manifest so far) is then
replaced atomically. A crash loses at most the shard in progress; the same command run again
checks the finished shards' checksums and goes on after them. The last step writes
manifest.json and swaps the folder into place (`cooc.formats.artefact`: STORE holds the
whole old store or the whole new one at every instant).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from cooc.corpus.report import SkipReport
from cooc.errors import CoocError
from cooc.formats.artefact import restore_interrupted
from cooc.formats.manifest import (
    file_entry,
    file_problem,
    manifest_field_problem,
    read_folder_manifest,
)

MAGIC = "COOC-TOKENS"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
PROGRESS = "progress.json"
VOCAB = "vocab.json"
ARRAYS = {  # name -> (file, dtype)
    "tokens": ("tokens.u32", "<u4"),
    "doc_ptr": ("doc_ptr.i64", "<i8"),
    "doc_file": ("doc_file.u32", "<u4"),
    "doc_line": ("doc_line.u64", "<u8"),
}


def shard_name(i: int) -> str:
    return f"shard-{i:06d}"


def partial_path(out: Path) -> Path:
    return out.with_name(out.name + ".partial")


def is_store(path: Any) -> bool:
    """True when `path` is a token store folder: its manifest has the store's magic, or it
    holds the store's first shard (a damaged store is opened, so that its damage is
    reported, not read as a corpus of one bad manifest.json)."""
    try:
        p = Path(path)
        with open(p / MANIFEST, encoding="utf-8") as f:
            m = json.load(f)
        if isinstance(m, dict) and m.get("magic") == MAGIC:
            return True
    except (OSError, ValueError, TypeError, AttributeError):
        pass
    try:
        return (Path(path) / shard_name(0)).is_dir()
    except (TypeError, OSError):
        return False


def read_manifest(path: Path, name: str = MANIFEST) -> dict[str, Any]:
    """The manifest (or `progress.json`) of a store, checked, with every file under `files`
    in today's entry shape: the per-shard "arrays" of stores written before are lifted out
    of their shards. A store a killed writer left at `<path>.old-<pid>` is put back first
    (`cooc.formats.artefact.restore_interrupted`)."""
    path = Path(path)
    if name == MANIFEST and not os.path.lexists(path):
        restore_interrupted(path)
    m = read_folder_manifest(path, name, MAGIC, FORMAT_VERSION, "a token store",
                             "cooc tokenize", CoocError)
    shards = m.get("shards")
    if not isinstance(shards, list) or not all(isinstance(s, dict) for s in shards):
        raise CoocError(f"{path}/{name}: 'shards' must be a list of objects")
    if name == MANIFEST:  # a finished store: what readers act on has the types they expect
        tok = m.get("tokenizer")
        problem = (manifest_field_problem(m, {"documents": int, "tokens": int,
                                              "tokenizer": dict, "corpus": dict})
                   or manifest_field_problem(tok, {"kind": str, "spec": str, "vocab_size": int})
                   or next((p for sh in shards for p in [manifest_field_problem(
                       sh, {"name": str, "documents": int, "tokens": int})] if p), None))
        if not problem and "skip_report" in m:
            try:
                SkipReport.from_dict(m["skip_report"])
            except ValueError as e:
                problem = f"skip_report: {e}"
        if problem:
            raise CoocError(f"{path}/{name}: {problem}; tokenize again")
    if "files" not in m:  # written before: each shard lists its arrays
        files = []
        for s in shards:
            for k, spec in (s.pop("arrays", None) or {}).items():
                files.append(file_entry(k, f"{s['name']}/{spec['file']}", spec["dtype"],
                                        [spec["nbytes"] // np.dtype(spec["dtype"]).itemsize],
                                        spec["nbytes"], spec["sha256"]))
        m["files"] = files  # (vocab.json was not checksummed then)
    return m


def shard_files(manifest: dict[str, Any], shard: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The manifest entries of a shard's files, by array name."""
    prefix = shard["name"] + "/"
    return {e["name"]: e for e in manifest["files"] if e["file"].startswith(prefix)}


def check_shard(store: Path, manifest: dict[str, Any], shard: dict[str, Any]) -> str | None:
    """The first problem with a finished shard's files (missing, size, checksum), or None."""
    files = shard_files(manifest, shard)
    if set(files) != set(ARRAYS):
        return f"{store / shard['name']}: the manifest lists {sorted(files)}, not {sorted(ARRAYS)}"
    return file_problem(store, list(files.values()))
