"""Backoff n-gram language models: interpolated modified Kneser-Ney estimation as KenLM's
`lmplz` does it, ARPA export and import, and fast batched scoring as KenLM's `query`.

    from cooc.lm import KneserNeyConfig, estimate, read_arpa, write_arpa, LanguageModel
    model = estimate("data/", KneserNeyConfig(order=5, tokenizer="whitespace"))
    write_arpa(model, "corpus.arpa")
    lm = LanguageModel(read_arpa("corpus.arpa"))
    lm.score(["a sentence", "another one"]).perplexity

Layers: `cooc.kernels.lm` (numba: hash tables, the scorer), `kneser_ney` / `arpa` / `model`
(orchestration and the formats), `scorer` (the query artefact), `trie` (the compressed,
optionally quantized on-disk model: `arpa_to_trie`, `open_trie_lm`). Names below are imported on
first use, so `import cooc.lm.config` (the CLI) stays numpy-free.
"""

from cooc.lm.config import KneserNeyConfig

_LAZY = {
    "NgramModel": "cooc.lm.model",
    "estimate": "cooc.lm.kneser_ney",
    "estimate_from_ngrams": "cooc.lm.kneser_ney",
    "read_arpa": "cooc.lm.arpa",
    "write_arpa": "cooc.lm.arpa",
    "LanguageModel": "cooc.lm.scorer",
    "Scores": "cooc.lm.scorer",
    "TrieConfig": "cooc.lm.trie",
    "write_trie": "cooc.lm.trie",
    "arpa_to_trie": "cooc.lm.trie",
    "open_trie_lm": "cooc.lm.trie",
    "TrieLanguageModel": "cooc.lm.trie",
}

__all__ = ["KneserNeyConfig", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'cooc.lm' has no attribute {name!r}")
