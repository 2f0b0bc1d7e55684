"""The tokenize job: corpus -> token store, resumable (see `cooc.store.format`).

Documents are read and encoded batch by batch on all cores and appended to shards. A run that
is killed leaves `OUT.partial/`; the same command again checks the finished shards, skips the
documents they hold (the input is re-read, not re-tokenized, so the skip report still counts
every bad record once) and goes on.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cooc import __version__
from cooc.cooccur.config import BuildConfig
from cooc.corpus import SkipReport
from cooc.corpus.default import DEFAULT_CORPUS_SOURCE
from cooc.corpus.readers import skip_documents
from cooc.corpus.sources import document_batches
from cooc.formats.lock import writes_target
from cooc.options import RunOptions
from cooc.runtime.fingerprint import input_fingerprint
from cooc.runtime.prefetch import prefetch
from cooc.runtime.progress import Progress, peak_rss_bytes
from cooc.store.sources import encode_texts, join_ids
from cooc.store.writer import StoreWriter
from cooc.tokenizers import load_tokenizer

DEFAULT_SHARD_TOKENS = 1 << 25  # 128 MB of ids: a crash loses at most that much work
_BYTES_PER_CHAR = 10  # a tokenizer batch's texts, token arrays and their concatenation


@dataclass
class TokenizeResult:
    path: Path
    num_documents: int
    num_tokens: int
    num_shards: int
    resumed_documents: int
    report: SkipReport
    timings: dict[str, float] = field(default_factory=dict)
    peak_rss: int = 0


def _fingerprint(files: list[Path], config: BuildConfig, shard_tokens: int) -> dict:
    """What must not change for a partial store to be resumed."""
    return input_fingerprint(files, {"tokenizer": config.tokenizer, "text_field": config.text_field,
                                     "granularity": config.granularity},
                             {"shard_tokens": shard_tokens})


@writes_target("out", "cooc tokenize")
def tokenize_corpus(source, out: str | os.PathLike, config: BuildConfig | None = None,
                    options: RunOptions | None = None,
                    shard_tokens: int = DEFAULT_SHARD_TOKENS) -> TokenizeResult:
    """Write the token store of a file, folder, glob or list of them (None: the built-in
    corpus) at `out`; resumes a killed run with the same arguments."""
    config = config or BuildConfig()
    options = options or RunOptions()
    out = Path(out)
    t_start = time.perf_counter()
    report = SkipReport()
    batches, desc = document_batches(source, config.text_field, options.batch_size, report,
                                     config.granularity)
    files = [Path(f) for f in desc["files"]]
    # the built-in corpus is one "file": its documents' source
    desc["files"] = names = desc["files"] or [DEFAULT_CORPUS_SOURCE]
    nthreads = options.resolved_num_proc()
    tokenizer = load_tokenizer(config.tokenizer, num_threads=nthreads)
    writer = StoreWriter(out, _fingerprint(files, config, shard_tokens), shard_tokens)
    if tokenizer.grows_vocabulary:
        if writer.vocab is not None:  # resumed: the ids in finished shards are these words'
            tokenizer = type(tokenizer).from_vocabulary(writer.vocab, nthreads, frozen=False)
        writer.vocab_fn = tokenizer.token_texts
    file_index = {n: i for i, n in enumerate(names)}
    max_chars = max(1 << 16, options.resolved_memory() // 10 // _BYTES_PER_CHAR)
    skip = resumed = writer.documents_done  # counted in finished shards: read, not encoded
    progress = Progress("tokenizing", quiet=options.quiet)
    timings = {"tokenize": 0.0}
    try:
        for docs in skip_documents(prefetch(batches(max_chars)), skip):
            t0 = time.perf_counter()
            arrays, lens = encode_texts(tokenizer, [d.text for d in docs], max_chars)
            timings["tokenize"] += time.perf_counter() - t0
            sources = np.fromiter((file_index[d.source] for d in docs), np.uint32, len(docs))
            lines = np.fromiter((d.line for d in docs), np.uint64, len(docs))
            docs.clear()  # the texts go before their ids are joined (see tokenized_batches)
            del docs
            tokens = join_ids(arrays)
            writer.add(tokens, lens, sources, lines)
            progress.update(len(tokens))
        header = {"created_by": f"cooc {__version__}", "tokenizer": tokenizer.describe(),
                  "text_field": config.text_field, "granularity": config.granularity,
                  "corpus": desc,
                  "skip_report": report.to_dict()}
        writer.finish(header)
    finally:
        progress.close()
    timings["total"] = time.perf_counter() - t_start
    return TokenizeResult(out, sum(s["documents"] for s in writer.shards),
                          sum(s["tokens"] for s in writer.shards), len(writer.shards), resumed,
                          report, timings, peak_rss_bytes())
