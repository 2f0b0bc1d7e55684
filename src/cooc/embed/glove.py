"""GloVe vectors trained directly from a co-occurrence index (Pennington et al. 2014).

    from cooc.embed import train_glove
    train_glove("corpus.cooc", "corpus.vec", dim=100, iterations=15)

The objective and its optimisation are Stanford GloVe's glove.c (`cooc.kernels.glove`):
for every nonzero X_ij (the index's counts divided by its `count_scale`), weight
f = min(1, (X_ij / x_max)^alpha), loss f (w_i . w~_j + b_i + b~_j - log X_ij)^2, AdaGrad
from the learning rate `eta` (the vectors'; the biases' steps have none, as in glove.c
since 2020) with squared-gradient sums starting at 1, gradient components clipped at 100,
vectors and biases initialised uniform in [-0.5, 0.5] / dim, and the result w + w~ (glove.c's `-model 2`).
The index is symmetric (row i holds j and row j holds i), as glove.c's `cooccur` output
is; an index built with `--count-mode harmonic --radius 10 --context-length 0
--include-self` holds exactly `cooccur`'s counts (its default symmetric window of 10;
`bench/bench_glove.py` checks the parity). Timings against glove.c: `bench/embed_glove.py`.

1. Tokens: as ppmi-svd (`cooc.embed.ppmi.kept_tokens`): seen `min_count`+ times with a
   neighbour, the `max_vocab` most frequent (0: all), most frequent first.
2. Entries: the index's rows are decoded range by range and the kept entries gathered into
   three arrays (row uint32, column uint32, x float32: 12 bytes an entry), shuffled once
   (seeded). When they do not fit the memory budget beside the four matrices, they go to
   files in a scratch folder (`RunOptions.tmp_dir`) read `CHUNK_ENTRIES` at a time.
3. Each iteration visits the chunks in a seeded random order, each chunk's entries in
   their shuffled order (the same every iteration, as glove.c reads its shuffled file), on
   `num_proc` threads updating the same matrices (Hogwild, the kernel releases the GIL).
   The cost reported per iteration is glove.c's: the mean of 0.5 f diff^2 over the
   entries. With one thread and a seed the result is bit-reproducible. (Spilled entries
   are shuffled once within their chunk, and by chunk order every iteration, a chunk
   holding a band of consecutive rows.)
"""

from __future__ import annotations

import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from cooc.cooccur.reader import CoocIndex, open_index
from cooc.embed.format import MAGIC
from cooc.embed.ppmi import index_source, kept_tokens
from cooc.embed.vectors import write_vectors
from cooc.errors import CoocError
from cooc.formats.artefact import check_replaceable
from cooc.formats.lock import writes_target
from cooc.kernels import glove as kg
from cooc.options import RunOptions
from cooc.runtime.progress import Progress, fmt_bytes, log, peak_rss_bytes, rss_bytes
from cooc.runtime.scratch import scratch_dir

CHUNK_ENTRIES = 1 << 20  # entries per kernel call
_DECODE_ENTRIES = 1 << 22  # index entries decoded at a time
_BYTES_PER_ENTRY = 12
GRAD_CLIP = 100.0  # glove.c's grad_clip_value
FORCE_SPILL = False  # tests: the entries go to scratch files whatever the budget
_FILES = {"rows": np.uint32, "cols": np.uint32, "x": np.float32}


@dataclass
class GloveResult:
    path: Path
    vocab_size: int
    dim: int
    entries: int
    spilled: bool
    costs: list[float] = field(default_factory=list)
    iteration_seconds: list[float] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    peak_rss: int = 0


def check_glove_args(dim, iterations, x_max, alpha, eta, min_count, max_vocab, seed) -> None:
    def num(v) -> bool:
        return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)

    def whole(v) -> bool:
        return isinstance(v, (int, np.integer)) and not isinstance(v, bool)

    if not whole(dim) or dim < 1:
        raise CoocError(f"dim must be an int >= 1 (the vectors' size, e.g. 100), got {dim!r}")
    if not whole(iterations) or iterations < 1:
        raise CoocError(f"iterations must be an int >= 1 (passes over the entries, e.g. 15), "
                        f"got {iterations!r}")
    if not num(x_max) or not x_max > 0 or not np.isfinite(x_max):
        raise CoocError(f"x_max must be a number > 0 (the weight's cutoff, e.g. 100), "
                        f"got {x_max!r}")
    if not num(alpha) or not alpha >= 0 or not np.isfinite(alpha):
        raise CoocError(f"alpha must be a number >= 0 (the weight's exponent, e.g. 0.75), "
                        f"got {alpha!r}")
    if not num(eta) or not eta > 0 or not np.isfinite(eta):
        raise CoocError(f"eta must be a number > 0 (the initial learning rate, e.g. 0.05), "
                        f"got {eta!r}")
    if not whole(min_count) or min_count < 1:
        raise CoocError(f"min_count must be an int >= 1, got {min_count!r}")
    if not whole(max_vocab) or max_vocab < 0:
        raise CoocError(f"max_vocab must be an int >= 0 (0: all), got {max_vocab!r}")
    if not whole(seed) or seed < 0:
        raise CoocError(f"seed must be an int >= 0, got {seed!r}")


