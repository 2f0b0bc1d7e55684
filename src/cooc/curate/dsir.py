"""`DSIRResample`: data selection with importance resampling (Xie et al. 2023, DSIR).

- Features: a document's tokens (`wordpunct`, as the `data-selection` package: lower-cased
  runs of word characters and of punctuation; or `words`: letter runs only) and token
  n-grams up to `ngrams` (2: unigrams and bigrams), hashed into `buckets` with the
  classifier's feature hashing (`cooc.kernels.classifier.features`). 65,536 by default
  where the paper and the package use 10,000: fewer collisions between n-grams make the
  models sharper (on our benchmark the target's enrichment in the sample rose from 18.6x
  at 10,000 to 19.8x at 65,536, at the same speed), and the tables stay 1 MB.
- Models: the bucket frequencies of the target corpus (p_T) and of the raw corpus being
  curated (p_R), each normalised to a distribution.
- Weight: a document's log importance weight is sum_f count_f * (log p_T(f) - log p_R(f))
  (both with 1e-8 added before the log, as the `data-selection` package does).
- Selection: `k` documents (or a `fraction` of them), drawn without replacement with
  probability proportional to the weights by Gumbel top-k: the k largest log weight + Gumbel
  noise, the noise a function of the seed and the document's ordinal (the same selection
  whatever the batches).

A global step: `fit` reads the target once for p_T, and the raw batches once for p_R,
writing each document's features to a scratch file; then the weights are computed from that
file and the selection made. Memory: the two bucket tables and 16 bytes a document (its
weight and ordinal); the features stay on disk. Every document carries its log weight in
`cooc_scores`.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cooc.corpus.discover import discover_files
from cooc.corpus.readers import iter_documents
from cooc.corpus.report import SkipReport
from cooc.curate.shingles import Shingler
from cooc.curate.step import Decisions, DocumentBatch
from cooc.errors import CoocError
from cooc.kernels import classifier as kc
from cooc.runtime.scratch import scratch_dir

_LOG_FLOOR = 1e-8
_BATCH = 4096


def gumbel_noise(seed: int, ordinals: np.ndarray) -> np.ndarray:
    """Gumbel(0, 1) noise per ordinal, a function of the seed and the ordinal only."""
    u = np.empty(len(ordinals), np.float64)
    kc.uniforms(np.uint64(seed), np.asarray(ordinals, np.int64), u)
    u = np.clip(u, 1e-300, 1.0 - 1e-16)
    return -np.log(-np.log(u))


class DSIRResample:
    """A global selection step (see the module)."""

    reasons = ("kept", "not-selected")
    needs_fit = True
    writes_scores = True

    def __init__(self, target: Sequence[str | os.PathLike] | str | os.PathLike,
                 k: int | None = None, fraction: float | None = None, ngrams: int = 2,
                 buckets: int = 65_536, seed: int = 0, tokenizer: str = "wordpunct",
                 text_field: str = "text", tmp_dir: str | os.PathLike | None = None,
                 name: str = "select-dsir") -> None:
        if (k is None) == (fraction is None):
            raise ValueError("give k or fraction (one of them)")
        if k is not None and (isinstance(k, bool) or not isinstance(k, int) or k < 0):
            raise ValueError(f"k must be an int >= 0, got {k!r}")
        if fraction is not None and (isinstance(fraction, bool) or
                                     not isinstance(fraction, (int, float)) or
                                     not 0 <= fraction <= 1):
            raise ValueError(f"fraction must be in [0, 1], got {fraction!r}")
        for nm, v in (("ngrams", ngrams), ("buckets", buckets)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{nm} must be an int >= 1, got {v!r}")
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"seed must be an int >= 0, got {seed!r}")
        self.target = [str(t) for t in ([target] if isinstance(target, (str, os.PathLike))
                                        else target)]
        if not self.target:
            raise ValueError("give at least one target corpus")
        self.k, self.fraction = k, fraction
        self.ngrams, self.buckets, self.seed = ngrams, buckets, seed
        self.tokenizer, self.text_field, self.tmp_dir = tokenizer, text_field, tmp_dir
        self.name = name
        self.shingler = Shingler(1, tokenizer)
        self.stats_: dict[str, Any] = {}
        self.ordinals_ = np.zeros(0, np.int64)
        self.log_weight_ = np.zeros(0)
        self.selected_ = np.zeros(0, bool)

    def features(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(bucket ids int32, offsets) of each text's words and word n-grams."""
        words, woff = self.shingler.word_hashes(list(texts))
        out = np.empty(max(1, words.shape[0] * self.ngrams), np.int32)
        ptr = np.empty(woff.shape[0], np.int64)
        k = kc.features(words, woff, self.ngrams, self.buckets, out, ptr)
        return out[:k], ptr

    def _target_counts(self) -> np.ndarray:
        counts = np.zeros(self.buckets, np.int64)
        report = SkipReport(log=False)
        docs = iter_documents(discover_files(self.target), self.text_field, report)
        texts: list[str] = []
        n = 0
        for d in docs:
            texts.append(d.text)
            if len(texts) == _BATCH:
                counts += np.bincount(self.features(texts)[0], minlength=self.buckets)
                n += len(texts)
                texts = []
        if texts:
            counts += np.bincount(self.features(texts)[0], minlength=self.buckets)
            n += len(texts)
        if n == 0:
            raise CoocError(f"the target corpus {self.target} holds no documents "
                            f"({report.total_skipped} records skipped)")
        self.stats_["target_documents"] = n
        return counts

    def fit(self, batches: Iterable[DocumentBatch]) -> DSIRResample:
        target = self._target_counts()
        raw = np.zeros(self.buckets, np.int64)
        tmp = scratch_dir(self.tmp_dir, "dsir")
        try:
            ords, ptrs = [], []
            with open(tmp / "features.i32", "wb") as f:
                for b in batches:
                    feats, ptr = self.features(b.texts)
                    raw += np.bincount(feats, minlength=self.buckets)
                    feats.tofile(f)
                    ptrs.append(np.diff(ptr))
                    ords.append(np.asarray(b.ordinals, np.int64))
            self.ordinals_ = np.concatenate(ords) if ords else np.zeros(0, np.int64)
            sizes = np.concatenate(ptrs) if ptrs else np.zeros(0, np.int64)
            self.log_weight_ = self._weights(tmp / "features.i32", sizes,
                                             self._log_diff(target, raw))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        self._select()
        return self

    @staticmethod
    def _log_diff(target: np.ndarray, raw: np.ndarray) -> np.ndarray:
        return (np.log(target / max(1, target.sum()) + _LOG_FLOOR)
                - np.log(raw / max(1, raw.sum()) + _LOG_FLOOR))

    def _select(self) -> None:
        """The k documents of largest log weight + Gumbel noise (by ordinal)."""
        n = self.ordinals_.shape[0]
        k = self.k if self.k is not None else int(round(self.fraction * n))
        k = min(k, n)
        keys = self.log_weight_ + gumbel_noise(self.seed, self.ordinals_)
        self.selected_ = np.zeros(n, bool)
        if k:
            self.selected_[np.argpartition(-keys, k - 1)[:k]] = True
        self.stats_.update(documents=n, selected=int(k))

    # -- the same as tasks over shards (`cooc.curate.sharded`) ----------------------------

    def map_shard(self, batches, folder: Path) -> int:
        """One file's features (folder/features.i32, sizes.i64) and bucket counts."""
        folder.mkdir(parents=True, exist_ok=True)
        raw = np.zeros(self.buckets, np.int64)
        n = 0
        with open(folder / "features.i32", "wb") as f, open(folder / "sizes.i64", "wb") as z:
            for b in batches:
                feats, ptr = self.features(b.texts)
                raw += np.bincount(feats, minlength=self.buckets)
                feats.tofile(f)
                np.diff(ptr).tofile(z)
                n += len(b)
        raw.tofile(folder / "raw.i64")
        return n

    def reduce_shards(self, folders, work: Path, engine, memory_bytes: int) -> Decisions:
        """The raw model from every shard's counts, the weights shard by shard, the draw."""
        target = self._target_counts()
        raw = sum((np.fromfile(Path(f) / "raw.i64", np.int64) for f in folders),
                  np.zeros(self.buckets, np.int64))
        log_diff = self._log_diff(target, raw)
        weights = [self._weights(Path(f) / "features.i32",
                                 np.fromfile(Path(f) / "sizes.i64", np.int64), log_diff)
                   for f in folders]
        self.log_weight_ = np.concatenate(weights) if weights else np.zeros(0)
        self.ordinals_ = np.arange(self.log_weight_.shape[0], dtype=np.int64)
        self._select()
        return self._decisions(np.arange(self.log_weight_.shape[0]))

    @staticmethod
    def _weights(path: Path, sizes: np.ndarray, log_diff: np.ndarray) -> np.ndarray:
        """Each document's log weight: its features (read back in chunks) summed."""
        out = np.empty(sizes.shape[0])
        starts = np.concatenate([[0], np.cumsum(sizes)])  # feature offset of each document
        chunk = 1 << 22  # features read at a time
        d = 0
        while d < sizes.shape[0]:
            e = max(d + 1, int(np.searchsorted(starts, starts[d] + chunk, side="right")) - 1)
            e = min(e, sizes.shape[0])
            feats = np.fromfile(path, np.int32, count=int(starts[e] - starts[d]),
                                offset=4 * int(starts[d]))
            # each document's own sum (reduceat), never a difference of running sums: a
            # weight then does not depend on the documents read with it (shards, chunks)
            vals = log_diff[feats]
            part = sizes[d:e]
            firsts = (starts[d:e] - starts[d])[part > 0]
            out[d:e] = 0.0
            if firsts.size:
                out[d:e][part > 0] = np.add.reduceat(vals, firsts)
            d = e
        return out

    def decide(self, batch: DocumentBatch) -> Decisions:
        ords = np.asarray(batch.ordinals, np.int64)
        pos = np.searchsorted(self.ordinals_, ords)
        n = len(batch)
        if n and ((pos >= self.ordinals_.shape[0]).any() or
                  (self.ordinals_[np.minimum(pos, self.ordinals_.shape[0] - 1)] != ords).any()):
            raise CoocError("decide got a document fit never saw: give decide the batches "
                            "given to fit")
        return self._decisions(pos)

    def _decisions(self, pos: np.ndarray) -> Decisions:
        n = pos.shape[0]
        if n == 0:
            return Decisions.keep_all(0)
        return Decisions.by_score(self.selected_[pos], self.log_weight_[pos])

    def report(self) -> dict[str, Any]:
        return {"target": self.target, "k": self.k, "fraction": self.fraction,
                "ngrams": self.ngrams, "buckets": self.buckets, "seed": self.seed,
                "tokenizer": self.tokenizer, **self.stats_}
