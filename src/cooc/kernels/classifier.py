"""Kernels of the fastText-style classifier (`cooc.curate.classifier`): hashed word n-gram
features, supervised training (softmax over the classes, SGD with a linearly decaying rate,
Hogwild threads) and prediction.

The model is fastText's supervised one: a document's hidden vector is the mean of the
embedding rows of its features; the class scores are that vector times the output matrix;
softmax loss. Per document, as fastText's `Model::update`: with p the softmax, for each
class c, alpha = lr * (label == c) - lr * p[c], grad += alpha * W[c], W[c] += alpha * hidden;
then every feature's row gets grad / (features). The rate decays linearly with the tokens
seen, over all epochs: lr * (1 - tokens_seen / (epochs * tokens)).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from cooc.kernels.minhash import mix64

_JIT = dict(cache=True, nogil=True, fastmath=True)
_BIGRAM = np.uint64(0x9E3779B97F4A7C15)


@njit(cache=True, nogil=True)
def features(words, word_offsets, ngrams, buckets, out, out_offsets):
    """Each document's feature ids (int32 in [0, buckets)): its words' and its word
    n-grams' (2..ngrams) hashes modulo buckets, in text order, into out (room for
    words * ngrams); out_offsets[d]:out_offsets[d + 1] are document d's. Returns the count."""
    k = 0
    out_offsets[0] = 0
    nb = np.uint64(buckets)
    for d in range(word_offsets.shape[0] - 1):
        a = word_offsets[d]
        b = word_offsets[d + 1]
        for i in range(a, b):
            out[k] = np.int32(words[i] % nb)
            k += 1
            h = words[i]
            for j in range(i + 1, min(b, i + ngrams)):
                h = mix64(h * _BIGRAM + words[j])
                out[k] = np.int32(h % nb)
                k += 1
        out_offsets[d + 1] = k
    return k


@njit(inline="always", **_JIT)
def _softmax(scores, out):
    m = scores[0]
    for c in range(1, scores.shape[0]):
        m = max(m, scores[c])
    z = 0.0
    for c in range(scores.shape[0]):
        out[c] = np.exp(scores[c] - m)
        z += out[c]
    for c in range(scores.shape[0]):
        out[c] /= z


@njit(inline="always", **_JIT)
def _hidden(feats, a, b, emb, hidden):
    """hidden = the mean of the embedding rows feats[a:b] (zero when there are none)."""
    hidden[:] = 0.0
    for i in range(a, b):
        row = feats[i]
        for j in range(hidden.shape[0]):
            hidden[j] += emb[row, j]
    if b > a:
        inv = np.float32(1.0 / (b - a))
        for j in range(hidden.shape[0]):
            hidden[j] *= inv


@njit(inline="always", **_JIT)
def _class_scores(out_w, hidden, scores, p):
    """p = softmax(out_w @ hidden) (scores: scratch)."""
    for c in range(out_w.shape[0]):
        s = np.float32(0.0)
        for j in range(hidden.shape[0]):
            s += out_w[c, j] * hidden[j]
        scores[c] = s
    _softmax(scores, p)


@njit(**_JIT)
def train_part(feats, feat_ptr, labels, docs, emb, out_w, lr, total_tokens, tokens_before,
               epochs, epoch, progress):
    """One thread's share of one epoch: the documents `docs` in order. tokens_before: the
    tokens of the earlier epochs; progress[0] (shared, approximate under Hogwild) counts
    this epoch's tokens seen by every thread, for the rate. Returns the summed loss."""
    dim = emb.shape[1]
    classes = out_w.shape[0]
    hidden = np.empty(dim, np.float32)
    grad = np.empty(dim, np.float32)
    scores = np.empty(classes, np.float32)
    p = np.empty(classes, np.float32)
    loss = 0.0
    for t in range(docs.shape[0]):
        d = docs[t]
        a = feat_ptr[d]
        b = feat_ptr[d + 1]
        n = b - a
        if n == 0:
            continue
        done = tokens_before + progress[0]
        rate = lr * (1.0 - done / (epochs * total_tokens))
        if rate < 0.0:
            rate = 0.0
        _hidden(feats, a, b, emb, hidden)
        _class_scores(out_w, hidden, scores, p)
        inv = np.float32(1.0 / n)
        y = labels[d]
        loss -= np.log(max(p[y], 1e-10))
        grad[:] = 0.0
        for c in range(classes):
            alpha = np.float32(rate * ((1.0 if c == y else 0.0) - p[c]))
            for j in range(dim):
                grad[j] += alpha * out_w[c, j]
                out_w[c, j] += alpha * hidden[j]
        for j in range(dim):
            grad[j] *= inv
        for i in range(a, b):
            row = feats[i]
            for j in range(dim):
                emb[row, j] += grad[j]
        progress[0] += n
    return loss


@njit(**_JIT)
def predict(feats, feat_ptr, emb, out_w, out):
    """out[d, c] = the softmax probability of class c for document d (0 features: uniform)."""
    dim = emb.shape[1]
    classes = out_w.shape[0]
    hidden = np.empty(dim, np.float32)
    scores = np.empty(classes, np.float32)
    p = np.empty(classes, np.float32)
    for d in range(feat_ptr.shape[0] - 1):
        _hidden(feats, feat_ptr[d], feat_ptr[d + 1], emb, hidden)
        _class_scores(out_w, hidden, scores, p)
        for c in range(classes):
            out[d, c] = p[c]


@njit(cache=True, nogil=True)
def uniforms(seed, ordinals, out):
    """out[i] uniform in (0, 1], a function of (seed, ordinals[i]) only."""
    for i in range(ordinals.shape[0]):
        h = mix64(mix64(seed + _BIGRAM) ^ np.uint64(ordinals[i]))
        out[i] = 1.0 - (h >> np.uint64(11)) * (1.0 / 9007199254740992.0)
