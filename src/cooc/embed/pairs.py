"""Skip-gram pairs (`X.pairs/`, layout in `cooc.embed.pairs_format`): word2vec's
(target, context) pairs written out as Parquet shards, with the unigram table, for trainers
outside cooc's own (`cooc.embed.torch_sgns`, a GPU, a cluster).

    res = make_pairs("corpus.tokens", "corpus.pairs", window=5, min_count=5, sample=1e-4)
    p = open_pairs("corpus.pairs")
    for targets, contexts in p.iter_batches(1 << 20): ...   # int32 dense ids

The vocabulary, subsampling and dynamic window are word2vec's, as `train_word2vec` uses
them: tokens seen at least `min_count` times, most frequent first, rarer ones removed before
windows are cut; each word kept with `keep_probabilities`; each kept target's reach uniform
in 1..window over the kept words of its document. The draws are keyed by the seed and the
word's position in the run (`cooc.kernels.pairs`), so the pairs, and their order, do not
depend on the chunk size, the shard size or the threads.

Memory is bounded: the store is read a batch of whole documents at a time, the kernel emits
the pairs of at most `chunk_pairs // (2 * window)` targets per call on a thread of the pool,
and each call's pairs are appended as a row group to the open shard, which is closed at
`shard_pairs` pairs. A run is one pass over the corpus: epochs are the trainer's, which
reads the shards again (word2vec redraws the subsampling and windows each epoch; one
reused draw is the reference pipeline's trade, and costs little at 1e8+ words).
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from cooc.embed import pairs_format as fmt
from cooc.embed.word2vec import describe_source, seed_state, token_store, vocabulary
from cooc.errors import CoocError, IndexFormatError
from cooc.formats.artefact import FolderArtefact, restore_interrupted
from cooc.formats.checked import check_once
from cooc.formats.lock import writes_target
from cooc.formats.manifest import cooc_version, file_problem, read_folder_manifest
from cooc.kernels import pairs as kp
from cooc.kernels import word2vec as kw
from cooc.options import RunOptions
from cooc.runtime.progress import Progress, fmt_bytes, log

__all__ = ["Pairs", "PairsResult", "make_pairs", "open_pairs"]

SHARD_PAIRS = 50_000_000  # the reference pipeline's shard: 400 MB of int32 pairs
CHUNK_PAIRS = 1 << 21  # at most this many pairs per kernel call and row group: 16 MB
READ_TOKENS = 1 << 20  # tokens per store batch (whole documents)
_KEEP_KEY, _WINDOW_KEY = 0, 1  # seed_state(seed, key): the two draws' keys


@dataclass
class PairsResult:
    """What `make_pairs` wrote: the artefact's path, its size and how it was made."""

    path: Path
    vocab_size: int
    pairs: int
    shards: int
    config: dict[str, Any]
    stats: dict[str, Any] = field(default_factory=dict)


def _check_int(name: str, value, low: int, why: str) -> None:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low:
        raise ValueError(f"{name} must be an int >= {low} ({why}), got {value!r}")


def _check_args(window, min_count, sample, dynamic_window, seed, shard_pairs, chunk_pairs):
    _check_int("window", window, 1, "the largest distance of a context word, e.g. 5")
    _check_int("min_count", min_count, 1, "rarer tokens are dropped, e.g. 5")
    _check_int("seed", seed, 0, "of the random numbers")
    _check_int("shard_pairs", shard_pairs, 1, "pairs per Parquet shard, e.g. 50_000_000")
    _check_int("chunk_pairs", chunk_pairs, 2 * window if isinstance(window, int) else 2,
               "pairs per kernel call and row group: room for one target's 2 * window")
    if not isinstance(sample, (int, float)) or isinstance(sample, bool) or not 0 <= sample < 1:
        raise ValueError(f"sample must be a number in [0, 1) (the subsampling threshold, e.g. "
                         f"1e-4; 0 keeps every word), got {sample!r}")
    if not isinstance(dynamic_window, bool):
        raise ValueError(f"dynamic_window must be True or False, got {dynamic_window!r}")


