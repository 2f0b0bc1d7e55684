"""The hash variant of an n-gram count index: constant-time lookups, in memory.

`HashedNgrams(index)` decodes the index's levels once into per-order open-addressing tables
(key: parent node * V + token + 1, value: the n-gram's node; at most half full) and a count
per node, as the LM scorer does for probabilities (`cooc.lm.scorer`). A k-gram lookup is
k - 1 probes, about one cache miss each, instead of the trie's searches of every substring;
the price is memory: ~32-56 bytes an n-gram against the trie's ~1.3 (Tongrams makes the
same trade with its minimal-perfect-hash variant). Use it for heavy lookup loads on an index
that fits in memory several times over; the trie (`NgramIndex`) is the stored form.
"""

from __future__ import annotations

import numpy as np

from cooc.kernels import lm as kl
from cooc.kernels import ngram_hash as kh
from cooc.ngram.reader import NgramIndex, checked_batch


class HashedNgrams:
    """Counts of every n-gram of `index` in hash tables (built at construction)."""

    def __init__(self, index: NgramIndex):
        self.order = index.order
        self.vocab_size = v = index.vocab_size
        self.unigrams = np.ascontiguousarray(index.unigrams, dtype=np.uint64)
        n = [0, 0] + [int(index.grams[k]) for k in range(2, self.order + 1)]
        self.slot_bits = np.zeros(self.order + 2, np.int64)
        self.slot_base = np.zeros(self.order + 2, np.int64)
        self.count_base = np.zeros(self.order + 2, np.int64)
        total = 0
        for k in range(2, self.order + 1):
            self.slot_bits[k] = kl.table_bits(max(1, n[k]))
            self.slot_base[k] = total
            total += 1 << int(self.slot_bits[k])
            self.count_base[k + 1] = self.count_base[k] + n[k]
        self.keys = np.zeros(total, np.int64)
        self.vals = np.zeros(total, np.int32)
        self.counts = np.zeros(sum(n), np.uint64)
        for k in range(2, self.order + 1):
            rows, toks, cnt = index.level_arrays(k)
            keys = rows.astype(np.int64) * v + toks.astype(np.int64) + 1
            b = int(self.slot_base[k])
            size = 1 << int(self.slot_bits[k])
            kl.fill_table(keys, np.arange(len(keys), dtype=np.int64), int(self.slot_bits[k]),
                          self.keys[b : b + size], self.vals[b : b + size])
            self.counts[self.count_base[k] : self.count_base[k] + n[k]] = cnt
        self._check_ids = index._check_ids

    @property
    def nbytes(self) -> int:
        return self.keys.nbytes + self.vals.nbytes + self.counts.nbytes + self.unigrams.nbytes

    def lookup(self, ids) -> int:
        """Count of the n-gram `ids` (1..order token ids; 0 if absent)."""
        return int(self.lookup_many(np.asarray(ids, dtype=np.int64).reshape(1, -1))[0])

    def lookup_many(self, grams, lens=None) -> np.ndarray:
        """Counts (uint64[m]) of grams[q, :lens[q]] (all of each row if lens is None)."""
        g, ln = checked_batch(grams, lens, self.order)
        self._check_ids(g)
        out = np.zeros(g.shape[0], np.uint64)
        kh.lookup_counts(g, ln, self.unigrams, np.int64(self.vocab_size), self.slot_base,
                         self.slot_bits, self.keys, self.vals, self.count_base, self.counts,
                         out)
        return out
