"""Corpus reading: find files, stream documents, count what was skipped."""

from cooc.corpus.default import default_corpus_documents
from cooc.corpus.discover import discover_files
from cooc.corpus.readers import Document, iter_batches, iter_documents
from cooc.corpus.report import SkipReport

__all__ = [
    "Document",
    "SkipReport",
    "default_corpus_documents",
    "discover_files",
    "iter_batches",
    "iter_documents",
]
