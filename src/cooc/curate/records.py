"""Corpus files read as `DocumentBatch`es that remember how to write each document back.

Every batch's `extra` holds, per document (aligned with `texts`):

- ``file``: int32 index into the run's file list (`CorpusFiles.paths`);
- ``line``: int64 1-based line (JSON lines, .txt) or row (Parquet) in that file;
- ``record``: the raw JSON line (bytes), the Parquet row (dict of every column) or None
  (.txt: the text is the whole record), from `cooc.corpus.readers.iter_records`.

Bad records are skipped and counted in the `SkipReport` with their file:line, exactly as
every other cooc job reads a corpus; they are neither kept nor removed.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cooc.corpus.readers import format_of, iter_records
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
    """The corpus as batches of `batch_size` documents in corpus order, ordinals from 0."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    index = {str(p): i for i, p in enumerate(files.paths)}
    docs = iter_records(list(files.paths), text_field, report)
    ordinal = 0
    while True:
        chunk = list(itertools.islice(docs, batch_size))
        if not chunk:
            return
        n = len(chunk)
        yield DocumentBatch(
            texts=[d.text for d in chunk],
            ordinals=np.arange(ordinal, ordinal + n, dtype=np.int64),
            extra={
                "file": np.array([index[d.source] for d in chunk], np.int32),
                "line": np.array([d.line for d in chunk], np.int64),
                "record": [d.record for d in chunk],
            },
        )
        ordinal += n
