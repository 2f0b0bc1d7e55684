"""A fastText-style classifier of documents (`HashedNgramClassifier`) and the filter that keeps
documents by its score (`ClassifierFilter`), or by any other scorer given as a callable.

The model is fastText's supervised model over hashed features: a document's words (the
`words` tokenizer's lower-cased letter runs by default) and word n-grams up to `ngrams`, each
hashed into one of `buckets` embedding rows of `dim` floats; the mean row times an output
matrix gives the class scores; softmax loss; SGD with the rate decaying linearly to 0 over
all epochs; Hogwild threads (`cooc.kernels.classifier`). As in fastText, every document ends
with an end-of-text word (its row acts as a bias). Unlike fastText, words are hashed
into the buckets too (no vocabulary pass) and the training documents are shuffled once
(seeded) before the first epoch, instead of relying on the input's order.

Saved as a folder artefact (`X.clf/`: magic COOC-CLASSIFIER, version, the configuration, the
embedding and output matrices as float32 with their sha256).

`ClassifierFilter` keeps a document when its score (the probability of the positive class)
is >= `threshold`, or, with `pareto` = a, by GPT-3's rule: when a Pareto(a) draw exceeds
1 - score (the draw is a function of the seed and the document's ordinal, so the kept set
does not depend on batches or threads).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from cooc.curate.shingles import Shingler
from cooc.curate.step import Decisions, DocumentBatch
from cooc.errors import CoocError
from cooc.formats.artefact import FolderArtefact
from cooc.formats.manifest import HashedFile, cooc_version, file_problem, read_folder_manifest
from cooc.kernels import classifier as kc

MAGIC = "COOC-CLASSIFIER"
FORMAT_VERSION = 1
_FILES = {"embeddings": "embeddings.f32", "output": "output.f32"}
_END = np.uint64(0x656E642D6F662D74)  # the end-of-text word's hash ("end-of-t")


def _check_int(name: str, value: Any, low: int, hint: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an int >= {low}, got {value!r}; {hint}")


class HashedNgramClassifier:
    """Two-class (or more) fastText-style classifier (see the module)."""

    def __init__(self, dim: int = 16, ngrams: int = 2, buckets: int = 2_000_000,
                 epochs: int = 5, lr: float = 0.1, seed: int = 1, num_threads: int = 1,
                 tokenizer: str = "words", labels: Sequence[str] = ("negative", "positive")):
        _check_int("dim", dim, 1, "e.g. 16")
        _check_int("ngrams", ngrams, 1, "e.g. 2 (words and word pairs)")
        _check_int("buckets", buckets, 1, "e.g. 2000000")
        if buckets > 2**31 - 1:
            raise ValueError(f"buckets must be < 2**31, got {buckets}")
        _check_int("epochs", epochs, 1, "e.g. 5")
        _check_int("seed", seed, 0, "e.g. 1")
        _check_int("num_threads", num_threads, 1, "e.g. 2")
        if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not lr > 0:
            raise ValueError(f"lr must be a number > 0, got {lr!r}; e.g. 0.1")
        if len(labels) < 2 or len(set(labels)) != len(labels):
            raise ValueError(f"labels must be two or more distinct names, got {labels!r}")
        self.dim, self.ngrams, self.buckets = dim, ngrams, buckets
        self.epochs, self.lr, self.seed = epochs, float(lr), seed
        self.num_threads = num_threads
        self.tokenizer = tokenizer
        self.labels = list(labels)
        self.shingler = Shingler(1, tokenizer)
        self.embeddings: np.ndarray | None = None
        self.output: np.ndarray | None = None
        self.train_stats: dict[str, Any] = {}

    def config(self) -> dict[str, Any]:
        return {"dim": self.dim, "ngrams": self.ngrams, "buckets": self.buckets,
                "epochs": self.epochs, "lr": self.lr, "seed": self.seed,
                "tokenizer": self.tokenizer, "labels": self.labels}

    def featurize(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(feature ids int32, offsets int64): document d's are ids[offsets[d]:offsets[d+1]]."""
        words, woff = self.shingler.word_hashes(list(texts))
        # every document ends with an end-of-text word, as fastText's lines end with </s>:
        # a feature all documents share (a bias), and the n-grams that end the text
        words = np.insert(words, woff[1:], _END)
        woff = woff + np.arange(woff.shape[0])
        feats = np.empty(max(1, words.shape[0] * self.ngrams), np.int32)
        ptr = np.empty(woff.shape[0], np.int64)
        k = kc.features(words, woff, self.ngrams, self.buckets, feats, ptr)
        return feats[:k], ptr

    def fit(self, texts: Sequence[str], labels: Sequence[int] | np.ndarray) -> HashedNgramClassifier:
        """Train on texts with class indices (into `self.labels`)."""
        y = np.asarray(labels, np.int64)
        if y.shape != (len(texts),):
            raise ValueError(f"labels must give one class a text: {y.shape[0]} for {len(texts)}")
        if len(texts) == 0:
            raise ValueError("no training documents")
        if y.min() < 0 or y.max() >= len(self.labels):
            raise ValueError(f"labels must be class indices in [0, {len(self.labels)})")
        feats, ptr = self.featurize(texts)
        rng = np.random.default_rng(self.seed)
        order = rng.permutation(len(texts)).astype(np.int64)  # fastText reads in file order
        self.embeddings = rng.uniform(-1.0 / self.dim, 1.0 / self.dim,
                                      (self.buckets, self.dim)).astype(np.float32)
        self.output = np.zeros((len(self.labels), self.dim), np.float32)
        total = max(1, int(feats.shape[0]))
        parts = np.array_split(order, self.num_threads)
        losses = []
        for epoch in range(self.epochs):
            if epoch:  # a new order each epoch (fastText reads its file in one order)
                order = rng.permutation(len(texts)).astype(np.int64)
                parts = np.array_split(order, self.num_threads)
            progress = np.zeros(1, np.int64)
            before = epoch * total

            def run(docs: np.ndarray, epoch=epoch, before=before, progress=progress) -> float:
                return kc.train_part(feats, ptr, y, docs, self.embeddings, self.output,
                                     self.lr, float(total), float(before), float(self.epochs),
                                     epoch, progress)

            if self.num_threads == 1:
                loss = run(order)
            else:
                with ThreadPoolExecutor(self.num_threads) as pool:
                    loss = sum(pool.map(run, parts))
            losses.append(round(float(loss) / len(texts), 6))
        self.train_stats = {"documents": len(texts), "features": int(feats.shape[0]),
                            "loss_per_epoch": losses}
        return self

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """float32 [documents, classes]: each class's probability."""
        if self.embeddings is None:
            raise CoocError("the classifier is not trained: fit it or load one")
        feats, ptr = self.featurize(texts)
        out = np.empty((len(texts), len(self.labels)), np.float32)
        kc.predict(feats, ptr, self.embeddings, self.output, out)
        return out

    def score(self, texts: Sequence[str]) -> np.ndarray:
        """The probability of the last class ("positive" for two classes)."""
        return self.predict_proba(texts)[:, -1].astype(np.float64)

    # -- the artefact ----------------------------------------------------------------------

    def save(self, path: str | os.PathLike) -> Path:
        if self.embeddings is None:
            raise CoocError("the classifier is not trained: nothing to save")
        with FolderArtefact(path, MAGIC, "cooc classifier") as art:
            for name, arr in (("embeddings", self.embeddings), ("output", self.output)):
                f = HashedFile(art.tmp / _FILES[name], "<f4")
                f.append(np.ascontiguousarray(arr, np.float32))
                art.add_hashed(name, f, _FILES[name], list(arr.shape))
            return art.finish({"magic": MAGIC, "format_version": FORMAT_VERSION,
                               "created_by": f"cooc {cooc_version()}", "files": art.files,
                               "config": self.config(), "train": self.train_stats})

    @classmethod
    def load(cls, path: str | os.PathLike, num_threads: int = 1) -> HashedNgramClassifier:
        """A saved classifier, manifest and checksums checked (CoocError if damaged)."""
        path = Path(path)
        m = read_folder_manifest(path, "manifest.json", MAGIC, FORMAT_VERSION, "a classifier",
                                 "cooc classifier train", error=CoocError)
        problem = file_problem(path, m.get("files") or [])
        if problem:
            raise CoocError(f"{problem}: the classifier is damaged; train it again")
        try:
            c = m["config"]
            clf = cls(c["dim"], c["ngrams"], c["buckets"], c["epochs"], c["lr"], c["seed"],
                      num_threads, c["tokenizer"], c["labels"])
        except (KeyError, TypeError, ValueError) as e:
            raise CoocError(f"{path}/manifest.json: a bad configuration ({e}); train it again") \
                from None
        shapes = {"embeddings": (clf.buckets, clf.dim), "output": (len(clf.labels), clf.dim)}
        for name, shape in shapes.items():
            arr = np.fromfile(path / _FILES[name], "<f4")
            if arr.size != shape[0] * shape[1]:
                raise CoocError(f"{path}/{_FILES[name]} holds {arr.size} floats, "
                                f"{shape[0] * shape[1]} expected; train it again")
            setattr(clf, name, arr.reshape(shape))
        clf.train_stats = m.get("train") if isinstance(m.get("train"), dict) else {}
        return clf


