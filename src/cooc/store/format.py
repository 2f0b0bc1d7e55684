"""The token store: a corpus's token ids, written once, memory-mappable, read by every job.

    STORE/
      manifest.json          magic, version, tokenizer, corpus, skip report, shard list
      vocab.json             whitespace tokenizer only: its words in id order
      shard-000000/
        tokens.u32           token ids of the shard's documents, concatenated (<u4)
        doc_ptr.i64          document boundaries, from 0 (<i8, documents + 1)
        doc_file.u32         index into manifest["corpus"]["files"] of each document
        doc_line.u64         1-based line (or Parquet row) of each document in its file

Every array's byte size and sha256 are in the manifest. A store is written in
`STORE.partial/`, shard by shard: each shard goes to `shard-N.tmp/`, is renamed when whole,
and `progress.json` (the manifest so far) is then replaced atomically. A crash loses at most
the shard in progress; the same command run again checks the finished shards' checksums and
goes on after them. The last step writes manifest.json and renames the folder into place.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cooc.errors import CoocError
from cooc.formats.manifest import file_sha256, read_folder_manifest

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
    """True when `path` is a token store folder (its manifest has the store's magic)."""
    try:
        p = Path(path)
        with open(p / MANIFEST, encoding="utf-8") as f:
            return json.load(f).get("magic") == MAGIC
    except (OSError, ValueError, TypeError, AttributeError):
        return False


def read_manifest(path: Path, name: str = MANIFEST) -> dict[str, Any]:
    return read_folder_manifest(Path(path), name, MAGIC, FORMAT_VERSION, "a token store",
                                "cooc tokenize", CoocError)


def check_shard(store: Path, shard: dict[str, Any]) -> str | None:
    """The first problem with a finished shard's files (size, checksum), or None."""
    for spec in shard["arrays"].values():
        f = store / shard["name"] / spec["file"]
        try:
            size = f.stat().st_size
        except OSError:
            return f"{f} is missing"
        if size != spec["nbytes"]:
            return f"{f} has {size} bytes, the manifest says {spec['nbytes']}"
        if file_sha256(f) != spec["sha256"]:
            return f"{f} does not match its checksum"
    return None
