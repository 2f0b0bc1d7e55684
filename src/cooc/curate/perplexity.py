"""`PerplexityFilter` (CCNet): documents scored by a Kneser-Ney model, kept by perplexity.

The score is KenLM `query`'s perplexity of the document: every non-blank line is a sentence
(`<s>` ... `</s>`, words split on ASCII whitespace as KenLM splits them: space, tab, CR,
VT, FF; unknown words `<unk>`),
and perplexity = 10 ** (-(sum of the log10 probabilities) / (words + one `</s>` a line)),
OOVs included. Blank lines are not sentences (KenLM would score them as a lone `</s>`).
The model is an ARPA file (plain or .gz; compiled into hash tables, the fastest) or a cooc
LM trie (`cooc lm index`: smaller, slower).

Two ways to keep:
- `threshold`: keep perplexity <= threshold (a streaming step; OpenMathText keeps < 15,000);
- `quantile` q: keep the documents at or below the q-quantile of the corpus's perplexities
  (the smallest value with at least a fraction q of the documents at or below it, numpy's
  "inverted_cdf"; CCNet's head is q = 1/3). A global step: `fit` scores every document
  and keeps (ordinal, perplexity), 16 bytes a document, so `decide` does not score again.

Every document, kept or removed, carries its perplexity in `cooc_scores`.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from cooc.curate.step import Decisions, DocumentBatch
from cooc.errors import CoocError


class PerplexityFilter:
    """A perplexity filter step (see the module).

    Parameters
    ----------
    model : an ARPA file (.arpa, .arpa.gz) or a cooc LM trie folder.
    threshold : keep documents whose perplexity is <= threshold.
    quantile : or keep those at or below this quantile of the corpus's perplexities, in (0, 1].
    num_threads : threads that score a batch.
    """

    reasons = ("kept", "perplexity")
    writes_scores = True
    counters = ("documents", "removed", "tokens", "oovs")  # summed over shards

    def __init__(self, model: str | os.PathLike, threshold: float | None = None,
                 quantile: float | None = None, num_threads: int = 1,
                 name: str = "filter-perplexity") -> None:
        if (threshold is None) == (quantile is None):
            raise ValueError("give threshold or quantile (one of them)")
        if threshold is not None and (isinstance(threshold, bool) or
                                      not isinstance(threshold, (int, float)) or
                                      not threshold > 0 or threshold != threshold):
            raise ValueError(f"threshold must be a perplexity > 0, got {threshold!r}")
        if quantile is not None and (isinstance(quantile, bool) or
                                     not isinstance(quantile, (int, float)) or
                                     not 0 < quantile <= 1):
            raise ValueError(f"quantile must be in (0, 1], got {quantile!r}; e.g. 0.333 "
                             f"keeps the lowest third")
        if isinstance(num_threads, bool) or not isinstance(num_threads, int) or num_threads < 1:
            raise ValueError(f"num_threads must be an int >= 1, got {num_threads!r}")
        path = Path(model)
        if not path.exists():
            raise CoocError(f"{path}: no such model (an ARPA file or a cooc LM trie)")
        self.model = str(path)
        self.threshold = None if threshold is None else float(threshold)
        self.quantile = None if quantile is None else float(quantile)
        self.num_threads = num_threads
        self.name = name
        self.needs_fit = quantile is not None
        self.per_document = quantile is None  # a threshold decides each document alone
        self._lm: Any = None
        self.cutoff_: float | None = self.threshold
        self.ordinals_ = np.zeros(0, np.int64)
        self.perplexity_ = np.zeros(0)
        self.counts_ = {"documents": 0, "removed": 0, "tokens": 0, "oovs": 0}

    def __getstate__(self) -> dict[str, Any]:  # the compiled model is rebuilt where it is used
        return {**self.__dict__, "_lm": None}

    def language_model(self):
        """The model, loaded on first use."""
        if self._lm is None:
            path = Path(self.model)
            if path.is_dir():
                from cooc.lm.trie import open_trie_lm

                self._lm = open_trie_lm(path, num_threads=self.num_threads)
            else:
                from cooc.lm.arpa import read_arpa
                from cooc.lm.scorer import LanguageModel

                self._lm = LanguageModel(read_arpa(path), num_threads=self.num_threads)
        return self._lm

    def perplexities(self, texts: list[str]) -> np.ndarray:
        """Each text's perplexity (see the module); NaN for a text with no words."""
        n = len(texts)
        if n == 0:
            return np.zeros(0)
        lm = self.language_model()
        lines = "\n".join(texts).split("\n")
        per_doc = np.fromiter(map(str.count, texts, itertools.repeat("\n")), np.int64, n) + 1
        ids, ptr = lm.encode(lines, ascii_spaces=True)  # KenLM splits on ASCII spaces
        words = np.diff(ptr)
        sentence = words > 0  # blank lines (no word) are not sentences
        sent_ptr = np.zeros(int(sentence.sum()) + 1, np.int64)
        np.cumsum(words[sentence], out=sent_ptr[1:])
        scores = lm.score_ids(ids, sent_ptr)
        doc_of_line = np.repeat(np.arange(n), per_doc)[sentence]
        total = np.bincount(doc_of_line, weights=scores.sentence_logprob, minlength=n)
        tokens = np.bincount(doc_of_line, weights=words[sentence] + 1, minlength=n)
        self.counts_["tokens"] += int(scores.tokens)
        self.counts_["oovs"] += int(scores.oovs)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(tokens > 0, 10.0 ** (-total / np.maximum(tokens, 1)), np.nan)

    def fit(self, batches: Iterable[DocumentBatch]) -> PerplexityFilter:
        """Quantile mode: score every document, and find the cutoff."""
        if self.quantile is None:
            return self
        ords, ppl = [], []
        for b in batches:
            ords.append(np.asarray(b.ordinals, np.int64))
            ppl.append(self.perplexities(b.texts))
        self.ordinals_ = np.concatenate(ords) if ords else np.zeros(0, np.int64)
        self.perplexity_ = np.concatenate(ppl) if ppl else np.zeros(0)
        if self.ordinals_.shape[0] > 1 and (np.diff(self.ordinals_) <= 0).any():
            raise ValueError("fit needs batches in corpus order: ordinals must increase")
        self._set_cutoff()
        return self

    def _set_cutoff(self) -> None:
        scored = self.perplexity_[~np.isnan(self.perplexity_)]
        self.cutoff_ = float(np.quantile(scored, self.quantile, method="inverted_cdf")) \
            if scored.size else None

    # -- the quantile as tasks over shards (`cooc.curate.sharded`) -------------------------

    def map_shard(self, batches, folder: Path) -> int:
        """One file's perplexities (folder/perplexity.f64) and token counts."""
        folder.mkdir(parents=True, exist_ok=True)
        n = 0
        before = dict(self.counts_)
        with open(folder / "perplexity.f64", "wb") as f:
            for b in batches:
                self.perplexities(b.texts).tofile(f)
                n += len(b)
        np.array([self.counts_["tokens"] - before["tokens"],
                  self.counts_["oovs"] - before["oovs"]], np.int64).tofile(folder / "tokens.i64")
        return n

    def reduce_shards(self, folders, work: Path, engine, memory_bytes: int) -> Decisions:
        """The cutoff from every shard's perplexities; the decisions of all, by ordinal."""
        self.perplexity_ = np.concatenate(
            [np.fromfile(Path(f) / "perplexity.f64", np.float64) for f in folders]) \
            if folders else np.zeros(0)
        counts = sum((np.fromfile(Path(f) / "tokens.i64", np.int64) for f in folders),
                     np.zeros(2, np.int64))
        self.counts_["tokens"], self.counts_["oovs"] = int(counts[0]), int(counts[1])
        self.ordinals_ = np.arange(self.perplexity_.shape[0], dtype=np.int64)
        self._set_cutoff()
        return self._decisions(self.perplexity_)

    def decide(self, batch: DocumentBatch) -> Decisions:
        n = len(batch)
        if self.quantile is None:
            ppl = self.perplexities(batch.texts)
        else:
            ords = np.asarray(batch.ordinals, np.int64)
            pos = np.searchsorted(self.ordinals_, ords)
            if n and ((pos >= self.ordinals_.shape[0]).any() or
                      (self.ordinals_[np.minimum(pos, self.ordinals_.shape[0] - 1)] != ords).any()):
                raise CoocError("decide got a document fit never saw: give decide the batches "
                                "given to fit")
            ppl = self.perplexity_[pos]
        return self._decisions(ppl)

    def _decisions(self, ppl: np.ndarray) -> Decisions:
        n = ppl.shape[0]
        keep = ppl <= self.cutoff_ if self.cutoff_ is not None else np.zeros(n, bool)
        keep &= ~np.isnan(ppl)
        d = Decisions.by_score(keep, ppl)
        self.counts_["documents"] += n
        self.counts_["removed"] += int(n - keep.sum())
        return d

    def report(self) -> dict[str, Any]:
        return {"model": self.model, "threshold": self.threshold, "quantile": self.quantile,
                "cutoff": self.cutoff_, **self.counts_}
