"""The build job: corpus -> tokens -> windows -> counts -> index.

Stages run batch by batch: a tokenizer batch (documents) is encoded on all cores, cut into
windows, gathered into a counting batch sized to the memory budget, counted on all cores,
and summed by the accumulator (which spills to disk when the budget is reached). The index
writer then streams the final sum row range by row range.
"""

from __future__ import annotations

import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from cooc.cooccur.build import checkpoint
from cooc.cooccur.build.common import (
    BuildResult,
    StrictError,
    check_documents,
    check_saturation,
    check_strict,
    config_for_store,
    count_saturated,
    index_meta,
)
from cooc.cooccur.build.counter import (
    WindowCounter,
    measure_data_budget,
    new_counter,
    remeasure_data_budget,
    writer_chunk_entries,
)
from cooc.cooccur.build.windowing import WindowCutter
from cooc.cooccur.config import BuildConfig
from cooc.corpus import SkipReport
from cooc.corpus.sources import document_batches
from cooc.errors import CoocError
from cooc.formats.lock import writes_target
from cooc.options import RunOptions
from cooc.runtime.prefetch import prefetch
from cooc.runtime.progress import Progress, fmt_bytes, log, peak_rss_bytes, rss_bytes
from cooc.store.sources import (
    open_token_store,
    spooled_batches,
    stored_batches,
    tokenized_batches,
)
from cooc.tokenizers import load_tokenizer

# A tokenizer batch (texts, token arrays, their concatenation) costs up to ~10 bytes per
# character; it gets a tenth of the budget.
_TOKENIZE_SHARE = 0.1
_BYTES_PER_CHAR = 10
_MIN_BATCH_CHARS = 1 << 16


@writes_target("out", "cooc build")
def build_index(source, out: str | os.PathLike, config: BuildConfig | None = None,
                options: RunOptions | None = None) -> BuildResult:
    """Build a co-occurrence index at `out` from a file, folder, glob or list of them
    (None: the built-in default corpus). Returns counts, timings and the skip report."""
    config = config or BuildConfig()
    options = options or RunOptions()
    if options.engine != "local":
        from cooc.cooccur.build.distributed import build_distributed

        return build_distributed(source, out, config, options)
    out = Path(out)
    if out.exists() and not (out / "manifest.json").exists():
        raise CoocError(f"output path {out} exists and is not a cooc index; choose another output path")
    timings: dict[str, float] = {}
    t_start = time.perf_counter()
    report = SkipReport()
    nthreads = options.resolved_num_proc()
    store = open_token_store(source)
    if store is not None:  # already tokenized: the store's tokenizer, its ids and report
        tokenizer = store.tokenizer(nthreads)
        config = config_for_store(config, store)
        corpus_desc = {**store.manifest["corpus"], "token_store": str(store.path)}
        report = SkipReport.from_dict(store.manifest["skip_report"])
    else:
        batches, corpus_desc = document_batches(source, config.text_field, options.batch_size,
                                                report, config.granularity)
        tokenizer = load_tokenizer(config.tokenizer, num_threads=nthreads)
    if config.window.packing == "concat" and tokenizer.eot_id is None:
        raise CoocError(f"tokenizer {config.tokenizer!r} has no end-of-text token; use "
                        "packing='document'")

    data_budget = measure_data_budget(options.resolved_memory(), tokenizer.vocab_size)
    baseline = rss_bytes()
    tmp_root = options.resolved_tmp_dir(out)
    tmp_root.mkdir(parents=True, exist_ok=True)
    # grown vocabularies from text are tokenized whole before counting: no checkpoints
    min_count = config.window.min_count
    resumable = store is not None or (not tokenizer.grows_vocabulary and min_count == 1)
    fingerprint = checkpoint.input_fingerprint(
        [] if store is not None else corpus_desc["files"], config.to_dict(),
        {"token_store": store.identity} if store is not None else None)
    tmp, resume = _build_folder(tmp_root, out, fingerprint, resumable and options.resume)
    # a store knows its size: the bar shows an ETA (text corpora are counted as they stream)
    progress = Progress("counting", total=store.num_tokens if store is not None else None,
                        quiet=options.quiet)
    done = False
    try:
        max_chars = max(_MIN_BATCH_CHARS, int(data_budget * _TOKENIZE_SHARE / _BYTES_PER_CHAR))
        skip = resume.documents if resume else 0
        if store is not None:
            token_batches = stored_batches(store, tokenizer, max_chars, timings, skip, min_count)
        else:
            token_batches = tokenized_batches(prefetch(batches(max_chars)), tokenizer, report,
                                              timings, skip, max_chars)
            if not resumable:
                token_batches = spooled_batches(token_batches, tokenizer, tmp, min_count)
        result = _count_and_write(token_batches, tokenizer, config, out, tmp, data_budget, baseline,
                                  nthreads, progress, report, corpus_desc, timings, resume,
                                  fingerprint if resumable else None, options.strict)
        done = True
    except StrictError:
        done = True  # nothing to resume: the data must change first
        raise
    finally:
        progress.close()
        if done or not (tmp / checkpoint.CHECKPOINT).exists():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            log.warning("build interrupted; run the same command again to resume from %s", tmp)
    timings["total"] = time.perf_counter() - t_start
    result.timings = timings
    result.peak_rss = peak_rss_bytes()
    return result


