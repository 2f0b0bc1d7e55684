"""The step contract every curation step (deduplication, filters) follows.

A corpus is read as `DocumentBatch`es in corpus order; every document carries its ordinal
(its 0-based position among the corpus's valid documents), which names it everywhere:
in decisions, in the "duplicate of" field of a removed copy, in reports. A step turns each
batch into `Decisions`, one per document: kept or removed, why, and for duplicates which
copy was kept and their cluster. The runner writes kept and removed documents from them,
so kept + removed = input by construction.

Two kinds of steps:
- streaming (`needs_fit = False`): `decide` sees the batches once, in corpus order
  (exact dedup keeping the first copy, a Bloom filter, a score threshold);
- global (`needs_fit = True`): the runner first gives `fit` every batch (in corpus
  order), then calls `decide` on every batch again, in corpus order (MinHash-LSH
  clusters, a quantile threshold, DSIR resampling).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

KEPT = 0  # reason code of a kept document
NO_CLUSTER = -1


@dataclass
class DocumentBatch:
    """Documents in corpus order: texts[i] is document ordinals[i]."""

    texts: list[str]
    ordinals: np.ndarray  # int64 [n], increasing
    extra: dict[str, Any] = field(default_factory=dict)  # what the reader adds (origins, records)

    def __len__(self) -> int:
        return len(self.texts)


@dataclass
class Decisions:
    """One decision per document of a batch. reason[i] indexes the step's `reasons`
    (0: kept, whatever keep says elsewhere); duplicate_of is the ordinal of the copy that
    was kept (-1: none), cluster a cluster id (-1: none), score the step's score (NaN: none)."""

    keep: np.ndarray  # bool [n]
    reason: np.ndarray  # uint8 [n]
    duplicate_of: np.ndarray  # int64 [n]
    cluster: np.ndarray  # int64 [n]
    score: np.ndarray  # float64 [n]
    # Steps that cut parts out of kept documents (paragraph and span dedup) give their new
    # texts here ({batch index: text}) and what they cut ({batch index: [[start, end], ...]},
    # character offsets in the text the step was given); later steps see the new text.
    texts: dict[int, str] | None = None
    removed_spans: dict[int, list[list[int]]] | None = None

    @classmethod
    def keep_all(cls, n: int) -> Decisions:
        return cls(np.ones(n, bool), np.zeros(n, np.uint8), np.full(n, -1, np.int64),
                   np.full(n, NO_CLUSTER, np.int64), np.full(n, np.nan))

    @classmethod
    def by_score(cls, keep: np.ndarray, score: np.ndarray) -> Decisions:
        """A filter's decisions: the documents not kept are removed for the step's reason 1;
        each carries its score."""
        keep = np.asarray(keep, bool)
        d = cls.keep_all(keep.shape[0])
        d.keep = keep
        d.reason = np.where(keep, KEPT, 1).astype(np.uint8)
        d.score = np.asarray(score, np.float64)
        return d


class Step(Protocol):
    """A curation step (see the module)."""

    name: str  # e.g. "dedup-exact"
    reasons: tuple[str, ...]  # reason codes' names; reasons[0] == "kept"
    needs_fit: bool

    def fit(self, batches: Iterable[DocumentBatch]) -> None:
        """Global steps: see every batch once before any `decide`."""

    def decide(self, batch: DocumentBatch) -> Decisions:
        """The decisions for one batch."""

    def report(self) -> dict[str, Any]:
        """What the step found (counts per reason, parameters, ...), JSON-able."""

    # Optional, looked up with getattr by the runner (`cooc.curate.run`):
    # edits_text: bool, True for a step that may cut parts of kept documents (Decisions.texts);
    # setup(memory_bytes: int, scratch: Path) -> None: the step's share of the memory budget
    #   and a folder for what it spills, given before the first batch;
    # close() -> None: after the last batch (remove spills, save a filter).