@writes_target("path", "cooc embed pairs")
def make_pairs(source, path: str | os.PathLike, *, window: int = 5, min_count: int = 5,
               sample: float = 1e-4, dynamic_window: bool = True, seed: int = 1,
               shard_pairs: int = SHARD_PAIRS, chunk_pairs: int = CHUNK_PAIRS,
               tokenizer: str | None = None, text_field: str = "text",
               options: RunOptions | None = None) -> PairsResult:
    """Write the skip-gram pairs of a token store, or of text files, folders or globs
    (tokenized with `tokenizer` first), at `path` (a pairs folder there is replaced
    atomically). `dynamic_window` False: every target's contexts are its whole window."""
    _check_args(window, min_count, sample, dynamic_window, seed, shard_pairs, chunk_pairs)
    options = options or RunOptions()
    config = {"window": int(window), "dynamic_window": dynamic_window,
              "min_count": int(min_count), "sample": float(sample), "seed": int(seed),
              "shard_pairs": int(shard_pairs), "chunk_pairs": int(chunk_pairs)}
    nthreads = options.resolved_num_proc()
    need = (2 * nthreads + 2) * chunk_pairs * 8 + READ_TOKENS * 24
    if need > options.resolved_memory():
        raise CoocError(f"the pairs job needs {fmt_bytes(need)} for {nthreads} threads of "
                        f"{chunk_pairs:,} pairs, over the memory budget of "
                        f"{fmt_bytes(options.resolved_memory())}; lower chunk_pairs or threads")
    art = FolderArtefact(path, fmt.MAGIC, "cooc pairs")  # refuses another artefact first
    try:
        with token_store(source, tokenizer, text_field, options) as store:
            config["tokenizer"] = store.manifest["tokenizer"]["spec"]
            config["source"] = describe_source(source)
            return _write(store, art, config, nthreads, options, source)
    finally:
        art.abort()  # (nothing once finished)


def _emit(kept, pos, ptr, c0, c1, window, dynamic, key):
    cap = (c1 - c0) * 2 * window
    t = np.empty(cap, np.int32)
    c = np.empty(cap, np.int32)
    n = kp.emit_pairs(kept, pos, ptr, c0, c1, window, dynamic, key, t, c)
    return t[:n], c[:n]


class _Shards:
    """The open shard: row groups appended until it holds `shard_pairs`, then closed and
    recorded in the artefact."""

    def __init__(self, art: FolderArtefact, shard_pairs: int):
        import pyarrow as pa

        self.art = art
        self.shard_pairs = shard_pairs
        self.schema = pa.schema([(name, pa.int32()) for name in fmt.PAIR_COLUMNS])
        self.writer = None
        self.rows = 0
        self.shards: list[dict[str, Any]] = []
        self.total = 0

    def append(self, targets: np.ndarray, contexts: np.ndarray) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        a = 0
        while a < len(targets):
            if self.writer is None:
                file = fmt.shard_file(len(self.shards))
                self.writer = pq.ParquetWriter(self.art.tmp / file, self.schema)
                self.rows = 0
            take = min(len(targets) - a, self.shard_pairs - self.rows)
            self.writer.write_table(pa.Table.from_arrays(
                [pa.array(targets[a : a + take]), pa.array(contexts[a : a + take])],
                schema=self.schema))
            a += take
            self.rows += take
            self.total += take
            if self.rows == self.shard_pairs:
                self.close()

    def close(self) -> None:
        if self.writer is None:
            return
        self.writer.close()
        self.writer = None
        file = fmt.shard_file(len(self.shards))
        self.art.add_file(Path(file).stem, file, None, [self.rows])
        self.shards.append({"file": file, "pairs": self.rows})


def _write_vocab(art: FolderArtefact, token_ids, counts, texts, keep_p) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    w = counts.astype(np.float64) ** 0.75
    table = pa.table({"id": pa.array(np.arange(len(counts), dtype=np.int32)),
                      "token_id": pa.array(token_ids.astype(np.int64)),
                      "text": pa.array(texts, pa.string()),
                      "count": pa.array(counts.astype(np.int64)),
                      "unigram": pa.array(w / w.sum()),
                      "keep": pa.array(keep_p.astype(np.float64))})
    pq.write_table(table, art.tmp / fmt.VOCAB)
    art.add_file("vocab", fmt.VOCAB, None, [len(counts)])


