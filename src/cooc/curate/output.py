"""Kept and removed documents written in their input's format, with their original fields.

Layout of a run's output folder (installed whole, atomically, by `cooc.curate.run`):

    manifest.json            magic COOC-CURATED, sha256 of every file
    report.json              counts per step and reason, skipped records, parameters, timings
    kept/<input path>        the documents kept (texts after any cuts)
    removed/<input path>     the documents removed, as they were read

`<input path>` is the input's path relative to the inputs' common folder. Formats:

- JSON lines (.jsonl, .json, + .gz / .zst): the same compression. A kept, unedited document
  is its input line byte for byte. A removed one is its input line with the added fields
  spliced in before its closing brace (the line is a JSON object, so this is the object
  with every original field, in order, then the added ones; trailing blanks and \r after
  the brace are dropped). Any other record (an edited text, a line that already holds a
  "cooc_" key) is re-serialized (stdlib json, compact, non-ASCII as is).
- Parquet: the input's columns (schema read from the input file) plus the added ones.
- .txt (+ .gz / .zst): written as JSON lines (`a.txt` -> `a.jsonl`, same compression)
  holding {"text": ...} and the added fields, since a line of text has no room for them.

Added fields: on removed documents `cooc_step` (the step that removed it), `cooc_reason`,
`cooc_duplicate_of` (the ordinal of the kept copy: the 0-based position of a document among
the corpus's valid documents, in input order; null when not known) and `cooc_cluster`
(null: none); on kept documents a step cut parts from, `cooc_removed_spans`
({step name: [[start, end], ...]}, character offsets in the text that step was given).
In Parquet, `cooc_removed_spans` is that object as a JSON string (a kept-file column only
when some step can cut). When a step of the run scores documents (filters), every document,
kept or removed, carries `cooc_scores`: {step name: score} of the steps that scored it (a
JSON string in Parquet).

Compressed files are written as one gzip member / zstd frame per checkpoint, so a resumed
run truncates each file at its last checkpoint and appends; readers see one stream.
"""

from __future__ import annotations

import collections
import gzip
import hashlib
import itertools
import json
import operator
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cooc.curate.records import CorpusFiles

ADDED = ("cooc_step", "cooc_reason", "cooc_duplicate_of", "cooc_cluster")
SPANS_FIELD = "cooc_removed_spans"
SCORES_FIELD = "cooc_scores"
_TXT_ENDINGS = {".txt": ".jsonl", ".txt.gz": ".jsonl.gz", ".txt.zst": ".jsonl.zst"}
# gzip level 6 (zlib's and the gzip tool's default), not Python's 9: on JSON lines 1.7x the
# speed (30 vs 18 MB/s) for 0.5% more bytes. zstd level 3 (its default): 230 MB/s.
GZIP_LEVEL = 6
ZSTD_LEVEL = 3
_MAX_PENDING = 4  # writes queued for the writing thread (two batches' kept + removed)


def output_name(relative: str) -> str:
    """The output file name of an input (relative path): .txt inputs become .jsonl."""
    low = relative.lower()
    for ending in sorted(_TXT_ENDINGS, key=len, reverse=True):
        if low.endswith(ending):
            return relative[: len(relative) - len(ending)] + _TXT_ENDINGS[ending]
    return relative


