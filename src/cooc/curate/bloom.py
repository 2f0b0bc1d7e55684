"""`BloomFilter` ("seen before?" in a fixed bit array, with false positives at a chosen
rate) and `BloomDedup`, the streaming step that removes documents or cuts paragraphs the
filter has (probably) seen.

Sizing, from the expected number of items n and the target false-positive rate p:
m = ceil(-n ln p / (ln 2)^2) bits, k = max(1, round(m / n ln 2)) bit positions per item
(h1 + i*h2 mod m from the two halves of the item's xxh3_128 hash with the filter's seed;
see `cooc.kernels.bloom`). A "duplicate" may be a false positive at rate ~p; the step keeps
no ordinals, so `duplicate_of` and `cluster` stay -1.

On disk (`X.bloom/`, the artefact lifecycle of `cooc.formats.artefact`): manifest.json
(magic COOC-BLOOM, format_version 1, m, k, seed, expected_items, fp_rate, items_added, and
the sha256 of every file) and bits.u64 (ceil(m / 64) little-endian uint64 words; bit j of
the filter is bit j % 64 of word j // 64). Filters with the same m, k and seed add up
(`union`: bitwise OR), so shards can be filtered apart and their filters merged.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from cooc.curate.hashing import cut, hash128, normalized, units
from cooc.curate.step import Decisions, DocumentBatch
from cooc.errors import CoocError
from cooc.formats.artefact import FolderArtefact
from cooc.formats.manifest import HashedFile, cooc_version, file_problem, read_folder_manifest
from cooc.kernels.bloom import bloom_add, bloom_contains

MAGIC = "COOC-BLOOM"
FORMAT_VERSION = 1
BITS_FILE = "bits.u64"


def bloom_size(expected_items: int, fp_rate: float) -> tuple[int, int]:
    """(m bits, k hashes) for n items at false-positive rate p (see the module)."""
    if isinstance(expected_items, bool) or not isinstance(expected_items, int) or expected_items < 1:
        raise ValueError(f"expected_items must be an int >= 1, got {expected_items!r}")
    if not isinstance(fp_rate, (int, float)) or not 0 < fp_rate < 1:
        raise ValueError(f"fp_rate must be in (0, 1), e.g. 0.001, got {fp_rate!r}")
    m = math.ceil(-expected_items * math.log(fp_rate) / math.log(2) ** 2)
    k = max(1, round(m / expected_items * math.log(2)))
    return m, k


class BloomFilter:
    """A Bloom filter over 128-bit hashes: `add` and `contains` take arrays of texts or of
    (hi, lo) hash halves; `save`/`load`, `union`."""

    def __init__(self, expected_items: int, fp_rate: float, seed: int = 0):
        self.m, self.k = bloom_size(expected_items, fp_rate)
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**64:
            raise ValueError(f"seed must be an int in [0, 2**64), got {seed!r}")
        self.expected_items = expected_items
        self.fp_rate = float(fp_rate)
        self.seed = seed
        self.bits = np.zeros((self.m + 63) // 64, np.uint64)
        self.items_added = 0

    def __repr__(self) -> str:
        return (f"BloomFilter(m={self.m:,} bits ({self.bits.nbytes / 2**20:.1f} MiB), k={self.k}, "
                f"n={self.expected_items:,}, p={self.fp_rate:g}, added={self.items_added:,})")

    def hashes(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        return hash128(texts, self.seed)

    def add_hashes(self, hi: np.ndarray, lo: np.ndarray) -> np.ndarray:
        """Add the keys in order; returns whether each was (probably) present before it."""
        was = np.empty(hi.shape[0], bool)
        self.items_added += int(bloom_add(self.bits, self.m, self.k, lo, hi, was))
        return was

    def contains_hashes(self, hi: np.ndarray, lo: np.ndarray) -> np.ndarray:
        out = np.empty(hi.shape[0], bool)
        bloom_contains(self.bits, self.m, self.k, lo, hi, out)
        return out

    def add(self, texts: list[str]) -> np.ndarray:
        return self.add_hashes(*self.hashes(texts))

    def contains(self, texts: list[str]) -> np.ndarray:
        return self.contains_hashes(*self.hashes(texts))

    def union(self, other: BloomFilter) -> BloomFilter:
        """A new filter holding the items of both (bitwise OR); same m, k and seed required."""
        if (self.m, self.k, self.seed) != (other.m, other.k, other.seed):
            raise CoocError(f"cannot union Bloom filters of different shapes: m={self.m}, "
                            f"k={self.k}, seed={self.seed} vs m={other.m}, k={other.k}, "
                            f"seed={other.seed}; build both with the same expected_items, "
                            "fp_rate and seed")
        out = BloomFilter.__new__(BloomFilter)
        out.__dict__.update(self.__dict__)
        out.bits = self.bits | other.bits
        out.items_added = self.items_added + other.items_added  # an upper bound: overlap counts twice
        return out

    def fill_ratio(self) -> float:
        return float(np.unpackbits(self.bits.view(np.uint8)).sum()) / self.m

    def save(self, path: str | os.PathLike) -> Path:
        """Write the filter as the folder artefact `path` (see the module)."""
        with FolderArtefact(path, MAGIC, "cooc Bloom filter") as art:
            f = HashedFile(art.tmp / BITS_FILE, "<u8")
            f.append(self.bits)
            art.add_hashed("bits", f, BITS_FILE, [int(self.bits.shape[0])])
            return art.finish({"magic": MAGIC, "format_version": FORMAT_VERSION,
                               "created_by": f"cooc {cooc_version()}", "files": art.files,
                               "m": self.m, "k": self.k, "seed": self.seed,
                               "expected_items": self.expected_items, "fp_rate": self.fp_rate,
                               "items_added": self.items_added})

    @classmethod
    def load(cls, path: str | os.PathLike) -> BloomFilter:
        """Read a saved filter, checking its manifest and checksums (CoocError if damaged)."""
        path = Path(path)
        m = read_folder_manifest(path, "manifest.json", MAGIC, FORMAT_VERSION, "a Bloom filter",
                                 "cooc dedup bloom --save-filter", error=CoocError)
        problem = file_problem(path, m.get("files") or [])
        if problem:
            raise CoocError(f"{problem}: the Bloom filter is damaged; rebuild it")
        try:
            bf = cls(int(m["expected_items"]), float(m["fp_rate"]), int(m["seed"]))
        except (KeyError, TypeError, ValueError) as e:
            raise CoocError(f"{path}/manifest.json has bad Bloom parameters ({e}); rebuild it") from None
        if (bf.m, bf.k) != (m.get("m"), m.get("k")):
            raise CoocError(f"{path}: m, k do not follow from expected_items, fp_rate; rebuild it")
        bits = np.fromfile(path / BITS_FILE, "<u8")
        if bits.shape != bf.bits.shape:
            raise CoocError(f"{path}/{BITS_FILE} holds {bits.size} words, {bf.bits.size} expected")
        bf.bits = bits.astype(np.uint64, copy=False)
        bf.items_added = int(m.get("items_added", 0))
        bf.path = path
        return bf

    def verify(self) -> None:
        """Loading checked the manifest and the checksums; checked again here if saved."""
        if getattr(self, "path", None) is not None:
            BloomFilter.load(self.path)

    def stats(self) -> dict[str, Any]:
        return {"m": self.m, "k": self.k, "seed": self.seed, "expected_items": self.expected_items,
                "fp_rate": self.fp_rate, "items_added": self.items_added,
                "bytes": int(self.bits.nbytes), "fill_ratio": self.fill_ratio()}


class BloomDedup:
    """Streaming step: a document (granularity "document") or paragraph ("paragraph") the
    filter probably saw is removed / cut. Starts from `initial` (a saved filter's path or a
    BloomFilter) if given, else an empty filter sized by expected_items and fp_rate; the
    final filter is saved to `save_to` when the runner closes the step."""

    needs_fit = False

    def __init__(self, expected_items: int = 1_000_000, fp_rate: float = 1e-3, seed: int = 0,
                 granularity: str = "document", normalize: bool = False,
                 initial: str | os.PathLike | BloomFilter | None = None,
                 save_to: str | os.PathLike | None = None):
        if granularity not in ("document", "paragraph"):
            raise ValueError(f"granularity must be 'document' or 'paragraph', got {granularity!r}")
        if isinstance(initial, BloomFilter):
            self.filter_ = initial
        elif initial is not None:
            self.filter_ = BloomFilter.load(initial)
        else:
            self.filter_ = BloomFilter(expected_items, fp_rate, seed)
        self.granularity = granularity
        self.normalize = bool(normalize)
        self.edits_text = granularity != "document"
        self.save_to = save_to
        self.name = "dedup-bloom" if granularity == "document" else "dedup-bloom-paragraph"
        self.reasons = ("kept", "bloom-duplicate" if granularity == "document"
                        else "bloom-duplicate-paragraphs")
        self.counts_ = {"documents": 0, "removed": 0, "units": 0, "units_cut": 0, "edited": 0}

    def fit(self, batches) -> None:  # noqa: ARG002
        return None

    def setup(self, memory_bytes: int, scratch) -> None:  # noqa: ARG002
        """Refuse a filter larger than the step's share of the memory budget (it is held whole)."""
        if self.filter_.bits.nbytes > memory_bytes:
            raise ValueError(f"the Bloom filter needs {self.filter_.bits.nbytes:,} bytes, more "
                             f"than this step's share of the memory budget ({memory_bytes:,}: half "
                             "the budget, split among the steps); raise memory or fp_rate")

    def _keys(self, texts: list[str]) -> list[str]:
        return [normalized(t) for t in texts] if self.normalize else texts

    def decide(self, batch: DocumentBatch) -> Decisions:
        n = len(batch)
        self.counts_["documents"] += n
        if self.granularity == "document":
            was = self.filter_.add(self._keys(batch.texts))
            d = Decisions.keep_all(n)
            d.keep = ~was
            d.reason = was.astype(np.uint8)
            self.counts_["removed"] += int(was.sum())
            return d
        spans = [units(t, "paragraph") for t in batch.texts]
        flat = [t[s:e] for t, sp in zip(batch.texts, spans, strict=True) for s, e in sp]
        was = self.filter_.add(self._keys(flat))
        self.counts_["units"] += len(flat)
        d = Decisions.keep_all(n)
        d.texts, d.removed_spans = {}, {}
        pos = 0
        for i, sp in enumerate(spans):
            drop = was[pos:pos + len(sp)]
            pos += len(sp)
            if not drop.any():
                continue
            self.counts_["units_cut"] += int(drop.sum())
            if drop.all():
                d.keep[i], d.reason[i] = False, 1
                self.counts_["removed"] += 1
                continue
            d.texts[i], d.removed_spans[i] = cut(batch.texts[i], sp, drop.tolist())
            self.counts_["edited"] += 1
        return d

    def report(self) -> dict[str, Any]:
        return {"granularity": self.granularity, "normalize": self.normalize,
                **self.counts_, "filter": self.filter_.stats(),
                "saved_to": None if self.save_to is None else str(self.save_to)}

    def close(self) -> None:
        if self.save_to is not None:
            self.filter_.save(self.save_to)
