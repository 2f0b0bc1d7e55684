"""Stream documents out of corpus files, counting (never raising on) bad records and files.

Formats, chosen by file name (case-insensitive):

- ``.jsonl``, ``.json`` (+ ``.gz``, ``.zst``, ``.zstd`` for ``.jsonl``): JSON lines, one
  object per line; the text is the string under ``text_field``. A pretty-printed ``.json``
  document is not supported (each of its lines would count as malformed).
- ``.txt`` (+ ``.gz``, ``.zst``): one document per line, as GloVe-style corpora and the
  JSON-lines convention have it: a newline ends a document. The line ending (``\\n`` or
  ``\\r\\n``) is not part of the text.
- ``.parquet``: the ``text_field`` column, read one record batch at a time.

Blank (whitespace-only) lines are ignored without being counted. ``Document.line`` is the
1-based line number (the 1-based row for Parquet); lines are split on ``\\n`` bytes only, so
the numbers match ``sed -n Np`` on the decompressed file. Every line is decoded as strict
UTF-8 on its own, so a bad byte costs one line, not the file. A leading UTF-8 byte-order mark
is dropped. What is skipped, and why, goes to a `SkipReport` (see `cooc.corpus.report`).
"""

from __future__ import annotations

import functools
import gzip
import io
import itertools
import json
import os
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cooc.corpus.report import SkipReport

# name ending -> (format, compression); longest endings first so ".jsonl.gz" wins over ".gz".
FORMATS: dict[str, tuple[str, str]] = {
    ".jsonl.zstd": ("jsonl", "zstd"),
    ".jsonl.zst": ("jsonl", "zstd"),
    ".jsonl.gz": ("jsonl", "gzip"),
    ".parquet": ("parquet", ""),
    ".txt.zst": ("txt", "zstd"),
    ".txt.gz": ("txt", "gzip"),
    ".jsonl": ("jsonl", ""),
    ".json": ("jsonl", ""),
    ".txt": ("txt", ""),
}
SUFFIXES = (".jsonl", ".json", ".jsonl.gz", ".jsonl.zst", ".jsonl.zstd", ".parquet",
            ".txt", ".txt.gz", ".txt.zst")  # fmt: skip

_BOM = b"\xef\xbb\xbf"
_CHUNK = 1 << 20  # bytes per read: big enough that per-call overhead vanishes
_PARQUET_BATCH = 8192  # rows per Arrow record batch
_BLOCK_DOCS = 8192  # documents per RecordBlock of the per-line readers (.txt, Parquet)
_MISSING = object()


@dataclass(frozen=True, slots=True)
class Document:
    """One document: its text and where it came from (``line``: 1-based line or row)."""

    text: str
    source: str
    line: int
    record: Any = None  # only from `iter_records`: the raw JSON line (bytes) or Parquet row (dict)


def format_of(path: str | os.PathLike[str]) -> tuple[str, str] | None:
    """``(format, compression)`` for a corpus file name, or None if the name is not one."""
    name = os.path.basename(os.fspath(path)).lower()
    for ending, fmt in FORMATS.items():
        if name.endswith(ending):
            return fmt
    return None


def iter_documents(
    files: Sequence[str | os.PathLike[str]],
    text_field: str = "text",
    report: SkipReport | None = None,
) -> Iterator[Document]:
    """Yield the documents of ``files`` in order, streaming; skips are counted in ``report``.

    Use `cooc.corpus.discover_files` to turn a folder or glob into ``files``. Bad data never
    raises; a wrong argument does, at call time.
    """
    paths = _check_files(files)
    if not isinstance(text_field, str) or not text_field:
        raise ValueError(f"text_field must be a non-empty string, got {text_field!r}")
    return _iter_documents(paths, text_field, report if report is not None else SkipReport())


def iter_records(
    files: Sequence[str | os.PathLike[str]],
    text_field: str = "text",
    report: SkipReport | None = None,
) -> Iterator[Document]:
    """`iter_documents`, each document also carrying its whole record in ``record``, so that
    a curation step can write it back with every original field: the raw line (bytes,
    without the byte-order mark) of a JSON-lines file, the row (a dict of every column) of a
    Parquet file, None for a ``.txt`` line (the text is the record). The same documents,
    skips and counts as `iter_documents`; a document is held twice (record and text)."""
    paths = _check_files(files)
    if not isinstance(text_field, str) or not text_field:
        raise ValueError(f"text_field must be a non-empty string, got {text_field!r}")
    return _iter_documents(paths, text_field, report if report is not None else SkipReport(),
                           keep_records=True)


