"""What a job reads: a file, folder, glob or list of them, or the built-in corpus."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from cooc.corpus.default import DEFAULT_CORPUS_NAME, default_corpus_documents
from cooc.corpus.discover import discover_files
from cooc.corpus.readers import Document, iter_batches
from cooc.corpus.report import SkipReport
from cooc.corpus.segment import split_documents


def document_batches(source, text_field: str, batch_size: int, report: SkipReport,
                     granularity: str = "document"
                     ) -> tuple[Callable[[int], Iterator[list[Document]]], dict]:
    """(batches(max_chars) -> document batches, corpus description {source, files}).

    `source` None is the built-in corpus. Files are found now, so a missing path fails
    before any work; batches end at `batch_size` documents or `max_chars` characters. With
    a `granularity` other than document, each document is replaced by its paragraphs,
    lines or sentences (`segment`), which are the documents of everything downstream.
    """
    if source is None:
        docs = list(default_corpus_documents())

        def default_batches(max_chars: int) -> Iterator[list[Document]]:
            for i in range(0, len(docs), batch_size):
                yield split_documents(docs[i : i + batch_size], granularity)

        return default_batches, {"source": DEFAULT_CORPUS_NAME, "files": []}
    files = discover_files(source)

    def batches(max_chars: int) -> Iterator[list[Document]]:
        for docs in iter_batches(files, text_field, report, batch_size, max_chars):
            yield split_documents(docs, granularity)

    sources = list(source) if isinstance(source, (list, tuple)) else [source]
    return batches, {"source": [str(s) for s in sources], "files": [str(f) for f in files]}
