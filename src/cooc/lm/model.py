"""The in-memory backoff model: what an ARPA file holds, in canonical form.

`NgramModel` keeps, per order k, the k-grams as word ids (int32[n_k, k]) sorted
lexicographically, with log10 probabilities and log10 backoffs (float32[n_k]; the backoffs of
the highest order are 0). Level 1 is dense: the unigram of word id w is row w, so `vocab`
(the id -> word table) and the unigrams are in the same order. `<unk>`, `<s>` and `</s>` are
ordinary words of the vocabulary, found by name.

Estimation (`cooc.lm.kneser_ney`) and ARPA import (`cooc.lm.arpa`) make one; the scorer
(`cooc.lm.scorer`) compiles it into hash tables, ARPA export writes it back.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

UNK = "<unk>"
BOS = "<s>"
EOS = "</s>"


@dataclass
class NgramModel:
    vocab: list[str]
    grams: list[np.ndarray]  # grams[k - 1]: int32[n_k, k], sorted lexicographically
    logprob: list[np.ndarray]  # float32[n_k] per order
    backoff: list[np.ndarray]  # float32[n_k] per order (zeros for the highest)
    meta: dict = field(default_factory=dict)  # discounts, counts of counts, source, ...
    # suffix rows the estimator already knows ({k: int32[n_k]}), else computed by `suffixes`
    suffix_rows: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def order(self) -> int:
        return len(self.grams)

    @property
    def counts(self) -> list[int]:
        return [int(g.shape[0]) for g in self.grams]

    def word_id(self, word: str) -> int:
        """Id of `word`, or -1."""
        if not hasattr(self, "_ids"):
            self._ids = {w: i for i, w in enumerate(self.vocab)}
        return self._ids.get(word, -1)

    @property
    def unk_id(self) -> int:
        return self.word_id(UNK)

    @property
    def bos_id(self) -> int:
        return self.word_id(BOS)

    @property
    def eos_id(self) -> int:
        return self.word_id(EOS)

    def parents(self, k: int) -> np.ndarray:
        """Row in level k - 1 of the (k-1)-prefix of every k-gram (k >= 2; -1 if absent)."""
        g = self.grams[k - 1]
        if k == 2:
            return g[:, 0].astype(np.int64)
        return find_rows(self.grams[k - 2], g[:, :-1])

    def suffixes(self, k: int) -> np.ndarray:
        """Row in level k - 1 of the (k-1)-suffix of every k-gram (k >= 2; -1 if absent)."""
        g = self.grams[k - 1]
        if k == 2:
            return g[:, 1].astype(np.int64)
        if k in self.suffix_rows:
            return self.suffix_rows[k].astype(np.int64)
        return find_rows(self.grams[k - 2], g[:, 1:])

    def lookup(self, words: list[str]) -> tuple[float, float] | None:
        """(log10 prob, log10 backoff) of an n-gram given as words, or None if absent."""
        ids = [self.word_id(w) for w in words]
        if not 1 <= len(ids) <= self.order or min(ids) < 0:
            return None
        k = len(ids)
        r = int(find_rows(self.grams[k - 1], np.array([ids], np.int64))[0])
        if r < 0:
            return None
        return float(self.logprob[k - 1][r]), float(self.backoff[k - 1][r])


def gram_keys(grams: np.ndarray, vocab_size: int) -> np.ndarray:
    """Order-preserving keys of the rows of grams (int[n, k]): one int64 while V**k fits,
    otherwise a structured view compared field by field."""
    g = np.ascontiguousarray(grams, dtype=np.int64)
    k = g.shape[1]
    if vocab_size ** k < 2 ** 63:
        key = np.zeros(g.shape[0], np.int64)
        for j in range(k):
            key = key * vocab_size + g[:, j]
        return key
    be = g.astype(">i8")  # big-endian rows compare lexicographically as bytes
    return np.ascontiguousarray(be).view(f"S{8 * k}").reshape(-1)


def sort_grams(grams: np.ndarray) -> np.ndarray:
    """Permutation that sorts the rows of grams lexicographically."""
    if grams.shape[0] == 0:
        return np.zeros(0, np.int64)
    return np.lexsort(grams.T[::-1])


def find_rows(sorted_grams: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Row of every query in the lexicographically sorted, distinct sorted_grams, or -1."""
    v = int(max(sorted_grams.max(initial=0), queries.max(initial=0))) + 1
    keys = gram_keys(sorted_grams, v)
    q = gram_keys(queries, v)
    pos = np.searchsorted(keys, q)
    pos_c = np.minimum(pos, max(0, len(keys) - 1))
    ok = (pos < len(keys)) & (keys[pos_c] == q) if len(keys) else np.zeros(len(q), bool)
    return np.where(ok, pos, -1).astype(np.int64)
