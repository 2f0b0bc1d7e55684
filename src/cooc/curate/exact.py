"""`ExactDedup`: exact deduplication keeping the first copy in corpus order.

- granularity "document": a document whose text hashes (xxh3_128) like an earlier one's is
  removed (reason "duplicate"), with the ordinal of the kept copy as `duplicate_of` and as
  `cluster` (a cluster is named by its kept copy; the kept copy itself carries no cluster,
  since when it is written no copy of it may have been seen yet).
- "paragraph" / "span" (C4): paragraphs, or three-sentence spans, seen before (in an
  earlier document or earlier in the same one) are cut from the text; the kept document
  records the cut character ranges (`Decisions.removed_spans`). A document left with
  nothing is removed ("duplicate-paragraphs" / "duplicate-spans"), `duplicate_of` the
  document where its first unit was first seen.

Texts are compared as they are (normalize=False) or lowercased with whitespace runs made one
space (normalize=True). Memory: the first-seen table of `cooc.curate.seen`, within the
step's budget, spilled to disk beyond it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from cooc.curate.hashing import GRANULARITIES, cut, hash128, normalized, units
from cooc.curate.seen import FirstSeen
from cooc.curate.step import NO_CLUSTER, Decisions, DocumentBatch

DEFAULT_MEMORY = 256 << 20
REASONS = {"document": ("kept", "duplicate"),
           "paragraph": ("kept", "duplicate-paragraphs"),
           "span": ("kept", "duplicate-spans")}


class ExactDedup:
    """A streaming step (see `cooc.curate.step`); parameters are checked here, state is
    made by `setup` (the runner calls it) or on the first batch."""

    needs_fit = False

    def __init__(self, granularity: str = "document", normalize: bool = False, seed: int = 0,
                 memory_bytes: int = 0):
        if granularity not in GRANULARITIES:
            raise ValueError(f"granularity must be one of {GRANULARITIES}, got {granularity!r}")
        if not isinstance(normalize, bool):
            raise ValueError(f"normalize must be True or False, got {normalize!r}")
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**64:
            raise ValueError(f"seed must be an int in [0, 2**64), got {seed!r}")
        if isinstance(memory_bytes, bool) or not isinstance(memory_bytes, int) or memory_bytes < 0:
            raise ValueError(f"memory_bytes must be an int >= 0 (0: {DEFAULT_MEMORY >> 20} MiB "
                             f"or the runner's share), got {memory_bytes!r}")
        self.granularity = granularity
        self.normalize = normalize
        self.seed = seed
        self.memory_bytes = memory_bytes
        self.name = "dedup-exact" if granularity == "document" else f"dedup-exact-{granularity}"
        self.reasons = REASONS[granularity]
        self.edits_text = granularity != "document"
        self.seen_: FirstSeen | None = None
        self.counts_ = {"documents": 0, "removed": 0, "units": 0, "units_cut": 0,
                        "chars_cut": 0, "edited": 0}

    def setup(self, memory_bytes: int, scratch: Path | None) -> None:
        if self.seen_ is None:
            self.seen_ = FirstSeen(self.memory_bytes or memory_bytes, scratch)

    def fit(self, batches) -> None:  # noqa: ARG002  # streaming: nothing to learn first
        return None

    def decide(self, batch: DocumentBatch) -> Decisions:
        if self.seen_ is None:
            self.setup(DEFAULT_MEMORY, None)
        if self.granularity == "document":
            return self._decide_documents(batch)
        return self._decide_units(batch)

    def _key_texts(self, texts: list[str]) -> list[str]:
        return [normalized(t) for t in texts] if self.normalize else texts

    def _decide_documents(self, batch: DocumentBatch) -> Decisions:
        hi, lo = hash128(self._key_texts(batch.texts), self.seed)
        first, new = self.seen_.get_or_insert(hi, lo, batch.ordinals)
        n = len(batch)
        dup_of = np.where(new, -1, first)
        d = Decisions(new, (~new).astype(np.uint8), dup_of, np.where(new, NO_CLUSTER, first),
                      np.full(n, np.nan))
        self.counts_["documents"] += n
        self.counts_["removed"] += int(n - new.sum())
        return d

    def _decide_units(self, batch: DocumentBatch) -> Decisions:
        spans = [units(t, self.granularity) for t in batch.texts]
        counts = np.fromiter(map(len, spans), np.int64, len(spans))
        flat = [t[s:e] for t, sp in zip(batch.texts, spans, strict=True) for s, e in sp]
        hi, lo = hash128(self._key_texts(flat), self.seed)
        owner = np.repeat(batch.ordinals, counts)
        first, new = self.seen_.get_or_insert(hi, lo, owner)
        n = len(batch)
        d = Decisions.keep_all(n)
        d.texts, d.removed_spans = {}, {}
        starts = np.concatenate([[0], np.cumsum(counts)])
        has_dup = np.add.reduceat(~new, starts[:-1]) if flat else np.zeros(n, np.int64)
        for i in np.flatnonzero((counts > 0) & (has_dup > 0)):
            a, b = starts[i], starts[i + 1]
            drop = ~new[a:b]
            self.counts_["units_cut"] += int(drop.sum())
            if drop.all():
                d.keep[i] = False
                d.reason[i] = 1
                d.duplicate_of[i] = first[a]
                d.cluster[i] = first[a]
                self.counts_["removed"] += 1
                continue
            text, ranges = cut(batch.texts[i], spans[i], drop.tolist())
            d.texts[int(i)] = text
            d.removed_spans[int(i)] = ranges
            self.counts_["chars_cut"] += sum(e - s for s, e in ranges)
            self.counts_["edited"] += 1
        self.counts_["documents"] += n
        self.counts_["units"] += len(flat)
        return d

    def report(self) -> dict[str, Any]:
        seen = self.seen_
        return {"granularity": self.granularity, "normalize": self.normalize, "seed": self.seed,
                "hash": "xxh3_128", **self.counts_,
                "keys_stored": seen.keys if seen else 0,
                "spilled_runs": len(seen.runs) if seen else 0}

    def close(self) -> None:
        if self.seen_ is not None:
            self.seen_.close()
