"""Tokenizers: text -> uint32 token ids, each kind behind the `Tokenizer` interface.

    from cooc.tokenizers import load_tokenizer
    tok = load_tokenizer("qwen", num_threads=4)
    ids = tok.encode_batch(["Hello world", "你好"])

Specs: qwen (default), whitespace, words, tiktoken:<name or file>, hf:<tokenizer.json, folder or hub
id>; see `registry.SPEC_FORMS`. Importing this package loads no vocabulary.
"""

from cooc.tokenizers.base import Tokenizer
from cooc.tokenizers.registry import GROWN_KINDS, SPEC_FORMS, grown_tokenizer, load_tokenizer

__all__ = ["GROWN_KINDS", "SPEC_FORMS", "Tokenizer", "grown_tokenizer", "load_tokenizer"]
