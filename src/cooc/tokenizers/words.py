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

import functools
import re

import numpy as np

from cooc.tokenizers.base import fix_surrogates
from cooc.tokenizers.whitespace import WhitespaceTokenizer

# One bytes.translate (a C loop over the UTF-8) lower-cases A-Z, keeps a-z and every byte of
# a non-ASCII character, and makes every other ASCII byte a space; the whitespace kernel
# then splits on the spaces. Runs of non-ASCII bytes are whole characters (UTF-8 never puts
# an ASCII byte inside one): each run is lower-cased and its non-letters made spaces in
# Python (`_fold`), one call a run, not a character.
_ASCII_TABLE = bytes(c + 32 if 65 <= c <= 90 else c if 97 <= c <= 122 or c >= 128 else 32
                     for c in range(256))
_NON_ASCII = re.compile(rb"[\x80-\xff]+")
_NOT_LETTERS = re.compile(r"[\W\d_]+")


def _fold(m: re.Match) -> bytes:
    return _fold_run(m.group())


@functools.lru_cache(maxsize=1 << 16)
def _fold_run(run: bytes) -> bytes:
    """A run of non-ASCII characters lower-cased, non-letters made spaces. Cached: the same
    runs (curly quotes, dashes, accented words) come back all through a corpus."""
    return _NOT_LETTERS.sub(" ", run.decode("utf-8").lower()).encode("utf-8")


def normalize_words(text: str) -> str:
    """`text` lower-cased, with every non-letter (digit, "_", punctuation, whitespace) made a
    space: the words the tokenizer reads, space-separated."""
    return _words_bytes(text).decode("utf-8")


_BATCH_TABLE = b"\x00" + _ASCII_TABLE[1:]  # NUL kept: it ends a text


def _fold_runs(b: bytes) -> bytes:
    """`_NON_ASCII.sub(_fold, b)`, with the runs found by numpy (a regex scan of the whole
    buffer cost more than folding the runs): one Python step a run, none a byte."""
    high = np.frombuffer(b, np.uint8) >= 128
    edges = np.flatnonzero(np.diff(np.concatenate(([False], high, [False])).astype(np.int8)))
    pieces = []
    prev = 0
    for start, end in zip(edges[0::2].tolist(), edges[1::2].tolist(), strict=True):
        pieces.append(b[prev:start])
        pieces.append(_fold_run(b[start:end]))
        prev = end
    pieces.append(b[prev:])
    return b"".join(pieces)


def normalize_words_batch(texts: list[str]) -> tuple[bytes, np.ndarray]:
    """`normalize_words` of every text in one buffer: (UTF-8 bytes, bounds int64[n + 1]),
    text d's words are buf[bounds[d]:bounds[d + 1]] (space-separated; a trailing space may
    end one). One join, encode, translate and one regex pass for the whole batch: the texts
    are joined with NUL, which the table keeps, and found again after; a text that holds a
    NUL itself is done one by one."""
    n = len(texts)
    joined = "\x00".join(texts)
    if joined.count("\x00") != max(n - 1, 0):
        parts = [_words_bytes(t) for t in texts]
        bounds = np.zeros(n + 1, np.int64)
        np.cumsum(np.fromiter(map(len, parts), np.int64, n), out=bounds[1:])
        return b"".join(parts), bounds
    try:
        b = joined.encode("utf-8")
    except UnicodeEncodeError:
        b = fix_surrogates(joined).encode("utf-8")
    b = b.translate(_BATCH_TABLE)
    if not joined.isascii():
        b = _fold_runs(b)
    bounds = np.empty(n + 1, np.int64)
    bounds[0] = 0
    bounds[1:n] = np.flatnonzero(np.frombuffer(b, np.uint8) == 0) + 1
    bounds[n] = len(b)
    return b.replace(b"\x00", b" "), bounds


_WORD_PUNCT = re.compile(r"([^\w\s\x00]+)")  # a run of punctuation, NUL excluded
_SPACES = re.compile(r"\s+")


def wordpunct_batch(texts: list[str]) -> tuple[bytes, np.ndarray]:
    """NLTK's WordPunctTokenizer over lower-cased texts (runs of word characters and runs
    of other non-space characters are the tokens; `data-selection`'s DSIR tokenizes so), in
    one space-separated UTF-8 buffer: (bytes, bounds int64[n + 1]) as `normalize_words_batch`.
    Three regex passes over the whole batch, none a text."""
    n = len(texts)
    joined = "\x00".join(texts)
    if joined.count("\x00") != max(n - 1, 0):  # a text holds NUL itself: one at a time
        parts = [wordpunct_batch([t.replace("\x00", " ")])[0] for t in texts]
        bounds = np.zeros(n + 1, np.int64)
        np.cumsum(np.fromiter(map(len, parts), np.int64, n), out=bounds[1:])
        return b"".join(parts), bounds
    spaced = _SPACES.sub(" ", _WORD_PUNCT.sub(r" \1 ", joined.lower()))
    try:
        b = spaced.encode("utf-8")
    except UnicodeEncodeError:
        b = fix_surrogates(spaced).encode("utf-8")
    bounds = np.empty(n + 1, np.int64)
    bounds[0] = 0
    bounds[1:n] = np.flatnonzero(np.frombuffer(b, np.uint8) == 0) + 1
    bounds[n] = len(b)
    return b.replace(b"\x00", b" "), bounds


def _words_bytes(text: str) -> bytes:
    try:
        b = text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: U+FFFD, as the other tokenizers do
        b = fix_surrogates(text).encode("utf-8")
    b = b.translate(_ASCII_TABLE)
    return b if text.isascii() else _NON_ASCII.sub(_fold, b)


class WordsTokenizer(WhitespaceTokenizer):
    """Lower-cased letter runs; a growing vocabulary until `freeze()` (see the module).

    Performance notes (the English shared corpus: 13,608 documents, 78.9 M characters, 12.0 M
    words; one thread, 2 shared cores): 1.2-1.3 s (9-10 M words/s; the whitespace tokenizer
    0.8-0.9 s on the same text); a Python loop (`re.findall` on the lower-cased text, a dict
    lookup a word) 6.3-8.0 s. Normalizing is 0.76 s of it: a regex substitution over the
    lower-cased text of each document with a non-ASCII character (5,235 of them) took 1.37 s,
    now one `bytes.translate` and a Python call per run of non-ASCII characters only.
    """

    kind = "words"

    def __init__(self, num_threads: int = 1) -> None:
        super().__init__(num_threads)
        self.spec = "words"

    def _text_bytes(self, text: str) -> bytes:
        return _words_bytes(text)
