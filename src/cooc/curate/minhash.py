"""MinHash-LSH near-duplicate removal: a global step (`needs_fit`) of `cooc.curate.step`.

What it does, in the three stages a cluster run would split it into:

- map (`fit`, per batch): each document's words (the `words` tokenizer's lower-cased
  letter runs by default), their `ngram`-shingles' 64-bit hashes (sorted, unique), a
  MinHash signature of `permutations` values and its `bands` band keys. Only the band keys
  and the shingle sets leave the batch, appended to scratch files (one file per band, one
  of shingles); the signatures are dropped.
- shuffle (end of `fit`): band by band, the keys are sorted with the documents' positions;
  a band that does not fit the memory budget is first split by the keys' high bits into
  partitions that do (documents with equal keys land in the same partition).
- reduce: documents with an equal key in some band are candidates; a candidate pair is
  joined only if the exact Jaccard similarity of their shingle sets (read from the
  scratch file with pread, never memory-mapped: a map's read faults count whole large
  folios of the page cache in the RSS) is >= threshold, so no false positive survives, and the
  clusters are the connected components of the joined pairs (union-find). A cluster's id
  is its smallest ordinal; one document per cluster is kept: the first, the longest or the
  one with the highest score column (ties: the first).

In memory stay ~40 bytes a document (ordinals, shingle offsets, scores, the union-find
arrays), whatever the number of documents; a band's keys (24 bytes a document while
sorted) are bounded by the memory budget. Not bounded: a bucket of k documents that share a
band key but are not near-duplicates of one another (say, boilerplate with little else)
costs up to k (k - 1) / 2 checks in each band. No result depends on the batch size, the number
of threads or the memory budget (tests/test_minhash.py).

Choosing bands and rows: the chance that a pair of Jaccard similarity s becomes a
candidate is 1 - (1 - s**rows)**bands (the S-curve). As in datasketch, (bands, rows) with
bands * rows <= permutations minimise the weighted area of false positives below the
threshold and false negatives above it; since every candidate is verified exactly, a false
positive costs one Jaccard check and a false negative a lost duplicate, so the default
weights favour recall (0.01 : 0.99) where datasketch weighs them equally.
"""

from __future__ import annotations

import math
import os
import shutil
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from cooc.curate.fields import numeric_field
from cooc.curate.shingles import Shingler
from cooc.curate.step import KEPT, NO_CLUSTER, Decisions, DocumentBatch
from cooc.errors import CoocError
from cooc.kernels import minhash as km
from cooc.options import RunOptions
from cooc.runtime.scratch import scratch_dir

S_POINTS = (0.3, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.0)
MAX_PERMUTATIONS = 1024
_GRID = 4001  # points of the trapezoid integration of the S-curve's error areas
_SORT_BYTES = 24  # a band's key, position and order index while it is sorted
_MAX_PARTITIONS = 256  # files a band is split into in one pass


