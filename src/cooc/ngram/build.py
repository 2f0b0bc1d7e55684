"""The n-gram counting job: text or a token store -> token batches -> `NgramCounter` ->
`NgramWriter` (an `X.ngrams` index), or a `LevelSpool` (raw trie levels, for estimation). Text is read and tokenized as `cooc build` does
(`cooc.corpus.sources.document_batches`, `load_tokenizer(spec).encode_batch`); vocabularies
grown from the corpus (whitespace) are tokenized to disk first, so that ids are final before
any key is packed.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cooc.errors import CoocError
from cooc.formats.lock import writes_target
from cooc.ngram.config import NgramConfig
from cooc.ngram.count import CountStats, NgramCounter, write_levels
from cooc.ngram.writer import BOS_TEXT, EOS_TEXT, NgramWriter
from cooc.options import RunOptions
from cooc.runtime.progress import Progress, peak_rss_bytes
from cooc.runtime.scratch import scratch_dir


@dataclass
class NgramResult:
    path: Path
    grams: dict[int, int]
    stats: CountStats
    timings: dict[str, float] = field(default_factory=dict)
    peak_rss: int = 0
    skipped: int = 0  # bad records of a text corpus (cooc.corpus.SkipReport), not counted
    report: Any = None  # the corpus's SkipReport (bad records, by reason)
    texts: list[str] = field(default_factory=list, repr=False)  # display text of every id
    header: dict[str, Any] = field(default_factory=dict, repr=False)  # tokenizer, corpus, ...


def count_ngrams_from_arrays(batches: Iterable[tuple[np.ndarray, np.ndarray]], vocab_size: int,
                             out: str | os.PathLike, config: NgramConfig | None = None,
                             options: RunOptions | None = None, *,
                             texts: list[str] | None = None,
                             header: dict[str, Any] | None = None) -> NgramResult:
    """Count (tokens uint32, document lengths int64) batches of ids < vocab_size into `out`.

    `texts` are the display texts of the ids (default: the ids as decimal strings); with
    markers, "<s>" and "</s>" are appended as ids vocab_size and vocab_size + 1. Spilled
    runs go to `options.tmp_dir`, by default beside `out`.
    """
    config = config or NgramConfig()
    options = options or RunOptions()
    return _count(batches, vocab_size, config, options, texts, header,
                  lambda v, texts, head: NgramWriter(out, config.order, v, texts(), head,
                                                     options.resolved_num_proc(),
                                                     options.resolved_memory()),
                  tmp_dir=_tmp_root(options, out))


def _tmp_root(options: RunOptions, out) -> Path | None:
    """The folder spills go to (made if missing: the output's folder may not exist yet)."""
    root = options.resolved_tmp_dir(out)
    if root is not None:
        root.mkdir(parents=True, exist_ok=True)
    return root


def _count(batches, vocab_size: int, config: NgramConfig, options: RunOptions,
           texts, header: dict[str, Any] | None, open_sink, report=None,
           tmp_dir: Path | None = None) -> NgramResult:
    """Count batches into the level sink `open_sink(V, texts, header)` (an `NgramWriter` or a
    `LevelSpool`); the result's path is what the sink's `finish` returns. `texts` is the list
    of display texts, None (the ids in decimal) or a function making it; `open_sink` gets a
    function returning the list (made once, when first asked for: a vocabulary of Python
    strings is not held while counting, nor while merging into a sink that needs none)."""
    t_start = time.perf_counter()
    v = vocab_size + (2 if config.markers else 0)

    def display_texts() -> list[str]:
        t = [str(i) for i in range(vocab_size)] if texts is None else list(
            texts() if callable(texts) else texts)
        if len(t) != vocab_size:
            raise ValueError(f"{len(t)} texts for vocab_size {vocab_size}")
        return t + ([BOS_TEXT, EOS_TEXT] if config.markers else [])

    made: list[list[str]] = []

    def get_texts() -> list[str]:
        if not made:
            made.append(display_texts())
        return made[0]

    if not callable(texts):
        get_texts()  # (checked before counting)
    nthreads = options.resolved_num_proc()
    head = {"tokenizer": None, "markers": config.markers, "config": asdict(config),
            **(header or {})}
    progress = Progress("counting n-grams", quiet=options.quiet)
    try:
        with NgramCounter(config.order, v, markers=config.markers,
                          memory_bytes=options.resolved_memory(), tmp_dir=tmp_dir,
                          num_threads=nthreads, batch_tokens=options.batch_tokens) as counter:
            for tokens, lens in batches:
                counter.add(tokens, lens)
                progress.update(len(tokens))
            head.update(documents=counter.stats.documents, tokens=counter.stats.tokens)
            if report is not None:  # complete once the batches are (recorded in the manifest)
                head["skip_report"] = report.to_dict()
            t0 = time.perf_counter()
            progress.close()
            progress = Progress("merging n-grams", unit="keys", quiet=options.quiet)
            with open_sink(v, get_texts, head) as sink:
                write_levels(_counted(counter.merged(), progress), sink, counter)
                path = sink.finish()
            counter.stats.timings["write"] = time.perf_counter() - t0
            stats = counter.stats
    finally:
        progress.close()
    grams = {1: int(np.count_nonzero(sink.unigrams)), **sink.grams}
    timings = {**stats.timings, "total": time.perf_counter() - t_start}
    return NgramResult(path, grams, stats, timings, peak_rss_bytes(), report=report, texts=get_texts(),
                       header=head)


def _counted(stream: Iterator, progress: Progress) -> Iterator:
    for keys, counts in stream:
        progress.update(len(counts))
        yield keys, counts


def _peek(it: Iterator) -> tuple[Any, Iterator]:
    first = next(it, None)

    def chain():
        if first is not None:
            yield first
            yield from it

    return first, chain()


@writes_target("out", "cooc ngram count")
def count_ngrams(source, out: str | os.PathLike, config: NgramConfig | None = None,
                 options: RunOptions | None = None) -> NgramResult:
    """Count the n-grams of orders 1..config.order of a text corpus (files, folders, globs or
    a list of them) or of one token store into the n-gram index `out` (temporary files:
    `options.tmp_dir`, by default beside `out`)."""
    config = config or NgramConfig()
    options = options or RunOptions()
    tmp = _tmp_root(options, out)
    with _source_batches(source, config, options, tmp) as (batches, tokenizer, header, report, tm):
        res = _count(batches, tokenizer.vocab_size, config, options, tokenizer.token_texts,
                     header, lambda v, texts, head: NgramWriter(
                         out, config.order, v, texts(), head, options.resolved_num_proc(),
                         options.resolved_memory()), report, tmp)
    res.skipped = report.total_skipped
    res.timings.update(tm)
    return res


def count_levels(source, folder: str | os.PathLike, config: NgramConfig | None = None,
                 options: RunOptions | None = None):
    """Count as `count_ngrams` does into raw trie levels (`cooc.ngram.levels.LevelSpool` in
    `folder`, removed by its `close`) instead of an index: (levels, result)."""
    from cooc.ngram.levels import LevelSpool

    config = config or NgramConfig()
    options = options or RunOptions()
    tmp = _tmp_root(options, folder)
    with _source_batches(source, config, options, tmp) as (batches, tokenizer, header, report, tm):
        res = _count(batches, tokenizer.vocab_size, config, options, tokenizer.token_texts,
                     header, lambda v, texts, head: LevelSpool(folder, config.order, v), report,
                     tmp)
    res.skipped = report.total_skipped
    res.timings.update(tm)
    return res.path, res


@contextmanager
def _source_batches(source, config: NgramConfig, options: RunOptions, tmp_dir: Path | None):
    """(token batches, tokenizer, header, skip report, timings) of a text corpus or a token
    store; a vocabulary grown from the corpus is final once the first batch is out."""
    from cooc.corpus import SkipReport
    from cooc.corpus.sources import document_batches
    from cooc.runtime.prefetch import prefetch
    from cooc.store.sources import (
        open_token_store,
        spooled_batches,
        stored_batches,
        tokenized_batches,
    )
    from cooc.tokenizers import load_tokenizer

    nthreads = options.resolved_num_proc()
    report = SkipReport()
    timings: dict[str, float] = {}
    max_chars = max(1 << 16, options.resolved_memory() // 100)
    store = open_token_store(source)
    spool = None
    try:
        if store is not None:
            tokenizer = store.tokenizer(nthreads)
            corpus = {**store.manifest["corpus"], "token_store": str(store.path)}
            batches = ((b.tokens, b.doc_lens) for b in
                       stored_batches(store, tokenizer, max_chars, timings))
        else:
            if source is None:
                raise CoocError("give corpus files, folders, globs or a token store to count")
            docs, corpus = document_batches(source, config.text_field, options.batch_size, report)
            tokenizer = load_tokenizer(config.tokenizer, num_threads=nthreads)
            tb = tokenized_batches(prefetch(docs(max_chars)), tokenizer, report, timings,
                                   max_chars=max_chars)
            if tokenizer.grows_vocabulary:  # ids final only at the end
                spool = scratch_dir(tmp_dir, "tokens")
                tb = spooled_batches(tb, tokenizer, spool)
            batches = ((b.tokens, b.doc_lens) for b in tb)
        first, batches = _peek(iter(batches))
        if first is None:
            raise CoocError(f"no documents to count in {source}")
        header = {"tokenizer": tokenizer.describe(), "corpus": corpus}
        yield batches, tokenizer, header, report, timings
    finally:
        if spool is not None:
            shutil.rmtree(spool, ignore_errors=True)
