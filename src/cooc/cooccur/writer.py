"""Streaming writer of a cooc index (format: `cooc.cooccur.format`).

Rows arrive in order through `add_rows`; each slice is checked, hashed for the symmetry check,
and encoded at once (columns as token ids) into a stage file in the temporary directory
`<target>.tmp-<pid>`. `finish` knows every degree, so it fixes the column order (degree
rank), re-encodes the stage chunk by chunk into the final arrays, writes the statistics,
texts and manifest, and swaps the directory into place (`cooc.formats.artefact`: the target
holds the whole old index or the whole new one at every instant). Memory stays
O(vocab_size + chunk): the matrix is never held whole.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cooc.cooccur import format
from cooc.formats.artefact import FolderArtefact
from cooc.formats.manifest import HashedFile, cooc_version
from cooc.kernels import codec
from cooc.runtime.ranges import bounded_ranges, even_ranges

_STAGE_DATA = "stage-data.tmp"
_STAGE_SKIP = "stage-skip.tmp"
_CHECK_MESSAGES = {
    codec.COL_OUT_OF_RANGE: "column out of range",
    codec.COLS_NOT_INCREASING: "columns not strictly increasing",
    codec.COUNT_ZERO: "count is 0 (store only counts >= 1)",
}


def _as_uint(name: str, a: Any, dtype: type, ndim: int = 1) -> np.ndarray:
    """`a` as a contiguous array of `dtype`, refusing values the cast would change."""
    arr = np.asarray(a)
    if arr.ndim != ndim:
        raise ValueError(f"{name} must be a {ndim}-d array, got shape {arr.shape}")
    if arr.dtype == dtype:
        return np.ascontiguousarray(arr)
    if arr.dtype.kind not in "iu" and arr.size:
        raise ValueError(f"{name} must hold integers, got dtype {arr.dtype}")
    if arr.size:
        lo, hi = int(arr.min()), int(arr.max())
        info = np.iinfo(dtype)
        if lo < info.min or hi > info.max:
            bad = lo if lo < info.min else hi
            raise ValueError(
                f"{name} holds {bad}, outside {np.dtype(dtype).name} [{info.min}, {info.max}]"
            )
    return np.ascontiguousarray(arr, dtype=dtype)


def _degree_order(deg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(token_of_rank, rank): tokens by decreasing degree, ties by id."""
    token_of_rank = np.argsort(-deg, kind="stable").astype(np.uint32)
    rank = np.empty(deg.shape[0], dtype=np.uint32)
    rank[token_of_rank] = np.arange(deg.shape[0], dtype=np.uint32)
    return token_of_rank, rank


class NotSymmetricError(ValueError):
    """The rows given do not form a symmetric matrix (count(a, b) != count(b, a))."""


@dataclass
class EncodedRows:
    """Rows [row_start, row_start + n) in final form (columns as degree ranks), with their
    symmetry hashes: what `IndexWriter.add_encoded` appends."""

    row_start: int
    row_ptr: np.ndarray  # int64[n+1] from 0
    words: np.ndarray  # uint64: the rows' blocks, each row starting on a word
    row_word: np.ndarray  # int64[n+1] from 0
    skip: np.ndarray  # uint32[blocks, 2]
    bits: np.ndarray  # int64[2]: id and count payload bits
    diagonal: int
    h_row: np.ndarray  # uint64[n]
    h_col: np.ndarray  # uint64[V]

    @property
    def num_rows(self) -> int:
        return self.row_ptr.shape[0] - 1