def candidate_entries(keys: np.ndarray, docs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The entries of sorted keys whose key appears twice or more (and is not the empty
    documents' key): the only ones a bucket check reads."""
    inb = np.zeros(keys.shape[0], bool)
    if keys.shape[0] > 1:
        eq = keys[1:] == keys[:-1]
        inb[1:] |= eq
        inb[:-1] |= eq
    inb &= keys != km.EMPTY_KEY
    return keys[inb], docs[inb]


def candidate_probability(s: float | np.ndarray, bands: int, rows: int) -> float | np.ndarray:
    """P(a pair of Jaccard similarity s shares a band key) = 1 - (1 - s**rows)**bands."""
    return 1.0 - (1.0 - np.asarray(s, float) ** rows) ** bands


def choose_bands(threshold: float, permutations: int, false_positive_weight: float = 0.01,
                 false_negative_weight: float = 0.99) -> tuple[int, int]:
    """(bands, rows), bands * rows <= permutations, minimising
    fp_weight * (area under the S-curve below the threshold) +
    fn_weight * (area above it, over the threshold); ties: fewer bands."""
    check_threshold(threshold)
    check_permutations(permutations)
    for name, w in (("false_positive_weight", false_positive_weight),
                    ("false_negative_weight", false_negative_weight)):
        if not isinstance(w, (int, float)) or not 0 <= w <= 1:
            raise ValueError(f"{name} must be a number in [0, 1], got {w!r}")
    lo = np.linspace(0.0, threshold, _GRID)
    hi = np.linspace(threshold, 1.0, _GRID)
    best = (math.inf, 0, 0)
    for b in range(1, permutations + 1):
        for r in range(1, permutations // b + 1):
            fp = np.trapezoid(candidate_probability(lo, b, r), lo)
            fn = np.trapezoid(1.0 - candidate_probability(hi, b, r), hi)
            err = false_positive_weight * fp + false_negative_weight * fn
            if err < best[0] - 1e-15:
                best = (err, b, r)
    return best[1], best[2]


def s_curve(bands: int, rows: int, points: Sequence[float] = S_POINTS) -> list[tuple[float, float]]:
    """[(s, P(candidate | s))] at the given similarities."""
    return [(float(s), float(candidate_probability(s, bands, rows))) for s in points]


def describe_bands(threshold: float, bands: int, rows: int) -> str:
    """The S-curve and the false-negative rate at the threshold, as lines to print."""
    fn = 1.0 - float(candidate_probability(threshold, bands, rows))
    lines = [f"bands={bands} rows={rows}: P(candidate | Jaccard s) = 1 - (1 - s^{rows})^{bands}"]
    lines += [f"  s={s:.2f}  P={p:.6f}" for s, p in s_curve(bands, rows)]
    lines.append(f"  false-negative rate at the threshold {threshold:g}: {fn:.2e}")
    return "\n".join(lines)


def check_threshold(threshold: float) -> None:
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) \
            or not 0 < threshold <= 1:
        raise ValueError(f"threshold must be a Jaccard similarity in (0, 1], got {threshold!r}; "
                         f"e.g. 0.8")


def check_permutations(permutations: int) -> None:
    if isinstance(permutations, bool) or not isinstance(permutations, int) \
            or not 1 <= permutations <= MAX_PERMUTATIONS:
        raise ValueError(f"permutations must be an int in [1, {MAX_PERMUTATIONS}], got "
                         f"{permutations!r}; e.g. 128")


def _check_int(name: str, value: Any, low: int, hint: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an int >= {low}, got {value!r}; {hint}")


class MinHashDedup:
    """Near-duplicate removal by MinHash-LSH with exact verification (see the module).

    Parameters
    ----------
    threshold : pairs of Jaccard similarity >= threshold (of their shingle sets) are joined.
    ngram : words per shingle.
    permutations : MinHash values per document.
    bands, rows : the LSH banding; None: chosen from the threshold (`choose_bands`).
    seed : seeds the shingle hash and the permutations; same seed, same clusters.
    keep : which document of a cluster is kept: "first", "longest" (most characters) or
        the name of a numeric score column (highest kept) in the batches' `extra`
        (an array per batch, or a key of each of `extra["records"]`).
    tokenizer : "words" (lower-cased letter runs), "whitespace" or a fixed-vocabulary
        tokenizer spec ("qwen", "tiktoken:...", "hf:...").
    options : memory budget (the band sort), threads (the map), tmp_dir (scratch files).
    """

    name = "dedup-minhash"
    reasons = ("kept", "near-duplicate")
    needs_fit = True

    def __init__(self, threshold: float = 0.8, ngram: int = 5, permutations: int = 128,
                 bands: int | None = None, rows: int | None = None, seed: int = 1,
                 keep: str = "first", tokenizer: str = "words",
                 options: RunOptions | None = None) -> None:
        check_threshold(threshold)
        _check_int("ngram", ngram, 1, "e.g. 5 (word 5-grams)")
        check_permutations(permutations)
        _check_int("seed", seed, 0, "e.g. 1")
        if (bands is None) != (rows is None):
            raise ValueError("give both bands and rows, or neither (chosen from the threshold)")
        if bands is None:
            bands, rows = choose_bands(threshold, permutations)
        else:
            _check_int("bands", bands, 1, "or None (chosen from the threshold)")
            _check_int("rows", rows, 1, "or None (chosen from the threshold)")
            if bands * rows > permutations:
                raise ValueError(f"bands * rows ({bands} * {rows}) must be <= permutations "
                                 f"({permutations})")
        if not isinstance(keep, str) or not keep:
            raise ValueError(f"keep must be 'first', 'longest' or a score column name, "
                             f"got {keep!r}")
        if not isinstance(tokenizer, str) or not tokenizer:
            raise ValueError(f"tokenizer must be a spec such as 'words', got {tokenizer!r}")
        if options is not None and not isinstance(options, RunOptions):
            raise TypeError(f"options must be a RunOptions, got {type(options).__name__}")
        self.threshold = float(threshold)
        self.ngram = ngram
        self.permutations = permutations
        self.bands = bands
        self.rows = rows
        self.seed = seed
        self.missing_scores = 0  # documents without a numeric keep score
        self.keep = keep
        self.tokenizer = tokenizer
        self.options = options or RunOptions()
        rng = np.random.default_rng([seed, 0x6D696E68])
        self.mult = rng.integers(0, 2**64, permutations, dtype=np.uint64, endpoint=False) \
            | np.uint64(1)
        self.add = rng.integers(0, 2**64, permutations, dtype=np.uint64, endpoint=False)
        self.shingle_seed = np.uint64(int(rng.integers(0, 2**63)))
        self.shingler = Shingler(ngram, tokenizer, self.shingle_seed)
        self._stats: dict[str, Any] = {}
        self._fitted = False

    # -- map ------------------------------------------------------------------------------

    def shingle_sets(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(shingles, offsets): document d's sorted unique shingle hashes are
        shingles[offsets[d]:offsets[d + 1]] (`cooc.curate.shingles.Shingler`)."""
        return self.shingler.shingle_sets(texts)

    def sketch(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(shingles, offsets, keys) of a list of texts (`shingle_sets`); keys[j, d] is
        document d's band j key."""
        shingles, offsets = self.shingle_sets(texts)
        n = len(texts)
        sigs = np.empty((n, self.permutations), np.uint32)
        km.signatures(shingles, offsets, self.mult, self.add, sigs)
        keys = np.empty((self.bands, n), np.uint64)
        km.band_keys(sigs, offsets, self.rows, keys)
        return shingles, offsets, keys

    def _sketch_threads(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        threads = self.options.resolved_num_proc()
        if threads <= 1 or len(texts) < 2 * threads:
            return self.sketch(texts)
        cuts = np.linspace(0, len(texts), threads + 1).astype(int)
        with ThreadPoolExecutor(threads) as pool:
            parts = list(pool.map(self.sketch, [texts[a:b] for a, b in
                                                zip(cuts[:-1], cuts[1:], strict=True)]))
        offsets = [parts[0][1]]
        base = parts[0][1][-1]
        for p in parts[1:]:
            offsets.append(p[1][1:] + base)
            base += p[1][-1]
        return (np.concatenate([p[0] for p in parts]), np.concatenate(offsets),
                np.concatenate([p[2] for p in parts], axis=1))

    def _scores(self, batch: DocumentBatch) -> np.ndarray:
        n = len(batch)
        if self.keep == "first":
            return np.zeros(n)
        if self.keep == "longest":
            return np.fromiter(map(len, batch.texts), np.float64, len(batch.texts))
        scores = numeric_field(batch, self.keep)
        if scores is None:
            raise CoocError(f"keep={self.keep!r}: the documents carry no records to read a "
                            f"score from; use 'first' or 'longest'")
        missing = np.isnan(scores)
        self.missing_scores += int(missing.sum())  # never preferred, counted in the report
        scores[missing] = -np.inf
        return scores

    def fit(self, batches: Iterable[DocumentBatch]) -> MinHashDedup:
        """Sketch every batch (map), then cluster (shuffle and reduce)."""
        t0 = time.perf_counter()
        tmp = scratch_dir(self.options.tmp_dir, "minhash")
        try:
            ordinals: list[np.ndarray] = []
            counts: list[np.ndarray] = []
            scores: list[np.ndarray] = []
            band_files = [open(tmp / f"band-{j}.u64", "wb") for j in range(self.bands)]
            with open(tmp / "shingles.u64", "wb") as sf:
                last = -1
                for batch in batches:
                    if len(batch) == 0:
                        continue
                    ords = np.asarray(batch.ordinals, np.int64)
                    if ords.shape != (len(batch),) or ords[0] <= last or \
                            (len(ords) > 1 and (np.diff(ords) <= 0).any()):
                        raise ValueError("fit needs batches in corpus order: ordinals must "
                                         "increase")
                    last = int(ords[-1])
                    shingles, offsets, keys = self._sketch_threads(batch.texts)
                    shingles.tofile(sf)
                    for j in range(self.bands):
                        keys[j].tofile(band_files[j])
                    ordinals.append(ords)
                    counts.append(np.diff(offsets))
                    scores.append(self._scores(batch))
            for f in band_files:
                f.close()
            self.ordinals_ = np.concatenate(ordinals) if ordinals else np.zeros(0, np.int64)
            n = self.ordinals_.shape[0]
            offsets = np.zeros(n + 1, np.int64)
            if n:
                np.cumsum(np.concatenate(counts), out=offsets[1:])
            del counts
            t1 = time.perf_counter()
            parent = self._reduce(tmp, n, offsets)
            del offsets
            score = np.concatenate(scores) if scores else np.zeros(0)
            del scores
            self._clusters_from(parent, score)
            self._stats.update(map_seconds=round(t1 - t0, 3),
                               reduce_seconds=round(time.perf_counter() - t1, 3))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return self

    def _clusters_from(self, parent: np.ndarray, score: np.ndarray) -> None:
        """The fitted state from the joined pairs' union-find (`parent`) and the keep scores."""
        n = parent.shape[0]
        km.resolve(parent)
        kept = np.full(n, -1, np.int64)
        size = np.zeros(n, np.int32)
        km.choose_kept(parent, score, kept, size)
        self.parent_ = parent
        self.kept_ = kept
        self.multi_ = size > 1
        self._stats.update(documents=n, clusters=int(self.multi_.sum()),
                           removed=int(n - (size > 0).sum()))
        self._fitted = True

    # -- shuffle and reduce ---------------------------------------------------------------

    def _reduce(self, tmp: Path, n: int, offsets: np.ndarray) -> np.ndarray:
        """Every band verified into one union-find (a pair joined in an earlier band is
        not read again)."""
        parent = np.arange(n, dtype=np.int64)
        stats = np.zeros(4, np.int64)
        budget = max(1 << 10, self.options.resolved_memory() // 4)
        for j in range(self.bands):
            band = tmp / f"band-{j}.u64"
            self.reduce_band(band, tmp / "shingles.u64", offsets, parent, stats, budget)
            band.unlink()
        self._add_stats(stats)
        return parent

    def _add_stats(self, stats: np.ndarray) -> None:
        for k, name in enumerate(("candidate_buckets", "pairs_checked", "pairs_joined",
                                  "spilled_partitions")):
            self._stats[name] = self._stats.get(name, 0) + int(stats[k])

    def reduce_band(self, band: Path, shingles: Path, offsets: np.ndarray, parent: np.ndarray,
                    stats: np.ndarray, budget: int) -> None:
        """Join in `parent` the candidate pairs of one band's keys (the uint64 file `band`,
        one key a document) whose shingle sets (the file `shingles`, at `offsets`) are
        similar enough. stats += [buckets, pairs checked, pairs joined, partitions spilled]."""
        n = parent.shape[0]
        most = int(np.diff(offsets).max()) if n else 0
        buf_u = np.empty(most, np.uint64)
        buf_v = np.empty(most, np.uint64)
        fd = os.open(shingles, os.O_RDONLY)

        def verify(keys: np.ndarray, docs: np.ndarray) -> None:
            """Verify the buckets of sorted keys (documents' positions in docs)."""
            keys, docs = candidate_entries(keys, docs)
            if km.verify_buckets(keys, docs, fd, offsets, self.threshold, parent, stats,
                                 buf_u, buf_v) < 0:
                raise CoocError(f"cannot read the scratch file {shingles}: was it removed?")

        try:
            if n * _SORT_BYTES <= budget:
                keys = np.fromfile(band, np.uint64)
                order = np.argsort(keys, kind="stable")
                verify(keys[order], order)
            else:
                stats[3] += self._reduce_partitioned(band, n, budget, verify)
        finally:
            os.close(fd)

    def _reduce_partitioned(self, band: Path, n: int, budget: int, verify) -> int:
        """Split a band's keys into partitions by their high bits (equal keys together),
        each small enough to sort within the budget, then verify each."""
        parts = min(_MAX_PARTITIONS, 1 << max(1, math.ceil(math.log2(n * _SORT_BYTES / budget))))
        shift = np.uint64(64 - int(math.log2(parts)))
        chunk = max(64, budget // _SORT_BYTES)
        names = [(band.with_suffix(f".k{p}"), band.with_suffix(f".p{p}")) for p in range(parts)]
        files = [(open(k, "wb"), open(q, "wb")) for k, q in names]
        try:
            for a in range(0, n, chunk):
                keys = np.fromfile(band, np.uint64, count=min(chunk, n - a), offset=8 * a)
                part = (keys >> shift).astype(np.int64)
                order = np.argsort(part, kind="stable")
                bounds = np.searchsorted(part[order], np.arange(parts + 1))
                pos = order.astype(np.int64) + a
                for p in range(parts):
                    s, e = bounds[p], bounds[p + 1]
                    if e > s:
                        keys[order[s:e]].tofile(files[p][0])
                        pos[s:e].tofile(files[p][1])
        finally:
            for kf, pf in files:
                kf.close()
                pf.close()
        for k, q in names:
            keys = np.fromfile(k, np.uint64)
            pos = np.fromfile(q, np.int64)
            order = np.argsort(keys, kind="stable")
            verify(keys[order], pos[order])
            k.unlink()
            q.unlink()
        return parts

    # -- the same stages as tasks over shards (`cooc.curate.sharded`) ---------------------

    def map_shard(self, batches: Iterable[DocumentBatch], folder: Path) -> int:
        """Map one shard: its documents' shingle sets, band keys and keep scores written to
        `folder` (shingles.u64, counts.i64, band-<j>.u64, scores.f64); returns the count."""
        folder.mkdir(parents=True, exist_ok=True)
        n = 0
        names = ["shingles.u64", "counts.i64", "scores.f64",
                 *(f"band-{j}.u64" for j in range(self.bands))]
        files = {name: open(folder / name, "wb") for name in names}
        try:
            for batch in batches:
                if len(batch) == 0:
                    continue
                shingles, offsets, keys = self._sketch_threads(batch.texts)
                shingles.tofile(files["shingles.u64"])
                np.diff(offsets).tofile(files["counts.i64"])
                self._scores(batch).astype(np.float64).tofile(files["scores.f64"])
                for j in range(self.bands):
                    keys[j].tofile(files[f"band-{j}.u64"])
                n += len(batch)
        finally:
            for f in files.values():
                f.close()
        return n

    def reduce_shards(self, folders: Sequence[Path], work: Path, engine: Any,
                      memory_bytes: int) -> Decisions:
        """Shuffle and reduce the mapped shards (in corpus order): one task per band
        verifies that band's candidates into a union-find of its own and returns the pairs
        it joined; their union gives the clusters `fit` gives (the connected components of
        the verified candidate pairs, whatever the order). Returns every document's
        decisions, by ordinal. memory_bytes: each task's budget."""
        t0 = time.perf_counter()
        counts = np.concatenate([np.fromfile(f / "counts.i64", np.int64) for f in folders]) \
            if folders else np.zeros(0, np.int64)
        n = counts.shape[0]
        offsets = np.zeros(n + 1, np.int64)
        np.cumsum(counts, out=offsets[1:])
        del counts
        np.save(work / "offsets.npy", offsets)
        concatenate_files([f / "shingles.u64" for f in folders], work / "shingles.u64")
        budget = max(1 << 10, memory_bytes // 4)
        calls = [(self, j, [str(f) for f in folders], str(work), budget)
                 for j in range(self.bands)]
        parent = np.arange(n, dtype=np.int64)
        stats = np.zeros(4, np.int64)
        for pairs_file, band_stats in engine.run(band_task, calls):
            pairs = np.load(pairs_file)
            km.union_pairs(parent, pairs[0], pairs[1])
            stats += np.asarray(band_stats, np.int64)
            os.unlink(pairs_file)
        self._add_stats(stats)
        score = np.concatenate([np.fromfile(f / "scores.f64", np.float64) for f in folders]) \
            if folders else np.zeros(0)
        if self.keep not in ("first", "longest"):  # the map tasks' counts stayed with them
            self.missing_scores = int(np.isneginf(score).sum())
        self.ordinals_ = np.arange(n, dtype=np.int64)
        self._clusters_from(parent, score)
        self._stats.update(reduce_seconds=round(time.perf_counter() - t0, 3))
        return self._decisions(np.arange(n, dtype=np.int64))

    # -- decisions ------------------------------------------------------------------------

    def decide(self, batch: DocumentBatch) -> Decisions:
        """Kept or removed (a near-duplicate of the cluster's kept document)."""
        if not self._fitted:
            raise CoocError("MinHashDedup.decide before fit: the runner must call fit first")
        n = len(batch)
        if n == 0:
            return Decisions.keep_all(0)
        ords = np.asarray(batch.ordinals, np.int64)
        pos = np.searchsorted(self.ordinals_, ords)
        if (pos >= self.ordinals_.shape[0]).any() or \
                (self.ordinals_[np.minimum(pos, self.ordinals_.shape[0] - 1)] != ords).any():
            raise CoocError("decide got a document fit never saw: give decide the batches "
                            "given to fit")
        return self._decisions(pos)

    def _decisions(self, pos: np.ndarray) -> Decisions:
        """The decisions of the fitted documents at positions `pos`."""
        root = self.parent_[pos]
        best = self.kept_[root]
        multi = self.multi_[root]
        removed = multi & (best != pos)
        d = Decisions.keep_all(pos.shape[0])
        d.keep = ~removed
        d.reason = np.where(removed, 1, KEPT).astype(np.uint8)
        d.duplicate_of = np.where(removed, self.ordinals_[best], -1).astype(np.int64)
        d.cluster = np.where(multi, self.ordinals_[root], NO_CLUSTER).astype(np.int64)
        return d

    def clusters(self) -> np.ndarray:
        """Every fitted document's cluster id (its cluster's smallest ordinal; -1: alone)."""
        if not self._fitted:
            raise CoocError("MinHashDedup.clusters before fit")
        return np.where(self.multi_[self.parent_], self.ordinals_[self.parent_], NO_CLUSTER)

    def report(self) -> dict[str, Any]:
        """Parameters, the S-curve, and what fit found."""
        fn = 1.0 - float(candidate_probability(self.threshold, self.bands, self.rows))
        return {
            "step": self.name, "threshold": self.threshold, "ngram": self.ngram,
            "permutations": self.permutations, "bands": self.bands, "rows": self.rows,
            "seed": self.seed, "keep": self.keep, "tokenizer": self.tokenizer,
            "s_curve": s_curve(self.bands, self.rows),
            "false_negative_rate_at_threshold": fn,
            **({"missing_scores": self.missing_scores} if self.keep not in ("first", "longest")
               else {}),
            **self._stats,
        }



def concatenate_files(parts: Sequence[Path], out: Path) -> None:
    """The files `parts` one after the other into `out`."""
    with open(out, "wb") as w:
        for p in parts:
            with open(p, "rb") as r:
                shutil.copyfileobj(r, w, 1 << 22)


def band_task(step: MinHashDedup, band: int, folders: list[str], work: str,
              budget: int) -> tuple[str, list[int]]:
    """One band of `MinHashDedup.reduce_shards` (an engine task): the shards' keys of the
    band joined into one file, its candidates verified; returns the file of the joined
    pairs (each document and its union-find parent, where they differ) and the stats."""
    w = Path(work)
    keys = w / f"band-{band}.u64"
    concatenate_files([Path(f) / f"band-{band}.u64" for f in folders], keys)
    offsets = np.load(w / "offsets.npy")
    parent = np.arange(offsets.shape[0] - 1, dtype=np.int64)
    stats = np.zeros(4, np.int64)
    step.reduce_band(keys, w / "shingles.u64", offsets, parent, stats, budget)
    keys.unlink()
    moved = np.flatnonzero(parent != np.arange(parent.shape[0]))
    out = w / f"pairs-{band}.npy"
    np.save(out, np.stack([moved, parent[moved]]))
    return str(out), stats.tolist()
