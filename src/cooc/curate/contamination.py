"""`ContaminationFilter`: evaluation examples' n-grams looked up in a training corpus (GPT-3's
13-gram overlap check), with a report per evaluation set and per example, and the training
documents that hold them removed.

- An evaluation set is a file, folder or glob of documents (JSON lines, Parquet, .txt, as
  every cooc reader); each document is an example. Its keys are its word n-grams (`n`,
  13 by default) over the `words` tokenizer's lower-cased letter runs (punctuation and
  digits dropped, as GPT-3 and the reference pipelines normalise), or the whole example
  when it has `min_ngram` to n - 1 words (GPT-3 let n shrink to 8 for short examples);
  examples shorter than `min_ngram` cannot be checked and are counted as too short.
- A training document is contaminated when it holds at least `min_overlap` distinct keys;
  it is removed (reason "contaminated"), and every document carries its count of keys in
  `cooc_scores`.
- Memory: the keys (a table of 16-byte slots, at most half full) and a few integers per key
  and per example; the training corpus streams through.
- The report: per evaluation set, examples checked, too short, contaminated (holding at
  least one key found in training) and that fraction; per contaminated example, its keys,
  how many were found in training, and the first `first_documents` training documents
  (corpus order) that hold any of them, by ordinal, file and line.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from cooc.corpus.discover import discover_files
from cooc.corpus.readers import iter_documents
from cooc.corpus.report import SkipReport
from cooc.curate.shingles import Shingler
from cooc.curate.step import Decisions, DocumentBatch
from cooc.errors import CoocError
from cooc.kernels import contamination as kc

_SEED = np.uint64(0x636F6E74616D696E)


def _int(name: str, value: Any, low: int, hint: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an int >= {low}, got {value!r}; {hint}")


class ContaminationFilter:
    """A streaming step (see the module)."""

    name = "filter-contamination"
    reasons = ("kept", "contaminated")
    needs_fit = False
    writes_scores = True

    def __init__(self, eval_sets: Sequence[str | os.PathLike], n: int = 13, min_ngram: int = 8,
                 min_overlap: int = 1, first_documents: int = 5, tokenizer: str = "words",
                 text_field: str = "text", num_threads: int = 1) -> None:
        if isinstance(eval_sets, (str, os.PathLike)) or not eval_sets:
            raise ValueError("eval_sets must be a list of evaluation files, folders or globs")
        _int("n", n, 1, "e.g. 13 (GPT-3)")
        _int("min_ngram", min_ngram, 1, "e.g. 8")
        if min_ngram > n:
            raise ValueError(f"min_ngram ({min_ngram}) must be <= n ({n})")
        _int("min_overlap", min_overlap, 1, "e.g. 1 (any shared n-gram)")
        _int("first_documents", first_documents, 0, "e.g. 5")
        _int("num_threads", num_threads, 1, "e.g. 2")
        self.num_threads = num_threads
        self.n, self.min_ngram, self.min_overlap = n, min_ngram, min_overlap
        self.first_documents = first_documents
        self.tokenizer = tokenizer
        self.shingler = Shingler(n, tokenizer, _SEED)
        self._load(list(eval_sets), text_field)
        self.counts_ = {"documents": 0, "removed": 0, "hits": 0}

    # -- the evaluation sets ---------------------------------------------------------------

    def _load(self, eval_sets: list, text_field: str) -> None:
        texts, sources, set_of = [], [], []
        self.sets_: list[dict[str, Any]] = []
        for s, spec in enumerate(eval_sets):
            report = SkipReport()
            files = discover_files(spec)
            before = len(texts)
            for doc in iter_documents(files, text_field, report):
                texts.append(doc.text)
                sources.append(f"{doc.source}:{doc.line}")
                set_of.append(s)
            if len(texts) == before:
                raise CoocError(f"evaluation set {spec}: no examples read "
                                f"({report.total_skipped} records skipped)")
            self.sets_.append({"name": Path(str(spec)).name, "path": str(spec),
                               "examples": len(texts) - before,
                               "skipped_records": report.total_skipped})
        self.sources_ = sources
        self.set_of_ = np.asarray(set_of, np.int64)
        words, woff = self.shingler.word_hashes(texts)
        room = int(np.maximum(np.diff(woff) - self.n + 1, 1).sum())
        keys = np.empty(room, np.uint64)
        owners = np.empty(room, np.int64)
        self.lengths_ = np.empty(len(texts), np.int64)
        k = kc.example_keys(words, woff, self.n, self.min_ngram, _SEED, keys, owners,
                            self.lengths_)
        keys, owners = keys[:k], owners[:k]
        uniq, key_of = np.unique(keys, return_inverse=True)
        pairs = np.unique(owners * max(1, uniq.shape[0]) + key_of.reshape(-1))  # distinct
        self.entry_example_ = pairs // max(1, uniq.shape[0])
        entry_key = pairs % max(1, uniq.shape[0])
        order = np.argsort(entry_key, kind="stable")  # key -> its examples (CSR)
        self.key_examples_ = self.entry_example_[order]
        self.key_ptr_ = np.zeros(uniq.shape[0] + 1, np.int64)
        np.cumsum(np.bincount(entry_key, minlength=uniq.shape[0]), out=self.key_ptr_[1:])
        self.entry_key_ = entry_key
        self.bits_ = max(4, int(np.ceil(np.log2(max(2 * uniq.shape[0], 2)))))
        self.tkeys_, self.tvals_, self.present_ = kc.build_table(uniq, self.bits_)
        self.wanted_ = np.zeros(self.n + 1, np.bool_)
        self.wanted_[self.lengths_[self.lengths_ > 0]] = True
        self.key_documents_ = np.zeros(uniq.shape[0], np.int64)  # training documents holding it
        e, f = len(texts), self.first_documents
        self.first_ = np.full((e, f, 3), -1, np.int64)  # ordinal, file, line
        self.filled_ = np.zeros(e, np.int64)

    # -- the training corpus ---------------------------------------------------------------

    def hits(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """The distinct (document, key) pairs of texts, sorted by document then key; with
        num_threads > 1 the documents are cut into parts looked up on threads (the kernel
        releases the GIL)."""
        words, woff = self.shingler.word_hashes(texts)
        n = woff.shape[0] - 1
        parts = min(self.num_threads, max(1, n // 64))
        cuts = np.searchsorted(woff, np.linspace(0, woff[-1], parts + 1)).clip(0, n)
        cuts[0], cuts[-1] = 0, n

        def part(p: int) -> tuple[np.ndarray, np.ndarray]:
            a, b = int(cuts[p]), int(cuts[p + 1])
            local = woff[a:b + 1] - woff[a]
            sub = words[woff[a]:woff[b]]
            room = max(16, sub.shape[0])
            while True:
                hit_doc = np.empty(room, np.int64)
                hit_key = np.empty(room, np.int64)
                k = kc.find_hits(sub, local, self.n, self.wanted_, _SEED, self.tkeys_,
                                 self.tvals_, self.present_, self.bits_, hit_doc, hit_key)
                if k >= 0:
                    return hit_doc[:k] + a, hit_key[:k]
                room *= 4

        if parts == 1:
            doc, key = part(0)
        else:
            with ThreadPoolExecutor(parts) as pool:
                got = list(pool.map(part, range(parts)))
            doc = np.concatenate([g[0] for g in got])
            key = np.concatenate([g[1] for g in got])
        keys = max(1, self.key_documents_.shape[0])
        pairs = np.unique(doc * keys + key)
        return pairs // keys, pairs % keys

    def decide(self, batch: DocumentBatch) -> Decisions:
        n = len(batch)
        doc, key = self.hits(batch.texts)
        ordinals = np.asarray(batch.ordinals, np.int64)
        files, lines = batch.extra.get("file"), batch.extra.get("line")
        return self._decisions(n, doc, key, ordinals[doc],
                               np.full(doc.shape[0], -1) if files is None else np.asarray(files)[doc],
                               np.full(doc.shape[0], -1) if lines is None else np.asarray(lines)[doc])

    def _decisions(self, n: int, doc: np.ndarray, key: np.ndarray, hit_ordinal: np.ndarray,
                   hit_file: np.ndarray, hit_line: np.ndarray) -> Decisions:
        """The decisions of n documents from their distinct (document, key) hits, in
        corpus order, each hit with its document's ordinal, file and line."""
        per_doc = np.bincount(doc, minlength=n)
        removed = per_doc >= self.min_overlap
        self.key_documents_ += np.bincount(key, minlength=self.key_documents_.shape[0])
        if doc.size and self.first_documents:
            self._first_documents(key, hit_ordinal, hit_file, hit_line)
        d = Decisions.by_score(~removed, per_doc)
        self.counts_["documents"] += n
        self.counts_["removed"] += int(removed.sum())
        self.counts_["hits"] += int(doc.size)
        return d

    def _first_documents(self, key: np.ndarray, ordinal: np.ndarray, file: np.ndarray,
                         line: np.ndarray) -> None:
        """Record, for every example with a key among these hits (in corpus order), the first
        training documents that hold one, up to `first_documents` an example."""
        lo, hi = self.key_ptr_[key], self.key_ptr_[key + 1]
        count = hi - lo
        total = int(count.sum())
        starts = np.repeat(lo - (np.cumsum(count) - count), count)
        examples = self.key_examples_[starts + np.arange(total)]
        ords = np.repeat(ordinal, count)
        files = np.repeat(np.asarray(file, np.int64), count)
        lines = np.repeat(np.asarray(line, np.int64), count)
        order = np.lexsort((ords, examples))  # by example, then corpus order
        ex, ords, files, lines = examples[order], ords[order], files[order], lines[order]
        distinct = np.ones(ex.shape[0], bool)
        distinct[1:] = (ex[1:] != ex[:-1]) | (ords[1:] != ords[:-1])
        ex, ords, files, lines = ex[distinct], ords[distinct], files[distinct], lines[distinct]
        first = np.ones(ex.shape[0], bool)
        first[1:] = ex[1:] != ex[:-1]
        group_start = np.flatnonzero(first)
        sizes = np.diff(np.append(group_start, ex.shape[0]))
        rank = np.arange(ex.shape[0]) - np.repeat(group_start, sizes)
        slot = self.filled_[ex] + rank
        ok = slot < self.first_documents
        self.first_[ex[ok], slot[ok], 0] = ords[ok]
        self.first_[ex[ok], slot[ok], 1] = files[ok]
        self.first_[ex[ok], slot[ok], 2] = lines[ok]
        added = np.bincount(ex, minlength=self.filled_.shape[0])[: self.filled_.shape[0]]
        self.filled_ = np.minimum(self.first_documents, self.filled_ + added)

    # -- the same as tasks over shards (`cooc.curate.sharded`) ----------------------------

    def map_shard(self, batches, folder: Path) -> int:
        """One file's hits: folder/counts.i64 (documents), hits.i64 (document in the file,
        key, line rows)."""
        folder.mkdir(parents=True, exist_ok=True)
        n = 0
        with open(folder / "hits.i64", "wb") as f:
            for b in batches:
                doc, key = self.hits(b.texts)
                lines = b.extra.get("line")
                line = np.full(doc.shape[0], -1) if lines is None else np.asarray(lines)[doc]
                np.stack([doc + n, key, line], axis=1).astype(np.int64).tofile(f)
                n += len(b)
        np.array([n], np.int64).tofile(folder / "counts.i64")
        return n

    def reduce_shards(self, folders, work: Path, engine, memory_bytes: int) -> Decisions:
        """The shards' hits in file order (folder i is file i) give what `decide` gives."""
        parts, base = [], 0
        for i, folder in enumerate(folders):
            n = int(np.fromfile(Path(folder) / "counts.i64", np.int64)[0])
            hits = np.fromfile(Path(folder) / "hits.i64", np.int64).reshape(-1, 3)
            parts.append((hits[:, 0] + base, hits[:, 1], np.full(hits.shape[0], i), hits[:, 2]))
            base += n
        cat = [np.concatenate([p[k] for p in parts]) if parts else np.zeros(0, np.int64)
               for k in range(4)]
        return self._decisions(base, cat[0], cat[1], cat[0], cat[2], cat[3])

    # -- the report ------------------------------------------------------------------------

    def example_table(self) -> dict[str, np.ndarray]:
        """Per example: its keys, how many were found in training, its set."""
        e = self.lengths_.shape[0]
        found = self.key_documents_[self.entry_key_] > 0
        return {"keys": np.bincount(self.entry_example_, minlength=e),
                "found": np.bincount(self.entry_example_, weights=found, minlength=e
                                     ).astype(np.int64),
                "set": self.set_of_}

    def report(self) -> dict[str, Any]:
        t = self.example_table()
        sets = []
        for s, info in enumerate(self.sets_):
            mine = t["set"] == s
            checked = int((self.lengths_[mine] > 0).sum())
            bad = int((t["found"][mine] > 0).sum())
            sets.append({**info, "checked": checked, "too_short": info["examples"] - checked,
                         "contaminated": bad,
                         "contaminated_fraction": bad / checked if checked else 0.0})
        examples = []
        for e in np.flatnonzero(t["found"] > 0).tolist():
            s = int(t["set"][e])
            first = [{"ordinal": int(o), "file": int(f), "line": int(ln)}
                     for o, f, ln in self.first_[e, : int(self.filled_[e])].tolist()]
            examples.append({"eval_set": self.sets_[s]["name"], "source": self.sources_[e],
                             "ngram": int(self.lengths_[e]), "ngrams": int(t["keys"][e]),
                             "overlapping": int(t["found"][e]),
                             "fraction": float(t["found"][e] / t["keys"][e]),
                             "first_training_documents": first})
        return {"n": self.n, "min_ngram": self.min_ngram, "min_overlap": self.min_overlap,
                "tokenizer": self.tokenizer, "eval_keys": int(self.key_documents_.shape[0]),
                **self.counts_, "eval_sets": sets, "contaminated_examples": examples}
