"""`LanguageFilter`: keep documents by language (Dolma keeps P(English) >= 0.5).

The model is langid.py's naive Bayes over byte n-grams for 97 languages, as the `py3langid`
package ships it inside its wheel (`pip install 'cooc[langid]'`; nothing is downloaded at
run time). cooc loads that model and scores a whole batch in one compiled kernel
(`cooc.kernels.langid`) instead of py3langid's per-byte Python loop; the probabilities are
py3langid's normalised ones (tested equal). A text is prepared as py3langid prepares it:
lower-cased when it is all upper case, NFC-normalised, UTF-8.

A document is kept when the summed probability of the wanted `languages` is >= `threshold`;
that probability is its score (`cooc_scores`), and the report counts the most probable
language of every document.
"""

from __future__ import annotations

import itertools
import unicodedata
from collections.abc import Sequence
from typing import Any

import numpy as np

from cooc.curate.step import Decisions, DocumentBatch
from cooc.errors import CoocError
from cooc.kernels import langid as kl

INSTALL = "pip install 'cooc[langid]'"


class LanguageModel:
    """py3langid's shipped model, ready for the kernel."""

    def __init__(self) -> None:
        try:
            from py3langid.langid import MODEL_FILE, LanguageIdentifier
        except ImportError:
            raise CoocError(f"the language filter needs py3langid: {INSTALL}") from None
        ident = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
        self.classes = list(ident.nb_classes)
        self.ptc = np.ascontiguousarray(ident.nb_ptc, np.float32)
        self.pc = np.ascontiguousarray(ident.nb_pc, np.float32)
        self.nextmove = np.frombuffer(ident.tk_nextmove, np.uint32) \
            if not isinstance(ident.tk_nextmove, np.ndarray) else ident.tk_nextmove
        self.rowbase = np.asarray(ident.tk_row, np.int64) << 8
        self.output = np.asarray(ident.tk_output, np.int64)
        self.labels = list(dict.fromkeys(self.classes))  # script aliases share a label
        first: dict[str, int] = {}
        self.aliases = []  # (first column, duplicate column) of a label listed twice
        for i, c in enumerate(self.classes):
            if c in first:
                self.aliases.append((first[c], i))
            else:
                first[c] = i

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """float32 [texts, classes]: P(language | text) (a label listed twice holds the sum
        in its first column, 0 in the other)."""
        n = len(texts)
        upper = np.fromiter(map(str.isupper, texts), bool, n)
        if upper.any():
            texts = list(texts)
            for i in np.flatnonzero(upper).tolist():  # only the all-capitals texts
                texts[i] = texts[i].lower()
        encoded = list(map(str.encode, map(unicodedata.normalize, itertools.repeat("NFC"), texts),
                           itertools.repeat("utf-8"), itertools.repeat("surrogatepass")))
        bounds = np.zeros(n + 1, np.int64)
        np.cumsum(np.fromiter(map(len, encoded), np.int64, n), out=bounds[1:])
        buf = np.frombuffer(b"".join(encoded), np.uint8)
        out = np.empty((n, len(self.classes)), np.float32)
        counts = np.zeros(self.ptc.shape[0], np.int32)
        touched = np.empty(max(1, int(np.diff(bounds).max()) if n else 1), np.int64)
        kl.language_probabilities(buf, bounds, self.nextmove, self.rowbase, self.output,
                                  self.ptc, self.pc, counts, touched, out)
        for i, j in self.aliases:
            out[:, i] += out[:, j]
            out[:, j] = 0.0
        return out


class LanguageFilter:
    """A streaming step (see the module)."""

    reasons = ("kept", "language")
    needs_fit = False
    writes_scores = True
    per_document = True
    counters = ("documents", "removed", "most_probable")

    def __init__(self, languages: Sequence[str] | str = ("en",), threshold: float = 0.5,
                 name: str = "filter-language") -> None:
        langs = [languages] if isinstance(languages, str) else list(languages)
        if not langs or not all(isinstance(x, str) for x in langs):
            raise ValueError(f"languages must be ISO 639-1 codes such as 'en', got {languages!r}")
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) \
                or not 0 <= threshold <= 1:
            raise ValueError(f"threshold must be a probability in [0, 1], got {threshold!r}")
        self.model_ = LanguageModel()
        unknown = sorted(set(langs) - set(self.model_.labels))
        if unknown:
            raise ValueError(f"unknown language codes {unknown}; the model knows "
                             f"{' '.join(sorted(self.model_.labels))}")
        self.languages = langs
        self.threshold = float(threshold)
        self.name = name
        self._cols = [i for i, c in enumerate(self.model_.classes)
                      if c in set(langs) and all(i != j for _, j in self.model_.aliases)]
        self.top_ = np.zeros(len(self.model_.classes), np.int64)
        self.counts_ = {"documents": 0, "removed": 0}

    def __getstate__(self) -> dict[str, Any]:  # the model is loaded again where it is used
        return {k: v for k, v in self.__dict__.items() if k != "model_"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.model_ = LanguageModel()

    def decide(self, batch: DocumentBatch) -> Decisions:
        n = len(batch)
        p = self.model_.probabilities(batch.texts)
        score = p[:, self._cols].sum(axis=1).astype(np.float64)
        self.top_ += np.bincount(p.argmax(axis=1), minlength=p.shape[1])
        keep = score >= self.threshold
        d = Decisions.by_score(keep, score)
        self.counts_["documents"] += n
        self.counts_["removed"] += int(n - keep.sum())
        return d

    def report(self) -> dict[str, Any]:
        classes = self.model_.classes
        top = {classes[i]: int(c) for i, c in sorted(enumerate(self.top_.tolist()),
                                                    key=lambda x: -x[1]) if c}
        return {"languages": self.languages, "threshold": self.threshold,
                "model": "langid.py (py3langid)", **self.counts_, "most_probable": top}
