"""A small built-in corpus that works offline on any CPython: the pydoc topic texts."""

from __future__ import annotations

from collections.abc import Iterator

from cooc.corpus.readers import Document
from cooc.errors import CoocError

DEFAULT_CORPUS_NAME = "pydoc-topics"
DEFAULT_CORPUS_SOURCE = "pydoc_data.topics"


def default_corpus_documents() -> Iterator[Document]:
    """One document per topic of ``pydoc_data.topics.topics`` (about 80 texts, ~0.5 MB),
    sorted by topic key; ``line`` is the 1-based index in that order."""
    try:
        from pydoc_data.topics import topics
    except ImportError:
        raise CoocError(
            "the default corpus needs the standard library's pydoc_data module, which this "
            "Python build lacks; pass a data path instead"
        ) from None
    return (
        Document(topics[key], DEFAULT_CORPUS_SOURCE, i)
        for i, key in enumerate(sorted(topics), 1)
        if topics[key].strip()
    )
