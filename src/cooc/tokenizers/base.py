"""The `Tokenizer` interface every tokenizer kind implements, and small shared helpers.

A tokenizer turns text into uint32 token ids. The id space is `0..vocab_size-1`; every id has
a display text (`token_texts()`), '' for ids no token uses. Special tokens are never produced
from text: a special-token string inside a document is tokenized as ordinary text. The one
special id the rest of cooc uses is `eot_id`, inserted between documents by concat packing.
"""

from __future__ import annotations

import os
import re
import unicodedata
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

EMPTY_IDS = np.zeros(0, dtype=np.uint32)
EMPTY_IDS.setflags(write=False)


class Tokenizer(ABC):
    """Text -> uint32 token ids, with a display text for every id.

    Attributes
    ----------
    spec : str
        The string that recreates this tokenizer with `load_tokenizer(spec)`.
    vocab_size : int
        Every id is `< vocab_size` (special tokens included).
    eot_id : int or None
        End-of-text id used to join documents in concat packing; None if the vocabulary has none.
    num_threads : int
        Threads used by `encode_batch` (>= 1).
    splits_on_whitespace : bool
        Every token is a run of non-whitespace, so a long text may be cut at any whitespace
        (`encode_pieces`).
    """

    spec: str
    kind: str
    vocab_size: int
    eot_id: int | None
    num_threads: int
    # whether every token is a run of non-whitespace (`str.split`): any whitespace is then
    # a place to cut a long text (`piece_bounds`)
    splits_on_whitespace: bool = False

    @abstractmethod
    def encode(self, text: str) -> np.ndarray:
        """Token ids of `text` as a uint32 array; no special tokens are added or recognised."""

    def encode_batch(self, texts: Sequence[str]) -> list[np.ndarray]:
        """`[encode(t) for t in texts]`, computed on `num_threads` threads."""
        return map_threads(self.encode, texts, self.num_threads)

    def encode_pieces(self, text: str, max_chars: int) -> list[np.ndarray]:
        """The ids of a long `text` as those of its pieces of at most `max_chars` characters
        (`piece_bounds`), in order; `num_threads` pieces are encoded at a time, so only
        they are copied out of `text` at once, and no buffer of the tokenizer's holds the
        whole text's ids. Where the pieces are cut, every cooc tokenizer splits anyway:
        the ids are `encode(text)`'s, but where `piece_bounds` says they may differ."""
        bounds = piece_bounds(text, max_chars, self.splits_on_whitespace)
        spans = list(zip(bounds[:-1], bounds[1:], strict=True))
        out: list[np.ndarray] = []
        step = max(1, self.num_threads)
        for k in range(0, len(spans), step):
            group = [text[a:b] for a, b in spans[k : k + step]]
            out.extend(self.encode_batch(group))
            del group
        return out

    @abstractmethod
    def token_texts(self) -> list[str]:
        """Display text of every id `0..vocab_size-1` ('' for unused ids).

        Byte-level tokens keep their leading space (' hello' differs from 'hello'); a token whose
        bytes are not valid UTF-8 on their own shows them as backslash escapes ('\\xe4\\xb8').
        """

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """JSON-able identity: spec, kind, vocab_size, eot_id and a sha256 of the vocabulary."""

    def freeze(self) -> np.ndarray | None:
        """Fix a growing vocabulary; return the old id -> final id map (None: ids are final)."""
        return None

    @property
    def grows_vocabulary(self) -> bool:
        """Whether the vocabulary is grown from the corpus (ids are final only after
        `freeze`): such tokenizers override `freeze`."""
        return type(self).freeze is not Tokenizer.freeze

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickle as the spec (a few bytes), not as the loaded vocabulary: worker processes
        # reload it from their own per-process cache.
        from cooc.tokenizers.registry import load_tokenizer

        return (load_tokenizer, (self.spec, self.num_threads))

    def __repr__(self) -> str:
        return f"<{type(self).__name__} spec={self.spec!r} vocab_size={self.vocab_size}>"


def resolve_threads(num_threads: int) -> int:
    """0 -> all cores; otherwise the value itself, which must be >= 1."""
    if not isinstance(num_threads, int) or num_threads < 0:
        raise ValueError(
            f"num_threads must be an integer >= 0 (0 = all cores), got {num_threads!r}"
        )
    return num_threads or (os.cpu_count() or 1)


