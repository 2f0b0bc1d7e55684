"""Hash-table n-gram count lookups (`cooc.ngram.hashed`): per order, an open-addressing table
of the keys parent * V + token + 1 (`cooc.kernels.lm.fill_table`, the LM scorer's tables)
whose values are the n-grams' nodes; a k-gram is k - 1 probes, whatever the data."""

import numpy as np
from numba import njit

from cooc.kernels.lm import find_slot

_JIT = dict(cache=True, nogil=True)


@njit(**_JIT)
def lookup_counts(grams, lens, unigrams, vocab_size, slot_base, slot_bits, tkeys, tvals,
                  count_base, counts, out):
    """out[q] = count of grams[q, :lens[q]] (0 if absent); ids already checked < V."""
    for q in range(grams.shape[0]):
        node = grams[q, 0]
        n = lens[q]
        if n == 1:
            out[q] = unigrams[node]
            continue
        for j in range(1, n):
            node = find_slot(node * vocab_size + grams[q, j] + 1, slot_base[j + 1],
                         slot_bits[j + 1], tkeys, tvals)
            if node < 0:
                break
        out[q] = counts[count_base[n] + node] if node >= 0 else np.uint64(0)