@dataclass(slots=True)
class RecordBlock:
    """Documents of one file read together by `iter_record_blocks`: ``texts[i]`` is on line
    (Parquet: row) ``lines[i]`` of ``files[file]`` and its record is ``records[i]``: the raw
    JSON line as bytes *without* its ending ``\\n`` (and without the byte-order mark), the
    Parquet row as a dict of every column, or None for a ``.txt`` line."""

    file: int
    lines: np.ndarray  # int64, increasing
    texts: list[str]
    records: list[Any]

    def __len__(self) -> int:
        return len(self.texts)


def iter_record_blocks(
    files: Sequence[str | os.PathLike[str]],
    text_field: str = "text",
    report: SkipReport | None = None,
) -> Iterator[RecordBlock]:
    """The documents and records of `iter_records` (the same documents, skips, messages and
    counts), a block of lines at a time: JSON lines are read in blocks of about 1 MiB, split
    with one ``bytes.split`` and parsed with orjson (``map`` over the block, no Python
    statement per line); a line the fast path cannot take (bad JSON, no text field, blank,
    ...) goes through the per-line reader, so it is reported exactly as there."""
    paths = _check_files(files)
    if not isinstance(text_field, str) or not text_field:
        raise ValueError(f"text_field must be a non-empty string, got {text_field!r}")
    report = report if report is not None else SkipReport()
    fast = _fast_loads()
    for i, path in enumerate(paths):
        fmt, compression = format_of(path)  # type: ignore[misc]  # checked in _check_files
        if fmt == "jsonl" and fast is not None:
            for first, texts, lines, records in _jsonl_blocks(path, compression, text_field,
                                                               report, fast):
                yield RecordBlock(i, lines + first, texts, records)
            continue
        docs = _iter_documents([path], text_field, report, keep_records=True)
        while chunk := list(itertools.islice(docs, _BLOCK_DOCS)):
            records = [d.record for d in chunk]
            if fmt == "jsonl":  # the per-line reader keeps the line's \n
                records = [r[:-1] if r.endswith(b"\n") else r for r in records]
            yield RecordBlock(i, np.array([d.line for d in chunk], np.int64),
                              [d.text for d in chunk], records)


