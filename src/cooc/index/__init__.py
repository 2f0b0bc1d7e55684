"""The on-disk co-occurrence index: streaming writer, memory-mapped reader, verifier.

Layout and format version: `cooc.index.layout`.
"""

from cooc.index.reader import CoocIndex, open_index
from cooc.index.verify import verify_index
from cooc.index.writer import IndexWriter, write_index

__all__ = ["CoocIndex", "IndexWriter", "open_index", "verify_index", "write_index"]
