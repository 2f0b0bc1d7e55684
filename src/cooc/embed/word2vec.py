"""word2vec: skip-gram (SGNS) and CBOW with negative sampling, from a token store or text.

    res = train_word2vec("corpus.tokens", sg=True, dim=100, options=RunOptions(num_proc=2))
    res.vectors[i]  # the vector of res.texts[i] (tokenizer id res.token_ids[i])

Text is tokenized first into a scratch token store (`cooc.store.tokenize`), which each
epoch then reads again, so memory holds the two matrices and a few chunks, never the
corpus. The vocabulary is every token with at least `min_count` occurrences, most frequent
first (word2vec's order; ties by tokenizer id), given dense ids 0..V-1; rarer tokens are
removed from the stream before windows are cut, as word2vec.c and gensim do, and have no
row in `vectors`. Each chunk of ~`CHUNK_WORDS` words (whole documents; a longer document
is cut) is one call of `cooc.kernels.word2vec.train_chunk` on a thread of the pool, all
threads updating the same matrices (Hogwild). With one thread and a fixed seed the result
is bit-reproducible; with more it differs by the races, as word2vec.c's and gensim's do.

Performance notes (`bench/embed_word2vec.py`): see BENCHMARKS.md, "Issue 13: word2vec".
"""

from __future__ import annotations

import os
import shutil
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cooc.errors import CoocError
from cooc.kernels import word2vec as kw
from cooc.options import RunOptions
from cooc.runtime.progress import Progress, fmt_bytes, log
from cooc.runtime.scratch import scratch_dir
from cooc.store.sources import corpus_counts, open_token_store

CHUNK_WORDS = 1 << 18  # words per kernel call: ~0.2 s of training, ~1.5 MB of ids
_MASK = (1 << 64) - 1


@dataclass
class Word2VecResult:
    """Trained vectors: row i of `vectors` is token `token_ids[i]` (text `texts[i]`, seen
    `counts[i]` times); only tokens with count >= min_count have a row, most frequent first."""

    vectors: np.ndarray  # float32 (V, dim): the input vectors (word2vec's syn0)
    token_ids: np.ndarray  # int64 tokenizer ids
    counts: np.ndarray  # int64 occurrences in the corpus
    texts: list[str]
    config: dict[str, Any]
    stats: dict[str, Any] = field(default_factory=dict)


def _check_int(name: str, value, low: int, why: str) -> None:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low:
        raise ValueError(f"{name} must be an int >= {low} ({why}), got {value!r}")


def _check_args(sg, dim, window, negative, min_count, sample, epochs, alpha, min_alpha, seed):
    if not isinstance(sg, bool):
        raise ValueError(f"sg must be True (skip-gram) or False (CBOW), got {sg!r}")
    _check_int("dim", dim, 1, "the vectors' size, e.g. 100")
    _check_int("window", window, 1, "the largest distance of a context word, e.g. 5")
    _check_int("negative", negative, 1, "negative samples per prediction, e.g. 5; "
               "hierarchical softmax is not implemented")
    _check_int("min_count", min_count, 1, "rarer tokens are dropped, e.g. 5")
    _check_int("epochs", epochs, 1, "passes over the corpus, e.g. 5")
    _check_int("seed", seed, 0, "of the random numbers")
    if not isinstance(sample, (int, float)) or isinstance(sample, bool) or not 0 <= sample < 1:
        raise ValueError(f"sample must be a number in [0, 1) (the subsampling threshold, e.g. "
                         f"1e-4; 0 keeps every word), got {sample!r}")
    if alpha is not None and (not isinstance(alpha, (int, float)) or isinstance(alpha, bool)
                              or not 0 < alpha <= 1):
        raise ValueError(f"alpha must be a number in (0, 1] (the first learning rate; None: "
                         f"0.025 skip-gram, 0.05 CBOW), got {alpha!r}")
    if not isinstance(min_alpha, (int, float)) or isinstance(min_alpha, bool) or min_alpha < 0:
        raise ValueError(f"min_alpha must be a number >= 0 (the last learning rate, e.g. "
                         f"1e-4), got {min_alpha!r}")


def seed_state(seed: int, chunk: int) -> np.uint64:
    """The random state of chunk `chunk` of a run with `seed`: two splitmix64 mixes, so
    that every chunk starts at an unrelated place of the generator's 2^64 cycle."""

    def mix(z: int) -> int:
        z = (z + 0x9E3779B97F4A7C15) & _MASK
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
        return z ^ (z >> 31)

    return np.uint64(mix(mix(seed) ^ chunk))


