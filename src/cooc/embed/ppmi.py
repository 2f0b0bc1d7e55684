"""PPMI-SVD vectors from a co-occurrence index (Levy, Goldberg & Dagan 2015), streamed.

    from cooc.embed import PpmiSvdConfig, ppmi_svd, open_vectors
    ppmi_svd("corpus.cooc", "corpus.vec", PpmiSvdConfig(dim=100))
    open_vectors("corpus.vec").most_similar("king")

1. Tokens: those seen at least `min_count` times with at least one neighbour, the
   `max_vocab` most frequent of them (0: all), numbered by decreasing count (ties by id):
   those numbers are the vectors' rows, and the matrix is over them, as words and as
   contexts.
2. Counts: the index's rows are decoded range by range (`CoocIndex.iter_rows`) and the kept
   entries gathered by a kernel (`cooc.kernels.embed.gather_rows`) into one sparse matrix
   with the row sums #(w) as marginals. Counts of every count mode are symmetric sums
   (windows, occurrences, harmonic or other weights: scaled integers, whose scale cancels
   out below), so any index serves. Never a dense V x V matrix.
3. PPMI with context-distribution smoothing and an optional shift:

       PPMI(w, c) = max(0, log(#(w, c) * sum_x #(x)^alpha / (#(w) * #(c)^alpha)) - log shift)

   (alpha = 1, shift = 1: plain PPMI). The matrix is not symmetric when alpha < 1; both it
   and its transpose are held over the counts' symmetric pattern (`cooc.kernels.embed`),
   and entries that are 0 both ways are dropped. A token whose kept entries all vanish
   keeps a zero vector.
4. Truncated SVD by randomized block Krylov iteration (`cooc.embed.svd`: why not ARPACK,
   why not subspace iteration is said there): M ~ U S V^T;
   the vectors are U_dim S_dim^eig (eig = 0, 0.5 or 1; Levy et al. found 0 and 0.5 better
   than 1 for similarity).

Memory (`RunOptions.memory_bytes`, less what the process holds when the job starts): the
matrix takes 12 bytes per kept entry (an int32 context, a float32 value of M and one of M^T)
plus the row pointers; the SVD's subspace 8 bytes per token and vector (block_size *
(iterations + 1) vectors: the basis and its products) and a block in flight about 48 bytes
per token and vector. When the matrix does not fit beside the SVD, it is written to files in
a scratch folder (`RunOptions.tmp_dir`, default beside the output) and every pass reads them
a chunk at a time (positioned reads: the page cache holds what it can, outside the process's
memory); an SVD that alone overruns the budget is refused up front with the fix (a smaller
dim, a larger min_count or memory budget). The decoded index chunks get a tenth of the
budget. (The English shared corpus, 43,726 tokens at dim 100: 568 MB in memory; with a
450 MB budget, the matrix in files, 408 MB.)

The result does not depend on the number of threads or the chunk sizes (every output row
is summed by one thread in a fixed order); a seed fixes the SVD's random projection.
"""

from __future__ import annotations

import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cooc.cooccur.reader import CoocIndex, open_index
from cooc.embed.config import PpmiSvdConfig
from cooc.embed.format import MAGIC
from cooc.embed.svd import RowBlocks, block_krylov_svd
from cooc.embed.vectors import write_vectors
from cooc.errors import CoocError
from cooc.formats.artefact import check_replaceable
from cooc.formats.lock import writes_target
from cooc.kernels import embed as ke
from cooc.options import RunOptions
from cooc.runtime.blas import blas_threads
from cooc.runtime.malloc import bound_allocator, trim
from cooc.runtime.progress import fmt_bytes, log, peak_rss_bytes, rss_bytes
from cooc.runtime.ranges import bounded_ranges, even_ranges
from cooc.runtime.scratch import scratch_dir

_BYTES_PER_ENTRY = 12  # int32 context, float32 M, float32 M^T
_BYTES_PER_CELL = 8  # the SVD's subspace and its products (float32), per token and vector
_BYTES_PER_BLOCK_CELL = 48  # a block in flight: products, float64 copies, per token and vector
_DECODE_BYTES_PER_ENTRY = 24  # a decoded index chunk (ids, counts, ranks, pointers)
_MIN_CHUNK, _MAX_CHUNK = 1 << 14, 1 << 23
_REMAP_STEP = 1 << 22