class _Entries:
    """The kept entries: three arrays in memory, or three files in `folder`."""

    def __init__(self, folder: Path | None):
        self.folder = folder
        self.n = 0
        self.parts: dict[str, list[np.ndarray]] = {k: [] for k in _FILES}
        self.files = ({k: open(folder / f"{k}.bin", "wb") for k in _FILES}
                      if folder is not None else None)

    def add(self, **arrays: np.ndarray) -> None:
        for k, a in arrays.items():
            if self.files is not None:
                self.files[k].write(memoryview(np.ascontiguousarray(a)).cast("B"))
            else:
                self.parts[k].append(a)
        self.n += len(arrays["x"])

    def finish(self, rng: np.random.Generator) -> None:
        if self.files is not None:
            for f in self.files.values():
                f.close()
            self.files = None
            for c in range(self.chunks):  # each chunk shuffled once, in place
                perm = rng.permutation(min(CHUNK_ENTRIES, self.n - c * CHUNK_ENTRIES))
                for k, part in zip(_FILES, self.chunk(c), strict=True):
                    with open(self.folder / f"{k}.bin", "r+b") as f:
                        f.seek(c * CHUNK_ENTRIES * part.itemsize)
                        f.write(memoryview(part[perm]).cast("B"))
            return
        self.arrays = {k: (np.concatenate(v) if v else np.empty(0, _FILES[k])).astype(
            _FILES[k], copy=False) for k, v in self.parts.items()}
        self.parts = {}
        perm = rng.permutation(self.n)  # one global shuffle: chunks then mix all rows
        for k in _FILES:
            self.arrays[k] = self.arrays[k][perm]

    def chunk(self, c: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        a, b = c * CHUNK_ENTRIES, min((c + 1) * CHUNK_ENTRIES, self.n)
        if self.folder is None:
            return tuple(self.arrays[k][a:b] for k in _FILES)
        out = []
        for k, dt in _FILES.items():
            with open(self.folder / f"{k}.bin", "rb") as f:
                f.seek(a * np.dtype(dt).itemsize)
                out.append(np.fromfile(f, dt, b - a))
        return tuple(out)

    @property
    def chunks(self) -> int:
        return -(-self.n // CHUNK_ENTRIES)


def _gather(index: CoocIndex, tokens: np.ndarray, entries: _Entries) -> None:
    new_id = np.full(index.vocab_size, -1, np.int64)
    new_id[tokens] = np.arange(len(tokens))
    scale = np.float64(index.count_scale)
    first, last = int(tokens.min()), int(tokens.max()) + 1
    for lo, ptr, cols, counts in index.iter_rows(first, last, _DECODE_ENTRIES):
        rows = new_id[np.repeat(np.arange(lo, lo + len(ptr) - 1), np.diff(ptr))]
        cs = new_id[cols]
        keep = (rows >= 0) & (cs >= 0) & (counts > 0)
        entries.add(rows=rows[keep].astype(np.uint32), cols=cs[keep].astype(np.uint32),
                    x=(counts[keep] / scale).astype(np.float32))


@writes_target("out", "cooc embed glove")
def train_glove(index: str | os.PathLike | CoocIndex, out: str | os.PathLike, *,
                dim: int = 100, iterations: int = 15, x_max: float = 100.0,
                alpha: float = 0.75, eta: float = 0.05, min_count: int = 1,
                max_vocab: int = 0, seed: int = 1,
                options: RunOptions | None = None) -> GloveResult:
    """Train GloVe vectors on an index's counts and write them as a vectors artefact at `out`
    (see the module); returns what was made, the cost of every iteration and the timings."""
    check_glove_args(dim, iterations, x_max, alpha, eta, min_count, max_vocab, seed)
    options = options or RunOptions()
    out = Path(out)
    t_start = time.perf_counter()
    timings: dict[str, float] = {}
    check_replaceable(out, MAGIC, "cooc vectors")
    index = index if isinstance(index, CoocIndex) else open_index(index)
    threads = options.resolved_num_proc()
    budget = options.resolved_memory()
    tokens = kept_tokens(index, SimpleNamespace(min_count=min_count, max_vocab=max_vocab))
    n = len(tokens)
    if n == 0:
        raise CoocError(f"{index.path}: no token is seen {min_count}+ times with a kept "
                        "neighbour: nothing to embed (an empty index, or lower min_count)")
    matrices = 4 * n * (dim + 1) * 4
    avail = budget - rss_bytes()
    if matrices > avail * 0.8:
        raise CoocError(f"GloVe's four matrices of {n:,} tokens x {dim + 1} need "
                        f"{fmt_bytes(matrices)}, more than the memory budget of "
                        f"{fmt_bytes(budget)} leaves; lower dim, raise min_count, set "
                        "max_vocab or give more memory")
    bound = int(index.degree(tokens).sum())
    # gathering holds the parts and their concatenation, then the shuffled copy
    spill = FORCE_SPILL or matrices + 3 * bound * _BYTES_PER_ENTRY + _DECODE_ENTRIES * 40 > avail
    scratch = scratch_dir(options.resolved_tmp_dir(out), "embed") if spill else None
    rng = np.random.default_rng(seed)
    try:
        if spill:
            log.info("glove: the entries (up to %s) do not fit beside the matrices in %s: "
                     "they go to files in %s", fmt_bytes(bound * _BYTES_PER_ENTRY),
                     fmt_bytes(budget), scratch)
        t0 = time.perf_counter()
        entries = _Entries(scratch)
        try:
            _gather(index, tokens, entries)
        finally:
            entries.finish(rng)
        timings["gather"] = time.perf_counter() - t0
        if entries.n == 0:
            raise CoocError(f"{index.path}: no nonzero co-occurrence among the kept tokens: "
                            "nothing to train on")
        log.info("glove: %s tokens, %s entries in %.1f s, memory %s", f"{n:,}",
                 f"{entries.n:,}", timings["gather"], fmt_bytes(rss_bytes()))
        init = np.float32(0.5)
        W = (rng.random((n, dim + 1), dtype=np.float32) - init) / np.float32(dim)
        C = (rng.random((n, dim + 1), dtype=np.float32) - init) / np.float32(dim)
        GW = np.ones((n, dim + 1), np.float32)
        GC = np.ones((n, dim + 1), np.float32)
        costs, seconds = _train(entries, W, C, GW, GC, iterations, float(x_max), float(alpha),
                       float(eta), rng, threads, options.quiet)
        timings["train"] = time.perf_counter() - t0 - timings["gather"]
        vectors = W[:, :dim] + C[:, :dim]
        if not np.isfinite(vectors).all():  # the kernel skips such entries: never expected
            raise CoocError("glove: training diverged (vectors not finite); nothing was "
                            "written: lower eta or x_max")
        spilled, count = entries.folder is not None, entries.n
        del entries, W, C, GW, GC
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    t0 = time.perf_counter()
    texts = list(index.token_texts)
    occ = np.asarray(index.occurrences, np.uint64)[tokens]
    cfg = {"method": "glove", "dim": int(dim), "iterations": int(iterations),
           "x_max": float(x_max), "alpha": float(alpha), "eta": float(eta),
           "min_count": int(min_count), "max_vocab": int(max_vocab), "seed": int(seed),
           "model": "word+context", "chunk_entries": CHUNK_ENTRIES,
           "source": index_source(index),
           "matrix": {"tokens": n, "entries": int(count)}, "costs": costs}
    write_vectors(out, vectors, [texts[t] for t in tokens.tolist()], tokens.astype(np.int64),
                  occ, cfg)
    timings["write"] = time.perf_counter() - t0
    timings["total"] = time.perf_counter() - t_start
    return GloveResult(out, n, dim, int(count), spilled, costs, seconds, timings,
                       peak_rss_bytes())


def _train(entries: _Entries, W, C, GW, GC, iterations: int, x_max: float, alpha: float,
           eta: float, rng: np.random.Generator, threads: int,
           quiet: bool) -> tuple[list[float], list[float]]:
    costs: list[float] = []
    seconds: list[float] = []
    progress = Progress("glove", total=entries.n * iterations, unit="entry", quiet=quiet)

    def run(c: int) -> float:
        rows, cols, xs = entries.chunk(c)
        return kg.train_chunk(rows, cols, xs, W, C, GW, GC, x_max, alpha, eta, GRAD_CLIP)

    try:
        with ThreadPoolExecutor(threads) as pool:
            for it in range(iterations):
                t0 = time.perf_counter()
                chunk_order = rng.permutation(entries.chunks).tolist()
                if threads == 1:
                    parts = [run(c) for c in chunk_order]
                else:
                    parts = list(pool.map(run, chunk_order))
                cost = float(np.sum(parts)) / entries.n
                costs.append(cost)
                seconds.append(time.perf_counter() - t0)
                progress.update(entries.n, cost=f"{cost:.6f}")
                log.info("glove: iteration %d of %d, cost %.6f, %.1f s", it + 1, iterations,
                         cost, seconds[-1])
    finally:
        progress.close()
    return costs, seconds