class LineWriter:
    """A JSON-lines output file, plain or compressed, that can stop at a checkpoint and be
    reopened there (`offset`: truncate to it and append). The file's sha256 is kept as it
    is written (`sha256`), so the manifest need not read the file back."""

    def __init__(self, path: Path, compression: str, offset: int | None = None):
        self.path = path
        self.compression = compression
        path.parent.mkdir(parents=True, exist_ok=True)
        self.hash = hashlib.sha256()
        if offset is None:
            self.raw = open(path, "wb", buffering=1 << 20)
        else:
            self.raw = open(path, "r+b", buffering=1 << 20)
            self.raw.truncate(offset)
            while chunk := self.raw.read(min(1 << 22, offset - self.raw.tell())):
                self.hash.update(chunk)
            self.raw.seek(offset)
        self.z: Any = None

    def _write_raw(self, data: bytes) -> int:  # every byte of the file goes through here
        self.hash.update(data)
        return self.raw.write(data)

    def write(self, data: bytes) -> None:
        if not data:
            return
        if not self.compression:
            self._write_raw(data)
            return
        if self.z is None:
            if self.compression == "gzip":  # no name, mtime 0: the same bytes on every run
                self.z = gzip.GzipFile(filename="", mode="wb", fileobj=_Sink(self._write_raw),
                                       mtime=0, compresslevel=GZIP_LEVEL)
            else:
                import zstandard

                self.z = zstandard.ZstdCompressor(level=ZSTD_LEVEL).stream_writer(
                    _Sink(self._write_raw), closefd=False)
        self.z.write(data)

    def checkpoint(self) -> int:
        """End the current member/frame, flush and fsync; the file's length."""
        if self.z is not None:
            self.z.close()
            self.z = None
        self.raw.flush()
        os.fsync(self.raw.fileno())
        return self.raw.tell()

    def close(self) -> None:
        self.checkpoint()
        self.raw.close()

    def sha256(self) -> str:
        return self.hash.hexdigest()


class _Sink:
    """The file object a compressor writes into: hands every write to `write`."""

    def __init__(self, write):
        self.write = write

    def flush(self) -> None:
        pass


