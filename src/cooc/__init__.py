"""cooc: what an LLM sees in its training data.

Every product's public names, imported on first use (`import cooc` stays cheap: numba and
the tokenizers load when a name that needs them is touched). The rooms behind them are
described in ARCHITECTURE.md: one package per product (`cooc.cooccur`, `cooc.store`,
`cooc.ngram`, `cooc.lm`, `cooc.embed`) over shared stages (`cooc.corpus`, `cooc.tokenizers`,
`cooc.runtime`, `cooc.engines`, `cooc.formats`, `cooc.kernels`).
"""

__version__ = "0.1.0"

_LAZY = {
    # how every job runs, and the one user-facing error
    "RunOptions": "cooc.options",
    "CoocError": "cooc.errors",
    # co-occurrence index
    "BuildConfig": "cooc.cooccur.config",
    "WindowConfig": "cooc.cooccur.config",
    "build_index": "cooc.cooccur.build.job",
    "open_index": "cooc.cooccur.reader",
    "CoocIndex": "cooc.cooccur.reader",
    "Analyzer": "cooc.cooccur.query",
    # token store
    "tokenize_corpus": "cooc.store.tokenize",
    "open_store": "cooc.store.reader",
    # n-gram counts
    "NgramConfig": "cooc.ngram.config",
    "count_ngrams": "cooc.ngram.build",
    "open_ngrams": "cooc.ngram.reader",
    # Kneser-Ney language models
    "KneserNeyConfig": "cooc.lm.config",
    "estimate": "cooc.lm.kneser_ney",
    "read_arpa": "cooc.lm.arpa",
    "open_trie_lm": "cooc.lm.trie",
    # word vectors
    "PpmiSvdConfig": "cooc.embed.config",
    "ppmi_svd": "cooc.embed.ppmi",
    "train_word2vec": "cooc.embed.word2vec",
    "open_vectors": "cooc.embed.vectors",
    "Vectors": "cooc.embed.vectors",
}
_ALIASES = {"build": ("cooc.cooccur.build.job", "build_index")}  # the name of the first release

__all__ = ["__version__", *_LAZY, *_ALIASES]


def __getattr__(name):
    import importlib

    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    if name in _ALIASES:
        module, attr = _ALIASES[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'cooc' has no attribute {name!r}")