def map_threads(fn: Callable[[str], np.ndarray], texts: Sequence[str], num_threads: int) -> list:
    """`[fn(t) for t in texts]` on a thread pool; `fn` must release the GIL to gain anything."""
    if num_threads <= 1 or len(texts) <= 1:
        return [fn(t) for t in texts]
    with ThreadPoolExecutor(min(num_threads, len(texts))) as pool:
        return list(pool.map(fn, texts))


def bytes_to_display(b: bytes) -> str:
    """Token bytes as text; bytes that are not valid UTF-8 become '\\xNN' escapes, never U+FFFD."""
    return b.decode("utf-8", errors="backslashreplace")


def check_text(text: object) -> str:
    if not isinstance(text, str):
        raise TypeError(f"a tokenizer encodes str, got {type(text).__name__}: {text!r:.80}")
    return text


def fix_surrogates(text: str) -> str:
    """Lone surrogates (e.g. from a JSON '\\ud800' escape) cannot be UTF-8: make them U+FFFD.

    Only called after encoding to UTF-8 failed, so valid text pays nothing. Same fix as tiktoken.
    """
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


# `piece_bounds` looks at this many candidate cuts of a kind before it tries the next kind
_MAX_CANDIDATES = 1024
_SPACE = re.compile(r"\s+")  # str.isspace()


def piece_bounds(text: str, max_chars: int, at_whitespace: bool = False) -> list[int]:
    """Where to cut `text` into pieces of at most `max_chars` characters (at least half that
    where a good cut allows): [0, b1, ..., len(text)]. Each cut is the last in the piece's
    second half of, by preference (with `at_whitespace`, for tokenizers that split on
    whitespace, any whitespace comes third, and is exact):

    1. a space between two letters ('word| word'): the whitespace tokenizer, the pre-token
       patterns of byte-level BPE (qwen, cl100k, o200k, r50k, GPT-2's ByteLevel) and
       Metaspace all end a token before such a space, so the ids are exactly the whole
       text's;
    2. the start of a line (after '\\n', before a character that is not whitespace): exact
       for whitespace and for the qwen, cl100k and o200k patterns (the newlines end the
       piece's last pre-token either way); a pattern that tries a trailing `\\s+$` first
       (r50k) may split the whitespace before that newline differently;
    3. else `max_chars` on (moved back off combining marks): a word cut in two, whose two
       halves are tokenized on their own.
    NFC normalization (qwen) gives the same text piece by piece at these cuts. A text of
    English or code prose always has cuts of the first kind; one with no space and no line
    break for `max_chars / 2` characters has only the third.
    """
    if max_chars < 2:
        raise ValueError(f"max_chars must be at least 2, got {max_chars!r}")
    n = len(text)
    bounds = [0]
    start = 0
    while n - start > max_chars:
        lo, hi = start + max_chars // 2, start + max_chars
        bounds.append(_cut(text, lo, hi, at_whitespace))
        start = bounds[-1]
    bounds.append(n)
    return bounds


def _cut(text: str, lo: int, hi: int, at_whitespace: bool) -> int:
    """The best cut i in (lo, hi] of text (see `piece_bounds`); text has more than hi chars."""
    i = hi
    for _ in range(_MAX_CANDIDATES):  # 1: letter, space, letter
        i = text.rfind(" ", lo + 1, i)
        if i < 0:
            break
        if text[i - 1].isalpha() and text[i + 1].isalpha():
            return i
    i = hi
    for _ in range(_MAX_CANDIDATES):  # 2: a line's start
        i = text.rfind("\n", lo, i)
        if i < 0:
            break
        if not text[i + 1].isspace():
            return i + 1
    if at_whitespace:  # any whitespace (str.isspace), searched back a few KB at a time
        end = hi
        while end > lo + 1:
            begin = max(lo + 1, end - 4096)
            last = None
            for last in _SPACE.finditer(text, begin, end):  # noqa: B007
                pass
            if last is not None:
                return last.end() - 1
            end = begin
    i = hi  # 3: a word cut, not before a combining mark
    while i > lo + 1 and unicodedata.combining(text[i]):
        i -= 1
    return i
