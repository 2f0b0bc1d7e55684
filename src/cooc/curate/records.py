"""Corpus files read as `DocumentBatch`es that remember how to write each document back.

Every batch's `extra` holds, per document (aligned with `texts`):

- ``file``: int32 index into the run's file list (`CorpusFiles.paths`);
- ``line``: int64 1-based line (JSON lines, .txt) or row (Parquet) in that file;
- ``record``: the raw JSON line (bytes, without its ending newline), the Parquet row (dict
  of every column) or None (.txt: the text is the whole record), from
  `cooc.corpus.readers.iter_record_blocks`.

Bad records are skipped and counted in the `SkipReport` with their file:line, exactly as
every other cooc job reads a corpus; they are neither kept nor removed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cooc.corpus.readers import format_of, iter_record_blocks
from cooc.corpus.report import SkipReport
from cooc.curate.step import DocumentBatch


@dataclass(frozen=True)
class CorpusFiles:
    """The input files of a run, in corpus order, and the names their outputs get: each
    output mirrors its input's path relative to the inputs' common folder (`relative`)."""

    paths: tuple[Path, ...]
    relative: tuple[str, ...]

    @classmethod
    def of(cls, paths: Sequence[str | os.PathLike]) -> CorpusFiles:
        paths = tuple(Path(p) for p in paths)
        if not paths:
            raise ValueError("no corpus files given")
        absolute = [os.path.abspath(p) for p in paths]
        root = os.path.commonpath([os.path.dirname(a) for a in absolute])
        relative = tuple(os.path.relpath(a, root) for a in absolute)
        if len(set(relative)) != len(relative):
            raise ValueError(f"two inputs map to one output name: {relative}")
        return cls(paths, relative)

    def format(self, i: int) -> tuple[str, str]:
        """(format, compression) of file i (see `cooc.corpus.readers.FORMATS`)."""
        return format_of(self.paths[i])  # type: ignore[return-value]  # checked by the reader


def read_batches(files: CorpusFiles, report: SkipReport, batch_size: int = 8192,
                 text_field: str = "text") -> Iterator[DocumentBatch]:
    """The corpus as batches of `batch_size` documents in corpus order, ordinals from 0.
    Blocks of records are cut and joined with list slices: nothing runs per document."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    texts: list[str] = []
    records: list = []
    file_ids: list[np.ndarray] = []
    lines: list[np.ndarray] = []
    ordinal = 0

    def batch() -> DocumentBatch:
        n = len(texts)
        return DocumentBatch(
            texts=texts,
            ordinals=np.arange(ordinal, ordinal + n, dtype=np.int64),
            extra={"file": np.concatenate(file_ids), "line": np.concatenate(lines),
                   "record": records},
        )

    for block in iter_record_blocks(list(files.paths), text_field, report):
        pos, n = 0, len(block)
        while pos < n:
            take = min(batch_size - len(texts), n - pos)
            end = pos + take
            whole = pos == 0 and end == n
            texts.extend(block.texts if whole else block.texts[pos:end])
            records.extend(block.records if whole else block.records[pos:end])
            file_ids.append(np.full(take, block.file, np.int32))
            lines.append(block.lines[pos:end])
            pos = end
            if len(texts) == batch_size:
                yield batch()
                ordinal += batch_size
                texts, records, file_ids, lines = [], [], [], []
    if texts:
        yield batch()
