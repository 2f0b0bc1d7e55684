"""N-gram counts of orders 1..8 in compressed space: counting in bounded memory, an
Elias-Fano trie index (`X.ngrams/`), lookups, continuations, and the Google n-gram format.

    from cooc.ngram import NgramConfig, count_ngrams, open_ngrams
    count_ngrams("data/", "corpus.ngrams", NgramConfig(order=5))  # + RunOptions: how it runs
    idx = open_ngrams("corpus.ngrams")
    idx.lookup(idx.encode(" of the")), idx.continuations(idx.encode(" of"))

Layers: `cooc.kernels.ngram` (counting kernels), `cooc.kernels.ngram_trie` (the trie's
kernels, over `cooc.kernels.succinct.elias_fano` and `cooc.kernels.succinct.count_code`), `count` / `build` /
`writer` (orchestration and the on-disk layout), `reader` and `google` (the query artefact and
the text format), `hashed` (`HashedNgrams(idx)`: the index in hash tables, constant-time
lookups in memory). Names below are imported on first use, so `import cooc.ngram.config` (the
CLI) stays numpy-free.
"""

from cooc.ngram.config import NgramConfig

_LAZY = {
    "NgramResult": "cooc.ngram.build",
    "count_ngrams": "cooc.ngram.build",
    "count_ngrams_from_arrays": "cooc.ngram.build",
    "NgramIndex": "cooc.ngram.reader",
    "open_ngrams": "cooc.ngram.reader",
    "HashedNgrams": "cooc.ngram.hashed",
    "export_google": "cooc.ngram.google",
    "import_google": "cooc.ngram.google",
}

__all__ = ["NgramConfig", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'cooc.ngram' has no attribute {name!r}")
