"""A build cut into independent tasks over shared storage: map, reduce, encode.

    map    (one per token-store shard)  count the shard's windows -> one sorted run + statistics
    reduce (one per token-row range)    sum that row range of every map's run -> a partition run
                                        and its rows' degrees
    encode (one per token-row range)    the partition's rows in final form (columns as degree
                                        ranks, which needs every degree) -> part files

A run is readable by row range (`runs.RunFile.read_rows`), so the shuffle is each reduce task
reading its rows from every map output: the map side writes one file set, not one per
partition. The driver (`pipeline.distributed`) appends the encoded parts in order; rows start
on a word, so the bytes equal a one-machine build's. Task functions are plain functions of
picklable arguments: any engine (in-process, Ray) runs them, and the tests call them directly.

Concat packing cuts the packed stream (documents joined by end-of-text tokens) every L tokens
from its start. Map task i counts the windows that start in its shard, [A_i, A_i+1) with
A_i = L * ceil(S_i / L) (S_i: the shard's first stream position), reading past its shard's
end into the next shards to finish its last window.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cooc.cooccur.build.accumulate import sum_rows
from cooc.cooccur.build.count import BatchStats
from cooc.cooccur.build.counter import measure_data_budget, new_counter, writer_chunk_entries
from cooc.cooccur.build.csr import Csr
from cooc.cooccur.build.runs import RunWriter, open_run
from cooc.cooccur.build.windowing import WindowCutter, concat_stream
from cooc.cooccur.config import WindowConfig
from cooc.cooccur.writer import EncodedRows, encode_final_rows
from cooc.formats.manifest import HashedFile
from cooc.runtime.ranges import bounded_ranges
from cooc.store.sources import drop_rare

# tokens read from a store at a time by a map task, per MB of its data budget
_READ_TOKENS_PER_MB = 1 << 14


@dataclass(frozen=True)
class Plan:
    """What every task needs to know of the job (sent to each task)."""

    store: str  # token store path, on storage every worker sees
    vocab_size: int
    window: WindowConfig
    eot_id: int | None
    remap: np.ndarray | None  # stored ids -> canonical ids (vocabularies grown from the corpus)
    keep: np.ndarray | None  # tokens kept by --min-count (canonical ids), None: all
    memory_bytes: int  # per task
    num_threads: int  # per task
    work_dir: str  # shared folder for map runs, partitions and parts


@dataclass
class MapOutput:
    shard: int
    run: str
    stats: BatchStats
    seconds: float


@dataclass
class ReduceOutput:
    lo: int
    hi: int
    run: str
    degrees: np.ndarray  # int64[hi - lo]
    saturated: int  # counts that reached 2**32-1


@dataclass
class EncodeOutput:
    """An encoded row range; its words and skip entries are in files (see `load_part`)."""

    lo: int
    row_ptr: np.ndarray
    row_word: np.ndarray
    bits: np.ndarray
    diagonal: int
    h_row: np.ndarray
    h_col: np.ndarray
    words_file: str
    skip_file: str


def map_name(shard: int) -> str:
    return f"map-{shard:06d}"


# -- map ------------------------------------------------------------------------------------

def concat_spans(shards: list[dict], context_length: int) -> list[tuple[int, int]]:
    """Per shard, the packed-stream range [A_i, A_i+1) of the windows starting in it."""
    L = context_length
    lens = np.array([s["tokens"] + s["documents"] for s in shards], np.int64)
    starts = np.concatenate([[0], np.cumsum(lens)])
    total = int(starts[-1])
    a = [min(-(-int(s) // L) * L, total) for s in starts[:-1]] + [total]
    return [(a[i], a[i + 1]) for i in range(len(shards))]


def _stream_pieces(store, shards: list[dict], first: int, lo: int, hi: int, remap,
                   eot_id: int, max_tokens: int):
    """Pieces of the packed stream [lo, hi), reading shards from `first` on."""
    pos = sum(s["tokens"] + s["documents"] for s in shards[:first])
    for j in range(first, len(shards)):
        if pos >= hi:
            return
        for tokens, lens in store.iter_batches(max_tokens, [j]):
            n = len(tokens) + len(lens)
            if pos + n > lo:
                if remap is not None:
                    tokens = remap[tokens].astype(np.uint32)
                ptr = np.concatenate([[0], np.cumsum(lens)])
                piece = concat_stream(tokens, ptr, eot_id)
                yield piece[max(0, lo - pos) : max(0, hi - pos)]
            pos += n
            if pos >= hi:
                return


def map_shard(plan: Plan, shard: int) -> MapOutput:
    """Count the windows of one shard into one run `work_dir/map-N` (+ its statistics)."""
    from cooc.store import open_store

    t0 = time.perf_counter()
    work = Path(plan.work_dir)
    out = work / map_name(shard)
    tmp = work / f"{map_name(shard)}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    store = open_store(plan.store)
    budget = measure_data_budget(plan.memory_bytes, plan.vocab_size)
    max_tokens = max(1 << 16, (budget >> 20) * _READ_TOKENS_PER_MB)
    win = plan.window
    cutter = WindowCutter(win.context_length, win.packing, plan.eot_id, win.stride)
    timings: dict[str, float] = {}
    try:
        with ThreadPoolExecutor(plan.num_threads) as pool:
            counter = new_counter(plan.vocab_size, budget, tmp, plan.window, pool,
                                  plan.num_threads, timings)
            if win.packing == "document":
                for tokens, lens in store.iter_batches(max_tokens, [shard]):
                    if plan.remap is not None:
                        tokens = plan.remap[tokens].astype(np.uint32)
                    if plan.keep is not None:
                        tokens, lens = drop_rare(tokens, lens, plan.keep)
                    counter.add(*cutter.cut(tokens, lens))
            else:
                lo, hi = concat_spans(store.shards, win.context_length)[shard]
                for piece in _stream_pieces(store, store.shards, shard, lo, hi, plan.remap,
                                            plan.eot_id, max_tokens):
                    counter.add(*cutter.cut_stream(piece))
                counter.add(*cutter.flush())  # only the stream's last window is short
            counter.flush()
            _save_stats(tmp / "stats.npz", counter.stats)
            counter.acc.finish_run(tmp / "run")
        shutil.rmtree(out, ignore_errors=True)
        os.replace(tmp, out)  # a map output that exists is complete
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return MapOutput(shard, str(out / "run"), counter.stats, time.perf_counter() - t0)


def _save_stats(path: Path, stats: BatchStats) -> None:
    with open(path, "wb") as f:
        np.savez(f, occurrences=stats.occurrences, windows=stats.windows,
                 sizes=np.array([stats.num_tokens, stats.num_windows], np.int64))


def load_map_output(work_dir: str | Path, shard: int) -> MapOutput | None:
    """The finished output of map task `shard` (checked against its checksums), or None."""
    out = Path(work_dir) / map_name(shard)
    try:
        run = open_run(out / "run")
        run.verify()
        with np.load(out / "stats.npz") as z:
            sizes = z["sizes"]
            stats = BatchStats(z["occurrences"], z["windows"], int(sizes[0]), int(sizes[1]))
    except (OSError, ValueError, KeyError, RuntimeError):
        return None
    return MapOutput(shard, str(out / "run"), stats, 0.0)


# -- reduce ---------------------------------------------------------------------------------

def row_ranges(runs: list[str], num_rows: int, max_entries: int, min_ranges: int) -> list[tuple[int, int]]:
    """Row ranges for the reduce tasks: at most `max_entries` input entries each, and at
    least `min_ranges` of them (so every worker has work)."""
    total = np.zeros(num_rows + 1, np.int64)
    for r in runs:
        total += open_run(Path(r)).row_ptr()
    per = max(1, min(max_entries, -(-int(total[-1]) // max(1, min_ranges))))
    return list(bounded_ranges(total, per))


def reduce_range(plan: Plan, runs: list[str], lo: int, hi: int) -> ReduceOutput:
    """Sum rows [lo, hi) of every map run into the partition run `work_dir/part-LO`."""
    out = Path(plan.work_dir) / f"part-{lo:08d}"
    inputs = [open_run(Path(r)) for r in runs]
    budget = measure_data_budget(plan.memory_bytes, plan.vocab_size)
    with ThreadPoolExecutor(plan.num_threads) as pool:
        writer = RunWriter(out, hi - lo, pool, plan.num_threads, plan.vocab_size)
        saturated = 0
        try:
            for part in sum_rows(inputs, None, plan.vocab_size, budget // 2, pool,
                                 plan.num_threads, lo, hi):
                saturated += int(np.count_nonzero(part.counts == np.uint32(0xFFFFFFFF)))
                writer.add(Csr(part.row_ptr, part.cols, part.counts, part.row_start - lo))
        except BaseException:
            writer.abort()
            raise
        run = writer.close()
    return ReduceOutput(lo, hi, str(out), np.diff(run.row_ptr()), saturated)


# -- encode ---------------------------------------------------------------------------------

def encode_range(plan: Plan, part: ReduceOutput, rank: np.ndarray) -> EncodeOutput:
    """The partition's rows in final form, words and skip entries written to part files."""
    run = open_run(Path(part.run))
    base = Path(plan.work_dir) / f"enc-{part.lo:08d}"
    budget = measure_data_budget(plan.memory_bytes, plan.vocab_size)
    chunk = writer_chunk_entries(budget)
    n = part.hi - part.lo
    row_ptr = np.zeros(n + 1, np.int64)
    row_word = np.zeros(n + 1, np.int64)
    h_row = np.zeros(n, np.uint64)
    h_col = np.zeros(rank.shape[0], np.uint64)
    bits = np.zeros(2, np.int64)
    diagonal = 0
    words_f = HashedFile(base.with_suffix(".u64"), "<u8")
    skip_f = HashedFile(base.with_suffix(".u32"), "<u4")
    try:
        for a, b in bounded_ranges(run.row_ptr(), chunk):
            rows = run.read_rows(a, b)
            enc = encode_final_rows(part.lo + a, rows.row_ptr, rows.cols, rows.counts, rank)
            row_ptr[a + 1 : b + 1] = row_ptr[a] + enc.row_ptr[1:]
            row_word[a + 1 : b + 1] = row_word[a] + enc.row_word[1:]
            h_row[a:b] = enc.h_row
            h_col += enc.h_col
            bits += enc.bits
            diagonal += enc.diagonal
            words_f.append(enc.words)
            skip_f.append(enc.skip)
    finally:
        words_f.close()
        skip_f.close()
    return EncodeOutput(part.lo, row_ptr, row_word, bits, diagonal, h_row, h_col,
                        str(words_f.f.name), str(skip_f.f.name))


def load_part(enc: EncodeOutput) -> EncodedRows:
    """An encode task's output as the index writer appends it."""
    words = np.fromfile(enc.words_file, dtype="<u8")
    skip = np.fromfile(enc.skip_file, dtype="<u4").reshape(-1, 2)
    return EncodedRows(enc.lo, enc.row_ptr, words, enc.row_word, skip, enc.bits, enc.diagonal,
                       enc.h_row, enc.h_col)


def write_json(path: Path, obj: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, sort_keys=True))
    os.replace(tmp, path)
