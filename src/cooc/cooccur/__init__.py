"""The co-occurrence product: which tokens met in a context window, how often, how close.

    build/     the build job (corpus -> windows -> counts -> index), local or as engine tasks
    config     what a build counts (BuildConfig, WindowConfig; recorded in the index)
    format     the on-disk layout of an index, documented once
    writer, reader, verify    the index artefact: streaming writer, memory map, checks
    query      Analyzer: token names, neighbours by count or association, shared neighbours
    merge, diff, positions, association, export    what is done with built indexes

Names below are imported on first use, so `import cooc.cooccur.config` (the CLI) stays cheap.
"""

_LAZY = {
    "BuildConfig": "cooc.cooccur.config",
    "WindowConfig": "cooc.cooccur.config",
    "build_index": "cooc.cooccur.build.job",
    "CoocIndex": "cooc.cooccur.reader",
    "open_index": "cooc.cooccur.reader",
    "verify_index": "cooc.cooccur.verify",
    "IndexWriter": "cooc.cooccur.writer",
    "write_index": "cooc.cooccur.writer",
    "Analyzer": "cooc.cooccur.query",
}

__all__ = list(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'cooc.cooccur' has no attribute {name!r}")
