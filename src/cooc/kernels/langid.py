"""Kernel of the language filter (`cooc.curate.language`): a naive Bayes language identifier
over byte n-grams (langid.py's model, as py3langid ships it) scored for a batch of texts.

Per text: a DFA walk over its UTF-8 bytes counts the model's features; the class scores are
sum over features of log1p(count) * log P(feature | class) + log P(class); divided by the
square root of the byte length and passed through a softmax, as py3langid's normalised
probabilities. A text with no feature gets the uniform distribution.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def language_probabilities(buf, bounds, nextmove, rowbase, output, ptc, pc, counts, touched,
                           out):
    """out[d, c] = P(class c | text d) for the texts buf[bounds[d]:bounds[d + 1]]. counts
    (int32[features], zero) and touched (int64, as long as the longest text) are scratch."""
    classes = pc.shape[0]
    scores = np.empty(classes, np.float32)
    for d in range(bounds.shape[0] - 1):
        a = bounds[d]
        b = bounds[d + 1]
        state = 0
        nt = 0
        for p in range(a, b):
            state = nextmove[rowbase[state] + buf[p]]
            f = output[state]
            if f >= 0:
                if counts[f] == 0:
                    touched[nt] = f
                    nt += 1
                counts[f] += 1
        if nt == 0:
            for c in range(classes):
                out[d, c] = np.float32(1.0 / classes)
            continue
        for c in range(classes):
            scores[c] = 0.0
        for t in range(nt):
            f = touched[t]
            w = np.float32(np.log1p(np.float32(counts[f])))
            counts[f] = 0
            for c in range(classes):
                scores[c] += w * ptc[f, c]
        scale = np.float32(1.0 / np.sqrt(max(b - a, 1)))
        top = np.float32(-np.inf)
        for c in range(classes):
            scores[c] = (scores[c] + pc[c]) * scale
            top = max(top, scores[c])
        z = np.float32(0.0)
        for c in range(classes):
            scores[c] = np.exp(scores[c] - top)
            z += scores[c]
        for c in range(classes):
            out[d, c] = scores[c] / z
