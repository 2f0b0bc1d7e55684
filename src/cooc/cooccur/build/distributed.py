"""The build as tasks on an engine: in-process (tests, reference) or a Ray cluster.

The driver tokenizes text into a token store first (stores are the unit of distribution: a
map task per shard), runs the map tasks, cuts the rows into ranges by the maps' row sizes,
runs the reduce tasks, fixes the column order from the reduced degrees, runs the encode
tasks and appends their parts in order into one index (see `partitioned` for the tasks). The
work folder `.OUT.dist/` (beside the index or under --tmp-dir) must be on storage every
worker sees, as must the store. A killed job run again with the same inputs and settings
keeps the finished map outputs (checked against their checksums).
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import numpy as np

from cooc.cooccur.build import partitioned as part
from cooc.cooccur.build.count import BatchStats
from cooc.cooccur.config import BuildConfig
from cooc.corpus import SkipReport
from cooc.engines import make_engine
from cooc.errors import CoocError
from cooc.options import RunOptions
from cooc.runtime.progress import Progress, log, peak_rss_bytes

# input entries per reduce task: ~24 bytes each while summed, within a quarter of the budget
_REDUCE_BYTES_PER_ENTRY = 96


def build_distributed(source, out: str | os.PathLike, config: BuildConfig | None = None,
                      options: RunOptions | None = None, engine=None):
    """`build_index` as map/reduce/encode tasks on `options.engine`; the same index bytes."""
    from cooc.cooccur import IndexWriter
    from cooc.cooccur.build.common import (
        BuildResult,
        check_documents,
        check_saturation,
        check_strict,
        config_for_store,
        index_meta,
    )
    from cooc.store import open_store
    from cooc.store.sources import open_token_store
    from cooc.store.tokenize import tokenize_corpus

    config = config or BuildConfig()
    options = options or RunOptions()
    out = Path(out)
    if out.exists() and not (out / "manifest.json").exists():
        raise CoocError(f"output path {out} exists and is not a cooc index; choose another output path")
    t_start = time.perf_counter()
    timings: dict[str, float] = {}
    own_engine = engine is None
    engine = engine or make_engine(options)  # refuses a cluster that cannot run the tasks
    work = options.resolved_tmp_dir(out) / f".{out.name}.dist"
    work.mkdir(parents=True, exist_ok=True)
    done = False
    try:
        store = open_token_store(source)
        if store is not None:
            corpus_desc = {**store.manifest["corpus"], "token_store": str(store.path)}
        else:  # text: tokenized here, once (resumable), into the work folder
            t0 = time.perf_counter()
            tokenize_corpus(source, work / "tokens", config, options,
                            _shard_tokens(source, engine.parallelism))
            store = open_store(work / "tokens")
            corpus_desc = dict(store.manifest["corpus"])
            timings["tokenize"] = time.perf_counter() - t0
        tokenizer = store.tokenizer(options.resolved_num_proc())
        remap = tokenizer.freeze()
        config = config_for_store(config, store)
        report = SkipReport.from_dict(store.manifest["skip_report"])
        check_strict(report, options.strict, out)
        check_documents(store.num_documents, report, out)
        win = config.window
        if win.packing == "concat" and tokenizer.eot_id is None:
            raise CoocError(f"tokenizer {config.tokenizer!r} has no end-of-text token; use "
                            "packing='document'")
        V = tokenizer.vocab_size
        maps_dir = _maps_folder(work, config, store, options.resume)
        keep = None
        if win.min_count > 1:
            from cooc.store.sources import corpus_counts

            keep = corpus_counts(store, remap, V) >= win.min_count
        plan = part.Plan(str(store.path), V, win, tokenizer.eot_id, remap, keep,
                         options.resolved_memory(), engine.num_threads, str(maps_dir))
        plan_ref = engine.put(plan)

        t0 = time.perf_counter()
        maps = _run_maps(engine, plan_ref, maps_dir, store, options.quiet)
        timings["count"] = time.perf_counter() - t0
        stats = BatchStats.zeros(V)
        for m in maps:
            stats = stats + m.stats
        runs = [m.run for m in maps]

        t0 = time.perf_counter()
        budget = options.resolved_memory()
        ranges = part.row_ranges(runs, V, max(1, budget // _REDUCE_BYTES_PER_ENTRY),
                                 2 * engine.parallelism)
        reduced = list(engine.run(part.reduce_range, [(plan_ref, runs, lo, hi) for lo, hi in ranges]))
        degrees = np.concatenate([r.degrees for r in reduced]) if reduced else np.zeros(V, np.int64)
        timings["merge"] = time.perf_counter() - t0
        check_saturation(sum(r.saturated for r in reduced), config)

        t0 = time.perf_counter()
        meta = index_meta(config, tokenizer, corpus_desc, store.num_documents, stats, report)
        entries = 0
        with IndexWriter(out, V, degrees=degrees, num_threads=options.resolved_num_proc()) as writer:
            rank_ref = engine.put(writer.rank)
            for enc in engine.run(part.encode_range, [(plan_ref, r, rank_ref) for r in reduced]):
                rows = part.load_part(enc)
                writer.add_encoded(rows)
                entries += int(rows.row_ptr[-1])
                del rows
                os.unlink(enc.words_file)
                os.unlink(enc.skip_file)
            writer.finish(stats.occurrences, stats.windows, tokenizer.token_texts(), meta)
        timings["write"] = time.perf_counter() - t0
        done = True
    finally:
        if own_engine:
            engine.close()
        if done or not any(work.glob("maps/map-*")):
            shutil.rmtree(work, ignore_errors=True)
        else:
            log.warning("build interrupted; run the same command again to resume from %s", work)
    timings["total"] = time.perf_counter() - t_start
    result = BuildResult(out, store.num_documents, stats.num_tokens, stats.num_windows, entries,
                         report, timings)
    result.peak_rss = peak_rss_bytes()
    return result


def _shard_tokens(source, parallelism: int) -> int:
    """Shards small enough for four map tasks per worker (text: ~4 bytes per token)."""
    from cooc.corpus.discover import discover_files
    from cooc.store.tokenize import DEFAULT_SHARD_TOKENS

    nbytes = sum(_size(f) for f in discover_files(source)) if source is not None else 0
    return int(min(DEFAULT_SHARD_TOKENS, max(1 << 16, nbytes // 4 // (4 * parallelism))))


def _size(path: Path) -> int:
    """Bytes of a corpus file; 0 for one that cannot be read (the reader reports it)."""
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _maps_folder(work: Path, config: BuildConfig, store, resume: bool) -> Path:
    """The folder of map outputs; finished ones are kept when inputs and settings match."""
    folder = work / "maps"
    fingerprint = {"config": config.to_dict(), "store": store.identity}
    fp_file = folder / "fingerprint.json"
    if resume and fp_file.exists():
        import json

        try:
            if json.loads(fp_file.read_text()) == json.loads(json.dumps(fingerprint, sort_keys=True)):
                return folder
        except (OSError, ValueError):
            pass
        log.warning("the map outputs in %s are of other inputs or settings: starting over", folder)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    part.write_json(fp_file, fingerprint)
    return folder


def _run_maps(engine, plan_ref, maps_dir: Path, store, quiet: bool) -> list:
    shards = store.shards
    maps = {i: m for i in range(len(shards)) if (m := part.load_map_output(maps_dir, i)) is not None}
    if maps:
        log.info("resuming: %d of %d map outputs are done", len(maps), len(shards))
    todo = [i for i in range(len(shards)) if i not in maps]
    progress = Progress("counting", total=sum(shards[i]["tokens"] for i in todo), quiet=quiet)
    try:
        for m in engine.run(part.map_shard, [(plan_ref, i) for i in todo]):
            maps[m.shard] = m
            progress.update(shards[m.shard]["tokens"])
    finally:
        progress.close()
    return [maps[i] for i in range(len(shards))]