def train_word2vec(source, *, sg: bool = True, dim: int = 100, window: int = 5,
                   negative: int = 5, min_count: int = 5, sample: float = 1e-4,
                   epochs: int = 5, alpha: float | None = None, min_alpha: float = 1e-4,
                   seed: int = 1, shared_negatives: bool = True, tokenizer: str | None = None,
                   text_field: str = "text", options: RunOptions | None = None) -> Word2VecResult:
    """Train word2vec vectors on a token store, or on text files, folders or globs
    (tokenized with `tokenizer` first, default whitespace; a store given with a
    `tokenizer` other than its own is refused). `sg`: skip-gram, else CBOW; `alpha` None: 0.025
    for skip-gram, 0.05 for CBOW (word2vec.c's defaults), falling linearly to `min_alpha`.

    `shared_negatives` (skip-gram; the default): draw one set of `negative` words per
    center word and use it for each of its contexts, as pWord2Vec does (Ji et al. 2016);
    False: a fresh set per (context, center) pair, as word2vec.c and gensim do. Shared:
    1.5x the words/s on one thread and 1.9x on two, at the same WordSim353/SimLex-999 rho
    (BENCHMARKS.md, issue 13). Each negative is still a unigram^0.75 draw; what changes is
    that a center's contexts are contrasted with the same words."""
    _check_args(sg, dim, window, negative, min_count, sample, epochs, alpha, min_alpha, seed)
    if not isinstance(shared_negatives, bool):
        raise ValueError(f"shared_negatives must be True or False, got {shared_negatives!r}")
    options = options or RunOptions()
    alpha = float(alpha) if alpha is not None else (0.025 if sg else 0.05)
    min_alpha = min(float(min_alpha), alpha)
    config = {"model": "sgns" if sg else "cbow", "sg": sg, "dim": int(dim),
              "window": int(window), "negative": int(negative), "min_count": int(min_count),
              "sample": float(sample), "epochs": int(epochs), "alpha": alpha,
              "min_alpha": min_alpha, "seed": int(seed),
              "shared_negatives": shared_negatives and sg, "chunk_words": CHUNK_WORDS}
    with token_store(source, tokenizer, text_field, options) as store:
        config["tokenizer"] = store.manifest["tokenizer"]["spec"]
        return _train(store, config, options, source)


@contextmanager
def token_store(source, tokenizer: str | None, text_field: str, options: RunOptions):
    """The token store of `source`: itself when it is one, else text files, folders or
    globs tokenized with `tokenizer` (None: whitespace) into a scratch store, removed on
    leaving (word2vec and the pairs job read their input several times, so text is
    tokenized once). A store and a `tokenizer` other than its own are refused: its ids
    mean that tokenizer's tokens, and silently using them would answer another question."""
    store = open_token_store(source)
    scratch = None
    try:
        if store is not None and tokenizer is not None:
            own = store.manifest["tokenizer"]["spec"]
            if tokenizer.strip() != own:
                raise CoocError(f"token store {store.path} was tokenized with {own!r}, not "
                                f"{tokenizer!r}: give the text to tokenize it again, or leave "
                                "out the tokenizer to use the store's")
        if store is None:
            tokenizer = "whitespace" if tokenizer is None else tokenizer
            if source is None:
                raise CoocError("give text files, folders, globs or a token store to train on")
            from cooc.cooccur.config import BuildConfig
            from cooc.store.reader import open_store
            from cooc.store.tokenize import tokenize_corpus

            scratch = scratch_dir(options.resolved_tmp_dir(), "wordvec")
            path = scratch / "corpus.tokens"
            tokenize_corpus(source, path, BuildConfig(tokenizer=tokenizer, text_field=text_field),
                            options)
            store = open_store(path)
        yield store
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


def vocabulary(store, nthreads: int, min_count: int, source):
    """(token ids by count descending, their counts, texts, stored id -> dense id or -1):
    the tokens seen at least `min_count` times, most frequent first (ties by token id)."""
    tok = store.tokenizer(nthreads)
    remap = tok.freeze()
    counts = corpus_counts(store, remap, tok.vocab_size)
    if counts.sum() == 0:
        raise CoocError(f"no tokens to train on in {source}: the corpus is empty")
    kept = np.flatnonzero(counts >= min_count)
    if len(kept) == 0:
        raise CoocError(f"min_count {min_count} drops every token of {source} (the most "
                        f"frequent occurs {int(counts.max()):,} times); lower min_count")
    ids = kept[np.argsort(-counts[kept], kind="stable")]
    dense = np.full(tok.vocab_size, -1, dtype=np.int32)
    dense[ids] = np.arange(len(ids), dtype=np.int32)
    if remap is not None:
        dense = dense[remap]
    all_texts = tok.token_texts()
    return ids.astype(np.int64), counts[ids], [all_texts[i] for i in ids], dense