def encode_final_rows(row_start: int, ptr: np.ndarray, cols: np.ndarray, counts: np.ndarray,
                      rank: np.ndarray | None, vocab_size: int | None = None) -> EncodedRows:
    """Check, hash, remap to ranks and encode rows; raises ValueError naming a bad entry.
    With rank None, columns stay token ids (the writer's stage).

    The bytes of a row depend only on the row and `rank`, so ranges encoded apart (threads,
    workers) and appended in order give the same index as one pass."""
    vocab_size = rank.shape[0] if rank is not None else vocab_size
    problem, r, i = codec.check_rows(ptr, cols, counts, vocab_size)
    if problem:
        detail = _CHECK_MESSAGES[problem]
        if problem == codec.COL_OUT_OF_RANGE:
            detail += f" ({int(cols[ptr[r] + i])} >= vocab_size={vocab_size})"
        raise ValueError(f"add_rows: row {row_start + r}, entry {i}: {detail}")
    n = ptr.shape[0] - 1
    h_row = np.zeros(n, np.uint64)
    h_col = np.zeros(vocab_size, np.uint64)
    diag = codec.sym_hash_rows(row_start, ptr, cols, counts, h_row, h_col, row_start)
    if rank is None:
        ranks, cnt = cols, counts
    else:
        ranks, cnt, bad = codec.permute_rows(ptr, cols, counts, rank, vocab_size)
        if bad >= 0:
            raise RuntimeError(f"internal error: rows from {row_start} do not permute")
    words, rw, skip, bits = codec.encode_rows(ptr, ranks, cnt, format.BLOCK_SIZE)
    return EncodedRows(row_start, ptr, words, rw, skip, bits, int(diag), h_row, h_col)


class _ArrayFile(HashedFile):
    """One array file of the index being appended to, hashed as it is written."""

    def __init__(self, directory: Path, name: str):
        self.name = name
        self.file = format.file_name(name)
        super().__init__(directory / self.file, format.ARRAYS[name][0], format.CHECKSUM)

    def close(self, shape: tuple[int, ...]) -> tuple:
        """Close the file; (name, file, dtype, shape, bytes, checksum) for its manifest entry."""
        super().close()
        dtype = np.dtype(self.dtype)
        if int(np.prod(shape)) * dtype.itemsize != self.nbytes:
            raise RuntimeError(f"internal error: {self.file} has {self.nbytes} bytes for {shape}")
        return self.name, self.file, dtype.str, list(shape), self.nbytes, self.h.hexdigest()

    def discard(self) -> None:
        super().close()


