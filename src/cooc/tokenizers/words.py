r"""Lower-cased words, digits and punctuation dropped: the tokenizer for word embeddings
(PPMI-SVD, GloVe, word2vec), with a vocabulary grown from the corpus as `whitespace`.

A word is a maximal run of letters, after `str.lower()`: characters that Python's `re`
counts as word characters (`\w`), less decimal digits (`\d`) and "_" (ASCII text: a-z). Everything else (digits, punctuation, symbols, whitespace) separates words,
so "Don't stop2go!" is "don", "t", "stop", "go". No word holds a digit, a space or "</s>":
id 0 stays the end-of-text word "</s>" of the whitespace tokenizer, never read from text.

Ids, freezing and the vocabulary's arrays are the whitespace tokenizer's
(`cooc.tokenizers.whitespace`); only the text handed to its kernel differs.
"""

from __future__ import annotations

import re

from cooc.tokenizers.whitespace import WhitespaceTokenizer

# ASCII text: bytes.lower() and one bytes.translate (C loops over bytes) make every byte
# that is not a-z a space; the whitespace kernel then splits on the spaces.
_ASCII_LETTERS = bytes(range(ord("a"), ord("z") + 1))
_ASCII_TABLE = bytes(c if c in _ASCII_LETTERS else 0x20 for c in range(256))
# other text: one regex substitution (in C) over the lower-cased text
_NOT_LETTERS = re.compile(r"[\W\d_]+")


def normalize_words(text: str) -> str:
    """`text` lower-cased, with every run of non-letters (digits, "_", punctuation,
    whitespace) made one space: the words the tokenizer reads, space-separated."""
    if text.isascii():
        return text.encode("ascii").lower().translate(_ASCII_TABLE).decode("ascii")
    return _NOT_LETTERS.sub(" ", text.lower())


class WordsTokenizer(WhitespaceTokenizer):
    """Lower-cased letter runs; a growing vocabulary until `freeze()` (see the module).

    Performance notes (`bench/bench_whitespace.py`-style run over the English shared corpus,
    2 shared cores): normalizing is one C pass per text (`bytes.translate` for ASCII texts,
    a regex substitution otherwise), before the whitespace tokenizer's kernel; a Python loop
    over tokens (`re.findall` then a dict lookup per word) was tried for reference.
    """

    kind = "words"

    def __init__(self, num_threads: int = 1) -> None:
        super().__init__(num_threads)
        self.spec = "words"

    def _text_bytes(self, text: str) -> bytes:
        if text.isascii():
            return text.encode("ascii").lower().translate(_ASCII_TABLE)
        return _NOT_LETTERS.sub(" ", text.lower()).encode("utf-8")