def _chunks(store, dense: np.ndarray):
    """(ids, doc_ptr) of at most CHUNK_WORDS in-vocabulary words each, one pass of the store."""
    for tokens, lens in store.iter_batches(CHUNK_WORDS):
        ids, ptr = kw.dense_ids(tokens, lens, dense)
        for a in range(0, len(ids), CHUNK_WORDS):  # a document longer than a chunk is cut
            b = min(a + CHUNK_WORDS, len(ids))
            yield ids[a:b], np.clip(ptr, a, b) - a


def describe_source(source):
    """`source` as JSON for a config: paths as strings."""
    if isinstance(source, (list, tuple)):
        return [describe_source(s) for s in source]
    return os.fspath(source) if isinstance(source, (str, os.PathLike)) else repr(source)


class _ChunkTrainer:
    """kw.train_chunk, through its dispatcher once, then through the compiled version for the
    vector size (see `kw.specialized`)."""

    def __init__(self) -> None:
        self.fn = None

    def __call__(self, args: tuple) -> int:
        if self.fn is not None:
            return self.fn(*args)
        kept = kw.train_chunk(*args)
        self.fn = kw.specialized(kw.train_chunk, args)
        return kept


def _train(store, config: dict, options: RunOptions, source) -> Word2VecResult:
    t0 = time.perf_counter()
    nthreads = options.resolved_num_proc()
    token_ids, counts, texts, dense = vocabulary(store, nthreads, config["min_count"], source)
    V, dim = len(token_ids), config["dim"]
    need = 2 * V * dim * 4 + 4 * nthreads * CHUNK_WORDS * 12
    if need > options.resolved_memory():
        raise CoocError(f"word2vec needs {fmt_bytes(need)} for {V:,} words x {dim} dimensions "
                        f"(two matrices), over the memory budget of "
                        f"{fmt_bytes(options.resolved_memory())}; raise min_count or the budget")
    rng = np.random.default_rng(config["seed"])
    W = rng.random((V, dim), dtype=np.float32)  # uniform in [-1/dim, 1/dim), as gensim 4
    W *= 2.0
    W -= 1.0
    W /= dim
    C = np.zeros((V, dim), dtype=np.float32)
    keep = kw.keep_thresholds(counts, config["sample"])
    table = kw.alias_table(counts)
    exp_table = kw.sigmoid_table()
    per_epoch = int(counts.sum())
    total = per_epoch * config["epochs"]
    t_vocab = time.perf_counter() - t0

    progress = Progress("word2vec", total=total, unit="word", quiet=options.quiet)
    fixed = (W, C, keep, table, exp_table, config["sg"], config["shared_negatives"],
             config["window"], config["negative"], config["alpha"], config["min_alpha"])
    train = _ChunkTrainer()
    t1, c1 = time.perf_counter(), time.process_time()
    offset = chunk = effective = 0
    pending: deque = deque()

    def drain_one() -> None:
        nonlocal effective
        fut, n = pending.popleft()
        effective += fut.result()
        progress.update(n)

    try:
        with ThreadPoolExecutor(nthreads) as pool:
            for _ in range(config["epochs"]):
                for ids, ptr in _chunks(store, dense):
                    args = (ids, ptr, *fixed, offset, total, seed_state(config["seed"], chunk), dim)
                    pending.append((pool.submit(train, args), len(ids)))
                    offset += len(ids)
                    chunk += 1
                    while len(pending) > 2 * nthreads:
                        drain_one()
            while pending:
                drain_one()
    finally:
        progress.close()
    t_train, c_train = time.perf_counter() - t1, time.process_time() - c1
    stats = {"vocab_size": V, "corpus_words": per_epoch, "words": offset,
             "effective_words": effective, "vocab_seconds": t_vocab, "train_seconds": t_train,
             "train_cpu_seconds": c_train,
             "words_per_second": offset / max(t_train, 1e-9), "threads": nthreads}
    log.info("word2vec: %s words (%s after subsampling) in %.1f s, %.0f words/s",
             f"{offset:,}", f"{effective:,}", t_train, stats["words_per_second"])
    config = {**config, "vocab_size": V, "corpus_words": per_epoch, "source": describe_source(source)}
    return Word2VecResult(W, token_ids, counts, texts, config, stats)
