"""`load_tokenizer(spec)`: the one way to get a tokenizer from its spec string."""

from __future__ import annotations

from cooc.errors import CoocError
from cooc.tokenizers.base import Tokenizer, resolve_threads

SPEC_FORMS = (
    "qwen (default: Qwen2/Qwen2.5 BPE)",
    "whitespace (words split on whitespace, vocabulary grown from the corpus)",
    "words (lower-cased letter runs, digits and punctuation dropped, vocabulary grown from "
    "the corpus: for word embeddings)",
    "tiktoken:<encoding name, e.g. cl100k_base>",
    "tiktoken:<path>.tiktoken[?pattern=cl100k|o200k|qwen|r50k]",
    "hf:<tokenizer.json, a folder holding one, or a hub id>",
)


def load_tokenizer(spec: str, num_threads: int = 0) -> Tokenizer:
    """The tokenizer named by `spec`; `num_threads` for `encode_batch` (0 = all cores).

    Loaded vocabularies are cached per process, so loading the same spec again is cheap.
    """
    if not isinstance(spec, str):
        raise TypeError(f"a tokenizer spec is a str, got {type(spec).__name__}: {spec!r}")
    threads = resolve_threads(num_threads)
    kind, sep, rest = spec.strip().partition(":")
    if kind == "qwen" and not sep:
        from cooc.tokenizers.qwen import load_qwen

        return load_qwen(threads)
    if kind == "whitespace" and not sep:
        from cooc.tokenizers.whitespace import WhitespaceTokenizer

        return WhitespaceTokenizer(threads)
    if kind == "words" and not sep:
        from cooc.tokenizers.words import WordsTokenizer

        return WordsTokenizer(threads)
    if kind == "tiktoken" and sep and rest:
        from cooc.tokenizers.tiktoken_ import load_tiktoken_spec

        return load_tiktoken_spec(rest, threads)
    if kind == "hf" and sep:
        from cooc.tokenizers.hf import load_hf

        return load_hf(rest, threads)
    raise CoocError(f"unknown tokenizer spec {spec!r}; valid forms: " + "; ".join(SPEC_FORMS))


# kinds whose vocabulary is grown from the corpus: an artefact stores their words, and
# `grown_tokenizer` remakes the tokenizer from them
GROWN_KINDS = ("whitespace", "words")


def grown_tokenizer(kind: str, words, num_threads: int = 1, frozen: bool = True) -> Tokenizer:
    """The tokenizer of kind `kind` (one of `GROWN_KINDS`) whose id i is `words[i]` (e.g. an
    index's token texts); with frozen=False it goes on growing (a resumed tokenization)."""
    if kind == "words":
        from cooc.tokenizers.words import WordsTokenizer as cls
    elif kind == "whitespace":
        from cooc.tokenizers.whitespace import WhitespaceTokenizer as cls
    else:
        raise ValueError(f"{kind!r} is not a grown vocabulary; kinds: {', '.join(GROWN_KINDS)}")
    return cls.from_vocabulary(words, num_threads, frozen=frozen)