def _build_folder(tmp_root: Path, out: Path, fingerprint: dict, resume: bool):
    """(the build's temp folder, the checkpoint to resume from or None)."""
    tmp = tmp_root / f".{out.name}.build"
    ck = checkpoint.load(tmp, fingerprint) if resume else None
    if ck is None:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
    return tmp, ck


def _count_and_write(token_batches, tokenizer, config, out, tmp, data_budget, baseline, nthreads,
                     progress, report, corpus_desc, timings, resume=None,
                     fingerprint=None, strict=False) -> BuildResult:
    from cooc.cooccur import IndexWriter

    win = config.window
    cutter = WindowCutter(win.context_length, win.packing, tokenizer.eot_id, win.stride)
    counter: WindowCounter | None = None
    num_docs = resume.documents if resume else 0
    if resume is not None:
        cutter._carry = resume.carry
    saved_spills = 0
    memory_bytes = baseline + data_budget  # the budget (for messages)

    with ThreadPoolExecutor(nthreads) as pool:

        def start() -> WindowCounter:
            """The accumulator and statistics, from the checkpoint when resuming. Made at
            the first batch: a vocabulary grown from the corpus is only fixed then."""
            nonlocal saved_spills, data_budget
            vocab = tokenizer.vocab_size
            if tokenizer.grows_vocabulary:
                # a vocabulary grown from the corpus (whitespace: ~250 bytes a word) was not
                # there when the budget was measured: what it took comes off the data's share
                data_budget = remeasure_data_budget(data_budget, baseline)
            counter = new_counter(vocab, data_budget, tmp, win, pool, nthreads,
                                  timings, keep_merged=fingerprint is not None,
                                  memory_bytes=memory_bytes)
            acc = counter.acc
            counter.on_counted = lambda n: progress.update(n, spilled=fmt_bytes(acc.spilled_bytes))
            if resume is not None:
                acc.adopt_runs(resume.runs)
                counter.stats = resume.stats
                saved_spills = acc.num_spills
            return counter

        def save_checkpoint() -> None:
            """After a spill, at a batch boundary: runs hold all documents counted so far."""
            nonlocal saved_spills
            acc = counter.acc
            if fingerprint is None or acc.num_spills == saved_spills:
                return
            acc.spill_pending()
            checkpoint.save(tmp, fingerprint, checkpoint.Checkpoint(num_docs, acc.runs,
                                                                    counter.stats, cutter._carry))
            acc.drop_obsolete()
            saved_spills = acc.num_spills

        for batch in token_batches:
            num_docs += len(batch.doc_lens)
            tokens, win_ptr = cutter.cut(batch.tokens, batch.doc_lens)
            del batch  # concat packing copied its ids into `tokens`
            counter = counter or start()
            if counter.add(tokens, win_ptr):
                save_checkpoint()
            del tokens, win_ptr  # not kept while the next batch is read: the counter holds
            # what it has not counted yet
        counter = counter or start()
        counter.add(*cutter.flush())
        counter.flush()
        save_checkpoint()
        check_strict(report, strict, out)  # the report is complete: every record was read
        check_documents(num_docs, report, out)
        acc, stats = counter.acc, counter.stats
        vocab = tokenizer.vocab_size

        t0 = time.perf_counter()
        meta = index_meta(config, tokenizer, corpus_desc, num_docs, stats, report)
        entries = 0
        degrees = acc.final_degrees()
        chunk = writer_chunk_entries(data_budget)
        with IndexWriter(out, vocab, degrees=degrees, num_threads=nthreads, chunk_entries=chunk) as writer:
            saturated = 0
            for part in acc.finish():
                writer.add_rows(part.row_start, part.row_ptr, part.cols, part.counts)
                entries += part.num_entries
                saturated += count_saturated(part.counts)
            check_saturation(saturated, config)
            writer.finish(stats.occurrences, stats.windows, tokenizer.token_texts(), meta)
        timings["write"] = time.perf_counter() - t0
        log.debug("index written: %s entries", entries)
    return BuildResult(out, num_docs, stats.num_tokens, stats.num_windows, entries, report,
                       spills=acc.num_spills, spilled_bytes=acc.spilled_bytes)