def pareto_draws(seed: int, ordinals: np.ndarray, shape: float) -> np.ndarray:
    """A Pareto(shape) draw per ordinal (numpy's `pareto`, a Lomax: U**(-1/shape) - 1 for U
    uniform in (0, 1]), from the seed and the ordinal alone."""
    u = np.empty(len(ordinals), np.float64)
    kc.uniforms(np.uint64(seed), np.asarray(ordinals, np.int64), u)
    return u ** (-1.0 / shape) - 1.0


class ClassifierFilter:
    """Keep documents by a classifier's score (see the module). `model`: a saved classifier's
    path, a `HashedNgramClassifier`, or any callable texts -> scores in [0, 1]."""

    reasons = ("kept", "classifier")
    needs_fit = False
    writes_scores = True
    per_document = True  # the score and the draw depend on the document alone
    counters = ("documents", "removed")

    def __init__(self, model: str | os.PathLike | HashedNgramClassifier | Callable,
                 threshold: float | None = None, pareto: float | None = None, seed: int = 0,
                 num_threads: int = 1, name: str = "filter-classifier") -> None:
        if (threshold is None) == (pareto is None):
            raise ValueError("give threshold or pareto (one of them)")
        if threshold is not None and (isinstance(threshold, bool) or
                                      not isinstance(threshold, (int, float)) or
                                      not 0 <= threshold <= 1):
            raise ValueError(f"threshold must be a score in [0, 1], got {threshold!r}")
        if pareto is not None and (isinstance(pareto, bool) or not isinstance(pareto, (int, float))
                                   or not pareto > 0):
            raise ValueError(f"pareto must be a shape > 0, got {pareto!r}; GPT-3 used 9")
        _check_int("seed", seed, 0, "e.g. 0")
        if isinstance(model, HashedNgramClassifier) or callable(model):
            self.scorer = model.score if isinstance(model, HashedNgramClassifier) else model
            self.model = getattr(model, "__name__", type(model).__name__)
        else:
            self.scorer = HashedNgramClassifier.load(model, num_threads).score
            self.model = str(model)
        self.threshold = threshold
        self.pareto = pareto
        self.seed = seed
        self.name = name
        self.counts_ = {"documents": 0, "removed": 0}

    def decide(self, batch: DocumentBatch) -> Decisions:
        n = len(batch)
        score = np.asarray(self.scorer(batch.texts), np.float64)
        if score.shape != (n,):
            raise CoocError(f"the scorer gave {score.shape} scores for {n} documents")
        if self.threshold is not None:
            keep = score >= self.threshold
        else:
            keep = pareto_draws(self.seed, batch.ordinals, self.pareto) > 1.0 - score
        d = Decisions.by_score(keep, score)
        self.counts_["documents"] += n
        self.counts_["removed"] += int(n - keep.sum())
        return d

    def report(self) -> dict[str, Any]:
        return {"model": self.model, "threshold": self.threshold, "pareto": self.pareto,
                "seed": self.seed, **self.counts_}