class IndexWriter:
    """Write an index from consecutive row ranges; see the module docstring.

    Parameters
    ----------
    path : the index directory to create (an existing index there is replaced at `finish`).
    vocab_size : number of rows V (token ids 0..V-1).
    chunk_entries : entries re-encoded per step in `finish` (memory ~ 25 bytes per entry);
        the output does not depend on it.

    Use as a context manager: leaving the `with` block by an exception, or without calling
    `finish`, aborts and leaves nothing at `path`.
    """

    def __init__(self, path: str | os.PathLike, vocab_size: int, *, chunk_entries: int = 1 << 21,
                 degrees: np.ndarray | None = None, num_threads: int = 1):
        if isinstance(vocab_size, bool) or not isinstance(vocab_size, (int, np.integer)):
            raise TypeError(f"vocab_size must be an int, got {vocab_size!r}")
        vocab_size = int(vocab_size)
        if not 1 <= vocab_size <= format.MAX_VOCAB:
            raise ValueError(f"vocab_size must be in [1, {format.MAX_VOCAB}], got {vocab_size}")
        if not isinstance(chunk_entries, int) or chunk_entries < 1:
            raise ValueError(f"chunk_entries must be a positive int, got {chunk_entries!r}")
        self.path = Path(path)
        self.vocab_size = vocab_size
        self.chunk_entries = chunk_entries
        self._art = FolderArtefact(self.path, format.MAGIC, "cooc index")
        self._tmp = self._art.tmp
        self._state = "open"
        self._next_row = 0
        self._row_ptr = np.zeros(vocab_size + 1, dtype=np.int64)
        self._stage_word = np.zeros(vocab_size + 1, dtype=np.int64)
        self._h_row = np.zeros(vocab_size, dtype=np.uint64)
        self._h_col = np.zeros(vocab_size, dtype=np.uint64)
        self._diagonal = 0
        self._files: list[_ArrayFile] = []
        self._direct = degrees is not None
        self.num_threads = max(1, int(num_threads))
        if self._direct:
            # every degree known up front: fix the column order now and encode final blocks
            # as rows arrive (one pass, no stage); the bytes equal the staged path's
            deg = _as_uint("degrees", degrees, np.int64)
            if deg.shape[0] != vocab_size or (deg.size and deg.min() < 0):
                raise ValueError(f"degrees must be vocab_size={vocab_size} counts >= 0")
            self._degrees = deg
            self._token_of_rank, self._rank = _degree_order(deg)
            self._data = self._open_array("data")
            self._skip = self._open_array("skip")
            self._row_word = np.zeros(vocab_size + 1, dtype=np.int64)
            self._bits = np.zeros(2, dtype=np.int64)
            self._num_blocks = 0
            self._stage_data = self._stage_skip = None
        else:
            self._stage_data = open(self._tmp / _STAGE_DATA, "wb")
            self._stage_skip = open(self._tmp / _STAGE_SKIP, "wb")

    @property
    def rank(self) -> np.ndarray:
        """Direct mode: the degree rank of every token (the final column order)."""
        if not self._direct:
            raise RuntimeError("the rank is known up front only when degrees= is given")
        return self._rank

    # -- context manager ----------------------------------------------------------------------

    def __enter__(self) -> IndexWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if self._state == "open":
            self.abort()
        return False

    # -- rows ---------------------------------------------------------------------------------

    def add_rows(self, row_start: int, row_ptr: np.ndarray, cols: np.ndarray,
                 counts: np.ndarray) -> None:
        """Append rows [row_start, row_start + n): row i is cols/counts[row_ptr[i]:row_ptr[i+1]].

        row_ptr is int64[n+1] from 0; cols strictly increasing within a row and < vocab_size;
        counts >= 1. Ranges must arrive in order and cover 0..vocab_size-1 exactly; any
        split is allowed (n may be 0) and gives the same index.
        """
        self._require_open("add_rows")
        if int(row_start) != self._next_row:
            raise ValueError(
                f"rows must arrive in order: expected row_start={self._next_row}, got {row_start}"
            )
        ptr = _as_uint("row_ptr", row_ptr, np.int64)
        cols = _as_uint("cols", cols, np.uint32)
        counts = _as_uint("counts", counts, np.uint32)
        n = ptr.shape[0] - 1
        if n < 0 or ptr[0] != 0:
            raise ValueError("row_ptr must have n+1 >= 1 entries and start at 0")
        if np.any(ptr[1:] < ptr[:-1]):
            raise ValueError("row_ptr must be non-decreasing")
        if row_start + n > self.vocab_size:
            raise ValueError(
                f"rows {row_start}..{row_start + n - 1} go past vocab_size={self.vocab_size}"
            )
        if not int(ptr[-1]) == cols.shape[0] == counts.shape[0]:
            raise ValueError(
                f"row_ptr[-1]={int(ptr[-1])}, len(cols)={cols.shape[0]} and "
                f"len(counts)={counts.shape[0]} must be equal"
            )
        if self._direct:
            self._add_final(row_start, ptr, cols, counts)
            return
        for part in self._encode_parts(row_start, ptr, cols, counts, None):
            r0, m = part.row_start, part.num_rows
            self._diagonal += part.diagonal
            self._h_row[r0 : r0 + m] = part.h_row
            self._h_col += part.h_col
            self._stage_word[r0 + 1 : r0 + m + 1] = self._stage_word[r0] + part.row_word[1:]
            self._stage_data.write(part.words.tobytes())
            self._stage_skip.write(part.skip.tobytes())
        self._row_ptr[row_start + 1 : row_start + n + 1] = self._row_ptr[row_start] + ptr[1:]
        self._next_row = row_start + n

    def _encode_parts(self, row_start: int, ptr: np.ndarray, cols: np.ndarray,
                      counts: np.ndarray, rank: np.ndarray | None) -> list[EncodedRows]:
        """The rows cut into sub-ranges of similar size, encoded on `num_threads` threads
        (rows start on a word, so the bytes do not depend on the cut), in order."""
        # each range hashes columns into its own vocabulary-sized array: few ranges
        ranges = even_ranges(ptr, 2 * self.num_threads if ptr[-1] > (1 << 16) else 1)

        def work(rng: tuple[int, int]) -> EncodedRows:
            lo, hi = rng
            a, b = int(ptr[lo]), int(ptr[hi])
            return encode_final_rows(row_start + lo, ptr[lo : hi + 1] - a, cols[a:b],
                                     counts[a:b], rank, self.vocab_size)

        if len(ranges) > 1 and self.num_threads > 1:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(self.num_threads) as pool:
                return list(pool.map(work, ranges))
        return [work(r) for r in ranges]

    def _add_final(self, row_start: int, ptr: np.ndarray, cols: np.ndarray,
                   counts: np.ndarray) -> None:
        """Direct mode: check, hash, remap and encode the rows on `num_threads` threads.

        The rows are cut into sub-ranges of similar size; each is encoded on its own (rows
        start on a word, so the bytes do not depend on the cut) and appended in order.
        """
        n = ptr.shape[0] - 1
        self._check_degrees(row_start, np.diff(ptr))
        for part in self._encode_parts(row_start, ptr, cols, counts, self._rank):
            self._append_encoded(part)
        assert self._next_row == row_start + n

    def add_encoded(self, part: EncodedRows) -> None:
        """Direct mode: append rows already encoded by `encode_final_rows` (e.g. by the
        workers of a distributed build), in order."""
        self._require_open("add_encoded")
        if not self._direct:
            raise RuntimeError("add_encoded needs the degrees: pass degrees= to IndexWriter")
        if part.row_start != self._next_row:
            raise ValueError(f"rows must arrive in order: expected row_start={self._next_row}, "
                             f"got {part.row_start}")
        self._check_degrees(part.row_start, np.diff(part.row_ptr))
        self._append_encoded(part)

    def _check_degrees(self, row_start: int, got: np.ndarray) -> None:
        want = self._degrees[row_start : row_start + got.shape[0]]
        if not np.array_equal(got, want):
            r = int(np.flatnonzero(got != want)[0])
            raise ValueError(f"add_rows: row {row_start + r} has {int(got[r])} entries but "
                             f"degrees said {int(want[r])}")

    def _append_encoded(self, part: EncodedRows) -> None:
        r0, n = part.row_start, part.num_rows
        self._diagonal += part.diagonal
        self._h_row[r0 : r0 + n] = part.h_row
        self._h_col += part.h_col
        self._row_word[r0 + 1 : r0 + n + 1] = self._row_word[r0] + part.row_word[1:]
        self._row_ptr[r0 + 1 : r0 + n + 1] = self._row_ptr[r0] + part.row_ptr[1:]
        self._data.append(part.words)
        self._skip.append(part.skip)
        self._bits += part.bits
        self._num_blocks += int(part.skip.shape[0])
        self._next_row = r0 + n

    # -- finish / abort -----------------------------------------------------------------------

    def finish(self, occurrences: np.ndarray, windows: np.ndarray, token_texts: Sequence[str],
               meta: dict) -> Path:
        """Write statistics, texts and manifest, move the index into place; returns its path.

        occurrences, windows: non-negative integers [vocab_size]; token_texts: vocab_size
        strings (any unicode); meta: a JSON-serialisable dict stored as the manifest's "meta".
        On any error the writer aborts (nothing is left at the target) and re-raises.
        """
        self._require_open("finish")
        try:
            return self._finish(occurrences, windows, token_texts, meta)
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        """Drop everything written so far (the temporary directory); the target is untouched."""
        if self._state == "finished":
            return
        self._state = "aborted"
        for f in (self._stage_data, self._stage_skip):
            if f is not None:
                f.close()
        for af in self._files:
            af.discard()
        self._art.abort()

    # -- internals ----------------------------------------------------------------------------

    def _require_open(self, what: str) -> None:
        if self._state != "open":
            raise RuntimeError(f"IndexWriter.{what}() called after the writer was {self._state}")

    def _finish(self, occurrences, windows, token_texts, meta) -> Path:
        V = self.vocab_size
        if self._next_row != V:
            raise ValueError(
                f"rows {self._next_row}..{V - 1} were never added; add_rows must cover "
                f"0..{V - 1} before finish()"
            )
        occ = _as_uint("occurrences", occurrences, np.uint64)
        win = _as_uint("windows", windows, np.uint64)
        for name, a in (("occurrences", occ), ("windows", win)):
            if a.shape[0] != V:
                raise ValueError(f"{name} must have vocab_size={V} entries, got {a.shape[0]}")
        if isinstance(token_texts, (str, bytes)) or len(token_texts) != V:
            raise ValueError(f"token_texts must be a sequence of vocab_size={V} strings")
        blobs = []
        for i, t in enumerate(token_texts):
            if not isinstance(t, str):
                raise TypeError(f"token_texts[{i}] must be a str, got {type(t).__name__}")
            blobs.append(t.encode("utf-8", "surrogatepass"))
        if not isinstance(meta, dict):
            raise TypeError(f"meta must be a dict, got {type(meta).__name__}")
        try:
            json.dumps(meta, allow_nan=False)
        except (TypeError, ValueError) as e:
            raise ValueError(f"meta must be JSON-serialisable: {e}") from None
        diff = np.flatnonzero(self._h_row != self._h_col)
        if diff.size:
            raise NotSymmetricError(
                f"the matrix is not symmetric: row {int(diff[0])} differs from column "
                f"{int(diff[0])} (count(a, b) must equal count(b, a), both stored)"
            )

        if self._direct:
            num_words, num_blocks, bits = self._close_final()
        else:
            self._stage_data.write(bytes(8))  # guard word: the stage is never empty
            self._stage_data.close()
            self._stage_skip.close()
            num_words, num_blocks, bits = self._encode_final()
            for f in (_STAGE_DATA, _STAGE_SKIP):
                (self._tmp / f).unlink()

        offsets = np.zeros(V + 1, dtype=np.uint64)
        np.cumsum([len(b) for b in blobs], out=offsets[1:])
        text = np.frombuffer(b"".join(blobs), dtype=np.uint8)
        self._write_whole("occurrences", occ)
        self._write_whole("windows", win)
        self._write_whole("text_offsets", offsets)
        self._write_whole("text", text)

        sizes = dict(vocab_size=V, num_blocks=num_blocks, num_words=num_words,
                     text_bytes=int(text.shape[0]))
        specs = {af.name: af.close(format.expected_shape(af.name, **sizes)) for af in self._files}
        self._files = []
        for name in format.ARRAYS:
            self._art.add(*specs[name])
        manifest = {
            "magic": format.MAGIC,
            "format_version": format.FORMAT_VERSION,
            "created_by": f"cooc {cooc_version()}",
            "vocab_size": V,
            "num_entries": int(self._row_ptr[-1]),
            "num_diagonal": int(self._diagonal),
            "num_blocks": num_blocks,
            "block_size": format.BLOCK_SIZE,
            "id_order": format.ID_ORDER,
            "checksum": format.CHECKSUM,
            "payload_bits": {"ids": int(bits[0]), "counts": int(bits[1]),
                             "padding": num_words * 64 - int(bits[0]) - int(bits[1])},
            "files": self._art.files,
            "meta": meta,
        }
        self._art.finish(manifest)
        self._state = "finished"
        return self.path

    def _open_array(self, name: str) -> _ArrayFile:
        af = _ArrayFile(self._tmp, name)
        self._files.append(af)
        return af

    def _write_whole(self, name: str, arr: np.ndarray) -> None:
        self._open_array(name).append(arr)

    def _close_final(self) -> tuple[int, int, np.ndarray]:
        """Direct mode: the blocks are written; add the guard word and the row arrays."""
        self._data.append(np.zeros(1, np.uint64))  # guard word
        self._write_whole("row_ptr", self._row_ptr)
        self._write_whole("row_word", self._row_word)
        self._write_whole("rank", self._rank)
        self._write_whole("token_of_rank", self._token_of_rank)
        return int(self._row_word[-1]), self._num_blocks, self._bits

    def _encode_final(self) -> tuple[int, int, np.ndarray]:
        """Stage (columns = token ids) -> final arrays (columns = degree ranks)."""
        V = self.vocab_size
        B = format.BLOCK_SIZE
        row_ptr = self._row_ptr
        deg = np.diff(row_ptr)
        token_of_rank, rank = _degree_order(deg)
        blk_ptr = np.zeros(V + 1, dtype=np.int64)
        np.cumsum((deg + B - 1) // B, out=blk_ptr[1:])
        nblk = int(blk_ptr[-1])

        def stage_maps():
            # mapped per chunk and dropped after it: pages of a live map count toward RSS,
            # so one map held over the whole stage broke the build's memory budget
            words = np.memmap(self._tmp / _STAGE_DATA, dtype=np.uint64, mode="r")
            skip = np.memmap(self._tmp / _STAGE_SKIP, dtype=np.uint32, mode="r",
                             shape=(nblk, 2)) if nblk else np.zeros((0, 2), np.uint32)
            return words, skip

        data = self._open_array("data")
        skip_f = self._open_array("skip")
        row_word = np.zeros(V + 1, dtype=np.int64)
        bits = np.zeros(2, dtype=np.int64)

        def reencode(rng: tuple[int, int]):
            lo, hi = rng
            stage_words, stage_skip = stage_maps()
            ptr, ids, cnt, bad = codec.decode_rows(lo, hi, row_ptr, self._stage_word, blk_ptr,
                                                   stage_skip, stage_words, B, V)
            del stage_words, stage_skip
            if bad < 0:
                ranks, cnt, bad = codec.permute_rows(ptr, ids, cnt, rank, V)
            if bad >= 0:
                raise RuntimeError(f"internal error: stage rows from {lo} do not decode")
            return (lo, hi, *codec.encode_rows(ptr, ranks, cnt, B))

        # threads share the chunk budget; a group of them is in flight at a time, in order
        T = self.num_threads
        ranges = list(bounded_ranges(row_ptr, max(1, self.chunk_entries // T)))
        pool = None
        if T > 1 and len(ranges) > 1:
            from concurrent.futures import ThreadPoolExecutor

            pool = ThreadPoolExecutor(T)
        try:
            for g in range(0, len(ranges), T):
                group = ranges[g : g + T]
                done = pool.map(reencode, group) if pool else map(reencode, group)
                for lo, hi, words, rw, skip, b in done:
                    row_word[lo + 1 : hi + 1] = row_word[lo] + rw[1:]
                    data.append(words)
                    skip_f.append(skip)
                    bits += b
        finally:
            if pool is not None:
                pool.shutdown()
        data.append(np.zeros(1, np.uint64))  # guard word
        self._write_whole("row_ptr", row_ptr)
        self._write_whole("row_word", row_word)
        self._write_whole("rank", rank)
        self._write_whole("token_of_rank", token_of_rank)
        return int(row_word[-1]), nblk, bits


def write_index(path: str | os.PathLike, vocab_size: int, row_ptr: np.ndarray, cols: np.ndarray,
                counts: np.ndarray, occurrences: np.ndarray, windows: np.ndarray,
                token_texts: Sequence[str], meta: dict) -> Path:
    """Write a whole in-memory CSR (tests, small builds) with `IndexWriter` (one pass)."""
    degrees = np.diff(np.asarray(row_ptr, dtype=np.int64))
    with IndexWriter(path, vocab_size, degrees=degrees) as w:
        w.add_rows(0, row_ptr, cols, counts)
        return w.finish(occurrences, windows, token_texts, meta)
