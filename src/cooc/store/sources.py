"""Token sources: text or a token store -> batches of token ids, for every product.

A job names its input once (files, a folder, a glob, or a token store); these stages turn it
into `TokenBatch`es (documents concatenated, with their lengths) with canonical ids:
tokenized on all threads from text, read shard by shard from a store, or spooled to disk and
replayed when the vocabulary is grown from the corpus or rare tokens must be dropped first.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cooc.corpus import SkipReport
from cooc.corpus.readers import skip_documents
from cooc.errors import CoocError
from cooc.kernels import distance
from cooc.runtime.malloc import trim
from cooc.tokenizers import Tokenizer

# pieces of a long document are no shorter than this (per-call overhead)
_MIN_PIECE_CHARS = 1 << 16


@dataclass
class TokenBatch:
    tokens: np.ndarray  # uint32, documents concatenated
    doc_lens: np.ndarray  # int64


def open_token_store(source):
    """The token store `source` names, or None when it is text."""
    from cooc.store import is_store, open_store

    if isinstance(source, (str, os.PathLike)) and is_store(source):
        return open_store(source)
    if isinstance(source, (list, tuple)) and any(is_store(s) for s in source):
        if len(source) > 1:
            raise CoocError("a token store is built alone: give one store, or text sources only")
        return open_store(source[0])
    return None


def tokenized_batches(batches: Iterable, tokenizer: Tokenizer, report: SkipReport,
              timings: dict[str, float], skip: int = 0, max_chars: int = 0) -> Iterator[TokenBatch]:
    """Encoded batches; the first `skip` documents are read (and bad records reported) but
    not encoded: a resumed build counted them before it was killed. A document longer than
    `max_chars` (0: no limit) is encoded in pieces (`encode_texts`)."""
    for docs in skip_documents(batches, skip):
        t0 = time.perf_counter()
        arrays, lens = encode_texts(tokenizer, [d.text for d in docs], max_chars)
        # the texts are not needed while the batch is counted: emptied, not just dropped,
        # since the readers' generators hold the list until they are asked for the next one
        docs.clear()
        del docs
        timings["tokenize"] = timings.get("tokenize", 0.0) + time.perf_counter() - t0
        # held by the batch alone: a consumer that drops it frees them while this waits
        yield TokenBatch(join_ids(arrays), lens)
        del lens


def encode_texts(tokenizer: Tokenizer, texts: list[str],
                 max_chars: int = 0) -> tuple[list[np.ndarray], np.ndarray]:
    """(id arrays, each text's number of ids) of a batch of texts, for `join_ids`.

    A text longer than `max_chars` (0: no limit) comes as the ids of its pieces
    (`Tokenizer.encode_pieces`: the same ids, see `piece_bounds` for where they may differ),
    a few of `max_chars / num_threads` characters at a time: what a tokenizer batch may hold,
    however long the document. It is still one document: its length is its pieces'.
    """
    if not max_chars or all(len(t) <= max_chars for t in texts):
        arrays = tokenizer.encode_batch(texts)
        return arrays, np.fromiter((len(a) for a in arrays), np.int64, len(arrays))
    piece = max(_MIN_PIECE_CHARS, max_chars // max(1, tokenizer.num_threads))
    arrays: list[np.ndarray] = []
    lens = np.zeros(len(texts), np.int64)
    i = 0
    while i < len(texts):
        j = i
        while j < len(texts) and len(texts[j]) <= max_chars:
            j += 1
        if j > i:  # a run of ordinary texts, as one batch
            done = tokenizer.encode_batch(texts[i:j])
            lens[i:j] = [len(a) for a in done]
            arrays.extend(done)
            i = j
            continue
        pieces = tokenizer.encode_pieces(texts[i], piece)
        lens[i] = sum(len(a) for a in pieces)
        arrays.extend(pieces)
        i += 1
    return arrays, lens


def join_ids(arrays: list[np.ndarray]) -> np.ndarray:
    """Id arrays -> one uint32 array; `arrays` is emptied (its arrays go once joined)."""
    if not arrays:
        return np.zeros(0, np.uint32)
    tokens = np.concatenate(arrays).astype(np.uint32, copy=False)
    arrays.clear()
    return tokens


def stored_batches(store, tokenizer: Tokenizer, max_chars: int, timings: dict[str, float],
                    skip: int = 0, min_count: int = 1) -> Iterator[TokenBatch]:
    """Batches read from a token store, with ids made canonical for grown vocabularies and
    tokens below `min_count` dropped; the first `skip` documents are left out."""
    remap = tokenizer.freeze()
    keep = corpus_counts(store, remap, tokenizer.vocab_size) >= min_count if min_count > 1 else None
    t0 = time.perf_counter()
    for tokens, lens in store.iter_batches(max(1, max_chars // 4)):
        if skip >= len(lens):
            skip -= len(lens)
            continue
        if skip:
            tokens, lens, skip = tokens[int(lens[:skip].sum()):], lens[skip:], 0
        if remap is not None:
            tokens = remap[tokens].astype(np.uint32)
        if keep is not None:
            tokens, lens = drop_rare(tokens, lens, keep)
        timings["read"] = timings.get("read", 0.0) + time.perf_counter() - t0
        yield TokenBatch(tokens, lens)
        t0 = time.perf_counter()


def corpus_counts(store, remap: np.ndarray | None, vocab_size: int) -> np.ndarray:
    """Occurrences of every (canonical) token id in a store: one pass over its shards."""
    n = len(remap) if remap is not None else vocab_size
    counts = np.zeros(n, np.int64)
    for tokens, _ in store.iter_batches(1 << 24):
        counts += np.bincount(tokens, minlength=n)
    if remap is None:
        return counts
    canon = np.zeros(vocab_size, np.int64)
    canon[remap] = counts
    return canon


def spooled_batches(batches: Iterator[TokenBatch], tokenizer: Tokenizer, tmp: Path,
                     min_count: int = 1) -> Iterator[TokenBatch]:
    """Tokenize everything to disk, then replay: for vocabularies grown from the corpus (the
    vocabulary is fixed, with canonical ids independent of file order, only at the end) and
    for `min_count` (rare tokens are known only at the end)."""
    tok_path, len_path = tmp / "tokens.u32", tmp / "doclens.i64"
    sizes = []
    counts = np.zeros(0, np.int64)
    with open(tok_path, "wb") as ft, open(len_path, "wb") as fl:
        for b in batches:
            ft.write(b.tokens.astype("<u4").tobytes())
            fl.write(b.doc_lens.astype("<i8").tobytes())
            sizes.append((len(b.tokens), len(b.doc_lens)))
            if min_count > 1 and len(b.tokens):
                c = np.bincount(b.tokens)
                if len(c) > len(counts):
                    counts = np.concatenate([counts, np.zeros(len(c) - len(counts), np.int64)])
                counts[: len(c)] += c
    remap = tokenizer.freeze()
    trim()  # the tokenizing garbage, before the replay's counting buffers
    keep = None
    if min_count > 1:
        canon = np.zeros(tokenizer.vocab_size, np.int64)
        ids = remap[: len(counts)] if remap is not None else np.arange(len(counts))
        canon[ids] = counts
        keep = canon >= min_count
    t = d = 0
    for nt, nd in sizes:
        # positioned reads, not a memory map: mapped pages would count toward the budget
        tokens = np.fromfile(tok_path, "<u4", count=nt, offset=4 * t).astype(np.uint32, copy=False)
        lens = np.fromfile(len_path, "<i8", count=nd, offset=8 * d).astype(np.int64, copy=False)
        if remap is not None:
            tokens = remap[tokens].astype(np.uint32)
        if keep is not None:
            tokens, lens = drop_rare(tokens, lens, keep)
        yield TokenBatch(tokens, lens)
        t += nt
        d += nd


def drop_rare(tokens: np.ndarray, doc_lens: np.ndarray, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The tokens with keep[t] (documents keep their place, possibly empty), as GloVe drops
    out-of-vocabulary words before windowing."""
    doc_ptr = np.zeros(len(doc_lens) + 1, np.int64)
    np.cumsum(doc_lens, out=doc_ptr[1:])
    out = np.empty(len(tokens), np.uint32)
    out_ptr = np.empty(len(doc_ptr), np.int64)
    k = distance.drop_tokens(tokens, doc_ptr, keep, out, out_ptr)
    return out[:k], np.diff(out_ptr)

