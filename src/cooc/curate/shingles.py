"""Shingles: each document's word n-grams as sorted unique 64-bit hashes, for MinHash
near-duplicates and n-gram contamination checks alike.

Words are the `words` tokenizer's lower-cased letter runs (punctuation and digits dropped,
as the reference pipelines do), `wordpunct` (lower-cased runs of word characters and of
punctuation, NLTK's WordPunctTokenizer), `whitespace` (the text split on whitespace, case
kept) or a fixed-vocabulary tokenizer's ids ("qwen", "tiktoken:...", "hf:..."). A word's hash is of
its bytes (or its id), never of a vocabulary built from the corpus, so every batch, shard
and process hashes alike; an n-gram's hash mixes its words' hashes with `seed`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cooc.errors import CoocError
from cooc.kernels import minhash as km


class Shingler:
    """Word n-gram hashes of texts (see the module)."""

    def __init__(self, ngram: int, tokenizer: str = "words", seed: int | np.uint64 = 0) -> None:
        if isinstance(ngram, bool) or not isinstance(ngram, int) or ngram < 1:
            raise ValueError(f"ngram must be an int >= 1, got {ngram!r}")
        if not isinstance(tokenizer, str) or not tokenizer:
            raise ValueError(f"tokenizer must be a spec such as 'words', got {tokenizer!r}")
        self.ngram = ngram
        self.tokenizer = tokenizer
        self.seed = np.uint64(seed)
        self._tok = None

    def __getstate__(self) -> dict:  # a loaded tokenizer is loaded again where it is used
        return {**self.__dict__, "_tok": None}

    def word_hashes(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Every document's word hashes, packed, and their offsets."""
        n = len(texts)
        if self.tokenizer in ("words", "whitespace", "wordpunct"):
            if self.tokenizer == "words":
                from cooc.tokenizers.words import normalize_words_batch

                joined, bounds = normalize_words_batch(list(texts))
            elif self.tokenizer == "wordpunct":
                from cooc.tokenizers.words import wordpunct_batch

                joined, bounds = wordpunct_batch(list(texts))
            else:
                parts = [" ".join(t.split()).encode("utf-8", "replace") for t in texts]
                bounds = np.zeros(n + 1, np.int64)
                np.cumsum([len(p) for p in parts], out=bounds[1:])
                joined = b"".join(parts)
            buf = np.frombuffer(joined, np.uint8)
            offsets = np.empty(n + 1, np.int64)
            # a document of L bytes holds at most (L + 1) // 2 words: the sum is at most
            # len(buf) // 2 + n (documents are packed without separators between them)
            words = np.empty(buf.shape[0] // 2 + n + 1, np.uint64)
            used = km.hash_words(buf, bounds, words, offsets)
            if used < 0:
                raise RuntimeError("minhash: the word buffer was sized too small (a bug)")
            return words[:used], offsets
        if self._tok is None:
            from cooc.tokenizers import load_tokenizer

            tok = load_tokenizer(self.tokenizer, 1)
            if tok.grows_vocabulary:
                raise CoocError(f"tokenizer {self.tokenizer!r} grows its vocabulary, so its ids "
                                f"depend on the corpus; use 'words' or 'whitespace'")
            self._tok = tok
        ids = self._tok.encode_batch(list(texts))
        offsets = np.zeros(n + 1, np.int64)
        np.cumsum([len(a) for a in ids], out=offsets[1:])
        flat = np.concatenate(ids).astype(np.uint64) if ids else np.zeros(0, np.uint64)
        words = np.empty(flat.shape[0], np.uint64)
        km.mix_ids(flat, words)
        return words, offsets

    def shingle_sets(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(shingles, offsets): document d's sorted unique shingle hashes are
        shingles[offsets[d]:offsets[d + 1]]; a document of fewer words than `ngram` has one
        shingle (all its words), an empty one none."""
        words, woff = self.word_hashes(texts)
        n = len(texts)
        counts = np.empty(n, np.int64)
        km.shingle_counts(woff, self.ngram, counts)
        shingles = np.empty(int(counts.sum()), np.uint64)
        offsets = np.empty(n + 1, np.int64)
        used = km.shingle_sets(words, woff, self.ngram, self.seed, shingles, offsets)
        return shingles[:used], offsets
