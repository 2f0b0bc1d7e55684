"""The `Tokenizer` interface every tokenizer kind implements, and small shared helpers.

A tokenizer turns text into uint32 token ids. The id space is `0..vocab_size-1`; every id has
a display text (`token_texts()`), '' for ids no token uses. Special tokens are never produced
from text: a special-token string inside a document is tokenized as ordinary text. The one
special id the rest of cooc uses is `eot_id`, inserted between documents by concat packing.
"""

from __future__ import annotations

import os
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
    """

    spec: str
    kind: str
    vocab_size: int
    eot_id: int | None
    num_threads: int

    @abstractmethod
    def encode(self, text: str) -> np.ndarray:
        """Token ids of `text` as a uint32 array; no special tokens are added or recognised."""

    def encode_batch(self, texts: Sequence[str]) -> list[np.ndarray]:
        """`[encode(t) for t in texts]`, computed on `num_threads` threads."""
        return map_threads(self.encode, texts, self.num_threads)

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
