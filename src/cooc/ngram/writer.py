"""On-disk layout of an n-gram count index (`X.ngrams/`) and its writer.

Layout (format_version 1; every array little-endian, memory-mappable, sha256 in the manifest)

    manifest.json   magic "COOC-NGRAMS", format_version, order, vocab_size (V, markers
                    included), tokenizer (`Tokenizer.describe()`, or null for integer ids),
                    markers, grams per order, bytes per order and component, the level
                    table, and {name, file, dtype, shape, nbytes, sha256} per array file
    vocab.json      the display text of every id 0..V-1 ("<s>", "</s>" last with markers)
    unigrams.u64    level 1: the count of every token id, uint64[V]
    words.u64       levels 2..order: the encoded entries, level after level, then one 0 word
    skip.u32        uint32[blocks, 2]: first id and bit offset (in its chunk) of every block
    row_word.i64    per level, per chunk: first word of the chunk in words.u64; one more slot
    blk_ptr.i64     per level, per chunk: first block of the chunk in skip.u32; one more slot
    entry_ptr.i64   per level, per chunk: first entry of the chunk in its level; one more slot

The trie. Level 1 is dense (node = token id). Level k >= 2 holds the distinct k-grams in
lexicographic order of their ids; its rows are the nodes of level k - 1 (the token ids for
k = 2, the entry positions of level k - 1 otherwise) and a row's entries are the next token
ids, increasing, with their counts; a k-gram's node is its entry position in level k.
The rows are cut into chunks of 2**shift consecutive rows, and each chunk is one row of the
project's block codec (`cooc.kernels.codec`, blocks of 128 entries, Elias-Fano ids, Rice or
bit-packed counts) with ids (row mod 2**shift) * V + token: strictly increasing along the
chunk, below 2**32. `shift` (per level, in the level table: chunk_base = first slot of the
level in the three chunk arrays, shift, chunks) has 2**shift * V <= 2**32,
at most 16, about 512 entries a chunk on average, and at most 2**22 entries in any chunk.

Why chunks and not one codec row per trie row: most rows above level 2 hold one or two
entries, and a codec row costs a skip entry (8 bytes) per block, a row pointer and word
padding: ~30 bytes per gram. A chunk row pays those once per 128 entries; the price is that
the id gap between consecutive entries of different rows is about V (log2 V + 2 bits
per entry instead of the gap between token ids), see the performance notes of
`cooc.ngram.reader`.

Writing: levels arrive as (row, token, count) streams in order (`add_level`), are spooled to
the temporary folder `X.ngrams.tmp-<pid>`, then encoded chunk group by chunk group on
threads (memory: a group of at most 2**22 entries per thread) at `finish`, which writes the
manifest and renames the folder into place.
"""

from __future__ import annotations

import json
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from cooc.errors import CoocError
from cooc.fileio import HashedFile
from cooc.kernels import codec
from cooc.kernels import ngram as kn
from cooc.ngram.config import MAX_ORDER

MAGIC = "COOC-NGRAMS"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
VOCAB = "vocab.json"
BOS_TEXT = "<s>"
EOS_TEXT = "</s>"
MAX_SHIFT = 16
MAX_CHUNK_ENTRIES = 1 << 22
TARGET_CHUNK_ENTRIES = 512
MAX_COUNT = (1 << 32) - 1  # the codec stores counts of levels >= 2 as uint32
# array name -> (file, dtype, columns)
ARRAYS = {
    "unigrams": ("unigrams.u64", "<u8", 1),
    "words": ("words.u64", "<u8", 1),
    "skip": ("skip.u32", "<u4", 2),
    "row_word": ("row_word.i64", "<i8", 1),
    "blk_ptr": ("blk_ptr.i64", "<i8", 1),
    "entry_ptr": ("entry_ptr.i64", "<i8", 1),
}
_SPOOL = (("rows", "<i8"), ("toks", "<u4"), ("cnts", "<u8"))
_GROUP_ENTRIES = 1 << 22


def bits_per_token(vocab_size: int) -> int:
    """Bits of one token in a packed key (ids stored + 1, 0 = past the end)."""
    return max(1, int(vocab_size).bit_length())


