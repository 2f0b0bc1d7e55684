"""Reading a token store (layout: `cooc.store.format`)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from cooc.errors import CoocError
from cooc.formats.manifest import file_problem, read_vocabulary
from cooc.runtime.ranges import bounded_ranges
from cooc.store import format as fmt
from cooc.tokenizers import GROWN_KINDS, Tokenizer, grown_tokenizer, load_tokenizer


class TokenStore:
    """A token store opened for reading (`open_store(path)`): batches of whole documents,
    `stats()`, `verify()`."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.manifest = fmt.read_manifest(self.path)
        self._files = {s["name"]: fmt.shard_files(self.manifest, s) for s in self.shards}
        for s in self.shards:
            if set(self._files[s["name"]]) != set(fmt.ARRAYS):
                raise CoocError(f"token store {self.path}: the manifest does not list the "
                                f"files of {s['name']}; tokenize again")

    @property
    def num_documents(self) -> int:
        return int(self.manifest["documents"])

    @property
    def num_tokens(self) -> int:
        return int(self.manifest["tokens"])

    @property
    def shards(self) -> list[dict[str, Any]]:
        return self.manifest["shards"]

    @property
    def identity(self) -> dict[str, Any]:
        """What a job reading this store depends on: its shards and every file's checksum
        (a resumed build checks it did not change)."""
        return {"shards": self.shards,
                "files": [[e["file"], e["sha256"]] for e in self.manifest["files"]]}

    def tokenizer(self, num_threads: int = 1) -> Tokenizer:
        """The tokenizer the store was made with, checked against its recorded vocabulary.

        A vocabulary grown from the corpus (whitespace, words) comes back frozen: call `freeze()`
        for the map from the stored ids to canonical ones.
        """
        want = self.manifest["tokenizer"]
        if want["kind"] in GROWN_KINDS:
            words = read_vocabulary(self.path, self.manifest, fmt.VOCAB, None, CoocError)
            return grown_tokenizer(want["kind"], words, num_threads, frozen=False)
        tok = load_tokenizer(want["spec"], num_threads=num_threads)
        got = tok.describe()
        for key in ("vocab_size", "vocab_sha256", "special_tokens_sha256", "pattern_sha256"):
            if got.get(key) != want.get(key):
                raise CoocError(f"token store {self.path} was made with a different {want['spec']!r} "
                                f"tokenizer ({key} differs from the installed one)")
        return tok

    def stats(self) -> dict[str, Any]:
        """Documents, tokens, shards, the tokenizer and its vocabulary size, bytes of the
        arrays (and per token), the unit stored, and the skip report of the corpus."""
        nbytes = {name: 0 for name in fmt.ARRAYS}
        for files in self._files.values():
            for name, spec in files.items():
                nbytes[name] = nbytes.get(name, 0) + int(spec["bytes"])
        total = sum(nbytes.values())
        tok = self.manifest.get("tokenizer", {})
        return {"path": str(self.path), "documents": self.num_documents,
                "tokens": self.num_tokens, "shards": len(self.shards),
                "tokenizer": tok.get("spec"), "vocab_size": tok.get("vocab_size"),
                "granularity": self.manifest.get("granularity", "document"),
                "bytes": total, "bytes_per_token": total / self.num_tokens if self.num_tokens else 0.0,
                "array_bytes": nbytes, "skipped": self.manifest.get("skip_report", {})}

    def verify(self) -> None:
        """Check every file against its size and checksum, then what a job reading the store
        checks (its tokenizer and vocabulary, document pointers, ids below the vocabulary
        size): CoocError naming the store and the file, on the first problem; None when
        sound."""
        problem = file_problem(self.path, self.manifest["files"])
        if problem:
            raise CoocError(f"token store {self.path}: {problem}")
        if self.manifest["tokenizer"].get("kind") in GROWN_KINDS:
            self.tokenizer()  # the grown vocabulary: JSON, the listed size, no duplicates
        for _ in self.iter_batches(1 << 24):
            pass

    def _read(self, shard: dict[str, Any], name: str, start: int, stop: int) -> np.ndarray:
        spec = self._files[shard["name"]][name]
        dtype = np.dtype(spec["dtype"])
        with open(self.path / spec["file"], "rb") as f:
            a = np.fromfile(f, dtype=dtype, count=stop - start, offset=dtype.itemsize * start)
        if a.shape[0] != stop - start:
            raise CoocError(f"token store {self.path}: {spec['file']} is truncated")
        return a

    def iter_batches(self, max_tokens: int,
                     shards: list[int] | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(tokens uint32, document lengths int64) of whole documents, about `max_tokens`
        tokens at a time (a longer document comes alone), of all shards or the listed ones.
        Positioned reads, not maps: mapped pages would count toward the process's memory
        for as long as the map lives."""
        vocab = int(self.manifest["tokenizer"]["vocab_size"])
        for i in range(len(self.shards)) if shards is None else shards:
            s = self.shards[i]
            raw_ptr = self._read(s, "doc_ptr", 0, s["documents"] + 1)
            self._check_checksum(s, "doc_ptr", hashlib.sha256(memoryview(raw_ptr).cast("B")))
            ptr = raw_ptr.astype(np.int64)
            self._check_doc_ptr(s, ptr)
            h = hashlib.sha256()
            for d, e in bounded_ranges(ptr, max_tokens):
                tokens = self._read(s, "tokens", int(ptr[d]), int(ptr[e]))
                h.update(memoryview(tokens).cast("B"))  # no copy
                if tokens.size and int(tokens.max()) >= vocab:
                    self._fail(s, "tokens", f"holds token id {int(tokens.max())}, outside the "
                               f"vocabulary of {vocab:,}")
                yield tokens.astype(np.uint32, copy=False), np.diff(ptr[d : e + 1])
            self._check_checksum(s, "tokens", h)

    # Every batch is checked as it is read, before a kernel sees it: the checksums of the two
    # files a build reads (sha256 at ~2 GB/s: ~2 ns a token, under 2 % of counting), the
    # document pointers (from 0, never decreasing, ending at the shard's token count) and
    # the ids (below the vocabulary size). A damaged store fails the job, never its result.

    def _fail(self, shard: dict[str, Any], name: str, problem: str):
        file = self._files[shard["name"]][name]["file"]
        raise CoocError(f"token store {self.path}: {file} {problem}; the store is damaged: "
                        "tokenize again")

    def _check_checksum(self, shard: dict[str, Any], name: str, h) -> None:
        want = self._files[shard["name"]][name].get("sha256")
        if want and h.hexdigest() != want:
            self._fail(shard, name, "fails its checksum")

    def _check_doc_ptr(self, shard: dict[str, Any], ptr: np.ndarray) -> None:
        if ptr[0] != 0 or ptr[-1] != int(shard["tokens"]) or (np.diff(ptr) < 0).any():
            self._fail(shard, "doc_ptr", f"is not a list of document starts from 0 to the "
                       f"shard's {int(shard['tokens']):,} tokens")

    def document_origin(self, i: int) -> tuple[str, int]:
        """(source file, line) of document i."""
        for s in self.shards:
            if i < s["documents"]:
                f = int(self._read(s, "doc_file", i, i + 1)[0])
                return self.manifest["corpus"]["files"][f], int(self._read(s, "doc_line", i, i + 1)[0])
            i -= s["documents"]
        raise IndexError(f"document {i} is past the store's {self.num_documents} documents")


def open_store(path: str | os.PathLike) -> TokenStore:
    return TokenStore(path)