def iter_batches(
    files: Sequence[str | os.PathLike[str]],
    text_field: str = "text",
    report: SkipReport | None = None,
    batch_size: int = 1024,
    max_chars: int = 0,
) -> Iterator[list[Document]]:
    """`iter_documents` grouped into lists of ``batch_size`` documents (the last one may be
    shorter); with ``max_chars`` > 0 a batch also ends once its texts hold that many
    characters, so a folder of books cannot blow a memory budget."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    docs = iter_documents(files, text_field, report)
    return _batched(docs, batch_size, max_chars)


def _batched(docs: Iterator[Document], batch_size: int, max_chars: int = 0) -> Iterator[list[Document]]:
    batch: list[Document] = []
    chars = 0
    for doc in docs:
        batch.append(doc)
        chars += len(doc.text)
        if len(batch) == batch_size or (max_chars and chars >= max_chars):
            yield batch
            batch = []
            chars = 0
    if batch:
        yield batch


def skip_documents(batches: Iterator[list[Document]], skip: int) -> Iterator[list[Document]]:
    """Batches without their first `skip` documents (still read, so bad records among them
    are still reported): what a resumed job does for the documents it already has."""
    for docs in batches:
        if skip >= len(docs):
            skip -= len(docs)
            continue
        yield docs[skip:] if skip else docs
        skip = 0


def _check_files(files: Any) -> list[Path]:
    if isinstance(files, (str, bytes, os.PathLike)):
        raise TypeError(
            f"files must be a list of paths, got the single path {files!r}; "
            "use discover_files(path) to expand a file, folder or glob"
        )
    paths = [Path(f) for f in files]
    for p in paths:
        if format_of(p) is None:
            raise ValueError(f"not a corpus file: {p}; names must end with one of {SUFFIXES}")
    return paths


def _iter_documents(paths: list[Path], text_field: str, report: SkipReport,
                    keep_records: bool = False) -> Iterator[Document]:
    for path in paths:
        fmt, compression = format_of(path)  # type: ignore[misc]  # checked in _check_files
        if fmt == "parquet":
            yield from _parquet_documents(path, text_field, report, keep_records)
        elif fmt == "txt":
            yield from _txt_documents(path, compression, report)
        else:
            yield from _jsonl_documents(path, compression, text_field, report, keep_records)


# --- line-based formats -------------------------------------------------------------------
#
# Performance notes: lines come from io.BufferedReader's C readline over 1 MiB reads, as
# bytes; the per-line Python work is a few C calls (isspace, decode, loads, isspace). JSON
# parsing dominates: on 1 KB lines ~70 MB/s with json, ~120 MB/s with orjson, which parses
# bytes directly (no decode) and rejects surrogates itself. Tried and dropped: searching
# every line for b"\\ud" (surrogate escapes) cost ~3 us per 1 KB line, as much as orjson's
# parse; now only non-ASCII, stdlib-parsed texts from lines holding b"\\u" are encoded to
# check (str.isascii is O(1)). zstandard's own stream_reader: it returns a silent EOF on a
# truncated file, so a cut .zst would pass for a complete one (see _ZstdRaw).
#
# `iter_record_blocks` (curation, where a document is ~100 characters and per-line Python
# cost is everything): 1 MiB reads (read1, so a cut stream still hands on every complete
# line), one bytes.split per block, then `map(dict.get, map(orjson.loads, lines))`: each
# parsed object is freed as soon as its text is taken (keeping the objects of a block
# alive, then freeing them together, cost ~40% more), and the checks are C-level
# any/all over the texts. 122-char documents: ~1.1-1.5 M/s read with their records, against
# 175 k/s through the per-line reader with orjson. Tried and dropped: parsing a block as one
# JSON array ("[" + b",".join(lines) + "]"): two malformed lines can make one valid object,
# so line boundaries would need checking anyway.


def _jsonl_documents(
    path: Path, compression: str, text_field: str, report: SkipReport,
    keep_records: bool = False,
) -> Iterator[Document]:
    src = str(path)
    fast_loads = _fast_loads()
    for lineno, raw in _lines(path, compression, report):
        report.bytes_read += len(raw)
        if lineno == 1 and raw.startswith(_BOM):
            raw = raw[3:]
        record = raw if keep_records else None
        text = _jsonl_text(raw, src, lineno, text_field, report, fast_loads)
        if text is None:
            continue
        report.documents += 1
        raw = None  # a document of 100 MB is held once, as its text, while it is read on
        yield Document(text, src, lineno, record)
        record = None


def _jsonl_text(raw: bytes, src: str, lineno: int, text_field: str, report: SkipReport,
                fast_loads: Callable[[bytes], Any] | None) -> str | None:
    """The text of one JSON line (BOM already dropped), or None: blank (ignored) or skipped
    (counted in `report`, with its reason and message). Does not count the document."""
    if not raw or raw.isspace():
        return None
    obj = _MISSING
    if fast_loads is not None:
        try:
            obj = fast_loads(raw)
        except ValueError:
            pass  # re-parsed below so both JSON backends give the same reason and message
    # orjson rejects lone surrogate escapes; the stdlib parser lets them through, and no
    # tokenizer can encode one, so only its strings are checked (below).
    may_hold_surrogate = obj is _MISSING
    escapes = False
    if obj is _MISSING:
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            report.skip("invalid_utf8", f"{src}:{lineno}", str(e))
            return None
        escapes = b"\\u" in raw
        try:
            obj = json.loads(line)
        except (ValueError, RecursionError) as e:
            report.skip("malformed_json", f"{src}:{lineno}", str(e) or type(e).__name__)
            return None
        del line
    if type(obj) is not dict:
        report.skip(
            "missing_field",
            f"{src}:{lineno}",
            f"line is a JSON {_json_type(obj)}, not an object",
        )
        return None
    text = obj.get(text_field, _MISSING)
    if text is _MISSING:
        keys = ", ".join(list(obj)[:10]) or "none"
        report.skip(
            "missing_field", f"{src}:{lineno}", f"no {text_field!r} field (keys: {keys})"
        )
        return None
    if type(text) is not str:
        report.skip(
            "non_string_field",
            f"{src}:{lineno}",
            f"{text_field!r} is {_json_type(text)}, not a string",
        )
        return None
    if not text or text.isspace():
        report.skip("empty_text", f"{src}:{lineno}", f"{text_field!r} is empty or whitespace")
        return None
    if may_hold_surrogate and not text.isascii() and escapes and not _encodable(text):
        report.skip("invalid_utf8", f"{src}:{lineno}", f"{text_field!r} holds a lone surrogate")
        return None
    return text


def _jsonl_blocks(
    path: Path, compression: str, text_field: str, report: SkipReport,
    fast_loads: Callable[[bytes], Any],
) -> Iterator[tuple[int, list[str], np.ndarray, list[bytes]]]:
    """(first line number, texts, their lines minus first, their raw lines) per block of
    lines: `_jsonl_documents` with every per-line step a ``map`` over the block; the lines
    any fast step refuses go through `_jsonl_text` one by one (same reports)."""
    src = str(path)
    get = dict.get
    for first, lines, ended in _line_blocks(path, compression, report):
        if first == 1 and lines[0].startswith(_BOM):
            lines[0] = lines[0][3:]
        n = len(lines)
        texts: list[Any] = []
        it = iter(lines)
        while True:  # each object lives only until its text is taken (dict.get)
            try:
                texts.extend(map(get, map(fast_loads, it), itertools.repeat(text_field)))
                break
            except (ValueError, RecursionError, TypeError):
                # bad JSON, or not an object (dict.get refuses it): None in its place, and
                # map resumes after it (the line was taken from `it`)
                texts.append(None)
        try:  # str.isspace refuses a non-str (None: missing, null, refused above)
            fast = not any(map(str.isspace, texts)) and all(texts)
        except TypeError:
            fast = False
        if fast:
            report.documents += n
            yield first, texts, np.arange(n, dtype=np.int64), lines
            continue
        good = np.fromiter(map(isinstance, texts, itertools.repeat(str)), bool, n)
        strs = list(itertools.compress(texts, good.tolist()))
        good[good] = (np.fromiter(map(len, strs), np.int64, len(strs)) > 0) & ~np.fromiter(
            map(str.isspace, strs), bool, len(strs))
        for i in np.flatnonzero(~good).tolist():  # the refused lines only
            # with its \\n as read, so that the stdlib parser's message is the per-line one
            raw = lines[i] + b"\n" if ended else lines[i]
            text = _jsonl_text(raw, src, first + i, text_field, report, fast_loads)
            if text is not None:
                texts[i] = text
                good[i] = True
        keep = good.tolist()
        texts = list(itertools.compress(texts, keep))
        report.documents += len(texts)
        yield first, texts, np.flatnonzero(good), list(itertools.compress(lines, keep))


def _txt_documents(path: Path, compression: str, report: SkipReport) -> Iterator[Document]:
    src = str(path)
    for lineno, raw in _lines(path, compression, report):
        report.bytes_read += len(raw)
        if lineno == 1 and raw.startswith(_BOM):
            raw = raw[3:]
        if not raw or raw.isspace():
            continue
        if raw.endswith(b"\n"):
            raw = raw[:-2] if raw.endswith(b"\r\n") else raw[:-1]
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            report.skip("invalid_utf8", f"{src}:{lineno}", str(e))
            continue
        report.documents += 1
        del raw
        yield Document(text, src, lineno)


def _lines(path: Path, compression: str, report: SkipReport) -> Iterator[tuple[int, bytes]]:
    """``(line number, raw line)`` pairs; a cut or corrupt stream ends the file, counted.

    A partial line at a truncation point is never yielded: BufferedReader.readline raises
    before returning a line that has no newline and no clean end of file behind it.
    """
    src = str(path)
    try:
        fh, truncated_errors, reason = _open(path, compression)
    except OSError as e:
        report.skip("unreadable_file", f"{src}:0", _os_message(e))
        return
    report.files += 1
    lineno = 0
    with fh:
        lines = iter(fh)
        try:
            while True:
                # the line is handed on, not also held here while the reader works on it
                yield lineno + 1, next(lines)
                lineno += 1
        except StopIteration:
            pass
        except truncated_errors as e:
            report.skip(
                reason,
                f"{src}:{lineno + 1}",
                f"{e or type(e).__name__} (after {lineno} complete lines)",
            )
            return
        except OSError as e:
            report.skip("unreadable_file", f"{src}:{lineno + 1}", _os_message(e))
            return
    if lineno == 0:
        report.skip("empty_file", f"{src}:0", "file holds no data")


def _line_blocks(path: Path, compression: str,
                 report: SkipReport) -> Iterator[tuple[int, list[bytes], bool]]:
    """``(number of the first line, lines without their \\n, whether they had one)`` (only
    a last line without \\n has not) per block of about
    `_CHUNK` bytes: the lines, counts and skips of `_lines`. A line is handed on once its
    \\n is read (or the file ends cleanly), so a cut stream loses only its partial line."""
    src = str(path)
    try:
        fh, truncated_errors, reason = _open(path, compression)
    except OSError as e:
        report.skip("unreadable_file", f"{src}:0", _os_message(e))
        return
    report.files += 1
    lineno = 0
    parts: list[bytes] = []  # the unfinished line
    with fh:
        try:
            while data := fh.read1(_CHUNK):
                cut = data.rfind(b"\n")
                if cut < 0:
                    parts.append(data)
                    continue
                parts.append(data[:cut])
                chunk = b"".join(parts) if len(parts) > 1 else parts[0]
                parts = [data[cut + 1:]]
                del data
                lines = chunk.split(b"\n")
                report.bytes_read += len(chunk) + 1
                del chunk
                yield lineno + 1, lines, True
                lineno += len(lines)
        except truncated_errors as e:
            report.skip(
                reason,
                f"{src}:{lineno + 1}",
                f"{e or type(e).__name__} (after {lineno} complete lines)",
            )
            return
        except OSError as e:
            report.skip("unreadable_file", f"{src}:{lineno + 1}", _os_message(e))
            return
    tail = b"".join(parts)
    if tail:
        report.bytes_read += len(tail)
        yield lineno + 1, [tail], False
        lineno += 1
    if lineno == 0:
        report.skip("empty_file", f"{src}:0", "file holds no data")


def _open(path: Path, compression: str) -> tuple[io.BufferedIOBase, tuple[type, ...], str]:
    """An open binary line reader, the exceptions meaning 'cut or corrupt', and their reason."""
    if compression == "gzip":
        return gzip.open(path, "rb"), (EOFError, zlib.error, gzip.BadGzipFile), "truncated_gzip"
    if compression == "zstd":
        import zstandard  # lazy: only .zst corpora need it

        raw = _ZstdRaw(open(path, "rb", buffering=0), zstandard)
        return io.BufferedReader(raw, _CHUNK), (zstandard.ZstdError,), "truncated_zstd"
    return open(path, "rb", buffering=_CHUNK), (), ""


class _ZstdRaw(io.RawIOBase):
    """Decompresses zstd frames one after another; raises ZstdError if the input ends mid-frame."""

    def __init__(self, fh: io.RawIOBase, zstandard: Any) -> None:
        self._fh = fh
        self._zstd = zstandard
        self._dctx = zstandard.ZstdDecompressor()
        self._obj: Any = None  # decompressobj of the current frame
        self._out = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._out:
            out = self._decompress_more()
            if out is None:
                return 0
            self._out = memoryview(out)
        n = min(len(buffer), len(self._out))
        buffer[:n] = self._out[:n]
        self._out = self._out[n:]
        return n

    def _decompress_more(self) -> bytes | None:
        data = self._fh.read(_CHUNK)
        if not data:
            if self._obj is not None and not self._obj.eof:
                raise self._zstd.ZstdError("file ends in the middle of a zstd frame")
            return None
        parts = []
        while data:
            # One decompressobj per frame: with read_across_frames it never reports eof,
            # so a cut could not be told from a clean end.
            if self._obj is None or self._obj.eof:
                self._obj = self._dctx.decompressobj()
            parts.append(self._obj.decompress(data))
            data = self._obj.unused_data if self._obj.eof else b""
        return b"".join(parts)

    def close(self) -> None:
        self._fh.close()
        super().close()


# --- parquet ------------------------------------------------------------------------------


def _parquet_documents(path: Path, text_field: str, report: SkipReport,
                       keep_records: bool = False) -> Iterator[Document]:
    import pyarrow as pa  # lazy: keeps `import cooc` cheap
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    src = str(path)
    try:
        # Opened here so that "cannot open" (unreadable_file) is told from "not Parquet".
        fh = open(path, "rb")
    except OSError as e:
        report.skip("unreadable_file", f"{src}:0", _os_message(e))
        return
    row = 0
    with fh:
        report.files += 1
        if os.fstat(fh.fileno()).st_size == 0:
            report.skip("empty_file", f"{src}:0", "file holds no data")
            return
        try:
            pf = pq.ParquetFile(fh)
        except (pa.ArrowException, OSError, ValueError) as e:
            report.skip("bad_parquet", f"{src}:0", str(e))
            return
        schema = pf.schema_arrow
        if text_field not in schema.names:
            cols = ", ".join(schema.names[:10]) or "none"
            report.skip("missing_field", f"{src}:0", f"no column {text_field!r} (columns: {cols})")
            return
        typ = schema.field(text_field).type
        if not _is_string_type(pa, typ):
            report.skip(
                "non_string_field", f"{src}:0", f"column {text_field!r} has type {typ}, not string"
            )
            return
        if pf.metadata.num_rows == 0:
            report.skip("empty_file", f"{src}:0", "file has no rows")
            return
        try:
            # One row group at a time: a batch spanning two groups would lose the good rows
            # of the first when the second is corrupt.
            batches = (
                batch
                for group in range(pf.num_row_groups)
                for batch in pf.iter_batches(_PARQUET_BATCH, [group],
                                             None if keep_records else [text_field])
            )
            for batch in batches:
                rows = batch.to_pylist() if keep_records else None
                col = batch.column(text_field)
                if pa.types.is_dictionary(col.type):
                    col = col.dictionary_decode()
                report.bytes_read += pc.sum(pc.binary_length(col)).as_py() or 0
                values, invalid = _parquet_texts(pa, col)
                for i, value in enumerate(values):
                    row += 1
                    if i in invalid:
                        report.skip("invalid_utf8", f"{src}:{row}", invalid[i])
                    elif value is None:
                        report.skip("non_string_field", f"{src}:{row}", f"{text_field!r} is null")
                    elif not value or value.isspace():
                        report.skip(
                            "empty_text", f"{src}:{row}", f"{text_field!r} is empty or whitespace"
                        )
                    else:
                        report.documents += 1
                        yield Document(value, src, row, rows[i] if rows is not None else None)
        except (pa.ArrowException, OSError, ValueError) as e:
            report.skip("bad_parquet", f"{src}:{row + 1}", f"{e} (after {row} rows)")


def _parquet_texts(pa: Any, col: Any) -> tuple[list, dict[int, str]]:
    """The column's values as str (None for nulls), and {index: message} of the values that
    are not valid UTF-8: Parquet writers do not all validate, and one bad value must cost its
    row only, not the rest of the file."""
    try:
        return col.to_pylist(), {}
    except UnicodeDecodeError:
        pass
    binary = pa.large_binary() if pa.types.is_large_string(col.type) else pa.binary()
    values, invalid = [], {}
    for i, raw in enumerate(col.view(binary).to_pylist()):
        try:
            values.append(None if raw is None else raw.decode("utf-8"))
        except UnicodeDecodeError as e:
            values.append(None)
            invalid[i] = str(e)
    return values, invalid


def _is_string_type(pa: Any, typ: Any) -> bool:
    if pa.types.is_dictionary(typ):
        typ = typ.value_type
    return pa.types.is_string(typ) or pa.types.is_large_string(typ) or str(typ) == "string_view"


# --- helpers ------------------------------------------------------------------------------


@functools.cache
def _fast_loads() -> Callable[[bytes], Any] | None:
    """orjson.loads if installed (optional, several times faster), else None."""
    try:
        import orjson
    except ImportError:
        return None
    return orjson.loads


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _os_message(e: OSError) -> str:
    # `where` already names the file; strerror alone avoids printing the path twice.
    return f"cannot read the file: {e.strerror or e}"