def key_shape(order: int, vocab_size: int) -> tuple[int, int, int]:
    """(bits per token, tokens per word, words per key) of padded `order`-gram keys."""
    bits = bits_per_token(vocab_size)
    if bits > 32:
        raise ValueError(f"vocab_size {vocab_size} is too large for n-gram keys (at most 2**32 - 1)")
    per_word = 64 // bits
    return bits, per_word, -(-order // per_word)


def _is_ngram_dir(path: Path) -> bool:
    try:
        with open(path / MANIFEST, encoding="utf-8") as f:
            return json.load(f).get("magic") == MAGIC
    except (OSError, ValueError, AttributeError):
        return False


def check_replaceable(path: Path) -> None:
    """Refuse to replace anything but an empty folder or an n-gram index."""
    if not (path.exists() or path.is_symlink()):
        return
    if path.is_dir() and not path.is_symlink() and (not any(path.iterdir()) or _is_ngram_dir(path)):
        return
    raise CoocError(f"refusing to replace {path}: it exists and is not a cooc n-gram index; "
                    "remove it or choose another output path")


class NgramWriter:
    """Write an n-gram index from its levels; see the module docstring.

    Parameters
    ----------
    path : the `X.ngrams` folder to create (an n-gram index there is replaced at `finish`).
    order : highest order (1..8).
    vocab_size : V, markers included.
    texts : the display text of every id (V strings).
    header : extra manifest fields (tokenizer, markers, corpus, ...).

    Use as a context manager: leaving the block by an exception, or without `finish`,
    removes the temporary folder and leaves nothing at `path`.
    """

    def __init__(self, path: str | os.PathLike, order: int, vocab_size: int, texts: list[str],
                 header: dict[str, Any], num_threads: int = 1):
        if not 1 <= order <= MAX_ORDER:
            raise ValueError(f"order must be in [1, {MAX_ORDER}], got {order}")
        if len(texts) != vocab_size:
            raise ValueError(f"{len(texts)} token texts for vocab_size {vocab_size}")
        self.path = Path(path)
        self.order = order
        self.vocab_size = vocab_size
        self.texts = texts
        self.header = header
        self.num_threads = max(1, num_threads)
        check_replaceable(self.path)
        self.tmp = self.path.with_name(f"{self.path.name}.tmp-{os.getpid()}")
        if self.tmp.exists():
            shutil.rmtree(self.tmp)
        self.tmp.mkdir(parents=True)
        self.unigrams = np.zeros(vocab_size, np.uint64)
        self._spools = {k: [open(self._spool_path(k, n), "wb") for n, _ in _SPOOL]
                        for k in range(2, order + 1)}
        self.grams = {k: 0 for k in range(2, order + 1)}
        self._done = False

    def __enter__(self) -> NgramWriter:
        return self

    def __exit__(self, *exc) -> None:
        if not self._done:
            self.abort()

    def abort(self) -> None:
        for files in self._spools.values():
            for f in files:
                f.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def _spool_path(self, k: int, name: str) -> Path:
        return self.tmp / f"level{k}.{name}.tmp"

    def add_level(self, k: int, rows: np.ndarray, toks: np.ndarray, cnts: np.ndarray) -> None:
        """Append the next entries of level k (rows non-decreasing, tokens increasing per row)."""
        if len(cnts) and int(cnts.max()) > MAX_COUNT:
            raise CoocError(f"a {k}-gram occurs {int(cnts.max())} times: counts of 2-grams and "
                            f"longer are stored as uint32 (at most {MAX_COUNT})")
        for f, a, (_, dt) in zip(self._spools[k], (rows, toks, cnts), _SPOOL, strict=True):
            f.write(np.ascontiguousarray(a, dtype=dt).tobytes())
        self.grams[k] += len(rows)

    # -- finish ------------------------------------------------------------------------------

    def _read(self, k: int, name: str, lo: int, hi: int) -> np.ndarray:
        dt = np.dtype(dict(_SPOOL)[name])
        with open(self._spool_path(k, name), "rb") as f:
            return np.fromfile(f, dt, hi - lo, offset=lo * dt.itemsize)

    def _chunk_sizes(self, k: int, nrows: int, shift: int) -> np.ndarray:
        nchunks = max(1, -(-nrows >> shift)) if nrows else 0
        sizes = np.zeros(nchunks, np.int64)
        n = self.grams[k]
        for lo in range(0, n, 1 << 24):
            rows = self._read(k, "rows", lo, min(n, lo + (1 << 24)))
            sizes += np.bincount(rows >> shift, minlength=nchunks)[:nchunks]
        return sizes

    def _level_shape(self, k: int, nrows: int) -> tuple[int, np.ndarray]:
        # about TARGET_CHUNK_ENTRIES entries a chunk: a lookup's binary search over the
        # chunk's blocks stays 2-3 steps; a chunk costs ~28 bytes (3 slots, padding)
        per_row = max(1.0, self.grams[k] / max(1, nrows))
        shift = min(MAX_SHIFT, ((1 << 32) // self.vocab_size).bit_length() - 1,
                    max(0, int(np.log2(TARGET_CHUNK_ENTRIES / per_row))))
        while True:
            sizes = self._chunk_sizes(k, nrows, shift)
            if not len(sizes) or sizes.max() <= MAX_CHUNK_ENTRIES or shift == 0:
                return shift, sizes
            shift -= 1

    def _encode_group(self, k: int, shift: int, eptr: np.ndarray, c0: int, c1: int):
        lo, hi = int(eptr[c0]), int(eptr[c1])
        rows = self._read(k, "rows", lo, hi)
        ids = kn.level_keys(rows, self._read(k, "toks", lo, hi), shift, self.vocab_size)
        cnts = self._read(k, "cnts", lo, hi).astype(np.uint32)
        words, rw, skip, bits = codec.encode_rows(eptr[c0 : c1 + 1] - lo, ids, cnts, kn.BLOCK)
        if len(rw) > 1 and int(np.diff(rw).max()) >= 1 << 26:
            raise RuntimeError(f"internal error: a level-{k} chunk exceeds 2**32 bits")
        return words, rw, skip, bits

    def finish(self) -> Path:
        for files in self._spools.values():
            for f in files:
                f.close()
        out = {name: HashedFile(self.tmp / file, dt) for name, (file, dt, _) in ARRAYS.items()}
        out["unigrams"].append(self.unigrams)
        levels = []
        stats = {1: {"grams": int(np.count_nonzero(self.unigrams)), "id_bytes": 0,
                     "count_bytes": self.unigrams.nbytes, "pointer_bytes": 0}}
        word_base = blk_base = slot = 0
        nrows = self.vocab_size
        with ThreadPoolExecutor(self.num_threads) as pool:
            for k in range(2, self.order + 1):
                shift, sizes = self._level_shape(k, nrows)
                eptr = np.zeros(len(sizes) + 1, np.int64)
                np.cumsum(sizes, out=eptr[1:])
                groups = []
                c0 = 0
                while c0 < len(sizes):
                    c1 = int(np.searchsorted(eptr, eptr[c0] + _GROUP_ENTRIES, side="right")) - 1
                    c1 = min(max(c1, c0 + 1), len(sizes))
                    groups.append((c0, c1))
                    c0 = c1
                bits = np.zeros(2, np.int64)
                words_before = word_base
                nblk_before = blk_base
                for g in range(0, len(groups), self.num_threads):
                    batch = groups[g : g + self.num_threads]
                    for words, rw, skip, b in pool.map(
                            lambda cc, k=k, shift=shift, eptr=eptr: self._encode_group(
                                k, shift, eptr, *cc), batch):
                        out["words"].append(words)
                        out["row_word"].append(rw[:-1] + word_base)
                        out["skip"].append(skip)
                        word_base += len(words)
                        bits += b
                for c0, c1 in groups:
                    nblk = -(-(eptr[c0 + 1 : c1 + 1] - eptr[c0:c1]) // kn.BLOCK)
                    starts = np.zeros(c1 - c0, np.int64)
                    np.cumsum(nblk[:-1], out=starts[1:])
                    out["blk_ptr"].append(starts + blk_base)
                    blk_base += int(nblk.sum())
                out["row_word"].append(np.array([word_base], np.int64))
                out["blk_ptr"].append(np.array([blk_base], np.int64))
                out["entry_ptr"].append(eptr)
                levels.append({"order": k, "chunk_base": slot, "shift": shift,
                               "chunks": len(sizes), "entries": int(eptr[-1])})
                slot += len(sizes) + 1
                word_bytes = 8 * (word_base - words_before)
                ptr_bytes = (word_bytes - (int(bits.sum()) + 7) // 8
                             + 8 * (blk_base - nblk_before) + 3 * 8 * (len(sizes) + 1))
                stats[k] = {"grams": int(eptr[-1]), "id_bytes": int(bits[0]) / 8,
                            "count_bytes": int(bits[1]) / 8, "pointer_bytes": ptr_bytes}
                nrows = int(eptr[-1])
        out["words"].append(np.zeros(1, np.uint64))  # sentinel: reads past the end stay inside
        files = {}
        for name, f in out.items():
            f.close()
            cols = ARRAYS[name][2]
            n = f.nbytes // np.dtype(f.dtype).itemsize
            files[name] = {"file": ARRAYS[name][0], "dtype": np.dtype(f.dtype).str,
                           "shape": [n // cols, cols] if cols > 1 else [n], "nbytes": f.nbytes,
                           "sha256": f.h.hexdigest()}
        for k in range(2, self.order + 1):
            for name, _ in _SPOOL:
                self._spool_path(k, name).unlink()
        (self.tmp / VOCAB).write_text(json.dumps(self.texts, ensure_ascii=False), encoding="utf-8")
        from cooc.index.writer import cooc_version

        manifest = {"magic": MAGIC, "format_version": FORMAT_VERSION, "order": self.order,
                    "vocab_size": self.vocab_size, **self.header,
                    "grams": {str(k): v["grams"] for k, v in stats.items()},
                    "bytes": {str(k): {c: v[c] for c in ("id_bytes", "count_bytes", "pointer_bytes")}
                              for k, v in stats.items()},
                    "block": kn.BLOCK, "levels": levels, "files": files,
                    "created_by": f"cooc {cooc_version()}"}
        (self.tmp / MANIFEST).write_text(json.dumps(manifest, indent=1, ensure_ascii=False),
                                         encoding="utf-8")
        if self.path.exists():
            shutil.rmtree(self.path)
        os.replace(self.tmp, self.path)
        self._done = True
        return self.path
