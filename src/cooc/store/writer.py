"""Writing a token store shard by shard, resumable (layout: `cooc.store.format`).

The store is written in its own temporary folder, `STORE.partial/` (kept between runs so a
killed one resumes, not `STORE.tmp-<pid>`), and installed as every folder artefact is
(`cooc.formats.artefact.install_folder`): fsync, manifest last, then a swap that leaves STORE
holding the whole old store or the whole new one at every instant.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from cooc.formats.artefact import (
    check_replaceable,
    enter_phase,
    install_folder,
    remove_stale,
)
from cooc.formats.manifest import HashedFile, cooc_version, file_entry, write_manifest
from cooc.runtime.progress import log
from cooc.store import format as fmt

_WHAT = "cooc token store"


class StoreWriter:
    """Appends documents' token ids to shards of about `shard_tokens` tokens.

    `fingerprint` names the inputs and settings; a `.partial` folder left by a killed run
    with the same fingerprint is resumed (`documents_done` says how many input documents to
    skip), any other is discarded.
    """

    def __init__(self, out: Path, fingerprint: dict[str, Any], shard_tokens: int,
                 vocab_fn=None):
        self.out = Path(out)
        self.vocab_fn = vocab_fn  # the tokenizer's words so far, for vocabularies grown here
        self.dir = fmt.partial_path(self.out)
        self.fingerprint = fingerprint
        self.shard_tokens = shard_tokens
        self.shards: list[dict[str, Any]] = []
        self.files: list[dict[str, Any]] = []  # manifest entries of the finished shards' files
        self.vocab: list[str] | None = None
        remove_stale(self.out)  # leftovers of killed swaps; refuse anything else, before work
        check_replaceable(self.out, fmt.MAGIC, _WHAT)
        self._wrote = False
        self._resume()
        self._cur: dict[str, HashedFile] | None = None
        self._cur_docs = self._cur_tokens = 0

    # -- resume -------------------------------------------------------------------------------

    def _resume(self) -> None:
        progress = self.dir / fmt.PROGRESS
        if progress.exists():
            try:
                m = fmt.read_manifest(self.dir, fmt.PROGRESS)
            except Exception as e:  # noqa: BLE001  (any damage: start over)
                m = None
                log.warning("discarding the unfinished store %s: %s", self.dir, e)
            if m is not None and m.get("fingerprint") == self.fingerprint:
                bad = next((p for s in m["shards"]
                            if (p := fmt.check_shard(self.dir, m, s))), None)
                if bad is None:
                    self.shards = m["shards"]
                    self.files = m["files"]
                    self.vocab = m.get("vocab")
                    for extra in self.dir.iterdir():  # a shard in progress when it was killed
                        if extra.name not in {s["name"] for s in self.shards} | {fmt.PROGRESS}:
                            shutil.rmtree(extra) if extra.is_dir() else extra.unlink()
                    log.info("resuming %s: %d shards, %d documents done", self.dir,
                             len(self.shards), self.documents_done)
                    return
                log.warning("discarding the unfinished store %s: %s", self.dir, bad)
            elif m is not None:
                log.warning("discarding the unfinished store %s: it was started with other "
                            "inputs or settings", self.dir)
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir.mkdir(parents=True)

    @property
    def documents_done(self) -> int:
        return sum(s["documents"] for s in self.shards)

    @property
    def tokens_done(self) -> int:
        return sum(s["tokens"] for s in self.shards) + self._cur_tokens

    # -- writing ------------------------------------------------------------------------------

    def add(self, tokens: np.ndarray, doc_lens: np.ndarray, doc_file: np.ndarray,
            doc_line: np.ndarray) -> None:
        """Append whole documents, starting a new shard each `shard_tokens` tokens."""
        ends = np.cumsum(doc_lens, dtype=np.int64)
        d = 0
        while d < len(doc_lens):
            # documents up to the one that fills the current shard
            t0 = int(ends[d - 1]) if d else 0
            room = self.shard_tokens - self._cur_tokens
            e = min(int(np.searchsorted(ends, t0 + room, side="left")) + 1, len(doc_lens))
            self._append(tokens[t0 : int(ends[e - 1])], doc_lens[d:e], doc_file[d:e], doc_line[d:e])
            if self._cur_tokens >= self.shard_tokens:
                self.commit()
            d = e

    def _append(self, tokens, doc_lens, doc_file, doc_line) -> None:
        if self._cur is None:
            tmp = self.dir / (fmt.shard_name(len(self.shards)) + ".tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir()
            self._cur = {k: HashedFile(tmp / f, dt) for k, (f, dt) in fmt.ARRAYS.items()}
            self._cur["doc_ptr"].append(np.zeros(1, np.int64))
        cur = self._cur
        cur["tokens"].append(tokens)
        cur["doc_ptr"].append(self._cur_tokens + np.cumsum(doc_lens, dtype=np.int64))
        cur["doc_file"].append(doc_file)
        cur["doc_line"].append(doc_line)
        self._cur_docs += len(doc_lens)
        self._cur_tokens += int(np.sum(doc_lens))

    def commit(self) -> None:
        """Finish the shard in progress: rename it into place, then record it."""
        if self._cur is None:
            return
        name = fmt.shard_name(len(self.shards))
        files = []
        for k, a in self._cur.items():
            a.f.flush()
            os.fsync(a.f.fileno())
            a.close()
            dt = np.dtype(a.dtype)
            files.append(file_entry(k, f"{name}/{fmt.ARRAYS[k][0]}", dt.str,
                                    [a.nbytes // dt.itemsize], a.nbytes, a.h.hexdigest()))
        os.replace(self.dir / (name + ".tmp"), self.dir / name)
        self.shards.append({"name": name, "documents": self._cur_docs,
                            "tokens": self._cur_tokens})
        self.files.extend(files)
        self._cur, self._cur_docs, self._cur_tokens = None, 0, 0
        self.vocab = self.vocab_fn() if self.vocab_fn else None
        write_manifest(self.dir, self._manifest({}), fmt.PROGRESS)
        if not self._wrote:
            self._wrote = True
            enter_phase("writing", self.out)

    def finish(self, header: dict[str, Any]) -> Path:
        """Commit the last shard, write the manifest and swap the store into place
        (`cooc.formats.artefact.install_folder`)."""
        self.commit()
        if self.vocab_fn:
            self.vocab = self.vocab_fn()
        manifest = self._manifest(header)
        vocab = manifest.pop("vocab", None)
        files = list(self.files)
        if vocab is not None:
            import hashlib

            data = json.dumps(vocab, ensure_ascii=False).encode("utf-8")
            (self.dir / fmt.VOCAB).write_bytes(data)
            files.append(file_entry("vocab", fmt.VOCAB, None, None, len(data),
                                    hashlib.sha256(data).hexdigest()))
        manifest["files"] = files
        manifest.setdefault("created_by", f"cooc {cooc_version()}")
        (self.dir / fmt.PROGRESS).unlink(missing_ok=True)
        install_folder(self.dir, self.out, manifest, _WHAT)
        return self.out

    def _manifest(self, header: dict[str, Any]) -> dict[str, Any]:
        m = {"magic": fmt.MAGIC, "format_version": fmt.FORMAT_VERSION,
             "fingerprint": self.fingerprint, **header,
             "documents": sum(s["documents"] for s in self.shards),
             "tokens": sum(s["tokens"] for s in self.shards), "shards": self.shards,
             "files": self.files}
        if self.vocab is not None:
            m["vocab"] = self.vocab
        return m