class ParquetWriter:
    """A Parquet output written as one part file per checkpoint, joined into one file (row
    groups in order) by `close`."""

    def __init__(self, path: Path, parts: Path, schema: Any, done_parts: int | None = None):
        self.path = path
        self.parts = parts
        self.schema = schema
        self.rows: list[dict] = []
        if done_parts is None:
            shutil.rmtree(parts, ignore_errors=True)
            done_parts = 0
        parts.mkdir(parents=True, exist_ok=True)
        for p in parts.glob("*.parquet"):
            if int(p.stem) >= done_parts:
                p.unlink()
        self.n_parts = done_parts

    def write_rows(self, rows: list[dict]) -> None:
        self.rows.extend(rows)

    def checkpoint(self) -> int:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if self.rows:
            table = pa.Table.from_pylist(self.rows, schema=self.schema)
            tmp = self.parts / f"{self.n_parts:06d}.tmp"
            pq.write_table(table, tmp)
            os.replace(tmp, self.parts / f"{self.n_parts:06d}.parquet")
            self.n_parts += 1
            self.rows = []
        return self.n_parts

    def close(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.checkpoint()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with pq.ParquetWriter(self.path, self.schema) as w:
            for i in range(self.n_parts):
                w.write_table(pq.read_table(self.parts / f"{i:06d}.parquet", schema=self.schema))
            if not self.n_parts:
                w.write_table(pa.Table.from_pylist([], schema=self.schema))
        shutil.rmtree(self.parts, ignore_errors=True)


class Outputs:
    """Every kept and removed output file of a run (see the module)."""

    def __init__(self, files: CorpusFiles, out: Path, parts: Path, text_field: str,
                 edits: bool, resume: dict[str, int] | None = None, background: bool = False,
                 score_names: Sequence[str] = ()):
        """edits: some step may cut text (kept documents may carry `cooc_removed_spans`);
        score_names: the steps that score documents, in order (every document then carries
        `cooc_scores`; `BatchResult.scores` has a column each);
        background: JSON lines are compressed, hashed and written on a thread (zlib, zstd
        and hashlib release the GIL), in the order given, so the bytes are the same."""
        self.files = files
        self._pool: Any = None
        self._pending: collections.deque = collections.deque()
        if background:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(1, thread_name_prefix="cooc-write")
        self.text_field = text_field
        self.edits = edits
        self.score_names = list(score_names)
        self.scores = bool(self.score_names)
        # '"name":%a' of every scoring step: a float's repr is its JSON (scores are finite)
        self._score_keys = [json.dumps(n, ensure_ascii=False).encode().replace(b"%", b"%%")
                            + b":%a" for n in self.score_names]
        self.writers: dict[str, Any] = {}
        self.formats = [files.format(i)[0] for i in range(len(files.paths))]
        resume = resume or {}
        for i, rel in enumerate(files.relative):
            fmt, compression = files.format(i)
            for kind in ("kept", "removed"):
                key = f"{kind}/{output_name(rel)}"
                if fmt == "parquet":
                    self.writers[key] = ParquetWriter(out / key, parts / (key + ".parts"),
                                                      self._schema(i, kind), resume.get(key))
                else:
                    self.writers[key] = LineWriter(out / key, compression, resume.get(key))
        self.keys = {(i, kind): f"{kind}/{output_name(rel)}"
                     for i, rel in enumerate(files.relative) for kind in ("kept", "removed")}

    def _schema(self, i: int, kind: str) -> Any:
        import pyarrow as pa
        import pyarrow.parquet as pq

        schema = pq.read_schema(self.files.paths[i])
        if kind == "removed":
            for name, typ in zip(ADDED, (pa.string(), pa.string(), pa.int64(), pa.int64()),
                                 strict=True):
                schema = schema.append(pa.field(name, typ))
        elif self.edits:
            schema = schema.append(pa.field(SPANS_FIELD, pa.string()))
        if self.scores:
            schema = schema.append(pa.field(SCORES_FIELD, pa.string()))
        return schema

    def write(self, batch, result, labels: Sequence[tuple[str, Sequence[str]]]) -> None:
        """Write one batch as `result` (a `cooc.curate.run.BatchResult`: kept, step, reason,
        duplicate_of, cluster, texts, spans per document) says; labels[s] is step s's
        (name, reasons). JSON lines go through `_jsonl_lines` (no Python statement per
        document); Parquet rows and .txt lines are made one by one."""
        files = batch.extra["file"]
        n = len(batch)
        cuts = [0, *(np.flatnonzero(files[1:] != files[:-1]) + 1).tolist(), n]
        for a, b in itertools.pairwise(cuts):
            f = int(files[a])
            kept = result.kept[a:b]
            for kind, idx in (("kept", np.flatnonzero(kept) + a),
                              ("removed", np.flatnonzero(~kept) + a)):
                if idx.size == 0:
                    continue
                w = self.writers[self.keys[(f, kind)]]
                if self.formats[f] == "jsonl":
                    self._write(w, self._jsonl_lines(batch, result, labels, idx, kind == "kept"))
                    continue
                items = [self._record(batch, result, labels, i) for i in idx.tolist()]
                if isinstance(w, ParquetWriter):
                    w.write_rows(items)
                else:
                    self._write(w, b"".join(items))

    def _write(self, w: LineWriter, data: bytes) -> None:
        if self._pool is None:
            w.write(data)
            return
        while len(self._pending) >= _MAX_PENDING:  # bounds the memory of queued batches
            self._pending.popleft().result()
        self._pending.append(self._pool.submit(w.write, data))

    def _drain(self) -> None:
        """Wait for the queued writes; an error in one is raised here."""
        while self._pending:
            self._pending.popleft().result()

    def _jsonl_lines(self, batch, result, labels, idx: np.ndarray, kept: bool) -> bytes:
        """The output lines of documents `idx` (all kept or all removed) of a JSON-lines file.

        Performance notes: kept lines are one itemgetter and one join; a line that gains
        fields (removed, or scored) is line[:-1] + its added fields (one bytes % each), all
        `map`s in C: ~0.3 us a document, where json.loads + json.dumps took ~4 us. A line
        that already holds a "cooc_" key (its added field must replace it, in place) or does
        not end with "}" is found by counting '"cooc_' in the joined output, and
        re-serialized; so is a kept line a step cut text from."""
        pick = _picker(idx)
        lines = pick(batch.extra["record"])
        slow: list[int] = []  # positions in idx written by `_record`
        if kept and self.edits:
            spans = pick(result.spans)
            slow = np.flatnonzero(np.fromiter(map(operator.truth, spans), bool,
                                              len(spans))).tolist()
        if kept and not self.scores:
            for j in slow:
                lines[j] = self._record(batch, result, labels, int(idx[j]))[:-1]
            lines.append(b"")
            return b"\n".join(lines)
        lines_in = lines
        if all(map(bytes.endswith, lines, itertools.repeat(b"}"))):
            bodies = lines
        else:  # JSON allows blanks (and a \r) after the brace
            bodies = list(map(bytes.rstrip, lines, itertools.repeat(b" \t\r")))
        # what goes before each closing brace: the removal's fields, then the scores
        added = [b""] * len(bodies) if kept else _added_fields(result, labels, idx)
        if self.scores:
            added = list(map(bytes.__add__, added, self._score_fields(result, idx)))
        lines = list(map(bytes.__add__, map(operator.getitem, bodies,
                                            itertools.repeat(slice(None, -1))), added))
        lines = list(map(bytes.__add__, lines, itertools.repeat(b"}")))
        lines.append(b"")
        out = b"\n".join(lines)
        # each added part holds '"cooc_' 4 times (a removal) and once (scores): more means
        # a line already had one
        per_line = (0 if kept else 4) + (1 if self.scores else 0)
        if not slow and out.count(b'"cooc_') == per_line * len(bodies) and bodies is lines_in:
            return out
        slow = sorted(set(slow) | {j for j, x in enumerate(bodies)
                                   if not x.endswith(b"}") or b'"cooc_' in x})
        lines.pop()
        for j in slow:
            lines[j] = self._record(batch, result, labels, int(idx[j]))[:-1]
        lines.append(b"")
        return b"\n".join(lines)

    def _score_fields(self, result, idx: np.ndarray) -> list[bytes]:
        """`,"cooc_scores":{"step":score,...}` of each document `idx` (the steps that scored
        it), one bytes % each, grouped by which steps scored."""
        sc = result.scores[idx]
        present = ~np.isnan(sc)
        code = present.astype(np.int64) @ (np.int64(1) << np.arange(sc.shape[1], dtype=np.int64))
        uniq, inverse = np.unique(code, return_inverse=True)
        inverse = inverse.reshape(-1)
        out = np.empty(idx.shape[0], object)
        for u, c in enumerate(uniq.tolist()):
            cols = [k for k in range(sc.shape[1]) if c >> k & 1]
            fmt = b',"cooc_scores":{' + b",".join(self._score_keys[k] for k in cols) + b"}"
            sel = np.flatnonzero(inverse == u)
            if cols:
                values = zip(*(sc[sel, k].tolist() for k in cols), strict=True)
                out[sel] = list(map(fmt.__mod__, values))
            else:
                out[sel] = [fmt] * sel.shape[0]
        return out.tolist()

    def _score_dict(self, result, i: int) -> dict[str, float]:
        row = result.scores[i]
        return {name: float(v) for name, v in zip(self.score_names, row.tolist(), strict=True)
                if v == v}

    def _record(self, batch, result, labels, i: int) -> Any:
        """Document i's output: a Parquet row (dict) or a JSON line (bytes, with its \\n),
        re-serialized with its added fields (the slow, obviously correct way)."""
        f = int(batch.extra["file"][i])
        fmt = self.formats[f]
        rec = batch.extra["record"][i]
        spans = result.spans[i]
        if result.kept[i]:
            fields = {SPANS_FIELD: spans} if spans else None
            text = result.texts[i] if spans else None
            if self.scores:
                fields = {**(fields or {}), SCORES_FIELD: self._score_dict(result, i)}
        else:
            s, r = int(result.step[i]), int(result.reason[i])
            dup, cl = int(result.duplicate_of[i]), int(result.cluster[i])
            fields = {"cooc_step": labels[s][0], "cooc_reason": labels[s][1][r],
                      "cooc_duplicate_of": dup if dup >= 0 else None,
                      "cooc_cluster": cl if cl >= 0 else None}
            if self.scores:
                fields[SCORES_FIELD] = self._score_dict(result, i)
            text = None
        if fmt == "parquet":
            row = dict(rec)
            if text is not None:
                row[self.text_field] = text
            if fields:
                fields = {k: json.dumps(v) if k in (SPANS_FIELD, SCORES_FIELD) else v
                          for k, v in fields.items()}
                row.update(fields)
            return row
        if fmt == "jsonl" and fields is None:
            return rec + b"\n"
        obj = json.loads(rec) if fmt == "jsonl" else {"text": batch.texts[i]}
        if text is not None:
            obj[self.text_field if fmt == "jsonl" else "text"] = text
        obj.update(fields or {})
        return (json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n").encode()

    def abort(self) -> None:
        """After an error: let the queued writes end (their errors dropped), stop the thread."""
        if self._pool is not None:
            for f in self._pending:
                f.exception()
            self._pending.clear()
            self._pool.shutdown()

    def checkpoint(self) -> dict[str, int]:
        self._drain()
        return {key: w.checkpoint() for key, w in self.writers.items()}

    def close(self) -> dict[str, str | None]:
        """Close every file: {output name: its sha256, or None where not known (Parquet)}."""
        self._drain()
        if self._pool is not None:
            self._pool.shutdown()
        for w in self.writers.values():
            w.close()
        return {key: w.sha256() if isinstance(w, LineWriter) else None
                for key, w in sorted(self.writers.items())}

def _picker(idx: np.ndarray):
    """A function taking the items `idx` of a list, as a list (operator.itemgetter: C)."""
    get = operator.itemgetter(*idx.tolist())
    if idx.size == 1:
        return lambda seq: [get(seq)]
    return lambda seq: list(get(seq))


def _added_fields(result, labels, idx: np.ndarray) -> list[bytes]:
    """`,"cooc_step":...,"cooc_cluster":...` of each removed document `idx`: compact JSON
    as json.dumps writes it, made with one bytes % per document (C)."""
    code = result.step[idx].astype(np.int64) * 256 + result.reason[idx]
    uniq, inverse = np.unique(code, return_inverse=True)
    dup, cluster = result.duplicate_of[idx], result.cluster[idx]
    ints = (dup >= 0).all() and (cluster >= 0).all()
    fmts = []
    for c in uniq.tolist():
        name, reasons = labels[c // 256]
        head = (f',"cooc_step":{json.dumps(name, ensure_ascii=False)},"cooc_reason":'
                f'{json.dumps(reasons[c % 256], ensure_ascii=False)}').encode()
        fmts.append(head.replace(b"%", b"%%") + (b',"cooc_duplicate_of":%d,"cooc_cluster":%d'
                                                 if ints else
                                                 b',"cooc_duplicate_of":%s,"cooc_cluster":%s'))
    values = (zip(dup.tolist(), cluster.tolist(), strict=True) if ints
              else zip(_ints(dup), _ints(cluster), strict=True))
    if len(fmts) == 1:
        return list(map(fmts[0].__mod__, values))
    per_doc = np.array(fmts, object)[inverse.reshape(-1)].tolist()
    return list(map(bytes.__mod__, per_doc, values))


def _ints(a: np.ndarray) -> list[bytes]:
    """Each int as JSON: its digits, or null when negative."""
    s = a.astype("S21")
    s[a < 0] = b"null"
    return s.tolist()