def _write(store, art: FolderArtefact, config: dict, nthreads: int, options: RunOptions,
           source) -> PairsResult:
    t0 = time.perf_counter()
    token_ids, counts, texts, dense = vocabulary(store, nthreads, config["min_count"], source)
    keep_p = kw.keep_probabilities(counts, config["sample"])
    keep = kw.keep_thresholds(counts, config["sample"])
    _write_vocab(art, token_ids, counts, texts, keep_p)
    key_keep = seed_state(config["seed"], _KEEP_KEY)
    key_window = seed_state(config["seed"], _WINDOW_KEY)
    window, dynamic = config["window"], config["dynamic_window"]
    step = max(1, config["chunk_pairs"] // (2 * window))
    shards = _Shards(art, config["shard_pairs"])
    corpus_words = int(counts.sum())
    progress = Progress("pairs", total=corpus_words, unit="word", quiet=options.quiet)
    pending: deque = deque()
    position = kept_words = 0

    def drain_one() -> None:
        t, c = pending.popleft().result()
        shards.append(t, c)

    try:
        with ThreadPoolExecutor(nthreads) as pool:
            for tokens, lens in store.iter_batches(READ_TOKENS):
                ids, ptr = kw.dense_ids(tokens, lens, dense)
                kept, pos, kptr = kp.subsample(ids, ptr, position, keep, key_keep)
                position += len(ids)
                kept_words += len(kept)
                for c0 in range(0, len(kept), step):
                    pending.append(pool.submit(_emit, kept, pos, kptr, c0,
                                               min(c0 + step, len(kept)), window, dynamic,
                                               key_window))
                    while len(pending) > 2 * nthreads:
                        drain_one()
                progress.update(len(ids))
            while pending:
                drain_one()
        shards.close()
    finally:
        progress.close()
        if shards.writer is not None:
            shards.writer.close()
    if shards.total == 0:
        raise CoocError(f"no pairs in {source}: no document keeps two words after min_count "
                        f"{config['min_count']} and subsampling; lower min_count or sample")
    seconds = time.perf_counter() - t0
    config = {**config, "corpus_words": corpus_words, "kept_words": kept_words}
    manifest = {"magic": fmt.MAGIC, "format_version": fmt.FORMAT_VERSION,
                "created_by": f"cooc {cooc_version()}", "vocab_size": len(counts),
                "pairs": shards.total, "shards": shards.shards, "config": config,
                "files": art.files}
    path = art.finish(manifest)
    log.info("pairs: %s pairs from %s words (%s kept) in %d shards, %.1f s",
             f"{shards.total:,}", f"{corpus_words:,}", f"{kept_words:,}", len(shards.shards),
             seconds)
    stats = {"seconds": seconds, "pairs_per_second": shards.total / max(seconds, 1e-9),
             "threads": nthreads}
    return PairsResult(path, len(counts), shards.total, len(shards.shards), config, stats)


# -- reading ----------------------------------------------------------------------------------


def _fail(path: Path, problem: str) -> IndexFormatError:
    return IndexFormatError(f"{path}: {problem}")


class Pairs:
    """A pairs artefact. Open with `open_pairs(path)`.

    Attributes: `vocab_size`, `pairs` (in all shards), `shards` ([{"file", "pairs"}]),
    `config` (how they were made), `manifest`; the vocabulary's columns through `vocab`.
    """

    def __init__(self, path: str | os.PathLike, checksums: bool = True):
        """Open the pairs at `path`: the manifest, then, on the first open of these files on
        this machine, every file's sha256 (`cooc.formats.checked`); checksums=False leaves
        that to `verify()`."""
        self.path = Path(path)
        if not os.path.lexists(self.path):
            restore_interrupted(self.path)
        if self.path.exists() and not self.path.is_dir():
            raise _fail(self.path, "is not a pairs folder (a file); make one with "
                                   "`cooc embed pairs STORE -o OUT.pairs`")
        m = read_folder_manifest(self.path, fmt.MANIFEST, fmt.MAGIC, fmt.FORMAT_VERSION,
                                 "a pairs folder", "`cooc embed pairs STORE -o OUT.pairs`",
                                 IndexFormatError)
        self.manifest = m
        problem = self._manifest_problem(m)
        if problem:
            raise _fail(self.path, f"{fmt.MANIFEST}: {problem}")
        self.vocab_size: int = m["vocab_size"]
        self.pairs: int = m["pairs"]
        self.shards: list[dict[str, Any]] = m["shards"]
        if checksums:
            problem = check_once(self.path, fmt.MANIFEST, m["files"])
            if problem:
                raise IndexFormatError(f"{problem}: the pairs are damaged; rebuild them")

    @staticmethod
    def _manifest_problem(m: dict[str, Any]) -> str | None:
        for name in ("vocab_size", "pairs"):
            v = m.get(name)
            if isinstance(v, bool) or not isinstance(v, int) or v < (name == "vocab_size"):
                return f"{name} must be an integer >= {int(name == 'vocab_size')}, got {v!r}"
        if not isinstance(m.get("config"), dict):
            return "config must be an object"
        shards = m.get("shards")
        if not isinstance(shards, list) or not all(
                isinstance(s, dict) and s.get("file") == fmt.shard_file(i)
                and isinstance(s.get("pairs"), int) and not isinstance(s["pairs"], bool)
                and s["pairs"] >= 1 for i, s in enumerate(shards)):
            return "shards must be [{file: pairs-NNNNN.parquet, pairs: n >= 1}] in order"
        if sum(s["pairs"] for s in shards) != m["pairs"]:
            return "the shards' pairs do not add up to pairs"
        want = [("vocab", fmt.VOCAB, [m["vocab_size"]])] + [
            (Path(s["file"]).stem, s["file"], [s["pairs"]]) for s in shards]
        got = [(e.get("name"), e.get("file"), e.get("shape")) for e in m.get("files") or []]
        if got != want:
            return "the files do not match this format"
        return None

    def __repr__(self) -> str:
        return (f"Pairs({str(self.path)!r}, vocab_size={self.vocab_size}, pairs={self.pairs}, "
                f"shards={len(self.shards)})")

    def __len__(self) -> int:
        return self.pairs

    @property
    def config(self) -> dict[str, Any]:
        return dict(self.manifest["config"])

    @cached_property
    def vocab(self) -> dict[str, Any]:
        """The vocabulary's columns (`pairs_format`): id, token_id, count (int64 arrays),
        unigram, keep (float64), text (a list of str); row i is dense id i."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        p = self.path / fmt.VOCAB
        try:
            t = pq.read_table(p)
        except (pa.ArrowException, OSError) as e:
            raise _fail(self.path, f"{fmt.VOCAB} is unreadable ({e}); rebuild the pairs") from None
        if tuple(t.column_names) != fmt.VOCAB_COLUMNS or t.num_rows != self.vocab_size:
            raise _fail(self.path, f"{fmt.VOCAB} must hold the columns {fmt.VOCAB_COLUMNS} "
                                   f"and {self.vocab_size} rows")
        out = {name: t.column(name).to_numpy() for name in fmt.VOCAB_COLUMNS if name != "text"}
        out["text"] = t.column("text").to_pylist()
        if not np.array_equal(out["id"], np.arange(self.vocab_size)):
            raise _fail(self.path, f"{fmt.VOCAB}: ids must be 0..{self.vocab_size - 1}")
        return out

    @property
    def unigram(self) -> np.ndarray:
        """float64 [V]: count^0.75 / Z, the negative-sampling distribution."""
        return self.vocab["unigram"]

    def shard_paths(self) -> list[Path]:
        return [self.path / s["file"] for s in self.shards]

    def iter_batches(self, batch_size: int = 1 << 20) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(targets, contexts), int32 arrays of at most `batch_size` pairs, shard after shard
        in corpus order; each batch's ids are checked to be below vocab_size."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
        for s in self.shards:
            p = self.path / s["file"]
            try:
                f = pq.ParquetFile(p)
                if f.metadata.num_rows != s["pairs"] or f.schema_arrow.names != list(
                        fmt.PAIR_COLUMNS) or any(x != pa.int32() for x in f.schema_arrow.types):
                    raise _fail(self.path, f"{s['file']} must hold {s['pairs']} rows of int32 "
                                           f"columns {fmt.PAIR_COLUMNS}; rebuild the pairs")
                for rb in f.iter_batches(batch_size):
                    t = rb.column(0).to_numpy()
                    c = rb.column(1).to_numpy()
                    for a in (t, c):
                        if a.size and (int(a.min()) < 0 or int(a.max()) >= self.vocab_size):
                            raise _fail(self.path, f"{s['file']} holds ids outside 0.."
                                                   f"{self.vocab_size - 1}; rebuild the pairs")
                    yield t, c
            except (pa.ArrowException, OSError) as e:
                raise _fail(self.path, f"{s['file']} is unreadable ({e}); rebuild the "
                                       "pairs") from None

    def stats(self) -> dict[str, Any]:
        files = {e["name"]: e["bytes"] for e in self.manifest["files"]}
        return {"path": str(self.path), "vocab_size": self.vocab_size, "pairs": self.pairs,
                "shards": len(self.shards), "bytes": int(sum(files.values())),
                "config": self.config}

    def verify(self) -> None:
        """Every file's sha256, the vocabulary and every pair's ids (IndexFormatError)."""
        problem = file_problem(self.path, self.manifest["files"])
        if problem:
            raise IndexFormatError(f"{problem}: the pairs are damaged; rebuild them")
        self.__dict__.pop("vocab", None)
        _ = self.vocab
        for _ in self.iter_batches():
            pass


def open_pairs(path: str | os.PathLike, checksums: bool = True) -> Pairs:
    """Open a pairs artefact (`Pairs`)."""
    return Pairs(path, checksums)
