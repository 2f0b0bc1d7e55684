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

import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from cooc.curate.hashing import GRANULARITIES, cut, hash128, normalized, units
from cooc.curate.seen import FirstSeen
from cooc.curate.step import NO_CLUSTER, Decisions, DocumentBatch
from cooc.errors import CoocError

DEFAULT_MEMORY = 256 << 20
_PARTITION_BYTES = 48  # a hash (16), its ordinal (8) and the sort's copies, per document
_MAX_PARTITIONS = 4096
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

    # -- the same job as tasks over shards (`cooc.curate.sharded`), documents only ---------

    def check_shardable(self) -> None:
        """CoocError unless the step can run as shards (documents only)."""
        if self.granularity != "document":
            raise CoocError(f"granularity {self.granularity!r} runs on the local engine only "
                            f"(its cuts depend on every unit before, in corpus order); "
                            f"use engine local")

    def map_shard(self, batches, folder: Path) -> int:
        """Map one shard: its documents' 128-bit hashes to folder/hashes.u64 (hi, lo rows)."""
        self.check_shardable()
        folder.mkdir(parents=True, exist_ok=True)
        n = 0
        with open(folder / "hashes.u64", "wb") as f:
            for batch in batches:
                hi, lo = hash128(self._key_texts(batch.texts), self.seed)
                np.stack([hi, lo], axis=1).tofile(f)
                n += len(batch)
        return n

    def reduce_shards(self, folders, work: Path, engine, memory_bytes: int) -> Decisions:
        """Shuffle the hashes by their high bits into partitions that fit `memory_bytes`,
        one task each finds every hash's first ordinal; returns the decisions by ordinal
        (those a streaming run gives)."""
        sizes = [(Path(f) / "hashes.u64").stat().st_size // 16 for f in folders]
        n = int(sum(sizes))
        bases = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64).tolist()
        need = max(1, n * _PARTITION_BYTES // max(memory_bytes, 1 << 10))
        parts = min(_MAX_PARTITIONS, 1 << max(0, math.ceil(math.log2(need))))
        calls = [(p, parts, [str(f) for f in folders], bases, str(work), memory_bytes)
                 for p in range(parts)]
        first = np.full(n, -1, np.int64)
        for path in engine.run(exact_partition_task, calls):
            pairs = np.load(path)
            first[pairs[0]] = pairs[1]
            os.unlink(path)
        removed = first >= 0
        d = Decisions(~removed, removed.astype(np.uint8), first, first.copy(), np.full(n, np.nan))
        self.counts_["documents"] += n
        self.counts_["removed"] += int(removed.sum())
        self.counts_["partitions"] = parts
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


def exact_partition_task(part: int, parts: int, folders: list[str], bases: list[int],
                         work: str, memory_bytes: int) -> str:
    """Partition `part` of `parts` (hashes whose high bits say so) of `ExactDedup.reduce_shards`
    (an engine task): the file of [ordinal, first ordinal of its hash] of every later copy."""
    shift = np.uint64(64 - int(math.log2(parts))) if parts > 1 else None
    chunk = max(1 << 10, memory_bytes // (2 * _PARTITION_BYTES))
    his, los, ords = [], [], []
    for folder, base in zip(folders, bases, strict=False):
        path = Path(folder) / "hashes.u64"
        rows = path.stat().st_size // 16
        for a in range(0, rows, chunk):
            h = np.fromfile(path, np.uint64, count=2 * min(chunk, rows - a), offset=16 * a)
            h = h.reshape(-1, 2)
            mine = np.arange(a, a + h.shape[0], dtype=np.int64) + base
            if shift is not None:
                keep = (h[:, 0] >> shift) == np.uint64(part)
                h, mine = h[keep], mine[keep]
            his.append(np.ascontiguousarray(h[:, 0]))
            los.append(np.ascontiguousarray(h[:, 1]))
            ords.append(mine)
    hi = np.concatenate(his) if his else np.zeros(0, np.uint64)
    lo = np.concatenate(los) if los else np.zeros(0, np.uint64)
    o = np.concatenate(ords) if ords else np.zeros(0, np.int64)
    del his, los, ords
    order = np.lexsort((o, lo, hi))  # by hash, then corpus order
    hi, lo, o = hi[order], lo[order], o[order]
    start = np.ones(o.shape[0], bool)
    start[1:] = (hi[1:] != hi[:-1]) | (lo[1:] != lo[:-1])
    group_first = o[np.flatnonzero(start)][np.cumsum(start) - 1]
    later = ~start
    out = Path(work) / f"exact-{part}.npy"
    np.save(out, np.stack([o[later], group_first[later]]))
    return str(out)