_SPILL_FILES = {"cols": np.int32, "val": np.float32, "val_t": np.float32}
_GATHERED = {"cols": np.int32, "counts": np.uint32}  # pass 1's files, "gathered-<name>.bin"


@dataclass
class PpmiMatrix:
    """The PPMI matrix M of the kept tokens over the counts' pattern (layout:
    `cooc.kernels.embed`): storage row s is vector row `rows[s]`; its entries
    `indptr[s]:indptr[s + 1]` hold contexts `cols`, M's values `val` and M^T's `val_t`.
    `token_ids[i]`, `counts[i]`, `row_sums[i]`: vector row i's index id, corpus count and
    marginal #(w).

    In memory, `cols`, `val` and `val_t` are arrays (`nnz` of them used); spilled, they are
    files `cols.bin`, `val.bin`, `val_t.bin` in `folder`, read `chunk_entries` at a time
    with positioned reads (not maps: mapped pages would count toward the process's
    memory for as long as the map lives)."""

    indptr: np.ndarray
    rows: np.ndarray
    token_ids: np.ndarray
    counts: np.ndarray
    row_sums: np.ndarray
    cols: np.ndarray | None = None
    val: np.ndarray | None = None
    val_t: np.ndarray | None = None
    folder: Path | None = None
    chunk_entries: int = _MAX_CHUNK

    @property
    def spilled(self) -> bool:
        return self.folder is not None

    @property
    def size(self) -> int:
        """Tokens (rows and columns)."""
        return len(self.token_ids)

    @property
    def nnz(self) -> int:
        return int(self.indptr[-1])

    def chunks(self, names: tuple[str, ...], prefix: str = ""):
        """(first storage row, indptr of the chunk's rows from 0, the named arrays of its
        entries) over all storage rows: one chunk in memory, `chunk_entries` at a time
        spilled (from the files `<prefix><name>.bin`)."""
        if self.folder is None:
            yield 0, self.indptr, *[getattr(self, n)[: self.nnz] for n in names]
            return
        for s0, s1 in bounded_ranges(self.indptr, self.chunk_entries):
            a, b = int(self.indptr[s0]), int(self.indptr[s1])
            arrays = []
            for name in names:
                dt = np.dtype((_GATHERED if prefix else _SPILL_FILES)[name])
                with open(self.folder / f"{prefix}{name}.bin", "rb") as f:
                    f.seek(a * dt.itemsize)
                    arrays.append(np.fromfile(f, dt, b - a))
            yield s0, self.indptr[s0 : s1 + 1] - a, *arrays

    def _dense(self, name: str) -> np.ndarray:
        m = np.zeros((self.size, self.size))
        for s0, ptr, cols, vals in self.chunks(("cols", name)):
            s = np.repeat(np.arange(len(ptr) - 1), np.diff(ptr))
            m[self.rows[s0 + s], cols] = vals
        return m

    def to_dense(self) -> np.ndarray:
        """M as a dense float64 array (small matrices: tests)."""
        return self._dense("val")

    def to_dense_transpose(self) -> np.ndarray:
        """M^T as held in `val_t`, dense (tests: equals `to_dense().T`)."""
        return self._dense("val_t")

    def product(self, x: np.ndarray, transpose: bool = False,
                pool: ThreadPoolExecutor | None = None, threads: int = 1) -> np.ndarray:
        """M @ x (or M^T @ x) for x float32 [size, l], on `threads` threads of `pool`."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        out = np.zeros((self.size, x.shape[1]), np.float32)
        for s0, ptr, cols, vals in self.chunks(("cols", "val_t" if transpose else "val")):
            args = (ptr, cols, vals, self.rows[s0 : s0 + len(ptr) - 1], x, out)
            ranges = even_ranges(ptr, threads) if threads > 1 else [(0, len(ptr) - 1)]
            if pool is None or len(ranges) == 1:
                for lo, hi in ranges:
                    ke.csr_times_dense(*args, lo, hi)
            else:
                list(pool.map(lambda r, args=args: ke.csr_times_dense(*args, *r), ranges))
        return out


@dataclass
class PpmiSvdResult:
    path: Path
    vocab_size: int
    dim: int
    entries: int  # kept entries of the PPMI matrix (non-zero in M or M^T)
    spilled: bool  # the matrix was held in files in a scratch folder
    timings: dict[str, float] = field(default_factory=dict)
    peak_rss: int = 0


def kept_tokens(index: CoocIndex, config: PpmiSvdConfig) -> np.ndarray:
    """Index ids of the tokens to embed, most frequent first (ties by id): seen at least
    min_count times, with a neighbour, at most max_vocab of them."""
    occ = np.asarray(index.occurrences, np.uint64)
    cand = np.flatnonzero((occ >= config.min_count) & (index.degree() > 0))
    order = cand[np.lexsort((cand, -occ[cand].astype(np.float64)))]
    if config.max_vocab:
        order = order[: config.max_vocab]
    return order


def _nothing(index: CoocIndex, config: PpmiSvdConfig) -> CoocError:
    return CoocError(f"{index.path}: no token is seen {config.min_count}+ times with a kept "
                     "neighbour: nothing to embed (an empty index, or lower min_count)")


def _too_few(index: CoocIndex, config: PpmiSvdConfig, n: int) -> CoocError:
    return CoocError(f"dim={config.dim} must be below the number of tokens kept from "
                     f"{index.path} ({n:,}); lower dim or min_count")


def _threaded(fn, ptr: np.ndarray, threads: int) -> None:
    """fn(lo, hi) over row ranges of `ptr` of similar entry counts, on `threads` threads."""
    ranges = even_ranges(ptr, threads)
    if len(ranges) > 1:
        with ThreadPoolExecutor(len(ranges)) as pool:
            list(pool.map(lambda r: fn(*r), ranges))
    else:
        fn(0, len(ptr) - 1)


def ppmi_matrix(index: CoocIndex, config: PpmiSvdConfig, options: RunOptions | None = None,
                chunk_entries: int | None = None, spill_to: Path | None = None) -> PpmiMatrix:
    """The PPMI matrix of `index`'s kept tokens (see the module), gathered from row ranges
    of about `chunk_entries` entries (default: from the memory budget); held in files in
    the folder `spill_to` when given (`PpmiMatrix`)."""
    options = options or RunOptions()
    threads = options.resolved_num_proc()
    tokens = kept_tokens(index, config)
    n = len(tokens)
    if n == 0:
        raise _nothing(index, config)
    new_id = np.full(index.vocab_size, -1, np.int32)
    new_id[tokens] = np.arange(n, dtype=np.int32)
    if chunk_entries is None:
        chunk_entries = options.resolved_memory() // 10 // _DECODE_BYTES_PER_ENTRY
        chunk_entries = int(min(max(chunk_entries, _MIN_CHUNK), _MAX_CHUNK))
    indptr = np.zeros(n + 1, np.int64)
    rows = np.empty(n, np.int32)
    row_sums = np.zeros(n, np.uint64)
    spill = Path(spill_to) if spill_to is not None else None
    if spill is None:  # one array each, the counts in val_t's memory until replaced
        bound = int(index.degree(tokens).sum())
        cols = np.empty(bound, np.int32)
        val = np.empty(bound, np.float32)
        val_t = np.empty(bound, np.float32)
        counts = val_t.view(np.uint32)
    else:
        raw = {name: open(spill / f"gathered-{name}.bin", "wb") for name in ("cols", "counts")}
    # pass 1: the kept entries of the index's rows, and the row sums
    entry = row = 0
    first, last = int(tokens.min()), int(tokens.max()) + 1
    try:
        for lo, ptr, c, k in index.iter_rows(first, last, chunk_entries):
            if spill is None:
                out_c, out_k = cols[entry:], counts[entry:]
            else:
                out_c, out_k = np.empty(len(c), np.int32), np.empty(len(c), np.uint32)
            got, got_rows = ke.gather_rows(ptr, c, k, lo, new_id, indptr[row:], out_c, out_k,
                                           rows[row:], row_sums, 0, 0)
            indptr[row + 1 : row + got_rows + 1] += entry
            if spill is not None:
                raw["cols"].write(memoryview(out_c[:got]).cast("B"))
                raw["counts"].write(memoryview(out_k[:got]).cast("B"))
            entry += got
            row += got_rows
    finally:
        if spill is not None:
            for f in raw.values():
                f.close()
    if row != n:  # every kept token's row lies in [first, last)
        raise RuntimeError(f"gathered {row} rows of {n} kept tokens")
    empty = row_sums == 0
    remap = None
    if empty.any():  # every neighbour dropped: no row, no column (the counts are symmetric)
        remap = (np.cumsum(~empty) - 1).astype(np.int32)
        tokens, row_sums = tokens[~empty], row_sums[~empty]
        if len(tokens) == 0:
            raise _nothing(index, config)
    # pass 2: PPMI values of M and M^T, entries 0 both ways dropped
    log_rows = np.log(row_sums.astype(np.float64))
    log_contexts = config.alpha * log_rows
    top = log_contexts.max()
    log_norm = float(np.log(np.exp(log_contexts - top).sum()) + top)
    log_shift = float(np.log(config.shift))
    storage_rows = rows if remap is None else remap[rows]  # -1: an empty row

    def values(ptr, c, k, r, v, vt) -> int:
        if remap is not None:
            for lo in range(0, len(c), _REMAP_STEP):
                c[lo : lo + _REMAP_STEP] = remap[c[lo : lo + _REMAP_STEP]]
        rr = np.maximum(r, 0)  # (empty rows have no entries)
        _threaded(lambda lo, hi: ke.ppmi_values(ptr, c, rr, k, log_rows, log_contexts,
                                                log_norm, log_shift, v, vt, lo, hi),
                  ptr, threads)
        return int(ke.drop_zeros(ptr, c, v, vt))

    if spill is None:
        values(indptr, cols[:entry], counts[:entry], storage_rows, val, val_t)
    else:
        out = {name: open(spill / f"{name}.bin", "wb") for name in _SPILL_FILES}
        gathered = PpmiMatrix(indptr, storage_rows, tokens, row_sums, row_sums,
                              folder=spill, chunk_entries=chunk_entries)
        new_ptr = np.zeros_like(indptr)
        done = 0
        try:
            for s0, ptr, c, k in gathered.chunks(("cols", "counts"), "gathered-"):
                ptr = ptr.copy()
                v, vt = np.empty(len(c), np.float32), np.empty(len(c), np.float32)
                kept = values(ptr, c, k, storage_rows[s0 : s0 + len(ptr) - 1], v, vt)
                for name, a in (("cols", c), ("val", v), ("val_t", vt)):
                    out[name].write(memoryview(a[:kept]).cast("B"))
                new_ptr[s0 + 1 : s0 + len(ptr)] = done + ptr[1:]
                done += kept
        finally:
            for f in out.values():
                f.close()
        for name in ("cols", "counts"):
            (spill / f"gathered-{name}.bin").unlink()
        indptr = new_ptr
    keep = storage_rows >= 0
    if not keep.all():
        indptr = np.concatenate([[0], indptr[1:][keep]])
    occ = np.asarray(index.occurrences, np.uint64)[tokens]
    m = PpmiMatrix(indptr, storage_rows[keep], tokens.astype(np.int64), occ, row_sums,
                   folder=spill, chunk_entries=chunk_entries)
    if spill is None:
        m.cols, m.val, m.val_t = cols, val, val_t
    return m


def index_source(index: CoocIndex) -> dict:
    """Where vectors made from `index` came from, for their config: the index (path and
    manifest checksum), its tokenizer, window (count mode included), count scale and corpus
    size."""
    m = index.manifest
    meta = m.get("meta", {})
    return {"index": str(Path(index.path).resolve()), "index_sha256": m.get("manifest_sha256"),
            "tokenizer": meta.get("tokenizer", {}).get("spec"),
            "window": meta.get("config", {}).get("window"),
            "count_scale": index.count_scale,
            "corpus_tokens": meta.get("corpus", {}).get("tokens")}


def _svd(m: PpmiMatrix, config: PpmiSvdConfig, threads: int,
         quiet: bool) -> tuple[np.ndarray, np.ndarray]:
    t0 = time.perf_counter()
    passes = [0]

    def on_pass() -> None:
        passes[0] += 1
        log.info("ppmi-svd: SVD pass %d of at most %d, %.1f s, memory %s", passes[0],
                 2 * config.iterations + 2, time.perf_counter() - t0, fmt_bytes(rss_bytes()))

    with ThreadPoolExecutor(threads) as pool, blas_threads(1):
        return block_krylov_svd(lambda x: m.product(x, False, pool, threads),
                                lambda x: m.product(x, True, pool, threads),
                                m.size, config.dim, config.block, config.iterations,
                                config.seed, None if quiet else on_pass, RowBlocks(pool))


@writes_target("out", "cooc embed ppmi-svd")
def ppmi_svd(index: str | os.PathLike | CoocIndex, out: str | os.PathLike,
             config: PpmiSvdConfig | None = None,
             options: RunOptions | None = None) -> PpmiSvdResult:
    """PPMI-SVD vectors of an index's tokens, written as a vectors artefact at `out` (see the
    module); returns what was made and the time each stage took."""
    config = config or PpmiSvdConfig()
    options = options or RunOptions()
    out = Path(out)
    t_start = time.perf_counter()
    timings: dict[str, float] = {}
    check_replaceable(out, MAGIC, "cooc vectors")  # before the work, not after it
    bound_allocator()  # freed decode chunks and blocks go back to the system
    index = index if isinstance(index, CoocIndex) else open_index(index)
    threads = options.resolved_num_proc()
    budget = options.resolved_memory()
    tokens = kept_tokens(index, config)
    n = len(tokens)
    if n and config.dim >= n:
        raise _too_few(index, config, n)
    width = min(n, config.block * (config.iterations + 1))
    dense = n * (width * _BYTES_PER_CELL + config.block * _BYTES_PER_BLOCK_CELL)
    # what the process holds already (interpreter, numpy, numba, the kernels) is not the
    # job's to spend
    avail = budget - rss_bytes()
    if dense > avail * 0.8:
        raise CoocError(f"the SVD of {n:,} tokens at dim={config.dim} (a subspace of {width} "
                        f"vectors) needs about {fmt_bytes(dense)}, more than the memory "
                        f"budget of {fmt_bytes(budget)} leaves ({fmt_bytes(max(avail, 0))} "
                        "beside the interpreter): lower dim, raise min_count, set max_vocab "
                        "or give more memory")
    bound = int(index.degree(tokens).sum()) if n else 0
    spill = dense + bound * _BYTES_PER_ENTRY + avail // 10 > avail
    scratch = scratch_dir(options.resolved_tmp_dir(out), "embed") if spill else None
    try:
        if spill:
            log.info("ppmi-svd: the matrix (up to %s) does not fit beside the SVD's blocks "
                     "in %s: it goes to files in %s", fmt_bytes(bound * _BYTES_PER_ENTRY),
                     fmt_bytes(budget), scratch)
        t0 = time.perf_counter()
        m = ppmi_matrix(index, config, options, spill_to=scratch)
        timings["ppmi"] = time.perf_counter() - t0
        trim()
        if config.dim >= m.size:
            raise _too_few(index, config, m.size)
        log.info("ppmi-svd: %s tokens, %s entries of PPMI in %.1f s, memory %s", f"{m.size:,}",
                 f"{m.nnz:,}", timings["ppmi"], fmt_bytes(rss_bytes()))
        t0 = time.perf_counter()
        u, s = _svd(m, config, threads, options.quiet)
        timings["svd"] = time.perf_counter() - t0
        u *= s ** config.eig
        vectors = u.astype(np.float32)
        entries, spilled = m.nnz, m.spilled
        token_ids, counts = m.token_ids, m.counts
        del m, u
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    t0 = time.perf_counter()
    texts = list(index.token_texts)
    cfg = {"method": "ppmi-svd", **config.to_dict(), "source": index_source(index),
           "matrix": {"tokens": int(len(token_ids)), "entries": int(entries)},
           "singular_values": [float(x) for x in s]}
    write_vectors(out, vectors, [texts[t] for t in token_ids.tolist()], token_ids, counts, cfg)
    timings["write"] = time.perf_counter() - t0
    timings["total"] = time.perf_counter() - t_start
    return PpmiSvdResult(out, len(token_ids), config.dim, int(entries), spilled, timings,
                         peak_rss_bytes())
